// `jottadav serve` and `jottadav emulator` as child processes, for tests that signal or kill them (SIGKILL mid-PUT,
// SIGTERM with uploads in flight, an emulator restarted under a running server) or measure them from outside
// (RSS, open file handles in /proc/<pid>). The server is set up the way a user does it: `jottadav login --token`
// against the emulator writes the account section and the token store into a fresh home, then `jottadav serve
// --config` runs on it; so the token store, spool folder and config file are real files a test can inspect.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { basicAuth } from './stack.js';
import { repoRoot } from './tools.js';

export const cliPath = join(repoRoot, 'dist', 'lib', 'cli.js');

/** The emulator as these tests drive it, in this process or in a child: admin calls are async either way. */
export interface EmulatorHandle {
  url: string;
  user: string;
  mintLoginToken(): Promise<string>;
  /** Same grammar as `--faults`; undefined clears. */
  setFaults(spec: string | undefined): Promise<void>;
  stats(): Promise<{ total: number; routes: Record<string, number> }>;
  resetStats(): Promise<void>;
}

/** An in-process emulator seen through the same async face as a child one. */
export function handleOf(emu: RunningEmulator): EmulatorHandle {
  return {
    url: emu.url,
    user: emu.user,
    mintLoginToken: async () => emu.mintLoginToken(),
    setFaults: async (spec) => emu.setFaults(spec),
    stats: async () => emu.stats(),
    resetStats: async () => emu.resetStats(),
  };
}

/** Environment for a child: ours without JOTTADAV_* and npm_* (so a developer's settings do not leak in). */
export function childEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JOTTADAV_') && !k.startsWith('npm_')) env[k] = v;
  return { ...env, JOTTADAV_HOME: home, ...extra };
}

/** A child process with its output collected (stdout and stderr together). */
export interface Child {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(args: string[], env: NodeJS.ProcessEnv): Child {
  return launchProcess(process.execPath, [cliPath, ...args], env);
}

/** Any program (redis-server, …) as a Child. */
export function launchProcess(command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

export async function waitFor(c: Child, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(c.output());
    if (m) return m;
    if (c.child.exitCode !== null || c.child.signalCode !== null) throw new Error(`${what} exited early (${c.child.exitCode ?? c.child.signalCode}):\n${c.output()}`);
    if (Date.now() > deadline) {
      c.child.kill('SIGKILL');
      throw new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${c.output()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sends `signal` (if still running) and waits for the exit; SIGKILL after `timeoutMs`. */
export async function stopChild(c: Child, signal: NodeJS.Signals, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill(signal);
  const timer = setTimeout(() => c.child.kill('SIGKILL'), timeoutMs);
  const result = await c.exited;
  clearTimeout(timer);
  return result;
}

// ------------------------------------------------------------------------------------------------------------
// The emulator in a child process (`--data`, so it can be killed and started again on the same port)

export interface EmulatorProcess extends EmulatorHandle {
  port: number;
  dataDir: string;
  pid: number;
  output(): string;
  /** SIGKILL (a crash) or SIGTERM; waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data folder (after `stop`). */
  restart(): Promise<void>;
}

export async function startEmulatorProcess(opts: { dataDir?: string; port?: number } = {}): Promise<EmulatorProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'jottadav-emu-'));
  let port = opts.port ?? 0;
  let current: Child;
  const start = async () => {
    current = launch(['emulator', '--data', dataDir, '--port', String(port)], childEnv(dataDir));
    const m = await waitFor(current, /for user (\S+) listening on (http:\/\/\S+)/, 'jottadav emulator');
    port = Number(new URL(m[2]).port);
    return { user: m[1], url: m[2] };
  };
  const first = await start();
  const admin = async (method: string, path: string, body?: string): Promise<Response> => {
    const res = await fetch(`${first.url}/__emulator/${path}`, { method, body });
    if (res.status >= 400) throw new Error(`emulator admin ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };
  const handle: EmulatorProcess = {
    url: first.url,
    user: first.user,
    port,
    dataDir,
    get pid() {
      return current.child.pid!;
    },
    output: () => current.output(),
    mintLoginToken: async () => (await (await admin('POST', 'login-token')).text()).trim(),
    setFaults: async (spec) => {
      await (spec ? admin('PUT', 'faults', spec) : admin('DELETE', 'faults'));
    },
    stats: async () => (await (await admin('GET', 'stats')).json()) as { total: number; routes: Record<string, number> },
    resetStats: async () => {
      await admin('DELETE', 'stats');
    },
    stop: async (signal = 'SIGTERM') => {
      await stopChild(current, signal, 15_000);
    },
    restart: async () => {
      await start();
    },
  };
  return handle;
}

// ------------------------------------------------------------------------------------------------------------
// jottadav serve in a child process

export interface ServeProcess {
  /** The share's URL, ending in `/`. */
  url: string;
  /** `Authorization: Basic …` for the one user. */
  auth: string;
  user: { name: string; password: string };
  pid: number;
  /** JOTTADAV_HOME: config.json, tokens.json, spool/, locks and properties. */
  home: string;
  spoolDir: string;
  tokenFile: string;
  /** The operations port's origin (`/healthz`, `/metrics`). */
  opsUrl?: string;
  /** Everything the current process printed (log lines included). */
  output(): string;
  /** Output of every process started so far, restarts included. */
  allOutput(): string;
  /** Resolves when the current process has exited. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (graceful) by default; SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts `jottadav serve` again on the same home (after a stop or a kill); the URL may change (port 0). */
  restart(): Promise<void>;
  /** Runs `jottadav login --token` again on the same config (a user fixing a refused login). */
  relogin(): Promise<void>;
  /** Stops it (SIGKILL if needed) and removes the home. */
  close(): Promise<void>;
}

export interface ServeProcessOptions {
  emulator: EmulatorHandle;
  /** Merged into the config file after login: `server`, `storage`, `log` sections. */
  config?: { server?: Record<string, unknown>; storage?: Record<string, unknown>; log?: Record<string, unknown> };
  /** Extra environment for `serve`. */
  env?: Record<string, string>;
  user?: { name: string; password: string };
}

export async function startServeProcess(opts: ServeProcessOptions): Promise<ServeProcess> {
  const home = mkdtempSync(join(tmpdir(), 'jottadav-serve-'));
  const configFile = join(home, 'config.json');
  const spoolDir = join(home, 'spool');
  const user = opts.user ?? { name: 'alice', password: `pw-${Math.random().toString(36).slice(2)}-x` };
  // The login a user would run; it writes the account section and tokens.json beside the config.
  const login = async () => {
    const run = launch(['login', '--token', await opts.emulator.mintLoginToken(), '--endpoints', opts.emulator.url, '--config', configFile], childEnv(home));
    const done = await run.exited;
    if (done.code !== 0) throw new Error(`jottadav login failed (${done.code ?? done.signal}):\n${run.output()}`);
  };
  try {
    await login();
    const written = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, Record<string, unknown> | undefined>;
    const cfg = opts.config ?? {};
    written.server = { port: 0, metricsPort: 0, ...cfg.server };
    written.storage = { spoolDir, ...cfg.storage };
    written.log = { level: 'info', ...cfg.log };
    writeFileSync(configFile, `${JSON.stringify(written, null, 2)}\n`, { mode: 0o600 });
  } catch (err) {
    rmSync(home, { recursive: true, force: true });
    throw err;
  }

  const env = childEnv(home, { JOTTADAV_USER: user.name, JOTTADAV_PASS: user.password, ...opts.env });
  let current!: Child;
  let previous = '';
  let url = '';
  let opsUrl: string | undefined;
  const start = async () => {
    if (current) previous += current.output();
    current = launch(['serve', '--config', configFile], env);
    url = (await waitFor(current, /^WebDAV: (\S+)/m, 'jottadav serve'))[1];
    opsUrl = /^Health and metrics \(this machine only\): (http:\/\/[^/\s]+)/m.exec(current.output())?.[1];
  };
  await start();
  const s: ServeProcess = {
    get url() {
      return url;
    },
    get opsUrl() {
      return opsUrl;
    },
    auth: basicAuth(user.name, user.password),
    user,
    get pid() {
      return current.child.pid!;
    },
    home,
    spoolDir,
    tokenFile: join(home, 'tokens.json'),
    output: () => current.output(),
    allOutput: () => previous + current.output(),
    exited: () => current.exited,
    stop: (signal = 'SIGTERM', timeoutMs = 30_000) => stopChild(current, signal, timeoutMs),
    restart: start,
    relogin: login,
    close: async () => {
      await stopChild(current, 'SIGTERM', 10_000);
      rmSync(home, { recursive: true, force: true });
    },
  };
  return s;
}

/** Names in the spool folder (every one is a leftover once no upload is in flight). */
export function spoolFiles(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** RSS (from /proc/<pid>/status) and open file descriptors (/proc/<pid>/fd) of a running process. */
export function processFootprint(pid: number): { rssBytes: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return { rssBytes: kb * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}
