// The processes a benchmark run starts and stops: the emulator (WAN-like latency), one MITM proxy per client of the
// "real" service names (../shared/tools/mitm), `jottadav serve`, `rclone serve webdav` in both cache modes, and the
// raw loopback server. Each is a child process of ours, so its memory can be read from /proc and it can be stopped
// by its own pid. Also the direct API client's sign-in.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { basicAuth, expectStatus, keepAliveAgent } from './bench-http.js';
import { DavSide, DirectSide, type ServiceHosts } from './bench-sides.js';
import { freePort, isListening } from '../spec/helpers/net.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from dist/scripts). */
export const repoRoot = resolve(here, '..', '..');
const cli = join(repoRoot, 'dist', 'lib', 'cli.js');

export function mitmDir(): string {
  return process.env.SHARED_TOOLS_DIR ? join(process.env.SHARED_TOOLS_DIR, 'tools', 'mitm') : resolve(repoRoot, '..', 'shared', 'tools', 'mitm');
}

export interface Child {
  pid: number;
  stop(): Promise<void>;
}

/** Starts `cmd`, waits until `ready` matches a line of its stdout (or stderr), and hands back the match. */
function startChild(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${what} did not start within ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      // Only the start-up lines are kept; a long-running server's log is not held in memory.
      if (out.length < 64 * 1024) out += d.toString('utf8');
      const m = ready.exec(out);
      if (m && !done) finish(undefined, m);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => finish(new Error(`${what} exited (${code}) before it was ready:\n${out.slice(-2000)}`)));
    child.on('error', (e) => finish(e));
    function finish(err?: Error, m?: RegExpMatchArray) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        if (child.exitCode === null) child.kill('SIGKILL');
        reject(err);
      } else resolvePromise({ child, match: m as RegExpMatchArray, output: () => out });
    }
  });
}

function stopper(child: ChildProcess, graceMs = 5000): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(out);
      else reject(new Error(`${cmd} ${args[0] ?? ''} exited ${code}: ${out.slice(-1500)}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------- memory

/** Resident set size of a process, in bytes (0 when it is gone). */
export function rss(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Peak RSS since start or since the last `resetPeak`. */
export function peakRss(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/** Linux resets the peak (VmHWM) to the current RSS when "5" is written to clear_refs; false where that is not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function statusField(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------- emulator

export interface EmulatorProcess extends Child {
  url: string;
  user: string;
  stats(): Promise<{ total: number; routes: Record<string, number> }>;
  mintLoginToken(): Promise<string>;
}

export async function startEmulatorProcess(opts: { latencyMs: number; bandwidth: number; dataDir?: string }): Promise<EmulatorProcess> {
  const args = [cli, 'emulator', '--port', '0', '--latency', String(opts.latencyMs), '--bandwidth', String(opts.bandwidth)];
  args.push(...(opts.dataDir ? ['--data', opts.dataDir] : ['--memory']));
  const { child, match } = await startChild(process.execPath, args, process.env, /for user (\S+) listening on (http:\/\/\S+)/, 'the emulator');
  const url = match[2];
  const agent = keepAliveAgent(2);
  return {
    url,
    user: match[1],
    pid: child.pid as number,
    stop: stopper(child),
    async stats() {
      const a = await expectStatus([200], 'GET', `${url}/__emulator/stats`, { agent });
      return JSON.parse(a.body.toString('utf8')) as { total: number; routes: Record<string, number> };
    },
    async mintLoginToken() {
      const a = await expectStatus([200], 'POST', `${url}/__emulator/login-token`, { agent });
      return a.body.toString('utf8').trim();
    },
  };
}

// ---------------------------------------------------------------------------------------------- MITM proxy

export interface Proxy extends Child {
  port: number;
  dir: string;
  caPath: string;
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/** A MITM proxy of its own (certificates in `dir`) towards the emulator: clients believe they reach *.jottacloud.com. */
export async function startProxy(emulatorUrl: string, dir: string): Promise<Proxy> {
  mkdirSync(dir, { recursive: true });
  const tools = mitmDir();
  await run('bash', [join(tools, 'ca.sh'), dir], process.env);
  const port = await freePort();
  const env = { ...process.env, MITM_DIR: dir, MITM_PORT: String(port), MITM_TARGET: emulatorUrl };
  const child = spawn(process.execPath, [join(tools, 'proxy.mjs')], { env, stdio: 'ignore' });
  for (let i = 0; i < 200 && !(await isListening(port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await isListening(port))) {
    child.kill('SIGKILL');
    throw new Error('the MITM proxy did not start');
  }
  return { port, dir, caPath: join(dir, 'ca.pem'), url: `http://127.0.0.1:${port}`, pid: child.pid as number, stop: stopper(child) };
}

// ---------------------------------------------------------------------------------------------- WebDAV servers

export const BENCH_USER = 'bench';

export interface DavServer extends Child {
  name: string;
  url: string;
  side: DavSide;
  /** The process whose memory is measured (jottadav's node, rclone itself). */
  memoryPid: number;
}

/**
 * `jottadav login` with a fresh personal login token, then `jottadav serve` on a free port. With `proxy`, jottadav
 * talks to https://*.jottacloud.com through it (as rclone does); without, straight to the emulator's origin.
 */
export async function startJottadav(opts: { emu: EmulatorProcess; dir: string; password: string; proxy?: Proxy; agent: http.Agent }): Promise<DavServer> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const config = join(opts.dir, 'config.yaml');
  // Spool beside the rest of this run's state; warnings only, so logging costs nothing measurable.
  writeFileSync(config, `storage:\n  spoolDir: ${JSON.stringify(join(opts.dir, 'spool'))}\nlog:\n  level: warn\n`, { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { ...process.env, JOTTADAV_HOME: opts.dir, JOTTADAV_PASS: opts.password };
  if (opts.proxy) {
    Object.assign(env, { HTTPS_PROXY: opts.proxy.url, https_proxy: opts.proxy.url, NODE_EXTRA_CA_CERTS: opts.proxy.caPath, NO_PROXY: '', no_proxy: '' });
  }
  const token = await opts.emu.mintLoginToken();
  const loginArgs = [cli, 'login', '--token', token, '--config', config, ...(opts.proxy ? [] : ['--endpoints', opts.emu.url])];
  await run(process.execPath, loginArgs, env);
  const { child, match } = await startChild(
    process.execPath,
    [cli, 'serve', '--config', config, '--host', '127.0.0.1', '--port', '0', '--no-metrics', '--user', BENCH_USER],
    env,
    /WebDAV: (http:\/\/\S+\/)/,
    'jottadav serve',
  );
  const url = match[1];
  return {
    name: 'jottadav',
    url,
    pid: child.pid as number,
    memoryPid: child.pid as number,
    side: new DavSide('jottadav', url, basicAuth(BENCH_USER, opts.password), opts.agent),
    stop: stopper(child, 40_000),
  };
}

/**
 * rclone's Jottacloud backend configured by its own wizard from a fresh login token (each instance its own token
 * family, config, proxy and cache folder: two processes must never share a rotating refresh token), then
 * `rclone serve webdav`.
 */
export async function startRclone(opts: {
  name: string;
  emu: EmulatorProcess;
  proxy: Proxy;
  password: string;
  cacheMode: 'off' | 'writes';
  writeBack: string;
  agent: http.Agent;
}): Promise<DavServer> {
  const tools = mitmDir();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MITM_DIR: opts.proxy.dir,
    MITM_PORT: String(opts.proxy.port),
    MITM_TARGET: opts.emu.url,
    JOTTA_LOGIN_TOKEN: await opts.emu.mintLoginToken(),
    RCLONE_PASS: opts.password,
  };
  // Configure (rclone's own wizard) and check the remote once, outside any measurement.
  await run('bash', [join(tools, 'rclone-jotta.sh'), 'about', 'jotta:'], env);
  const port = await freePort();
  const args = [join(tools, 'rclone-jotta.sh'), 'serve', 'webdav', 'jotta:', '--addr', `127.0.0.1:${port}`, '--user', BENCH_USER];
  args.push('--cache-dir', join(opts.proxy.dir, 'cache'), '--vfs-cache-mode', opts.cacheMode);
  if (opts.cacheMode === 'writes') args.push('--vfs-write-back', opts.writeBack);
  const { child } = await startChild('bash', args, env, /WebDav Server started/, `rclone serve webdav (${opts.cacheMode})`);
  const url = `http://127.0.0.1:${port}/`;
  return {
    name: opts.name,
    url,
    pid: child.pid as number,
    // rclone-jotta.sh ends with `exec rclone`, so this pid is rclone's.
    memoryPid: child.pid as number,
    side: new DavSide(opts.name, url, basicAuth(BENCH_USER, opts.password), opts.agent),
    stop: stopper(child, 10_000),
  };
}

// ---------------------------------------------------------------------------------------------- direct API

/**
 * The service's API as a program with its own token would use it: signed in with the password grant and a personal
 * login token (what rclone and jottadav do too), then renewed the same way before the access token runs out.
 */
export async function startDirect(opts: { name: string; emu: EmulatorProcess; proxy?: Proxy; concurrency: number }): Promise<{ side: DirectSide; agent: http.Agent }> {
  let hosts: ServiceHosts;
  let agent: http.Agent;
  let ca: string | undefined;
  if (opts.proxy) {
    hosts = { jfs: 'https://jfs.jottacloud.com', api: 'https://api.jottacloud.com' };
    ca = readFileSync(opts.proxy.caPath, 'utf8');
    agent = new HttpsProxyAgent(opts.proxy.url, { keepAlive: true, maxSockets: opts.concurrency, timeout: 60_000 }) as unknown as http.Agent;
  } else {
    hosts = { jfs: opts.emu.url, api: opts.emu.url };
    agent = keepAliveAgent(opts.concurrency);
  }
  let token = '';
  let renewAt = 0;
  let pending: Promise<string> | undefined;
  const signIn = async (): Promise<string> => {
    const lt = JSON.parse(Buffer.from(await opts.emu.mintLoginToken(), 'base64url').toString('utf8')) as { username: string; auth_token: string; realm?: string };
    const a = await expectStatus([200], 'POST', `${opts.emu.url}/auth/realms/${lt.realm || 'jottacloud'}/protocol/openid-connect/token`, {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'jottacli', grant_type: 'password', username: lt.username, password: lt.auth_token, scope: 'openid offline_access' }).toString(),
    });
    const set = JSON.parse(a.body.toString('utf8')) as { access_token: string; expires_in: number };
    token = set.access_token;
    renewAt = Date.now() + Math.max(30, set.expires_in - 120) * 1000;
    return token;
  };
  const current = async () => {
    if (token && Date.now() < renewAt) return token;
    pending ??= signIn().finally(() => (pending = undefined));
    return pending;
  };
  await current();
  return { side: new DirectSide(opts.name, hosts, opts.emu.user, current, agent, ca), agent };
}

// ---------------------------------------------------------------------------------------------- loopback

/** The raw loopback server (bench-loopback.js): the fastest any HTTP byte can move on this machine. */
export async function startLoopback(): Promise<Child & { url: string }> {
  const { child, match } = await startChild(process.execPath, [join(here, 'bench-loopback.js')], process.env, /listening on (http:\/\/\S+)/, 'the loopback server');
  return { url: match[1], pid: child.pid as number, stop: stopper(child) };
}
