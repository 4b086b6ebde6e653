// The collection after bursts of work (lib/server/idle-gc.ts), over real HTTP against a real emulator: it runs once
// the server has been idle after its heap grew — plus once more when the quiet lasts (V8 shrinks its young
// generation only then) — never while a request is in flight, not again while nothing grows, and not at all when
// no collector can be had. The heap figures and the collector are stand-ins here so the growth is under the
// test's control; obtainGc itself is checked against V8.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import vm from 'node:vm';
import { configSchema } from '../../lib/config/index.js';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { UserDirectory } from '../../lib/server/auth/index.js';
import type { HeapFigures, IdleGcOptions } from '../../lib/server/idle-gc.js';
import { obtainGc } from '../../lib/util/gc.js';
import { startServer, type RunningServer } from '../../lib/server/listen.js';
import { createLogger } from '../../lib/server/logging.js';
import { buildStack, type Stack } from '../../lib/server/stack.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { basicAuth } from '../helpers/stack.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A heap whose growth the test sets; the stand-in collector takes it back to the base and notes the requests in flight. */
class FakeHeap {
  growth = 0;
  /** Requests in flight at each collection. */
  readonly calls: number[] = [];
  server?: RunningServer;
  figures = (): HeapFigures => ({ heapBytes: 40 * MiB + this.growth, externalBytes: 2 * MiB });
  gc = () => {
    this.calls.push(this.server ? this.server.inFlight() : -1);
    this.growth = 0;
  };
}

async function until(what: string, cond: () => boolean, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`still waiting for ${what}`);
    await sleep(20);
  }
}

describe('server: collection after bursts (idle GC)', function () {
  this.timeout(60_000);
  let emu: RunningEmulator;
  let stateDir: string;
  let stack: Stack;
  let server: RunningServer | undefined;
  const user = { name: 'alice', password: 'pw-idle-gc-1' };
  const auth = basicAuth(user.name, user.password);

  before(async () => {
    emu = await startTestEmulator();
    stateDir = mkdtempSync(join(tmpdir(), 'jottadav-idlegc-'));
  });
  after(async () => {
    await emu?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.close(2000);
    await stack?.close();
    server = undefined;
  });

  async function serve(idleGc: IdleGcOptions | false | undefined): Promise<RunningServer> {
    const config = configSchema.parse({ server: { port: 0, metricsPort: false }, storage: { spoolDir: join(stateDir, 'spool') }, log: { level: 'warn' } });
    const logger = createLogger({ ...config.log, stream: new PassThrough() });
    stack = await buildStack({ config, stateDir, logger, emulator: emu });
    const users = UserDirectory.fromConfig(config.server, user);
    server = await startServer({ server: config.server, webdav: stack.webdav, storage: stack.storage, users, logger, idleGc });
    return server;
  }

  const propfind = async (s: RunningServer) => {
    const res = await fetch(s.url, { method: 'PROPFIND', headers: { Authorization: auth, Depth: '1' } });
    await res.text();
    expect(res.status).to.equal(207);
  };

  it('collects once after a burst that grew the heap, once more when the quiet lasts, then not again', async () => {
    const heap = new FakeHeap();
    const s = await serve({ delayMs: 40, shrinkAfterMs: 150, gc: heap.gc, figures: heap.figures });
    heap.server = s;
    expect(s.idleGc).to.not.equal(null);
    await Promise.all([propfind(s), propfind(s), propfind(s)]);
    heap.growth = 64 * MiB;
    await propfind(s);
    await until('the collection after the burst', () => heap.calls.length >= 1);
    await until('the second collection of the quiet', () => heap.calls.length >= 2);
    // Idle, nothing grows: no more collections, however long the quiet.
    await sleep(600);
    expect(heap.calls).to.deep.equal([0, 0]);
    expect(s.idleGc!.collections).to.equal(2);
  });

  it('does not collect when the heap has not grown enough', async () => {
    const heap = new FakeHeap();
    const s = await serve({ delayMs: 40, shrinkAfterMs: 150, minGrowthBytes: 32 * MiB, gc: heap.gc, figures: heap.figures });
    heap.server = s;
    heap.growth = 8 * MiB;
    for (let i = 0; i < 5; i++) await propfind(s);
    await sleep(500);
    expect(heap.calls).to.deep.equal([]);
  });

  it('never collects while a request is in flight; the quiet after it ends does', async () => {
    const heap = new FakeHeap();
    const s = await serve({ delayMs: 40, shrinkAfterMs: 150, gc: heap.gc, figures: heap.figures });
    heap.server = s;
    await propfind(s);
    heap.growth = 64 * MiB;
    // A PUT whose body arrives slowly: in flight for well over the idle delay.
    const body = new PassThrough();
    const answered = new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${s.url}slow.txt`, { method: 'PUT', headers: { Authorization: auth, 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      body.pipe(req);
    });
    body.write('first part\n');
    await until('the PUT in flight', () => s.inFlight() === 1);
    await sleep(500);
    expect(heap.calls).to.deep.equal([]);
    body.end('second part\n');
    expect(await answered).to.equal(201);
    await until('the collection after the PUT', () => heap.calls.length >= 1);
    expect(heap.calls.every((inFlight) => inFlight === 0)).to.equal(true);
  });

  it('is off unless asked for, when switched off, or when there is no collector, and the server serves as before', async () => {
    for (const off of [undefined, false] as const) {
      const s1 = await serve(off);
      expect(s1.idleGc).to.equal(null);
      await propfind(s1);
      await server!.close(2000);
      await stack.close();
    }
    const s2 = await serve({ gc: null });
    expect(s2.idleGc).to.equal(null);
    await propfind(s2);
  });

  it("obtainGc hands over V8's collector without leaving a global gc behind", async () => {
    const gc = obtainGc();
    expect(gc).to.be.a('function');
    let target: object | undefined = { payload: 'x'.repeat(1000) };
    const ref = new WeakRef(target);
    target = undefined;
    // A WeakRef keeps its target for the rest of the current job.
    await sleep(0);
    gc!();
    expect(ref.deref()).to.equal(undefined);
    expect(vm.runInNewContext('typeof gc')).to.equal('undefined');
  });
});
