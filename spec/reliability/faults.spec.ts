// Faults with nothing lost: `jottadav serve` (a child process, set up with `jottadav login`) over an emulator that
// fails on purpose. For each fault, through real WebDAV PUT/GET: every upload the client was told succeeded
// (201/204) is on the service with its bytes and MD5 — checked through the emulator's own API with a separate
// login, never jottadav's cache —, every failed upload got a 4xx/5xx and the previous content is intact, no spool
// file and no hidden temporary name is left, and the server keeps serving afterwards.
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { handleOf, spoolFiles, startServeProcess, type EmulatorHandle, type ServeProcess } from '../helpers/serve-process.js';
import { content, counts, dav, slowPut, waitUntil, getBytes, hrefs, HIDDEN_NAME, Ledger, md5, put, Remote, startRecordingProxy, walk, type Seen } from './support.js';

const TOKEN_ROUTE = 'POST /auth/realms/*/protocol/openid-connect/token';

describe('reliability: faults, with nothing lost', function () {
  this.timeout(120_000);
  let emu: RunningEmulator;
  let handle: EmulatorHandle;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let serve: ServeProcess;
  let remote: Remote;
  let ledger: Ledger;

  before(async () => {
    emu = await startTestEmulator();
    handle = handleOf(emu);
    proxy = await startRecordingProxy(emu.url);
    // jottadav talks to the emulator through the proxy (its login too), so the proxy sees every upload's Range.
    serve = await startServeProcess({
      emulator: { ...handle, url: proxy.url },
      // Small memory limit: bodies above 64 KiB go through spool files, whose cleanup is checked.
      config: { storage: { md5MemoryLimit: 64 * 1024, cacheTtlSec: 0 } },
    });
    remote = new Remote(handle);
    expect((await dav(serve, 'MKCOL', 'f')).status).to.equal(201);
  });
  after(async () => {
    await serve?.close();
    await proxy?.close();
    await emu?.close();
  });
  beforeEach(() => {
    ledger = new Ledger();
  });
  afterEach(async function () {
    await emu.setFaults(undefined);
    if (this.currentTest?.state === 'failed') console.log(serve.output().split('\n').slice(-40).join('\n'));
  });

  /** Sets a fault spec (counted for the report). */
  function fault(spec: string): void {
    counts.faultsInjected++;
    emu.setFaults(spec);
  }

  /** After the faults are cleared: ledger on the service, no spool leftovers, no hidden names served, still serving. */
  async function settled(opts: { uncertain?: boolean } = {}): Promise<void> {
    emu.setFaults(undefined);
    await ledger.verify(remote, opts);
    counts.uploadsVerified += ledger.verified;
    expect(spoolFiles(serve.spoolDir), 'spool leftovers').to.deep.equal([]);
    expect((await walk(serve)).filter((h) => HIDDEN_NAME.test(h)), 'hidden names in a listing').to.deep.equal([]);
    // What jottadav serves for each acknowledged path is what the service holds.
    for (const [path, body] of ledger.acked) {
      const got = await getBytes(serve, path);
      expect(got.status, `GET ${path}`).to.equal(200);
      expect(md5(got.body), `GET ${path}`).to.equal(md5(body));
    }
  }

  describe('allocate answers 500/503/429', () => {
    it('transiently: the upload goes through once the service recovers', async () => {
      const body = content('alloc-transient', 200_000);
      fault('status=500,503,429;path=/files/v1/allocate;count=3');
      expect(await put(serve, ledger, 'f/alloc-transient.bin', body)).to.equal(201);
      expect((await emu.stats()).routes['POST /files/v1/allocate']).to.be.at.least(4);
      await settled();
    });

    for (const status of [500, 503, 429]) {
      it(`persistently (${status}): a new file fails with 5xx, an existing one keeps its content`, async () => {
        const name = `f/alloc-${status}.bin`;
        const old = content(`alloc-${status}-old`, 100_000);
        expect(await put(serve, ledger, name, old)).to.equal(201);
        fault(`status=${status};path=/files/v1/allocate`);
        const over = await put(serve, ledger, name, content(`alloc-${status}-new`, 150_000));
        expect(over).to.be.within(500, 599);
        const fresh = await put(serve, ledger, `f/alloc-${status}-new-file.bin`, content(`alloc-${status}-nf`, 80_000));
        expect(fresh).to.be.within(500, 599);
        await settled();
        // A new file that failed is not shown at all.
        expect((await dav(serve, 'GET', `f/alloc-${status}-new-file.bin`)).status).to.equal(404);
      });
    }
  });

  describe('the upload connection is cut', () => {
    for (const percent of [0, 50, 99]) {
      it(`at ${percent} %: the next attempt resumes from resume_pos and the bytes are right`, async () => {
        const size = 1_000_000;
        const body = content(`cut-${percent}`, size);
        const before = proxy.seen.length;
        fault(`cut-upload=${percent}%;count=1`);
        expect(await put(serve, ledger, `f/cut-${percent}.bin`, body)).to.equal(201);
        const uploads = proxy.seen.slice(before).filter((s: Seen) => s.path.startsWith('/files/v1/upload/'));
        expect(uploads, 'one cut and one resumed upload request').to.have.length(2);
        const cutAt = Math.floor((size * percent) / 100);
        // The resumed request starts where the service said it had bytes up to, and carries only the rest.
        const resumed = uploads[1];
        const start = Number(/^bytes=(\d+)-/.exec(resumed.range ?? 'bytes=0-')?.[1]);
        expect(start, `Range of the resumed request (${resumed.range ?? 'none'})`).to.be.within(Math.max(0, cutAt - 65_536), cutAt);
        expect(resumed.bytes).to.equal(size - start);
        expect(resumed.status).to.equal(201);
        await settled();
      });
    }

    it('on every attempt: the PUT fails with 5xx and the old content stays', async () => {
      const old = content('cut-always-old', 300_000);
      expect(await put(serve, ledger, 'f/cut-always.bin', old)).to.equal(201);
      fault('cut-upload=10%');
      expect(await put(serve, ledger, 'f/cut-always.bin', content('cut-always-new', 300_000))).to.be.within(500, 599);
      await settled();
    });
  });

  it('30 % of all backend requests fail while 8 clients copy a tree in', async function () {
    const seconds = Number(process.env.FAULT_SECONDS ?? 15);
    this.timeout((seconds + 120) * 1000);
    fault(`status=500,503,429,502;rate=0.3;for=${seconds}s`);
    const deadline = Date.now() + seconds * 1000;
    let puts = 0;
    const client = async (c: number) => {
      // Like `cp -r`: the folder first (retried as a client would on a 5xx), then files; some overwritten.
      for (let round = 0; Date.now() < deadline; round++) {
        const dir = `f/tree-${c}-${round}`;
        let made = 0;
        for (let i = 0; i < 20 && made !== 201 && made !== 405; i++) made = (await dav(serve, 'MKCOL', dir)).status;
        expect(made, `MKCOL ${dir}`).to.be.oneOf([201, 405]);
        for (let i = 0; i < 6 && Date.now() < deadline; i++) {
          const size = [0, 1, 1000, 70_000, 200_000][(c + i) % 5];
          await put(serve, ledger, `${dir}/file-${i}.bin`, content(`tree-${c}-${round}-${i}`, size));
          puts++;
        }
        await put(serve, ledger, `${dir}/file-0.bin`, content(`tree-${c}-${round}-again`, 5000));
        puts++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
    console.log(`      ${puts} uploads under 30 % failures, ${ledger.failures} answered 5xx, ${ledger.acked.size} paths acknowledged`);
    expect(ledger.acked.size).to.be.greaterThan(0);
    await settled();
  });

  describe('tokens', () => {
    it('the access token expires mid-upload: refreshed once, the upload completes', async () => {
      emu.resetStats();
      fault('expire-tokens;path=/files/v1/upload/;count=1');
      expect(await put(serve, ledger, 'f/token-expired.bin', content('token-expired', 400_000))).to.equal(201);
      expect((await emu.stats()).routes[TOKEN_ROUTE], 'token requests').to.be.within(1, 2);
      await settled();
    });

    it('the refresh endpoint fails transiently: the refresh is retried and the upload completes', async () => {
      emu.resetStats();
      fault('expire-tokens;count=1;status=503,500;path=/auth/;count=2');
      expect(await put(serve, ledger, 'f/refresh-flaky.bin', content('refresh-flaky', 120_000))).to.equal(201);
      expect((await emu.stats()).routes[TOKEN_ROUTE], 'token requests').to.be.within(3, 6);
      await settled();
    });

    it('the refresh token is revoked: a clear error, no retry storm, the token file kept; a new login heals it', async () => {
      const old = content('revoked-old', 90_000);
      expect(await put(serve, ledger, 'f/revoked.bin', old)).to.equal(201);
      const tokensBefore = readFileSync(serve.tokenFile, 'utf8');
      emu.resetStats();
      fault('expire-tokens;revoke-refresh');
      const failures: number[] = [];
      for (let i = 0; i < 5; i++) failures.push(await put(serve, ledger, 'f/revoked.bin', content(`revoked-new-${i}`, 90_000)));
      const listing = await dav(serve, 'PROPFIND', 'f/', { headers: { Depth: '1' } });
      for (const status of failures) expect(status).to.equal(503);
      expect(listing.status).to.be.oneOf([207, 503]);
      // Six WebDAV requests: one refusal of the refresh token each at most, never a loop.
      const tokenRequests = (await emu.stats()).routes[TOKEN_ROUTE] ?? 0;
      expect(tokenRequests, 'token requests').to.be.within(1, 6);
      const put503 = await dav(serve, 'PUT', 'f/revoked.bin', { body: 'x' });
      expect(put503.body.toString('utf8')).to.match(/log ?in|sign ?in/i);
      // The token file is still there, still a valid store (the refused set stays until a new login replaces it).
      const stored = JSON.parse(readFileSync(serve.tokenFile, 'utf8')) as { tokens?: { refreshToken?: string } };
      expect(stored.tokens?.refreshToken).to.be.a('string');
      expect(statSync(serve.tokenFile).mode & 0o777).to.equal(0o600);
      expect(tokensBefore.length).to.be.greaterThan(0);
      expect(serve.output()).to.not.include(stored.tokens!.refreshToken!);
      // A new login while the server runs: the next request uses it.
      emu.setFaults(undefined);
      await serve.relogin();
      expect(await put(serve, ledger, 'f/revoked.bin', content('revoked-healed', 90_000))).to.equal(204);
      await settled();
    });
  });

  describe('SIGTERM with uploads in flight', () => {
    it('they finish within the grace period, the token file is intact, exit 0', async () => {
      const bodies = [0, 1, 2].map((i) => content(`sigterm-${i}`, 300_000 + i));
      const uploads = bodies.map((body, i) => slowPut(serve, `f/sigterm-${i}.bin`, body));
      await Promise.all(uploads.map((u) => u.started));
      // Each request has reached the server (its body is being spooled) before the signal.
      await waitUntil(() => spoolFiles(serve.spoolDir).length >= 3, 'the three bodies are being spooled');
      const exit = serve.stop('SIGTERM', 60_000);
      await new Promise((r) => setTimeout(r, 200));
      uploads.forEach((u) => u.finish());
      const statuses = await Promise.all(uploads.map((u) => u.done));
      statuses.forEach((s, i) => ledger.record(`f/sigterm-${i}.bin`, bodies[i], s));
      expect(statuses).to.deep.equal([201, 201, 201]);
      expect(await exit).to.deep.equal({ code: 0, signal: null });
      const stored = JSON.parse(readFileSync(serve.tokenFile, 'utf8')) as { tokens?: { accessToken?: string } };
      expect(stored.tokens?.accessToken).to.be.a('string');
      expect(spoolFiles(serve.spoolDir)).to.deep.equal([]);
      await serve.restart();
      await settled();
    });
  });

  describe('SIGKILL mid-PUT, then a restart', () => {
    it('while the body arrives (spooled): nothing half-written is visible, the spool leftover is removed at start', async () => {
      const old = content('kill-old', 100_000);
      expect(await put(serve, ledger, 'f/kill-spool.bin', old)).to.equal(201);
      const u = slowPut(serve, 'f/kill-spool.bin', content('kill-new', 2_000_000));
      const u2 = slowPut(serve, 'f/kill-spool-new.bin', content('kill-new2', 2_000_000));
      await Promise.all([u.started, u2.started]);
      await waitUntil(() => spoolFiles(serve.spoolDir).length >= 2, 'the bodies are being spooled');
      await serve.stop('SIGKILL');
      expect(await u.done).to.equal(0);
      expect(await u2.done).to.equal(0);
      expect(spoolFiles(serve.spoolDir).length, 'the crash leaves spool files behind').to.be.at.least(2);
      await serve.restart();
      expect(spoolFiles(serve.spoolDir), 'removed at start').to.deep.equal([]);
      expect((await getBytes(serve, 'f/kill-spool-new.bin')).status).to.equal(404);
      await settled();
    });

    it('while the bytes go to the service: the old content stays, the unfinished upload is not shown', async () => {
      const old = content('kill-up-old', 100_000);
      expect(await put(serve, ledger, 'f/kill-upload.bin', old)).to.equal(201);
      const before = proxy.seen.length;
      // The service holds the upload requests unanswered (allocate has already made a pending revision); jottadav
      // is killed while they are in flight.
      emu.setFaults('delay=20000;path=/files/v1/upload/');
      counts.faultsInjected++;
      const newBody = content('kill-up-new', 1_000_000);
      const pending = dav(serve, 'PUT', 'f/kill-upload.bin', { body: newBody });
      const pendingNew = dav(serve, 'PUT', 'f/kill-upload-new.bin', { body: newBody });
      await waitUntil(() => proxy.seen.slice(before).filter((s) => s.path.startsWith('/files/v1/upload/')).length >= 2, 'uploads to the service have begun');
      await serve.stop('SIGKILL');
      expect((await pending).status).to.equal(0);
      expect((await pendingNew).status).to.equal(0);
      emu.setFaults(undefined);
      await serve.restart();
      expect((await getBytes(serve, 'f/kill-upload-new.bin')).status).to.equal(404);
      const listing = await dav(serve, 'PROPFIND', 'f/', { headers: { Depth: '1' } });
      expect(hrefs(listing.body.toString('utf8')).some((h) => h.endsWith('kill-upload-new.bin'))).to.equal(false);
      await settled();
    });
  });
});
