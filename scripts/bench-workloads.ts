// The six workloads of issue 7 (and the wire limits beside them), each written once against `Side` so every target
// gets the same requests: the measurement (time, backend requests, peak server RSS), the seeding it needs (through
// the API, not measured, deduplicated where content does not matter), and the clean-up that keeps the emulator's
// memory bounded. Every loop is bounded in count, and the run's deadline cuts repetitions short.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type http from 'node:http';
import { type Answer, bodyMd5, bodyStream, pool, request } from './bench-http.js';
import type { DirectSide, Side } from './bench-sides.js';
import type { PerTarget, Row, TargetName } from './bench-stats.js';
import { type EmulatorProcess, peakRss, resetPeak, rss } from './bench-targets.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface Plan {
  quick: boolean;
  folderSizes: number[];
  /** Cold listings per folder size: each needs a folder of its own that no server has seen. */
  coldRepeats: (entries: number) => number;
  warmRepeats: number;
  tree: { entries: number; folders: number; repeats: number; concurrency: number };
  get: { size: number; repeats: number };
  range: { size: number; length: number; repeats: number; offsets: number[] };
  put: { sizes: number[]; repeats: (size: number) => number };
  small: { count: number; size: number; concurrency: number; repeats: number };
  session: { photos: number; photoSize: number; thumbnails: number; thumbBytes: number; copies: number; copySize: number; repeats: number };
  seedConcurrency: number;
}

export function makePlan(quick: boolean): Plan {
  if (quick) {
    return {
      quick,
      folderSizes: [10, 100, 1000],
      coldRepeats: () => 2,
      warmRepeats: 3,
      tree: { entries: 200, folders: 20, repeats: 1, concurrency: 4 },
      get: { size: 16 * MiB, repeats: 2 },
      range: { size: 32 * MiB, length: MiB, repeats: 2, offsets: [0, 0.5, 0.99] },
      put: { sizes: [MiB, 16 * MiB], repeats: () => 1 },
      small: { count: 100, size: 4 * KiB, concurrency: 8, repeats: 1 },
      session: { photos: 12, photoSize: 512 * KiB, thumbnails: 8, thumbBytes: 64 * KiB, copies: 3, copySize: MiB, repeats: 1 },
      seedConcurrency: 32,
    };
  }
  return {
    quick,
    folderSizes: [100, 1000, 10_000],
    coldRepeats: (n) => (n >= 10_000 ? 3 : 5),
    warmRepeats: 5,
    tree: { entries: 10_000, folders: 500, repeats: 3, concurrency: 4 },
    get: { size: GiB, repeats: 3 },
    range: { size: 2 * GiB, length: MiB, repeats: 5, offsets: [0, 0.5, 0.99] },
    put: { sizes: [MiB, 100 * MiB, GiB], repeats: (s) => (s >= GiB ? 2 : s >= 100 * MiB ? 3 : 5) },
    small: { count: 1000, size: 4 * KiB, concurrency: 8, repeats: 2 },
    session: { photos: 60, photoSize: 2 * MiB, thumbnails: 24, thumbBytes: 64 * KiB, copies: 5, copySize: 4 * MiB, repeats: 3 },
    seedConcurrency: 48,
  };
}

export interface BenchTarget {
  name: TargetName;
  side: Side;
  /** The server process whose memory is read; none for the limit. */
  memoryPid?: number;
}

export interface BenchContext {
  plan: Plan;
  /** The workloads this run does (0–6); seeding makes only what they read. */
  workloads: Set<number>;
  targets: BenchTarget[];
  emu: EmulatorProcess;
  /** Plain API client of the harness: seeding, "is it stored yet?", clean-up. Its own requests are not counted. */
  admin: DirectSide;
  rows: Row[];
  /** Per workload: machine load when it started and ended (the machine may be shared). */
  load: { workload: number; start: number[]; end: number[] }[];
  /** Folder on the same disk as jottadav's spool, for the spool-speed figure. */
  scratch: string;
  /** Run id: the work folder of this run is `bench-work/<id>`. */
  id: string;
  deadline: number;
  log(line: string): void;
  /** RSS of each server after the warm-up, before the workloads. */
  idleRss: PerTarget<number | undefined>;
}

const SEED = 'bench-seed';

function work(ctx: BenchContext, ...rest: string[]): string {
  return ['bench-work', ctx.id, ...rest].join('/');
}

/**
 * Creates a work folder and its parents through the target itself (not measured): a folder made behind a server's
 * back may stay unknown to its directory cache (rclone keeps listings for 5 minutes).
 */
async function makeFolders(t: BenchTarget, path: string): Promise<void> {
  const segs = path.split('/');
  for (let i = 1; i <= segs.length; i++) {
    try {
      await t.side.mkdir(segs.slice(0, i).join('/'));
    } catch (e) {
      // 405: it exists already (MKCOL on an existing collection).
      if (!(e instanceof Error && /answered 405/.test(e.message))) throw e;
    }
  }
}

function timeLeft(ctx: BenchContext): boolean {
  return Date.now() < ctx.deadline;
}

/**
 * Repetition-major order: round 1 on every target, then round 2…, so a change in the machine's load (it may be
 * shared) spreads over all targets instead of landing on one.
 */
async function rounds(ctx: BenchContext, repeats: number, fn: (rep: number, t: BenchTarget) => Promise<void>): Promise<void> {
  for (let rep = 0; rep < repeats && timeLeft(ctx); rep++) {
    for (const t of ctx.targets) await fn(rep, t);
  }
}

function push<T>(map: PerTarget<T[]>, t: TargetName, v: T): void {
  (map[t] ??= []).push(v);
}

function recordRss(r: Row, t: TargetName, m: { peakRss?: number; startRss?: number }): void {
  if (m.peakRss === undefined) return;
  push((r.peakRss ??= {}), t, m.peakRss);
  if (m.startRss !== undefined) push((r.startRss ??= {}), t, m.startRss);
}

/** Backend requests of one sample: the count, and the kinds summed over the row's samples. */
function pushRequests(r: Row, t: TargetName, m: { requests: number; routes: Record<string, number> }): void {
  push((r.requests ??= {}), t, m.requests);
  const sum = ((r.routes ??= {})[t] ??= {});
  for (const [k, v] of Object.entries(m.routes)) sum[k] = (sum[k] ?? 0) + v;
}

interface Measured<T> {
  ms: number;
  requests: number;
  /** Requests per kind (emulator route label), the harness's own left out where it can tell. */
  routes: Record<string, number>;
  peakRss?: number;
  /** RSS just before: the peak is judged against what the process already held (caches of earlier work). */
  startRss?: number;
  value: T;
}

/** Times `fn` on target `t`, with the requests the service saw meanwhile and the server's peak RSS. */
async function measure<T>(ctx: BenchContext, t: BenchTarget, fn: () => Promise<T>): Promise<Measured<T>> {
  const before = await ctx.emu.stats();
  const adminBefore = ctx.admin.calls;
  const peakable = t.memoryPid !== undefined && resetPeak(t.memoryPid);
  const startRss = t.memoryPid ? rss(t.memoryPid) : undefined;
  let sampled = startRss ?? 0;
  // Sampling as well, for kernels that refuse clear_refs.
  const sampler = t.memoryPid && !peakable ? setInterval(() => (sampled = Math.max(sampled, rss(t.memoryPid as number))), 50) : undefined;
  const started = performance.now();
  try {
    const value = await fn();
    const ms = performance.now() - started;
    const after = await ctx.emu.stats();
    const own = ctx.admin.calls - adminBefore;
    const requests = after.total - before.total - own;
    const routes: Record<string, number> = {};
    for (const [k, v] of Object.entries(after.routes)) if (v - (before.routes[k] ?? 0) > 0) routes[k] = v - (before.routes[k] ?? 0);
    // During a measurement the harness only asks "is it stored yet?", which are plain JFS GETs.
    if (own > 0) routes['GET jfs'] = (routes['GET jfs'] ?? 0) - own;
    if (routes['GET jfs'] === 0) delete routes['GET jfs'];
    const peak = t.memoryPid === undefined ? undefined : peakable ? peakRss(t.memoryPid) : sampled;
    return { ms, requests, routes, peakRss: peak, startRss, value };
  } finally {
    if (sampler) clearInterval(sampler);
  }
}

function row(ctx: BenchContext, r: Omit<Row, 'ms'> & { ms?: Row['ms'] }): Row {
  const full: Row = { ms: {}, ...r };
  ctx.rows.push(full);
  return full;
}

async function withLoad(ctx: BenchContext, workload: number, fn: () => Promise<void>): Promise<void> {
  const start = loadavg();
  await fn();
  ctx.load.push({ workload, start, end: loadavg() });
}

// ------------------------------------------------------------------------------------------------ seeding

/** One small body uploaded for real; every seeded listing entry then reuses its content (the service deduplicates). */
async function seedFiles(ctx: BenchContext, paths: string[], size: number, seed: string): Promise<void> {
  const md5 = await bodyMd5(size, seed);
  const first = paths[0];
  if (!first) return;
  await ctx.admin.write(first, size, seed, { md5 });
  let done = 0;
  await pool(paths.length - 1, ctx.plan.seedConcurrency, async (i) => {
    await ctx.admin.write(paths[i + 1], size, seed, { md5 });
    if (++done % 5000 === 0) ctx.log(`  seeded ${done}/${paths.length}`);
  });
}

function flatFolder(n: number, copy: number): string {
  return `${SEED}/flat-${n}-${copy}`;
}

function treeRoot(ctx: BenchContext, copy: number): string {
  return `${SEED}/tree-${ctx.plan.tree.entries}-${copy}`;
}

/** Folders of a tree of `folders` folders below its root: a few top folders, the rest spread below them. */
export function treeLayout(entries: number, folders: number): { folders: string[]; files: string[] } {
  const top = Math.max(1, Math.round(folders / 25));
  const tops = Array.from({ length: top }, (_, i) => `d${String(i).padStart(3, '0')}`);
  const leaves: string[] = [];
  for (let i = 0; i < folders - top; i++) leaves.push(`${tops[i % top]}/s${String(i).padStart(4, '0')}`);
  const all = [...tops, ...leaves];
  const holders = leaves.length ? leaves : tops;
  const files: string[] = [];
  for (let i = 0; i < entries - folders; i++) files.push(`${holders[i % holders.length]}/f${String(i).padStart(5, '0')}.txt`);
  return { folders: all, files };
}

export async function seed(ctx: BenchContext): Promise<void> {
  const { plan } = ctx;
  const wants = (n: number) => ctx.workloads.has(n);
  const t0 = performance.now();
  const small: string[] = [];
  if (wants(1)) {
    for (const n of plan.folderSizes) {
      for (let c = 0; c < plan.coldRepeats(n); c++) {
        for (let i = 0; i < n; i++) small.push(`${flatFolder(n, c)}/file-${String(i).padStart(5, '0')}.txt`);
      }
    }
  }
  if (wants(2)) {
    for (let c = 0; c < plan.tree.repeats; c++) {
      const { folders, files } = treeLayout(plan.tree.entries, plan.tree.folders);
      // Folders holding no file need a mkDir of their own; allocate creates the parents of a file.
      const withFiles = new Set(files.map((f) => f.slice(0, f.lastIndexOf('/'))));
      await pool(folders.length, plan.seedConcurrency, async (i) => {
        if (!withFiles.has(folders[i])) await ctx.admin.mkdir(`${treeRoot(ctx, c)}/${folders[i]}`);
      });
      for (const f of files) small.push(`${treeRoot(ctx, c)}/${f}`);
    }
  }
  for (let i = 0; i < 20; i++) small.push(`${SEED}/warm-up/file-${i}.txt`);
  ctx.log(`seeding ${small.length} listing entries…`);
  await seedFiles(ctx, small, 4 * KiB, 'seed-listing');
  if (wants(6)) {
    const photos: string[] = [];
    for (let c = 0; c < plan.session.repeats; c++) {
      for (let i = 0; i < plan.session.photos; i++) photos.push(`${SEED}/photos-${c}/IMG_${String(i).padStart(4, '0')}.jpg`);
    }
    await seedFiles(ctx, photos, plan.session.photoSize, 'seed-photo');
  }
  // The GET file is also what the warm-up reads from, so it is always there.
  const big: [string, number][] = [[`${SEED}/get-${plan.get.size}.bin`, plan.get.size]];
  if (wants(3)) big.push([`${SEED}/range-${plan.range.size}.bin`, plan.range.size]);
  ctx.log(`seeding ${big.map(([, n]) => formatSize(n)).join(' and ')}…`);
  for (const [path, size] of big) {
    const md5 = await bodyMd5(size, path);
    await ctx.admin.write(path, size, path, { md5 });
  }
  ctx.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function formatSize(n: number): string {
  return n >= GiB ? `${n / GiB} GiB` : n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`;
}

// ------------------------------------------------------------------------------------------------ warm-up

/**
 * A few untimed requests of every kind per target before anything is measured: connections open, a Node server's
 * JIT warm, tokens fresh — a server that has been running a while, which is what people use. Only the warm-up
 * folder and a scratch file are touched, so the cold listings stay cold.
 */
export async function warmUp(ctx: BenchContext): Promise<void> {
  for (const t of ctx.targets) {
    const folder = work(ctx, t.name, 'warm-up');
    await makeFolders(t, folder);
    const written: { path: string; md5: string }[] = [];
    for (let i = 0; i < 5; i++) {
      await t.side.list(`${SEED}/warm-up`);
      await t.side.read(`${SEED}/warm-up/file-${i}.txt`);
      await t.side.read(`${SEED}/get-${ctx.plan.get.size}.bin`, { range: [0, 64 * KiB - 1] });
      const seed = `${ctx.id}:${t.name}:warm-up:${i}`;
      const md5 = await bodyMd5(64 * KiB, seed);
      await t.side.write(`${folder}/w-${i}.bin`, 64 * KiB, seed, t.name === 'limit' ? { md5 } : {});
      written.push({ path: `${folder}/w-${i}.bin`, md5 });
    }
    // Stored before they move, so no upload of the warm-up runs behind a measurement (one write-back wait for all).
    await Promise.all(written.map((w) => waitStored(ctx, w.path, 64 * KiB, w.md5, 60_000)));
    for (const w of written) {
      await t.side.move(w.path, `${w.path}.moved`);
      await t.side.remove(`${w.path}.moved`);
    }
    ctx.idleRss[t.name] = t.memoryPid ? rss(t.memoryPid) : undefined;
  }
}

// ------------------------------------------------------------------------------------------------ 1. PROPFIND

export async function propfind(ctx: BenchContext): Promise<void> {
  await withLoad(ctx, 1, async () => {
    for (const n of ctx.plan.folderSizes) {
      const cold = row(ctx, { id: `propfind-${n}-cold`, workload: 1, title: `PROPFIND depth 1, ${n.toLocaleString('en')} entries, cold`, requests: {}, chart: { series: 'cold', x: n } });
      const warm = row(ctx, { id: `propfind-${n}-warm`, workload: 1, title: `PROPFIND depth 1, ${n.toLocaleString('en')} entries, warm`, requests: {}, chart: { series: 'warm', x: n } });
      cold.limitNote = warm.limitNote = 'one listing GET on the API (it has no cache)';
      await rounds(ctx, ctx.plan.coldRepeats(n), async (c, t) => {
        const m = await measure(ctx, t, () => t.side.list(flatFolder(n, c)));
        if (m.value.entries !== n) throw new Error(`${t.name}: ${flatFolder(n, c)} listed ${m.value.entries} entries, expected ${n}`);
        push(cold.ms, t.name, m.ms);
        pushRequests(cold, t.name, m);
      });
      // Warm = listed moments ago: one untimed listing first, well inside every server's cache lifetime.
      for (const t of ctx.targets) await t.side.list(flatFolder(n, 0));
      await rounds(ctx, ctx.plan.warmRepeats, async (_w, t) => {
        const m = await measure(ctx, t, () => t.side.list(flatFolder(n, 0)));
        if (m.value.entries !== n) throw new Error(`${t.name}: warm listing of ${flatFolder(n, 0)} gave ${m.value.entries} entries`);
        push(warm.ms, t.name, m.ms);
        pushRequests(warm, t.name, m);
      });
      ctx.log(`  ${n} entries done`);
    }
  });
}

// ------------------------------------------------------------------------------------------------ 2. tree walk

/** Depth-1 listings folder by folder, a few at a time, as a file manager counting a folder's contents does. */
async function walk(side: Side, root: string, concurrency: number, maxFolders: number): Promise<{ folders: number; entries: number }> {
  const queue = [root];
  let folders = 0;
  let entries = 0;
  let active = 0;
  let failed: unknown;
  await new Promise<void>((resolve) => {
    const next = () => {
      if (failed !== undefined || (queue.length === 0 && active === 0)) return resolve();
      while (active < concurrency && queue.length && failed === undefined) {
        const path = queue.shift() as string;
        if (++folders > maxFolders) {
          failed = new Error(`walk of ${root} found more than ${maxFolders} folders`);
          break;
        }
        active++;
        side
          .list(path)
          .then((l) => {
            entries += l.entries;
            for (const f of l.folders) queue.push(`${path}/${f}`);
          })
          .catch((e: unknown) => (failed ??= e))
          .finally(() => {
            active--;
            next();
          });
      }
      if (active === 0) resolve();
    };
    next();
  });
  if (failed !== undefined) throw failed;
  return { folders, entries };
}

export async function treeWalk(ctx: BenchContext): Promise<void> {
  const { tree } = ctx.plan;
  await withLoad(ctx, 2, async () => {
    const r = row(ctx, {
      id: 'walk',
      workload: 2,
      title: `walk ${tree.entries.toLocaleString('en')} entries in ${tree.folders} folders (depth 1 each, ${tree.concurrency} at a time), cold`,
      requests: {},
    });
    r.limitNote = 'the same listings on the API';
    await rounds(ctx, tree.repeats, async (c, t) => {
      const m = await measure(ctx, t, () => walk(t.side, treeRoot(ctx, c), tree.concurrency, tree.folders + 1));
      if (m.value.folders !== tree.folders + 1 || m.value.entries !== tree.entries) {
        throw new Error(`${t.name}: walk saw ${m.value.folders} folders / ${m.value.entries} entries, expected ${tree.folders + 1} / ${tree.entries}`);
      }
      push(r.ms, t.name, m.ms);
      pushRequests(r, t.name, m);
      ctx.log(`  ${t.name}: walk ${c + 1} done`);
    });
  });
}

// ------------------------------------------------------------------------------------------------ 3. GET, Range

export async function reads(ctx: BenchContext): Promise<void> {
  const { get, range } = ctx.plan;
  await withLoad(ctx, 3, async () => {
    const getPath = `${SEED}/get-${get.size}.bin`;
    const rangePath = `${SEED}/range-${range.size}.bin`;
    const whole = row(ctx, { id: 'get', workload: 3, title: `GET ${formatSize(get.size)}`, bytes: get.size, peakRss: {}, chart: { series: 'GET', x: get.size } });
    whole.limitNote = 'GET ?mode=bin on the API';
    const expectMd5 = get.size <= 64 * MiB ? await bodyMd5(get.size, getPath) : undefined;
    await rounds(ctx, get.repeats, async (_i, t) => {
      const m = await measure(ctx, t, () => t.side.read(getPath, { hash: expectMd5 !== undefined }));
      check(t, m.value, get.size, expectMd5, getPath);
      push(whole.ms, t.name, m.ms);
      recordRss(whole, t.name, m);
    });
    ctx.log('  GET done');
    // The first read of a file may look up its metadata; every offset is then compared on the same footing.
    for (const t of ctx.targets) await t.side.read(rangePath, { range: [0, 0] });
    for (const at of range.offsets) {
      const start = Math.min(range.size - range.length, Math.floor((range.size * at) / MiB) * MiB);
      const r = row(ctx, {
        id: `range-${Math.round(at * 100)}`,
        workload: 3,
        title: `Range ${formatSize(range.length)} at ${Math.round(at * 100)} % of ${formatSize(range.size)}`,
        ttfbMs: {},
        bytes: range.length,
      });
      r.limitNote = 'ranged GET ?mode=bin on the API';
      await rounds(ctx, range.repeats, async (_i, t) => {
        const m = await measure(ctx, t, () => t.side.read(rangePath, { range: [start, start + range.length - 1] }));
        check(t, m.value, range.length, undefined, rangePath);
        push(r.ms, t.name, m.ms);
        push(r.ttfbMs!, t.name, m.value.firstByteMs);
      });
    }
  });
}

function check(t: BenchTarget, a: Answer & { md5?: string }, size: number, md5: string | undefined, path: string): void {
  if (a.bytes !== size) throw new Error(`${t.name}: GET ${path} gave ${a.bytes} bytes, expected ${size}`);
  if (md5 && a.md5 !== md5) throw new Error(`${t.name}: GET ${path} gave different bytes (MD5 ${a.md5}, expected ${md5})`);
}

// ------------------------------------------------------------------------------------------------ 4. PUT

/** Waits until the service holds `path` with this size and MD5; true when it already did at the first look. */
async function waitStored(ctx: BenchContext, path: string, size: number, md5: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let first = true; ; first = false) {
    const s = await ctx.admin.fileState(path);
    if (s && !s.deleted && s.state === 'COMPLETED' && s.size === size && s.md5 === md5) return first;
    if (Date.now() > until) throw new Error(`${path} was not stored within ${timeoutMs} ms (${JSON.stringify(s)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Keeps the phases of a jottadav PUT answer's `Server-Timing` (`name;dur=ms, …`) in the row. */
function addPhases(r: Row, header: string | string[] | undefined): void {
  for (const part of String(header ?? '').split(',')) {
    const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (!m) continue;
    r.phases ??= {};
    (r.phases[m[1]] ??= []).push(Number(m[2]));
  }
}

/** Writes a body to the scratch disk while hashing it — what a server without the client's MD5 must do first. */
async function spool(ctx: BenchContext, size: number, seed: string): Promise<{ ms: number; md5: string }> {
  const file = join(ctx.scratch, `spool-${process.pid}-${Date.now()}`);
  const hash = createHash('md5');
  const started = performance.now();
  await pipeline(
    bodyStream(size, seed),
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    }),
    createWriteStream(file, { mode: 0o600 }),
  );
  const ms = performance.now() - started;
  await rm(file, { force: true });
  return { ms, md5: hash.digest('hex') };
}

export async function writes(ctx: BenchContext): Promise<void> {
  const { put } = ctx.plan;
  await withLoad(ctx, 4, async () => {
    for (const size of put.sizes) {
      for (const withMd5 of [false, true]) {
        const r = row(ctx, {
          id: `put-${size}-${withMd5 ? 'md5' : 'nomd5'}`,
          workload: 4,
          title: `PUT ${formatSize(size)} ${withMd5 ? 'with client MD5' : 'without MD5'}`,
          bytes: size,
          ackMs: {},
          requests: {},
          peakRss: {},
          chart: { series: withMd5 ? 'PUT with MD5' : 'PUT without MD5', x: size },
        });
        r.limitNote = withMd5 ? 'allocate + upload on the API' : 'spool to local disk with MD5, then allocate + upload on the API';
        for (const t of ctx.targets) await makeFolders(t, work(ctx, t.name, 'put'));
        await rounds(ctx, put.repeats(size), async (i, t) => {
          const folder = work(ctx, t.name, 'put');
          const path = `${folder}/${size}-${withMd5 ? 'md5' : 'plain'}-${i}.bin`;
          const seed = `${ctx.id}:${path}`;
          const md5 = await bodyMd5(size, seed);
          let spoolMs = 0;
          if (t.name === 'limit' && !withMd5) spoolMs = (await spool(ctx, size, seed)).ms;
          let ackMs = 0;
          const m = await measure(ctx, t, async () => {
            const a = await t.side.write(path, size, seed, withMd5 || t.name === 'limit' ? { md5 } : {});
            ackMs = a.totalMs;
            if (t.name === 'jottadav') addPhases(r, a.headers['server-timing']);
            const first = await waitStored(ctx, path, size, md5, 10 * 60_000);
            return first;
          });
          // Stored at the first look: the answer came after the service had it, so that is the time.
          const storedMs = m.value ? ackMs : m.ms;
          push(r.ms, t.name, storedMs + spoolMs);
          if (t.name === 'limit' && !withMd5) {
            r.limitParts ??= {};
            (r.limitParts.spool ??= []).push(spoolMs);
            (r.limitParts.upload ??= []).push(storedMs);
          }
          push(r.ackMs!, t.name, ackMs + spoolMs);
          pushRequests(r, t.name, m);
          recordRss(r, t.name, m);
          await ctx.admin.destroyFile(path);
        });
        ctx.log(`  PUT ${formatSize(size)} ${withMd5 ? 'md5' : 'plain'} done`);
      }
    }
  });
}

// ------------------------------------------------------------------------------------------------ 5. small files

async function waitAllStored(ctx: BenchContext, folder: string, names: string[], size: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let first = true; ; first = false) {
    const have = await ctx.admin.completedFiles(folder);
    if (names.every((n) => have.get(n) === size)) return first;
    if (Date.now() > until) throw new Error(`${folder}: only ${have.size} of ${names.length} files stored after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function smallFiles(ctx: BenchContext): Promise<void> {
  const { small } = ctx.plan;
  await withLoad(ctx, 5, async () => {
    const n = small.count;
    const puts = row(ctx, { id: 'small-put', workload: 5, title: `${n} PUTs of ${formatSize(small.size)}, ${small.concurrency} clients`, files: n, ackMs: {}, requests: {} });
    const moves = row(ctx, { id: 'small-move', workload: 5, title: `${n} MOVEs, ${small.concurrency} clients`, files: n, requests: {} });
    const dels = row(ctx, { id: 'small-delete', workload: 5, title: `${n} DELETEs, ${small.concurrency} clients`, files: n, requests: {} });
    puts.limitNote = 'allocate + upload per file on the API (the MD5 known beforehand)';
    moves.limitNote = '`mv` per file';
    dels.limitNote = '`dl` (to trash) per file';
    await rounds(ctx, small.repeats, async (rep, t) => {
      const a = work(ctx, t.name, `small-${rep}`, 'a');
      const b = work(ctx, t.name, `small-${rep}`, 'b');
      await makeFolders(t, a);
      await makeFolders(t, b);
      const names = Array.from({ length: n }, (_, i) => `note-${String(i).padStart(4, '0')}.txt`);
      const seeds = names.map((name) => `${ctx.id}:${t.name}:${rep}:${name}`);
      const md5s = t.name === 'limit' ? await Promise.all(seeds.map((s) => bodyMd5(small.size, s))) : [];
      let ackMs = 0;
      const p = await measure(ctx, t, async () => {
        const started = performance.now();
        await pool(n, small.concurrency, async (i) => {
          await t.side.write(`${a}/${names[i]}`, small.size, seeds[i], md5s[i] ? { md5: md5s[i] } : {});
        });
        ackMs = performance.now() - started;
        return waitAllStored(ctx, a, names, small.size, 10 * 60_000);
      });
      push(puts.ms, t.name, p.value ? ackMs : p.ms);
      push(puts.ackMs!, t.name, ackMs);
      pushRequests(puts, t.name, p);

      const mv = await measure(ctx, t, () => pool(n, small.concurrency, (i) => t.side.move(`${a}/${names[i]}`, `${b}/${names[i]}`)));
      push(moves.ms, t.name, mv.ms);
      pushRequests(moves, t.name, mv);

      const dl = await measure(ctx, t, () => pool(n, small.concurrency, (i) => t.side.remove(`${b}/${names[i]}`)));
      push(dels.ms, t.name, dl.ms);
      pushRequests(dels, t.name, dl);
      await ctx.admin.destroyFolder(work(ctx, t.name, `small-${rep}`));
      ctx.log(`  ${t.name}: small files ${rep + 1} done`);
    });
  });
}

// ------------------------------------------------------------------------------------------------ 6. session

/**
 * A file-manager session replayed: open a photo folder, fetch thumbnails (the first KiB of several files, a few at a
 * time), copy files in (one after the other, no MD5, as Explorer and Finder do), refresh, rename them, refresh,
 * delete them, refresh. Timed as the user sees it (answers, not background uploads).
 */
export async function session(ctx: BenchContext): Promise<void> {
  const s = ctx.plan.session;
  await withLoad(ctx, 6, async () => {
    const r = row(ctx, {
      id: 'session',
      workload: 6,
      title: `file-manager session (open ${s.photos} photos, ${s.thumbnails} thumbnails, copy in ${s.copies}×${formatSize(s.copySize)}, rename, delete)`,
      requests: {},
    });
    r.limitNote = 'the same steps on the API (uploads with their MD5)';
    await rounds(ctx, s.repeats, async (rep, t) => {
      const photos = `${SEED}/photos-${rep}`;
      const folder = work(ctx, t.name, `session-${rep}`);
      await makeFolders(t, folder);
      const seeds = Array.from({ length: s.copies }, (_, i) => `${ctx.id}:${t.name}:session:${rep}:${i}`);
      const md5s = t.name === 'limit' ? await Promise.all(seeds.map((x) => bodyMd5(s.copySize, x))) : [];
      const m = await measure(ctx, t, async () => {
        const listing = await t.side.list(photos);
        if (listing.entries !== s.photos) throw new Error(`${t.name}: ${photos} listed ${listing.entries} entries`);
        await pool(s.thumbnails, 4, async (i) => {
          await t.side.read(`${photos}/IMG_${String(i).padStart(4, '0')}.jpg`, { range: [0, s.thumbBytes - 1] });
        });
        await t.side.list(folder);
        for (let i = 0; i < s.copies; i++) await t.side.write(`${folder}/copy-${i}.jpg`, s.copySize, seeds[i], md5s[i] ? { md5: md5s[i] } : {});
        await t.side.list(folder);
        for (let i = 0; i < s.copies; i++) await t.side.move(`${folder}/copy-${i}.jpg`, `${folder}/renamed-${i}.jpg`);
        await t.side.list(folder);
        for (let i = 0; i < s.copies; i++) await t.side.remove(`${folder}/renamed-${i}.jpg`);
        const end = await t.side.list(folder);
        if (end.entries !== 0) throw new Error(`${t.name}: ${folder} still lists ${end.entries} entries after the deletes`);
      });
      push(r.ms, t.name, m.ms);
      pushRequests(r, t.name, m);
      await ctx.admin.destroyFolder(folder);
    });
    ctx.log('  session done');
  });
}

// ------------------------------------------------------------------------------------------------ 0. the wire

/** Raw loopback HTTP, local spooling, and the API without the TLS proxy: what bounds everything else. */
export async function wire(ctx: BenchContext, extras: { loopbackUrl: string; plainDirect?: Side; agent: http.Agent }): Promise<void> {
  const size = ctx.plan.get.size;
  const reps = ctx.plan.get.repeats;
  await withLoad(ctx, 0, async () => {
    const lg = row(ctx, { id: 'loopback-get', workload: 0, title: `raw loopback HTTP GET ${formatSize(size)}`, bytes: size });
    const lp = row(ctx, { id: 'loopback-put', workload: 0, title: `raw loopback HTTP PUT ${formatSize(size)}`, bytes: size });
    const sp = row(ctx, { id: 'spool', workload: 0, title: `spool ${formatSize(size)} to local disk with MD5`, bytes: size });
    for (let i = 0; i < reps && timeLeft(ctx); i++) {
      const g = await request('GET', `${extras.loopbackUrl}/?bytes=${size}`, { agent: extras.agent });
      if (g.bytes !== size) throw new Error(`loopback GET gave ${g.bytes} bytes`);
      push(lg.ms, 'limit', g.totalMs);
      const p = await request('PUT', `${extras.loopbackUrl}/`, { agent: extras.agent, headers: { 'Content-Length': size }, body: () => bodyStream(size, `loop-${i}`) });
      if (p.status !== 204 || Number(p.headers['x-bytes']) !== size) throw new Error(`loopback PUT answered ${p.status}`);
      push(lp.ms, 'limit', p.totalMs);
      push(sp.ms, 'limit', (await spool(ctx, size, `spool-${i}`)).ms);
    }
    if (extras.plainDirect) {
      const side = extras.plainDirect;
      const dg = row(ctx, { id: 'plain-get', workload: 0, title: `API GET ${formatSize(size)} without the TLS proxy`, bytes: size });
      const dp = row(ctx, { id: 'plain-put', workload: 0, title: `API allocate + upload ${formatSize(size)} without the TLS proxy`, bytes: size });
      for (let i = 0; i < reps && timeLeft(ctx); i++) {
        const g = await side.read(`${SEED}/get-${size}.bin`);
        if (g.bytes !== size) throw new Error(`plain GET gave ${g.bytes} bytes`);
        push(dg.ms, 'limit', g.totalMs);
        const path = `${work(ctx, 'plain')}/up-${i}.bin`;
        const seed = `${ctx.id}:${path}`;
        const md5 = await bodyMd5(size, seed);
        const w = await side.write(path, size, seed, { md5 });
        push(dp.ms, 'limit', w.totalMs);
        await ctx.admin.destroyFile(path);
      }
    }
  });
}
