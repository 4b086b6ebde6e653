// Load: 50 WebDAV clients at once against `jottadav serve` (child process), each running a seeded mix of PUT, GET,
// HEAD, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, DELETE and LOCK/UNLOCK in a folder of its own, for LOAD_SECONDS
// (default 20; 60 for the full minute). No answer may be other than the operation's success status (nothing is
// injected here), every file a client believes it has is on the service with its bytes, and afterwards the
// server's open file descriptors, RSS and heap come back near the figures measured before (printed for the report).
// The heap is compared after a full collection: the server runs with `--heapsnapshot-signal`, and writing a heap
// snapshot (SIGUSR2) collects garbage first — the one way to ask another process for a major GC without a debugger.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { handleOf, processFootprint, spoolFiles, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { content, counts, dav, Ledger, md5, put, Remote } from './support.js';

/** mulberry32: a small seeded PRNG, so a failing mix can be replayed with the same LOAD_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Footprint {
  rssBytes: number;
  fds: number;
  heapUsedBytes: number;
}

/** Makes the server write a heap snapshot (a full GC comes first), waits until it is written, removes it. */
async function fullGc(s: ServeProcess, dir: string): Promise<void> {
  process.kill(s.pid, 'SIGUSR2');
  const deadline = Date.now() + 60_000;
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const files = readdirSync(dir);
    const size = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    if (files.length > 0 && size === last) break;
    if (Date.now() > deadline) throw new Error('no heap snapshot within 60 s');
    last = size;
  }
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
}

async function footprint(s: ServeProcess): Promise<Footprint> {
  const text = await (await fetch(`${s.opsUrl}/metrics`)).text();
  const heap = Number(/^jottadav_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/m.exec(text)?.[1] ?? NaN);
  return { ...processFootprint(s.pid), heapUsedBytes: heap };
}

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

describe('reliability: load (50 clients, mixed operations)', function () {
  const seconds = Number(process.env.LOAD_SECONDS ?? 20);
  this.timeout((seconds + 180) * 1000);
  let emu: RunningEmulator;
  let serve: ServeProcess;
  const diagDir = mkdtempSync(join(tmpdir(), 'jottadav-heap-'));

  before(async () => {
    emu = await startTestEmulator();
    serve = await startServeProcess({
      emulator: handleOf(emu),
      config: { log: { level: 'warn' }, storage: { md5MemoryLimit: 32 * 1024 } },
      env: { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${diagDir}` },
    });
  });
  after(async () => {
    await serve?.close();
    await emu?.close();
    rmSync(diagDir, { recursive: true, force: true });
  });

  it(`runs ${seconds} s without an unexpected answer, and memory and file handles come back`, async () => {
    const ledger = new Ledger();
    const errors: string[] = [];
    const tally = new Map<string, number>();
    const expectStatus = (what: string, got: number, ok: number[]) => {
      tally.set(what, (tally.get(what) ?? 0) + 1);
      if (!ok.includes(got)) errors.push(`${what} → ${got}`);
    };
    expect((await dav(serve, 'MKCOL', 'load')).status).to.equal(201);
    // Warm up every code path once, then take the baseline.
    await put(serve, ledger, 'load/warm.bin', content('warm', 100_000));
    await dav(serve, 'GET', 'load/warm.bin');
    await dav(serve, 'PROPFIND', 'load/', { headers: { Depth: '1' } });
    await new Promise((r) => setTimeout(r, 2000));
    await fullGc(serve, diagDir);
    const before = await footprint(serve);

    const seed = Number(process.env.LOAD_SEED ?? 20260801);
    const deadline = Date.now() + seconds * 1000;
    const client = async (c: number) => {
      const rnd = prng(seed + c);
      const dir = `load/c${c}`;
      expectStatus('MKCOL', (await dav(serve, 'MKCOL', dir)).status, [201]);
      const files: string[] = [];
      let n = 0;
      const pick = () => files[Math.floor(rnd() * files.length)];
      while (Date.now() < deadline) {
        const r = rnd();
        n++;
        if (files.length < 3 || r < 0.3) {
          const name = r < 0.15 && files.length ? pick() : `${dir}/f${n}.bin`;
          const size = Math.floor(rnd() * 120_000);
          const status = await put(serve, ledger, name, content(`load-${c}-${n}`, size));
          expectStatus('PUT', status, [201, 204]);
          if (!files.includes(name)) files.push(name);
        } else if (r < 0.5) {
          const name = pick();
          const res = await dav(serve, 'GET', name);
          expectStatus('GET', res.status, [200]);
          if (res.status === 200 && md5(res.body) !== md5(ledger.acked.get(name)!)) errors.push(`GET ${name}: wrong bytes`);
        } else if (r < 0.58) {
          expectStatus('HEAD', (await dav(serve, 'HEAD', pick())).status, [200]);
        } else if (r < 0.7) {
          expectStatus('PROPFIND', (await dav(serve, 'PROPFIND', `${dir}/`, { headers: { Depth: '1' } })).status, [207]);
        } else if (r < 0.75) {
          const body = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:load"><D:set><D:prop><Z:n>${n}</Z:n></D:prop></D:set></D:propertyupdate>`;
          expectStatus('PROPPATCH', (await dav(serve, 'PROPPATCH', pick(), { body, headers: { 'Content-Type': 'application/xml' } })).status, [207]);
        } else if (r < 0.8) {
          expectStatus('MKCOL', (await dav(serve, 'MKCOL', `${dir}/sub${n}`)).status, [201]);
        } else if (r < 0.86) {
          const from = pick();
          const to = `${dir}/copy${n}.bin`;
          const status = (await dav(serve, 'COPY', from, { headers: { Destination: serve.url + to, Overwrite: 'T' } })).status;
          expectStatus('COPY', status, [201, 204]);
          if (status === 201 || status === 204) {
            ledger.acked.set(to, ledger.acked.get(from)!);
            files.push(to);
          }
        } else if (r < 0.92) {
          const from = pick();
          const to = `${dir}/moved${n}.bin`;
          const status = (await dav(serve, 'MOVE', from, { headers: { Destination: serve.url + to, Overwrite: 'T' } })).status;
          expectStatus('MOVE', status, [201, 204]);
          if (status === 201 || status === 204) {
            ledger.acked.set(to, ledger.acked.get(from)!);
            ledger.acked.delete(from);
            files.splice(files.indexOf(from), 1, to);
          }
        } else if (r < 0.96 && files.length > 3) {
          const name = pick();
          const status = (await dav(serve, 'DELETE', name)).status;
          expectStatus('DELETE', status, [204]);
          if (status === 204) {
            ledger.acked.delete(name);
            files.splice(files.indexOf(name), 1);
          }
        } else {
          const name = pick();
          const lockBody = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';
          const lock = await dav(serve, 'LOCK', name, { body: lockBody, headers: { Timeout: 'Second-60', 'Content-Type': 'application/xml' } });
          expectStatus('LOCK', lock.status, [200]);
          const token = lock.headers.get('lock-token');
          if (token) expectStatus('UNLOCK', (await dav(serve, 'UNLOCK', name, { headers: { 'Lock-Token': token } })).status, [204]);
        }
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, c) => client(c)));
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    console.log(`      ${total} requests in ${seconds} s: ${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    expect(errors, 'unexpected answers').to.deep.equal([]);

    // Idle again: keep-alive sockets to the backend and from the clients time out.
    let after = await footprint(serve);
    const settleBy = Date.now() + 40_000;
    while (Date.now() < settleBy && after.fds > before.fds + 2) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await footprint(serve);
    }
    await fullGc(serve, diagDir);
    after = await footprint(serve);
    console.log(
      `      before: RSS ${mib(before.rssBytes)}, heap ${mib(before.heapUsedBytes)}, ${before.fds} fds; ` +
        `after: RSS ${mib(after.rssBytes)}, heap ${mib(after.heapUsedBytes)}, ${after.fds} fds (heap after a full GC both times)`,
    );
    expect(after.fds, 'open file descriptors back to baseline').to.be.at.most(before.fds + 2);
    // What stays is the metadata cache of the files just written (a few KiB per entry) and metrics' label sets.
    expect(after.heapUsedBytes, 'heap back near baseline').to.be.at.most(before.heapUsedBytes + 24 * MiB);
    // RSS does not shrink much once the allocator has the pages; bounded growth is what can be asked.
    expect(after.rssBytes, 'RSS bounded').to.be.at.most(before.rssBytes + 192 * MiB);
    expect(spoolFiles(serve.spoolDir)).to.deep.equal([]);

    await ledger.verify(new Remote(handleOf(emu)), { readBytes: false });
    counts.uploadsVerified += ledger.verified;
  });
});
