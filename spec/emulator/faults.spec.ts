// Fault injection over HTTP: the --faults grammar, injected statuses (XML on JFS, JSON on the API), upload
// connections cut after K bytes (bytes kept for resume), connections closed when reused after sitting idle,
// token expiry, run-time switching through the admin route, and the added latency and bandwidth cap (checked
// as lower bounds only: they cannot flake).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { FaultSpecError, parseFaults } from '../../lib/emulator/faults.js';
import { accessToken, login, withEmulator } from '../helpers/emulator.js';
import { Client, md5, parser, rawRequest } from './support.js';

describe('emulator: faults', () => {
  describe('grammar', () => {
    it('reads actions with their modifiers, status lists, percentages and durations', () => {
      expect(parseFaults('status=503;every=10')).to.deep.equal([{ action: 'status', statuses: [503], every: 10 }]);
      expect(parseFaults('status=429,500;rate=0.3;path=/jfs/;for=60s')).to.deep.equal([
        { action: 'status', statuses: [429, 500], rate: 0.3, path: '/jfs/', forMs: 60_000 },
      ]);
      expect(parseFaults('status=503,every=10;cut-upload=1048576')).to.deep.equal([
        { action: 'status', statuses: [503], every: 10 },
        { action: 'cut-upload', cutBytes: 1_048_576 },
      ]);
      expect(parseFaults('cut-upload=50%;count=1')).to.deep.equal([{ action: 'cut-upload', cutPercent: 50, count: 1 }]);
      expect(parseFaults('expire-tokens')).to.deep.equal([{ action: 'expire-tokens', count: 1 }]);
      expect(parseFaults('delay=200;method=post;after=2')).to.deep.equal([{ action: 'delay', delayMs: 200, method: 'POST', after: 2 }]);
      expect(parseFaults('drop;idle=2s;path=/files/')).to.deep.equal([{ action: 'drop', idleMs: 2000, path: '/files/' }]);
    });

    it('refuses what it cannot read, saying what is wrong', () => {
      for (const [spec, msg] of [
        ['every=3', /must follow an action/],
        ['status=abc', /whole number/],
        ['status=5000', /3-digit/],
        ['bogus=1', /unknown fault item "bogus"/],
        ['status=500;rate=2', /rate must be 0..1/],
        ['status=500;for=soon', /duration/],
        ['drop;idle=', /idle needs a duration/],
        ['cut-upload=150%', /percent/],
      ] as const) {
        expect(() => parseFaults(spec), spec).to.throw(FaultSpecError, msg);
      }
    });
  });

  describe('over HTTP', () => {
    const ctx = withEmulator();
    const c = () => new Client(ctx.emu, ctx.token);
    afterEach(() => ctx.emu.setFaults(undefined));

    it('injects statuses on matching requests: every N-th, in the route format, at most count times', async () => {
      ctx.emu.setFaults('status=503;every=2;path=/jfs/;count=2');
      const statuses: number[] = [];
      let xml = '';
      for (let i = 0; i < 6; i++) {
        const res = await c().fetch(c().p());
        statuses.push(res.status);
        if (res.status === 503) xml = await res.text();
        else await res.arrayBuffer();
      }
      expect(statuses).to.deep.equal([200, 503, 200, 503, 200, 200]);
      expect(parser.parse(xml).error.code).to.equal('503');
      const api = await c().fetch('/account/v1/customer');
      expect(api.status, 'path=/jfs/ leaves the API alone').to.equal(200);
      ctx.emu.setFaults('status=500,429;path=/account/');
      const a1 = await c().fetch('/account/v1/customer');
      const a2 = await c().fetch('/account/v1/customer');
      expect([a1.status, a2.status]).to.deep.equal([500, 429]);
      expect(Object.keys((await a1.json()) as object)).to.deep.equal(['code', 'message', 'cause', 'error_id', 'x-id']);
    });

    it('cuts an upload connection after K bytes; the bytes that came are kept for the resume', async () => {
      const data = randomBytes(300_000);
      ctx.emu.setFaults('cut-upload=100000;count=1');
      const alloc = { bytes: data.length, md5: md5(data), path: '/jfs/Jotta/Archive/cut/f.bin' };
      const a = await c().allocate(alloc);
      const u = new URL(a.upload_url);
      let failed = false;
      try {
        await rawRequest(u.origin, 'POST', u.pathname, { Authorization: `Bearer ${ctx.token}`, 'Content-Length': String(data.length) }, data);
      } catch {
        failed = true;
      }
      expect(failed, 'the connection drops without an answer').to.equal(true);
      const again = await c().allocate(alloc);
      expect(again.resume_pos).to.equal(100_000);
      const r = await c().send(again.upload_url, data.subarray(100_000), `bytes=100000-${data.length - 1}`);
      expect(r.status).to.equal(201);
      expect(md5((await c().bytes('cut/f.bin')).body)).to.equal(md5(data));
    });

    it('cut-upload=P% cuts at that share of the file', async () => {
      const data = randomBytes(200_000);
      ctx.emu.setFaults('cut-upload=25%');
      const alloc = { bytes: data.length, md5: md5(data), path: '/jfs/Jotta/Archive/cut/p.bin' };
      const a = await c().allocate(alloc);
      const u = new URL(a.upload_url);
      await rawRequest(u.origin, 'POST', u.pathname, { Authorization: `Bearer ${ctx.token}` }, data).catch(() => undefined);
      expect((await c().allocate(alloc)).resume_pos).to.equal(50_000);
    });

    it('expire-tokens makes the next request answer 401 until the client signs in again', async () => {
      const token = await accessToken(ctx.emu);
      const mine = new Client(ctx.emu, token);
      ctx.emu.setFaults('expire-tokens');
      expect((await mine.fetch(mine.p())).status).to.equal(401);
      expect((await mine.fetch(mine.p())).status).to.equal(401);
      const fresh = new Client(ctx.emu, await accessToken(ctx.emu));
      expect((await fresh.fetch(fresh.p())).status, 'fires once').to.equal(200);
      ctx.token = fresh.token;
    });

    it('revoke-refresh makes the next refresh answer invalid_grant', async () => {
      const set = await login(ctx.emu);
      ctx.emu.setFaults('revoke-refresh');
      const res = await fetch(`${ctx.emu.url}/auth/realms/jottacloud/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: set.refresh_token, client_id: 'jottacli' }).toString(),
      });
      expect(res.status).to.equal(400);
      expect(((await res.json()) as { error: string }).error).to.equal('invalid_grant');
    });

    it('switches faults at run time through the admin route, refuses bad specs, and clears with DELETE', async () => {
      const put = await fetch(`${ctx.emu.url}/__emulator/faults`, { method: 'PUT', body: 'status=502;path=/jfs/' });
      expect(put.status).to.equal(200);
      expect(((await put.json()) as { faults: unknown[] }).faults).to.deep.equal([{ action: 'status', statuses: [502], path: '/jfs/' }]);
      expect((await c().fetch(c().p())).status).to.equal(502);
      const bad = await fetch(`${ctx.emu.url}/__emulator/faults`, { method: 'PUT', body: 'every=2' });
      expect(bad.status).to.equal(400);
      expect((await c().fetch(c().p())).status, 'a refused spec leaves the old one').to.equal(502);
      expect((await fetch(`${ctx.emu.url}/__emulator/faults`, { method: 'DELETE' })).status).to.equal(200);
      expect((await c().fetch(c().p())).status).to.equal(200);
    });

    it('idle= fires only on a reused connection that sat idle that long since its last answer', async () => {
      ctx.emu.setFaults('drop;idle=300ms');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const get = () =>
        new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
          const req = http.get(`${ctx.emu.url}${c().p()}`, { agent, headers: { Authorization: `Bearer ${ctx.token}` } }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
          });
          req.on('error', reject);
        });
      try {
        expect(await get(), 'a new connection').to.deep.equal({ status: 200, reused: false });
        expect(await get(), 'reused at once').to.deep.equal({ status: 200, reused: true });
        await new Promise((r) => setTimeout(r, 400));
        const stale = await get().then(
          () => 'answered',
          (e: NodeJS.ErrnoException) => e.code,
        );
        expect(stale, 'reused after 400 ms idle: closed without an answer').to.be.oneOf(['ECONNRESET', 'EPIPE']);
        expect(await get(), 'the next connection is new again').to.deep.equal({ status: 200, reused: false });
      } finally {
        agent.destroy();
      }
    });

    it('drop closes the connection without an answer', async () => {
      ctx.emu.setFaults('drop;count=1');
      let failed = false;
      await c().fetch(c().p()).catch(() => (failed = true));
      expect(failed).to.equal(true);
      expect((await c().fetch(c().p())).status).to.equal(200);
    });
  });

  describe('latency and bandwidth', () => {
    const ctx = withEmulator({ latencyMs: 150, bandwidth: 40_000 });

    it('adds the latency to every request and caps body bytes per second (lower bounds)', async () => {
      const c = new Client(ctx.emu, ctx.token);
      let t0 = Date.now();
      await (await c.fetch(c.p())).text();
      expect(Date.now() - t0).to.be.at.least(150);
      await c.upload('bw/f.bin', randomBytes(40_000));
      t0 = Date.now();
      const got = await c.bytes('bw/f.bin');
      expect(got.body.length).to.equal(40_000);
      // 40 kB at 40 kB/s: about a second; the first slice goes at once, so at least ~0.95 s plus the latency.
      expect(Date.now() - t0).to.be.at.least(900);
    });
  });
});
