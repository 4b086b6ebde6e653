// Several `jottadav serve` instances over one emulator, sharing state through a Redis started for the test:
// `redis-server` as a child process on a free loopback port, no persistence. The instances are set up as an
// operator would: one config file with `store: redis://…`, one `jottadav login --token` (which writes the
// token set into Redis), then `jottadav serve --config` per instance, each with its own spool folder and ports.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { freePort } from '../helpers/net.js';
import { childEnv, cliPath, launchProcess, stopChild, waitFor, type Child } from '../helpers/serve-process.js';
import { basicAuth } from '../helpers/stack.js';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A throw-away redis-server on a free loopback port: nothing saved, nothing appended. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const c = launchProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], process.env);
  await waitFor(c, /Ready to accept connections/, 'redis-server');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await stopChild(c, 'SIGTERM', 15_000);
    },
  };
}

export interface Instance {
  name: string;
  /** The share's URL, ending in `/`. */
  url: string;
  opsUrl: string;
  pid: number;
  output(): string;
  /** SIGKILL (a crash) by default; waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again (after a kill) on new ports. */
  restart(): Promise<void>;
}

export interface Cluster {
  instances: Instance[];
  auth: string;
  home: string;
  configFile: string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  emu: RunningEmulator;
  redisUrl: string;
  count?: number;
  /** Merged into the `storage` section. */
  storage?: Record<string, unknown>;
}

/** One login into Redis, then `count` instances of `jottadav serve` on the same config. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const home = mkdtempSync(join(tmpdir(), 'jottadav-multi-'));
  const configFile = join(home, 'config.json');
  const user = { name: 'alice', password: `pw-${Math.random().toString(36).slice(2)}-x` };
  // A prefix of its own: suites sharing one Redis never see each other's keys.
  const keyPrefix = `jottadav-spec-${Math.random().toString(36).slice(2, 8)}`;
  writeFileSync(configFile, `${JSON.stringify({ store: opts.redisUrl, redis: { keyPrefix }, endpoints: opts.emu.url }, null, 2)}\n`, { mode: 0o600 });
  const login = launchProcess(process.execPath, [cliPath, 'login', '--token', opts.emu.mintLoginToken(), '--config', configFile], childEnv(home));
  const done = await login.exited;
  if (done.code !== 0) throw new Error(`jottadav login failed (${done.code ?? done.signal}):\n${login.output()}`);
  const written = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  written.server = { port: 0, metricsPort: 0 };
  written.storage = { cacheTtlSec: 60, ...opts.storage };
  written.log = { level: 'info' };
  writeFileSync(configFile, `${JSON.stringify(written, null, 2)}\n`, { mode: 0o600 });

  const instances: (Instance & { child(): Child })[] = [];
  for (let i = 0; i < (opts.count ?? 2); i++) {
    const name = String.fromCharCode(65 + i);
    const env = childEnv(home, { JOTTADAV_USER: user.name, JOTTADAV_PASS: user.password, JOTTADAV_STORAGE__SPOOL_DIR: join(home, `spool-${name}`) });
    let current!: Child;
    let url = '';
    let opsUrl = '';
    const start = async () => {
      current = launchProcess(process.execPath, [cliPath, 'serve', '--config', configFile], env);
      url = (await waitFor(current, /^WebDAV: (\S+)/m, `jottadav serve ${name}`))[1];
      opsUrl = /^Health and metrics \(this machine only\): (http:\/\/[^/\s]+)/m.exec(current.output())?.[1] ?? '';
    };
    await start();
    instances.push({
      name,
      get url() {
        return url;
      },
      get opsUrl() {
        return opsUrl;
      },
      get pid() {
        return current.child.pid!;
      },
      output: () => current.output(),
      kill: async (signal = 'SIGKILL') => {
        await stopChild(current, signal, 15_000);
      },
      restart: start,
      child: () => current,
    });
  }
  return {
    instances,
    auth: basicAuth(user.name, user.password),
    home,
    configFile,
    close: async () => {
      await Promise.all(instances.map((i) => stopChild(i.child(), 'SIGTERM', 15_000)));
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** One request to an instance; `path` is relative to the share. */
export async function dav(
  instance: Pick<Instance, 'url'>,
  auth: string,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  const res = await fetch(instance.url + path, { method, headers: { Authorization: auth, ...init.headers }, body: init.body, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Member names of a folder from a Depth: 1 PROPFIND (the folder itself left out). */
export async function listNames(instance: Pick<Instance, 'url'>, auth: string, folder = ''): Promise<string[]> {
  const res = await dav(instance, auth, 'PROPFIND', folder, { headers: { Depth: '1' } });
  if (res.status !== 207) throw new Error(`PROPFIND ${folder} answered ${res.status}: ${res.body}`);
  const hrefs = [...res.body.matchAll(/<D:href>([^<]*)<\/D:href>/gi)].map((m) => decodeURIComponent(m[1]));
  const self = new URL(instance.url + folder).pathname;
  return hrefs
    .filter((h) => h.replace(/\/$/, '') !== self.replace(/\/$/, ''))
    .map((h) => h.replace(/\/$/, '').split('/').pop()!)
    .sort();
}
