// What the operator sees: one log line per request (method, path, status, bytes, ms, user), text or JSON; no
// secret in the log even at debug level through a session that logs in every way, refreshes its token and
// sends a token in a query string; /healthz, /healthz/ready and /metrics on their own loopback-only port.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { basicAuth, request, startStack, type TestStack } from '../helpers/stack.js';
import { digestAuthorization, digestChallenges } from './digest-client.js';

function requestLines(logs: string): string[] {
  return logs.split('\n').filter((l) => / (OPTIONS|GET|HEAD|PUT|POST|DELETE|PROPFIND|PROPPATCH|MKCOL|COPY|MOVE|LOCK|UNLOCK) \/\S* \d{3} \d+B \d+ms /.test(l));
}

describe('server: request log', function () {
  this.timeout(60_000);

  it('writes one text line per request with method, path, status, bytes, ms and user', async () => {
    const s = await startStack();
    try {
      const before = requestLines(s.logs()).length;
      await request(s, 'PUT', 'log-me.txt', { body: 'twelve bytes' });
      await request(s, 'GET', 'log-me.txt');
      await request(s, 'PROPFIND', 'missing', { headers: { Depth: '0' } });
      await request(s, 'PROPFIND', '', { auth: null, headers: { Depth: '0' } });
      await new Promise((r) => setTimeout(r, 50));
      const lines = requestLines(s.logs()).slice(before);
      expect(lines).to.have.length(4);
      expect(lines[0]).to.match(/info: PUT \/log-me\.txt 201 \d+B \d+ms alice$/);
      expect(lines[1]).to.match(/info: GET \/log-me\.txt 200 12B \d+ms alice$/);
      expect(lines[2]).to.match(/info: PROPFIND \/missing 404 \d+B \d+ms alice$/);
      expect(lines[3]).to.match(/info: PROPFIND \/ 401 \d+B \d+ms -$/);
    } finally {
      await s.close();
    }
  });

  it('writes JSON lines when log.json is set, with the fields structured', async () => {
    const s = await startStack({ log: { json: true } });
    try {
      await request(s, 'PUT', 'j.txt', { body: 'abc' });
      await new Promise((r) => setTimeout(r, 50));
      const records = s
        .logs()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const put = records.filter((r) => r.kind === 'request' && r.method === 'PUT');
      expect(put).to.have.length(1);
      expect(put[0]).to.include({ level: 'info', path: '/j.txt', status: 201, user: 'alice', bytesIn: 3, aborted: false });
      expect(put[0].ms).to.be.a('number');
      expect(put[0].timestamp).to.be.a('string');
    } finally {
      await s.close();
    }
  });
});

describe('server: secrets never reach the log', function () {
  this.timeout(90_000);
  let s: TestStack;
  before(async () => {
    s = await startStack({ log: { level: 'debug' }, user: { name: 'alice', password: 'Sup3r-Secret-Pass-9' } });
  });
  after(() => s?.close());

  it('keeps passwords, Authorization values and tokens out of a full debug-level session', async () => {
    const tokensFile = join(s.stateDir, 'emulator-tokens.json');
    const secrets = new Set<string>([s.user!.password, Buffer.from(`alice:${s.user!.password}`).toString('base64')]);
    const collect = () => {
      const set = (JSON.parse(readFileSync(tokensFile, 'utf8')) as { tokens: Record<string, string> }).tokens;
      for (const key of ['accessToken', 'refreshToken', 'idToken']) if (set[key]) secrets.add(set[key]);
      return set.accessToken;
    };
    const firstToken = collect();

    await request(s, 'PUT', 'a.txt', { body: 'hello' });
    await request(s, 'GET', 'a.txt?access_token=QUERY-TOKEN-123456&password=QUERY-PASS-987');
    secrets.add('QUERY-TOKEN-123456').add('QUERY-PASS-987');
    await request(s, 'PROPFIND', '', { auth: basicAuth('alice', 'Wrong-Pass-Attempt-1'), headers: { Depth: '0' } });
    secrets.add('Wrong-Pass-Attempt-1');
    const ch = digestChallenges((await request(s, 'PROPFIND', '', { auth: null, headers: { Depth: '0' } })).headers.get('www-authenticate'))[0];
    const digest = digestAuthorization(ch, { user: 'alice', password: s.user!.password, method: 'PROPFIND', uri: '/', nc: 1 });
    expect((await request(s, 'PROPFIND', '', { auth: digest, headers: { Depth: '0' } })).status).to.equal(207);
    secrets.add(/response="([0-9a-f]+)"/.exec(digest)![1]);

    // Force a token refresh mid-session: the rotated tokens must stay out of the log too.
    s.emu.auth.expireAccessTokens();
    expect((await request(s, 'PUT', 'b.txt', { body: 'after refresh' })).status).to.equal(201);
    expect(collect(), 'the token was refreshed').to.not.equal(firstToken);
    await request(s, 'MKCOL', 'dir');
    await request(s, 'MOVE', 'b.txt', { headers: { Destination: `${s.url}dir/b.txt` } });
    await new Promise((r) => setTimeout(r, 100));

    const logs = s.logs();
    if (process.env.SHOW_LOGS) console.log(logs);
    expect(logs).to.include('GET /a.txt 200');
    expect(logs).to.include('login refused');
    expect(secrets.size).to.be.greaterThan(6);
    for (const secret of secrets) expect(logs, 'a secret in the log').to.not.include(secret);
  });
});

describe('server: health and metrics port', function () {
  this.timeout(60_000);
  let s: TestStack;
  before(async () => {
    s = await startStack();
  });
  after(() => s?.close());

  it('answers /healthz (liveness) and /healthz/ready (backend and token checked) without credentials', async () => {
    const live = await fetch(`${s.server.ops!.url}/healthz`);
    expect(live.status).to.equal(200);
    expect(await live.json()).to.include({ status: 'ok' });
    const ready = await fetch(`${s.server.ops!.url}/healthz/ready`);
    expect(ready.status).to.equal(200);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(body.status).to.equal('ready');
    expect(body.checks.backend.ok).to.equal(true);
    expect(body.checks.token.ok).to.equal(true);
  });

  it('counts requests by method and status, latency, bytes, and backend requests in /metrics', async () => {
    await request(s, 'PUT', 'm.bin', { body: Buffer.alloc(1000, 1) });
    await request(s, 'GET', 'm.bin');
    await request(s, 'PROPFIND', '', { headers: { Depth: '1' } });
    const text = await (await fetch(`${s.server.ops!.url}/metrics`)).text();
    expect(text).to.match(/jottadav_http_requests_total\{method="PUT",status="201"\} 1/);
    expect(text).to.match(/jottadav_http_requests_total\{method="GET",status="200"\} 1/);
    expect(text).to.match(/jottadav_http_request_duration_seconds_bucket\{le="\+Inf",method="PROPFIND"\} \d+/);
    expect(text).to.match(/jottadav_http_request_bytes_total\{method="PUT"\} 1000/);
    expect(text).to.match(/jottadav_http_response_bytes_total\{method="GET"\} 1000/);
    expect(text).to.match(/jottadav_backend_requests_total\{operation="[^"]+",host="(jfs|api|upload)",status="20\d"\} \d+/);
    expect(text).to.match(/jottadav_cache_lookups_total\{result="hit"\} \d+/);
    expect(text).to.match(/jottadav_spool_bytes 0/);
    expect(text).to.include('jottadav_process_resident_memory_bytes');
  });

  it('is not on the share port, and listens on loopback only', async () => {
    for (const path of ['/healthz', '/metrics']) {
      const r = await request(s, 'GET', path);
      expect(r.status, path).to.equal(404);
      expect(r.body).to.not.include('jottadav_http_requests_total');
    }
    expect(s.server.ops!.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The kernel's socket table says which address the port is bound to (no traffic needed to find out):
    // 0100007F is 127.0.0.1, and no IPv4 or IPv6 socket listens on that port on any other address.
    const port = s.server.ops!.port.toString(16).toUpperCase().padStart(4, '0');
    const listening = ['/proc/net/tcp', '/proc/net/tcp6']
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols.length > 3 && cols[1].endsWith(`:${port}`) && cols[3] === '0A')
      .map((cols) => cols[1].split(':')[0]);
    expect(listening).to.deep.equal(['0100007F']);
  });

  it('reports not-ready (503) when the backend is gone, while liveness stays 200', async () => {
    const t = await startStack();
    try {
      await t.emu.close();
      await new Promise((r) => setTimeout(r, 1100));
      const ready = await fetch(`${t.server.ops!.url}/healthz/ready`);
      expect(ready.status).to.equal(503);
      const body = (await ready.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
      expect(body.checks.backend.ok).to.equal(false);
      expect((await fetch(`${t.server.ops!.url}/healthz`)).status).to.equal(200);
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
