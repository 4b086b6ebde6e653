// How the server meets the network: HTTPS with --cert/--key (curl and Node's https client), the warning for
// plain HTTP beyond loopback, the base path (/dav and /dav/ alike, OPTIONS on the server root, nothing
// outside), /dir and /dir/ both answered and never redirected, and the body-size guard for non-PUT methods.
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request, startStack, type TestStack } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);
const propfindBody = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>';

function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

describe('server: TLS', function () {
  this.timeout(60_000);
  let s: TestStack;
  let dir: string;
  let tls: { cert: string; key: string };
  before(async function () {
    requireTool(this, 'openssl', 'openssl', 'version');
    requireTool(this, 'curl');
    dir = mkdtempSync(join(tmpdir(), 'jottadav-tls-'));
    tls = selfSigned(dir);
    s = await startStack({ server: { tls, host: '127.0.0.1' } });
  });
  after(async () => {
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS to curl with the certificate as CA', async () => {
    expect(s.url).to.match(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const { stdout } = await run('curl', [
      '-sS', '--cacert', tls.cert, '-u', `${s.user!.name}:${s.user!.password}`, '-X', 'PROPFIND', '-H', 'Depth: 0',
      '-o', '/dev/null', '-w', '%{http_code} %{ssl_verify_result}', s.url,
    ]);
    expect(stdout).to.equal('207 0');
    const put = await run('curl', ['-sS', '--cacert', tls.cert, '-u', `${s.user!.name}:${s.user!.password}`, '-T', tls.cert, '-o', '/dev/null', '-w', '%{http_code}', `${s.url}cert.pem`]);
    expect(put.stdout).to.equal('201');
    const get = await run('curl', ['-sS', '--cacert', tls.cert, '-u', `${s.user!.name}:${s.user!.password}`, `${s.url}cert.pem`]);
    expect(get.stdout).to.equal(readFileSync(tls.cert, 'utf8'));
  });

  it("serves HTTPS to Node's https client, which verifies the certificate", async () => {
    const answer = await new Promise<{ status: number; body: string; authorized: boolean }>((resolve, reject) => {
      const req = httpsRequest(
        s.url,
        { method: 'PROPFIND', ca: readFileSync(tls.cert), headers: { Depth: '1', Authorization: s.auth, 'Content-Type': 'application/xml' } },
        (res) => {
          let body = '';
          const authorized = (res.socket as TLSSocket).authorized;
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, authorized }));
        },
      );
      req.on('error', reject);
      req.end(propfindBody);
    });
    expect(answer.status).to.equal(207);
    expect(answer.authorized).to.equal(true);
    expect(answer.body).to.include('multistatus');
  });

  it("serves HTTPS to rclone's webdav backend, trusting the certificate through --ca-cert", async function () {
    requireTool(this, 'rclone', 'rclone', 'version');
    const env = { ...process.env, RCLONE_CONFIG: join(dir, 'rclone.conf') };
    const obscured = (await run('rclone', ['obscure', s.user!.password], { env })).stdout.trim();
    const remote = `:webdav,url='${s.url}',vendor=other,user=${s.user!.name},pass=${obscured}:`;
    await run('rclone', ['--ca-cert', tls.cert, 'copyto', tls.key, `${remote}from-rclone/key.pem`], { env, timeout: 60_000 });
    const { stdout } = await run('rclone', ['--ca-cert', tls.cert, 'lsf', `${remote}from-rclone`], { env, timeout: 60_000 });
    expect(stdout.trim()).to.equal('key.pem');
    const untrusted = await run('rclone', ['--low-level-retries', '1', '--retries', '1', 'lsf', remote], { env, timeout: 60_000 }).then(
      () => 'listed',
      (e: { stderr: string }) => e.stderr,
    );
    expect(untrusted).to.match(/certificate/i);
  });

  it('refuses a client that does not trust the certificate, and speaks no plain HTTP on the TLS port', async () => {
    const untrusted = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', s.url]).then(
      () => 'connected',
      (e: { code: number }) => `curl exit ${e.code}`,
    );
    expect(untrusted).to.equal('curl exit 60');
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: s.port, path: '/', method: 'OPTIONS' }, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.end();
    });
    expect(plain).to.not.equal('status 200');
  });

  it('prints no plain-HTTP warning when serving TLS', () => {
    expect(s.logs()).to.not.include('plain HTTP');
  });
});

describe('server: plain HTTP beyond loopback', function () {
  this.timeout(60_000);
  it('warns that Windows will refuse Basic auth when bound to all interfaces without TLS', async () => {
    const s = await startStack({ server: { host: '0.0.0.0' } });
    try {
      expect(s.logs()).to.match(/warn: serving plain HTTP on all interfaces: Windows Explorer refuses Basic auth over HTTP/);
      expect((await request(s, 'PROPFIND', '', { headers: { Depth: '0' } })).status).to.equal(207);
    } finally {
      await s.close();
    }
  });

  it('does not warn on the default loopback address', async () => {
    const s = await startStack();
    try {
      expect(s.url).to.match(/^http:\/\/127\.0\.0\.1:/);
      expect(s.logs()).to.not.include('plain HTTP');
    } finally {
      await s.close();
    }
  });
});

describe('server: base path and trailing slashes', function () {
  this.timeout(60_000);
  let s: TestStack;
  before(async () => {
    s = await startStack({ server: { basePath: '/dav' } });
    expect((await request(s, 'MKCOL', 'dir')).status).to.equal(201);
    expect((await request(s, 'PUT', 'dir/a.txt', { body: 'a' })).status).to.equal(201);
  });
  after(() => s?.close());

  it('serves the share under the base path, with and without the trailing slash', async () => {
    expect(s.url).to.match(/\/dav\/$/);
    for (const path of ['/dav', '/dav/']) {
      const r = await request(s, 'PROPFIND', path, { headers: { Depth: '1' } });
      expect(r.status, path).to.equal(207);
      expect(r.body, path).to.include('/dav/dir/');
    }
  });

  it('answers /dir and /dir/ alike, never with a redirect', async () => {
    for (const method of ['PROPFIND', 'GET', 'OPTIONS']) {
      const bare = await request(s, method, '/dav/dir', { headers: { Depth: '1' } });
      const slash = await request(s, method, '/dav/dir/', { headers: { Depth: '1' } });
      expect(bare.status, `${method} /dav/dir`).to.be.within(200, 299);
      expect(slash.status, `${method} /dav/dir/`).to.equal(bare.status);
      expect(bare.headers.get('location'), method).to.equal(null);
      if (method === 'PROPFIND') {
        expect(bare.body).to.include('a.txt');
        expect(slash.body).to.include('a.txt');
      }
    }
  });

  it('answers OPTIONS on the server root with DAV headers (Windows probes it first), 404 elsewhere outside the share', async () => {
    const root = await request(s, 'OPTIONS', '/', { auth: null });
    expect(root.status).to.equal(200);
    expect(root.headers.get('dav')).to.match(/1, 2/);
    expect(root.headers.get('ms-author-via')).to.equal('DAV');
    for (const path of ['/', '/other', '/davx/dir']) {
      const r = await request(s, 'PROPFIND', path, { headers: { Depth: '0' } });
      expect(r.status, path).to.equal(404);
    }
  });
});

describe('server: body-size guard', function () {
  this.timeout(60_000);
  let s: TestStack;
  const limit = 4096;
  before(async () => {
    s = await startStack({ server: { maxBodyBytes: limit } });
  });
  after(() => s?.close());

  /** A raw request so the body can be sent chunked (fetch would buffer a string into Content-Length). */
  function chunked(method: string, path: string, parts: Buffer[]): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${s.url}${path}`,
        { method, headers: { Authorization: s.auth, Depth: '0', 'Content-Type': 'application/xml', 'Transfer-Encoding': 'chunked' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (const p of parts) req.write(p);
      req.end();
    });
  }

  it('refuses a declared Content-Length over the limit with 413 before reading it', async () => {
    const big = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop><!--${'x'.repeat(limit)}--></D:propfind>`;
    const r = await request(s, 'PROPFIND', '', { headers: { Depth: '0', 'Content-Type': 'application/xml' }, body: big });
    expect(r.status).to.equal(413);
    expect(r.body).to.include(`at most ${limit} bytes`);
  });

  it('refuses a chunked body that grows past the limit with 413', async () => {
    const parts = Array.from({ length: 8 }, () => Buffer.from('<!--' + 'y'.repeat(1000) + '-->'));
    const r = await chunked('PROPPATCH', '', parts);
    expect(r.status).to.equal(413);
  });

  it('hands a chunked body within the limit to the WebDAV layer intact', async () => {
    const half = Math.floor(propfindBody.length / 2);
    const r = await chunked('PROPFIND', '', [Buffer.from(propfindBody.slice(0, half)), Buffer.from(propfindBody.slice(half))]);
    expect(r.status).to.equal(207);
    expect(r.body).to.include('resourcetype');
  });

  it('never limits PUT: a body many times the limit is stored whole', async () => {
    const body = Buffer.alloc(limit * 64, 7);
    expect((await request(s, 'PUT', 'big.bin', { body })).status).to.equal(201);
    const get = await fetch(`${s.url}big.bin`, { headers: { Authorization: s.auth } });
    expect(Buffer.from(await get.arrayBuffer()).equals(body)).to.equal(true);
  });
});

describe('server: idle timeout', function () {
  this.timeout(60_000);
  let s: TestStack;
  before(async () => {
    // Every backend call takes 0.7 s: committing a PUT keeps the client waiting in silence for longer than
    // the 1 s idle timeout.
    s = await startStack({ server: { idleTimeoutSec: 1 }, emulator: { latencyMs: 700 } });
  });
  after(() => s?.close());

  it('does not count the time the server spends answering: a slow commit still gets its 201', async () => {
    const started = Date.now();
    const r = await request(s, 'PUT', 'slow-commit.txt', { body: 'committed while the client waits' });
    expect(r.status).to.equal(201);
    expect(Date.now() - started, 'the commit really took longer than the idle timeout').to.be.greaterThan(1000);
    expect((await request(s, 'GET', 'slow-commit.txt')).body).to.equal('committed while the client waits');
  });

  it('cuts a client that stalls in the middle of its body (slow loris)', async () => {
    const { connect } = await import('node:net');
    const socket = connect(s.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`PUT /loris.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${s.auth}\r\nContent-Length: 100\r\n\r\n0123456789`);
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('still open after 10 s'), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
    });
    socket.destroy();
    expect(outcome).to.equal('closed');
    expect((await request(s, 'PROPFIND', 'loris.txt', { headers: { Depth: '0' } })).status).to.equal(404);
  });
});
