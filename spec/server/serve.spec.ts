// `jottadav serve` as a person runs it, in child processes: `npm start` on a fresh JOTTADAV_HOME serves the
// embedded emulator with a printed user and password (generated once, 0600, reused; data kept across
// restarts); `--user/--pass` and JOTTADAV_USER/JOTTADAV_PASS; SIGTERM lets an upload in flight finish and
// exits 0; the grace period bounds how long a stuck request can hold the exit.
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { configSchema } from '../../lib/config/index.js';
import { accessToken, archivePath, emuFetch, startTestEmulator } from '../helpers/emulator.js';
import { basicAuth } from '../helpers/stack.js';
import { repoRoot } from '../helpers/tools.js';

const cli = join(repoRoot, 'dist', 'lib', 'cli.js');

interface Serving {
  child: ChildProcess;
  url: string;
  user?: string;
  password?: string;
  output(): string;
  /** Resolves with the exit code once the child and everything holding its output are gone. */
  exit: Promise<number | null>;
  closed(): boolean;
}

function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JOTTADAV_') && !k.startsWith('npm_')) env[k] = v;
  // Ports 0: the test must not depend on 8080/9180 being free.
  return { ...env, JOTTADAV_HOME: home, JOTTADAV_SERVER__PORT: '0', JOTTADAV_SERVER__METRICS_PORT: '0', ...extra };
}

async function serve(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Serving> {
  // Own process group, so a signal reaches npm's child too and nothing outlives the test.
  const child = spawn(command, args, { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  // 'close' waits for every process holding the output pipes, so with npm it also waits for the server below it.
  let closed = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      closed = true;
      resolve(code);
    }),
  );
  const deadline = Date.now() + 60_000;
  while (!/^WebDAV: \S+/m.test(out) || (/^User: /m.test(out) === false && /Password/.test(out))) {
    if (child.exitCode !== null) throw new Error(`serve exited early (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      if (!closed) process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`serve did not start within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 50));
  return {
    child,
    url: /^WebDAV: (\S+)/m.exec(out)![1],
    user: /^User: (\S+)/m.exec(out)?.[1],
    password: /^Password: (\S+)/m.exec(out)?.[1],
    output: () => out,
    exit,
    closed: () => closed,
  };
}

/** Signals the child's process group (ours alone), unless everything in it is gone already. */
function signalGroup(s: Serving, signal: NodeJS.Signals): void {
  if (s.closed()) return;
  try {
    process.kill(-s.child.pid!, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function stop(s: Serving, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  signalGroup(s, signal);
  const timer = setTimeout(() => signalGroup(s, 'SIGKILL'), 30_000);
  const code = await s.exit;
  clearTimeout(timer);
  return code;
}

async function propfind(url: string, auth?: string): Promise<number> {
  const res = await fetch(url, { method: 'PROPFIND', headers: { Depth: '0', ...(auth ? { Authorization: auth } : {}) } });
  await res.arrayBuffer();
  return res.status;
}

describe('jottadav serve (child process)', function () {
  this.timeout(180_000);
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'jottadav-home-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('listens on 127.0.0.1:8080 by default, with the metrics port on 9180', () => {
    const server = configSchema.parse({}).server;
    expect(server.host).to.equal('127.0.0.1');
    expect(server.port).to.equal(8080);
    expect(server.metricsPort).to.equal(9180);
    expect(server.anonymous).to.equal('off');
  });

  it('documents its flags in --help', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'serve', '--help']);
    for (const flag of ['--host', '--port', '--config', '--user', '--pass', '--htpasswd', '--read-only', '--anonymous', '--cert', '--key', '--base-path', '--metrics-port', '--no-metrics']) {
      expect(stdout).to.include(flag);
    }
  });

  it('npm start on a fresh home serves the embedded emulator with a printed user and password, kept across restarts', async () => {
    const first = await serve('npm', ['start', '--silent'], cleanEnv(home));
    let second: Serving | undefined;
    try {
      expect(first.output()).to.include('the embedded Jottacloud emulator');
      expect(first.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(first.user).to.equal('jottadav');
      expect(first.password).to.match(/^[A-Za-z0-9_-]{20,}$/);
      const auth = basicAuth(first.user!, first.password!);
      expect(await propfind(first.url, auth)).to.equal(207);
      expect(await propfind(first.url)).to.equal(401);
      expect(statSync(join(home, 'webdav-credentials.json')).mode & 0o777).to.equal(0o600);
      const put = await fetch(`${first.url}kept.txt`, { method: 'PUT', body: 'still here', headers: { Authorization: auth } });
      expect(put.status).to.equal(201);
      // A terminal's Ctrl-C or a service manager signals the whole group; the server stops cleanly (npm itself
      // reports the signal, so its own exit code says nothing about the server's).
      await stop(first);
      expect(first.output()).to.match(/SIGTERM: no new connections[\s\S]*stopped/);
      expect(await propfind(first.url, auth).catch(() => 'refused')).to.equal('refused');

      second = await serve('npm', ['start', '--silent'], cleanEnv(home));
      expect(second.password).to.equal(first.password);
      const get = await fetch(`${second.url}kept.txt`, { headers: { Authorization: auth } });
      expect(get.status).to.equal(200);
      expect(await get.text()).to.equal('still here');
    } finally {
      await stop(first);
      if (second) await stop(second);
    }
  });

  it('takes the one user from --user/--pass or JOTTADAV_USER/JOTTADAV_PASS, and prints no password', async () => {
    const byFlag = await serve(process.execPath, [cli, 'serve', '--user', 'bob', '--pass', 'flag-pass-123'], cleanEnv(home));
    try {
      expect(byFlag.password).to.equal(undefined);
      expect(byFlag.output()).to.not.include('flag-pass-123');
      expect(await propfind(byFlag.url, basicAuth('bob', 'flag-pass-123'))).to.equal(207);
      expect(await propfind(byFlag.url, basicAuth('bob', 'wrong'))).to.equal(401);
    } finally {
      expect(await stop(byFlag)).to.equal(0);
    }
    const byEnv = await serve(process.execPath, [cli, 'serve'], cleanEnv(home, { JOTTADAV_USER: 'carol', JOTTADAV_PASS: 'env-pass-456' }));
    try {
      expect(await propfind(byEnv.url, basicAuth('carol', 'env-pass-456'))).to.equal(207);
      expect(byEnv.output()).to.not.include('env-pass-456');
    } finally {
      expect(await stop(byEnv)).to.equal(0);
    }
  });

  it('with an account from `jottadav login`, serves that account (generated password kept in a file, not printed)', async () => {
    const emu = await startTestEmulator();
    let s: Serving | undefined;
    try {
      await promisify(execFile)(process.execPath, [cli, 'login', '--token', emu.mintLoginToken(), '--endpoints', emu.url], { env: cleanEnv(home) });
      s = await serve(process.execPath, [cli, 'serve'], cleanEnv(home));
      expect(s.output()).to.include(`the Jottacloud account ${emu.user} (Jotta/Archive)`);
      expect(s.password).to.equal(undefined);
      const creds = JSON.parse(readFileSync(join(home, 'webdav-credentials.json'), 'utf8')) as { name: string; password: string };
      expect(s.output()).to.include(`User: ${creds.name} (password in ${join(home, 'webdav-credentials.json')})`);
      expect(s.output()).to.not.include(creds.password);
      const put = await fetch(`${s.url}from-webdav.txt`, { method: 'PUT', body: 'via the account', headers: { Authorization: basicAuth(creds.name, creds.password) } });
      expect(put.status).to.equal(201);
      // The file is on the account itself, as the service's own API lists it.
      const listing = await emuFetch(emu, await accessToken(emu), archivePath(emu));
      expect(await listing.text()).to.include('from-webdav.txt');
    } finally {
      if (s) expect(await stop(s)).to.equal(0);
      await emu.close();
    }
  });

  it('refuses to start with a user but no password', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--user', 'bob'], { env: cleanEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).to.equal(1);
    expect(err).to.include('give both a user name and a password');
  });

  function startUpload(url: string, auth: string, first: Buffer): { req: ClientRequest; done: Promise<number> } {
    let req!: ClientRequest;
    const done = new Promise<number>((resolve, reject) => {
      req = httpRequest(url, { method: 'PUT', headers: { Authorization: auth, 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(first);
    });
    return { req, done };
  }

  it('on SIGTERM stops accepting, lets an upload in flight finish, then exits 0', async () => {
    const s = await serve(process.execPath, [cli, 'serve', '--user', 'u', '--pass', 'p-sigterm-1'], cleanEnv(home));
    const auth = basicAuth('u', 'p-sigterm-1');
    try {
      expect(await propfind(s.url, auth)).to.equal(207);
      const upload = startUpload(`${s.url}inflight.bin`, auth, Buffer.alloc(64 * 1024, 1));
      await new Promise((r) => setTimeout(r, 300));
      signalGroup(s, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      expect(s.closed(), 'still running while the upload is in flight').to.equal(false);
      const refused = await fetch(s.url, { method: 'PROPFIND', headers: { Authorization: auth, Depth: '0' } }).then(
        () => false,
        () => true,
      );
      expect(refused, 'new connections are refused').to.equal(true);
      upload.req.end(Buffer.alloc(64 * 1024, 2));
      expect(await upload.done).to.equal(201);
      expect(await s.exit).to.equal(0);
      expect(s.output()).to.match(/SIGTERM: no new connections/);
    } finally {
      await stop(s);
    }
    // The upload was committed before the exit: it is there after a restart.
    const again = await serve(process.execPath, [cli, 'serve', '--user', 'u', '--pass', 'p-sigterm-1'], cleanEnv(home));
    try {
      const get = await fetch(`${again.url}inflight.bin`, { headers: { Authorization: auth } });
      const body = Buffer.from(await get.arrayBuffer());
      expect(body.length).to.equal(128 * 1024);
      expect(body.subarray(64 * 1024).equals(Buffer.alloc(64 * 1024, 2))).to.equal(true);
    } finally {
      expect(await stop(again)).to.equal(0);
    }
  });

  it('cuts a request that outlives the grace period and still exits 0', async () => {
    const env = cleanEnv(home, { JOTTADAV_SERVER__SHUTDOWN_GRACE_SEC: '1' });
    const s = await serve(process.execPath, [cli, 'serve', '--user', 'u', '--pass', 'p-grace-1'], env);
    const upload = startUpload(`${s.url}stuck.bin`, basicAuth('u', 'p-grace-1'), Buffer.alloc(1024, 1));
    upload.done.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    signalGroup(s, 'SIGTERM');
    const code = await s.exit;
    expect(code).to.equal(0);
    expect(s.output()).to.match(/grace period over: 1 request\(s\) cut/);
    upload.req.destroy();
  });
});
