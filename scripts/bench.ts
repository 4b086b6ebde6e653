// `npm run bench`: one run that starts the emulator with WAN-like latency, `jottadav serve`, `rclone serve webdav`
// (default and `--vfs-cache-mode writes`) and the direct API client on it, drives them all with the same client code,
// and writes the table (stdout), bench/results/*.json, the charts and the generated part of BENCHMARKS.md.
// `--quick` is the small variant CI runs to keep this working; the full run is for people. Options: `--help`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { keepAliveAgent } from './bench-http.js';
import { charts, checkTargets, markdownReport, timingNotes, type RunInfo } from './bench-report.js';
import { type Row, type TargetName, TARGETS, textTable } from './bench-stats.js';
import {
  type Child,
  type DavServer,
  type EmulatorProcess,
  mitmDir,
  repoRoot,
  startDirect,
  startEmulatorProcess,
  startJottadav,
  startLoopback,
  startProxy,
  startRclone,
} from './bench-targets.js';
import { type BenchContext, makePlan, propfind, reads, seed, session, smallFiles, treeWalk, warmUp, wire, writes } from './bench-workloads.js';

const HELP = `npm run bench -- [options]
  --quick                 small sizes (about a minute); what CI runs
  --latency MS            added latency per backend request (default 20)
  --bandwidth BYTES       cap per request and direction on the emulator (default 0 = none)
  --via proxy|direct      how jottadav and the limit reach the emulator: through the TLS MITM proxy like rclone
                          (default) or plain HTTP to its origin
  --targets LIST          comma list of ${TARGETS.join(',')} (default all; rclone ones need the rclone binary)
  --workloads LIST        comma list of 0-6 (0 = raw wire figures; default all)
  --rclone-write-back D   rclone's --vfs-write-back in writes mode (default 5s, rclone's own: it answers a PUT
                          once its disk has the file and uploads 5 s later; 0s makes it upload before answering)
  --max-minutes N         stop starting new repetitions after N minutes (default 5 quick, 180 full)
  --out FILE              results JSON (default bench/results/latest.json, quick: bench/results/quick.json)
  --no-doc                do not rewrite BENCHMARKS.md's generated part and bench/charts (only full runs do);
                          the charts and a Markdown report go beside --out instead
  --keep                  keep the temporary state folder (logs, configs) for a look afterwards
  --from FILE             run nothing: rebuild the table, charts and Markdown from saved results`;

interface Options {
  quick: boolean;
  latency: number;
  bandwidth: number;
  via: 'proxy' | 'direct';
  targets: TargetName[];
  workloads: number[];
  writeBack: string;
  maxMinutes: number;
  out: string;
  doc: boolean;
  keep: boolean;
  /** Only rebuild table, charts and Markdown from saved results. */
  from?: string;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      latency: { type: 'string', default: '20' },
      bandwidth: { type: 'string', default: '0' },
      via: { type: 'string', default: 'proxy' },
      targets: { type: 'string', default: TARGETS.join(',') },
      workloads: { type: 'string', default: '0,1,2,3,4,5,6' },
      'rclone-write-back': { type: 'string', default: '5s' },
      'max-minutes': { type: 'string' },
      out: { type: 'string' },
      'no-doc': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      from: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, v: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`--${name} needs a whole number, got "${v}"`);
    return Number(v);
  };
  if (values.via !== 'proxy' && values.via !== 'direct') throw new Error('--via is proxy or direct');
  const targets = values.targets.split(',').map((t) => t.trim()) as TargetName[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t}; known: ${TARGETS.join(', ')}`);
  const workloads = values.workloads.split(',').map((w) => int('workloads', w.trim()));
  const quick = values.quick;
  return {
    quick,
    latency: int('latency', values.latency),
    bandwidth: int('bandwidth', values.bandwidth),
    via: values.via,
    targets,
    workloads,
    writeBack: values['rclone-write-back'],
    maxMinutes: values['max-minutes'] ? int('max-minutes', values['max-minutes']) : quick ? 5 : 180,
    out: values.out ?? join(repoRoot, 'bench', 'results', quick ? 'quick.json' : 'latest.json'),
    doc: !values['no-doc'] && !quick,
    keep: values.keep,
    from: values.from,
  };
}

function rcloneVersion(): string | undefined {
  try {
    return execFileSync('rclone', ['version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0].replace(/^rclone\s+/, '');
  } catch {
    return undefined;
  }
}

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

const DOC_START = '<!-- bench:results:start (generated by npm run bench; edit outside these markers) -->';
const DOC_END = '<!-- bench:results:end -->';

function updateDoc(path: string, generated: string): void {
  const block = `${DOC_START}\n${generated}\n${DOC_END}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : `# Benchmarks\n\n${DOC_START}\n${DOC_END}\n`;
  const a = text.indexOf(DOC_START.slice(0, 30));
  const b = text.indexOf(DOC_END);
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + DOC_END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  if (opts.from) {
    const saved = JSON.parse(readFileSync(opts.from, 'utf8')) as { info: RunInfo; rows: Row[] };
    publish(saved.rows, saved.info, { ...opts, quick: saved.info.mode === 'quick', out: opts.from, doc: opts.doc && saved.info.mode === 'full' });
    return;
  }
  if (!existsSync(join(repoRoot, 'dist', 'lib', 'cli.js'))) throw new Error('dist/lib/cli.js is missing: run `npm run build` first');
  const rclone = rcloneVersion();
  let targets = opts.targets;
  if (!rclone && targets.some((t) => t.startsWith('rclone'))) {
    if (process.env.CI) throw new Error('rclone is not installed (apt-get install rclone); CI needs it for the comparison');
    log('rclone is not installed: running without the rclone columns');
    targets = targets.filter((t) => !t.startsWith('rclone'));
  }
  if (targets.some((t) => t.startsWith('rclone')) && !existsSync(join(mitmDir(), 'proxy.mjs'))) {
    throw new Error(`the MITM tools are not at ${mitmDir()} (set SHARED_TOOLS_DIR to the shared folder)`);
  }
  const plan = makePlan(opts.quick);
  const state = mkdtempSync(join(tmpdir(), 'jottadav-bench-'));
  const children: Child[] = [];
  const started = Date.now();
  const killAll = () => {
    for (const c of children) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping`);
      killAll();
      process.exit(130);
    });
  }

  let rows: Row[] = [];
  let emu: EmulatorProcess | undefined;
  const load: BenchContext['load'] = [];
  let cutShort = false;
  let idleRss: BenchContext['idleRss'] = {};
  try {
    log(`state in ${state}; emulator latency ${opts.latency} ms`);
    emu = await startEmulatorProcess({ latencyMs: opts.latency, bandwidth: opts.bandwidth });
    children.push(emu);
    const admin = await startDirect({ name: 'admin', emu, concurrency: plan.seedConcurrency });
    const ctx: BenchContext = {
      plan,
      workloads: new Set(opts.workloads),
      targets: [],
      emu,
      admin: admin.side,
      rows,
      load,
      scratch: state,
      id: new Date().toISOString().replace(/[:.]/g, '-'),
      deadline: started + opts.maxMinutes * 60_000,
      log,
      idleRss: {},
    };
    await seed(ctx);

    const password = `bench-${Math.random().toString(36).slice(2)}`;
    const davAgent = keepAliveAgent(16);
    const servers: DavServer[] = [];
    for (const t of targets) {
      if (t === 'jottadav') {
        const proxy = opts.via === 'proxy' ? await startProxy(emu.url, join(state, 'mitm-jottadav')) : undefined;
        if (proxy) children.push(proxy);
        const s = await startJottadav({ emu, dir: join(state, 'jottadav'), password, proxy, agent: davAgent });
        children.push(s);
        servers.push(s);
        ctx.targets.push({ name: t, side: s.side, memoryPid: s.memoryPid });
      } else if (t === 'rclone' || t === 'rclone-writes') {
        const proxy = await startProxy(emu.url, join(state, `mitm-${t}`));
        children.push(proxy);
        const s = await startRclone({ name: t, emu, proxy, password, cacheMode: t === 'rclone' ? 'off' : 'writes', writeBack: opts.writeBack, agent: davAgent });
        children.push(s);
        servers.push(s);
        ctx.targets.push({ name: t, side: s.side, memoryPid: s.memoryPid });
      } else {
        const proxy = opts.via === 'proxy' ? await startProxy(emu.url, join(state, 'mitm-limit')) : undefined;
        if (proxy) children.push(proxy);
        const direct = await startDirect({ name: 'limit', emu, proxy, concurrency: 16 });
        ctx.targets.push({ name: t, side: direct.side });
      }
      log(`${t} ready`);
    }

    log('warm-up…');
    await warmUp(ctx);
    idleRss = ctx.idleRss;
    const steps: [number, (c: BenchContext) => Promise<void>][] = [
      [1, propfind],
      [2, treeWalk],
      [3, reads],
      [4, writes],
      [5, smallFiles],
      [6, session],
    ];
    for (const [n, fn] of steps) {
      if (!opts.workloads.includes(n)) continue;
      if (Date.now() > ctx.deadline) {
        cutShort = true;
        log(`time limit reached: workload ${n} and later left out`);
        break;
      }
      log(`workload ${n}…`);
      await fn(ctx);
    }
    if (opts.workloads.includes(0) && Date.now() < ctx.deadline) {
      log('the wire: loopback, spool, API without the proxy…');
      const loop = await startLoopback();
      children.push(loop);
      const plain = opts.via === 'proxy' ? (await startDirect({ name: 'plain', emu, concurrency: 4 })).side : undefined;
      await wire(ctx, { loopbackUrl: loop.url, plainDirect: plain, agent: keepAliveAgent(2) });
    }
    if (Date.now() > ctx.deadline) cutShort = true;
    rows = ctx.rows;
  } finally {
    for (const c of [...children].reverse()) await c.stop().catch(() => undefined);
    if (!opts.keep) rmSync(state, { recursive: true, force: true });
    else log(`state kept in ${state}`);
  }

  const info: RunInfo = {
    date: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    latencyMs: opts.latency,
    bandwidth: opts.bandwidth,
    via: opts.via,
    node: process.version,
    rclone: rclone ?? 'not installed',
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    rcloneWriteBack: opts.writeBack,
    load,
    durationSec: (Date.now() - started) / 1000,
    cutShort,
    idleRss,
  };
  publish(rows, info, opts);
}

/** Writes the JSON, the charts and the Markdown (BENCHMARKS.md for a full run), and prints the table and the checks. */
function publish(rows: Row[], info: RunInfo, opts: Options): void {
  const checks = checkTargets(rows);
  mkdirSync(dirname(opts.out), { recursive: true });
  if (!opts.from) writeFileSync(opts.out, JSON.stringify({ info, rows, checks }, null, 2) + '\n');

  // bench/charts belongs to BENCHMARKS.md: only a run that rewrites it rewrites them (an experiment with --no-doc
  // leaves its charts beside its results instead of changing the committed ones).
  const chartDir = opts.doc ? join(repoRoot, 'bench', 'charts') : dirname(opts.out);
  mkdirSync(chartDir, { recursive: true });
  const svg = charts(rows);
  const prefix = opts.quick ? 'quick-' : '';
  const folderChart = join(chartDir, `${prefix}time-vs-folder-size.svg`);
  const fileChart = join(chartDir, `${prefix}time-vs-file-size.svg`);
  writeFileSync(folderChart, svg.folder);
  writeFileSync(fileChart, svg.file);
  const docPath = join(repoRoot, 'BENCHMARKS.md');
  const mdDir = opts.doc ? repoRoot : dirname(opts.out);
  const md = markdownReport(rows, info, { folder: relative(mdDir, folderChart), file: relative(mdDir, fileChart) });
  if (opts.doc) updateDoc(docPath, md);
  else writeFileSync(opts.out.replace(/\.json$/, '') + '.md', md + '\n');

  console.log(textTable(rows));
  console.log('');
  for (const line of timingNotes(rows)) console.log(line);
  for (const c of checks) console.log(`${c.met === undefined ? '  ' : c.met ? 'ok' : 'NO'}  ${c.target}: ${c.detail}`);
  console.log('');
  console.log(`results: ${relative(process.cwd(), opts.out)}${opts.doc ? `, ${relative(process.cwd(), docPath)}` : ''} (${info.durationSec.toFixed(0)} s)`);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
