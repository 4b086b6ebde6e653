// Starts the whole jottadav stack for a test, the way `jottadav serve` wires it: an emulator on an ephemeral
// port → Jottacloud client (signed in with a minted login token) → storage → WebDAV → the Express server on
// an ephemeral port, with a known user. Log lines are captured so tests can read them. Close it when done.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { configSchema, type Config } from '../../lib/config/index.js';
import type { ConfigInput } from '../../lib/config/schema.js';
import type { EmulatorOptions, RunningEmulator } from '../../lib/emulator/index.js';
import { UserDirectory } from '../../lib/server/auth/index.js';
import { startServer, type RunningServer } from '../../lib/server/listen.js';
import { createLogger } from '../../lib/server/logging.js';
import { ServerMetrics } from '../../lib/server/metrics.js';
import { buildStack, type Stack } from '../../lib/server/stack.js';
import { startTestEmulator } from './emulator.js';

export interface TestStackOptions {
  /** `server` config section (port and metricsPort default to 0 here). */
  server?: NonNullable<ConfigInput['server']>;
  storage?: ConfigInput['storage'];
  webdav?: ConfigInput['webdav'];
  log?: { level?: 'error' | 'warn' | 'info' | 'debug'; json?: boolean };
  /** The `--user/--pass` user; `null` for none. Default alice / a random password. */
  user?: { name: string; password: string } | null;
  /** An emulator already running (shared by several stacks), or options for a fresh one. */
  emulator?: RunningEmulator | EmulatorOptions;
}

export interface TestStack {
  /** The share's URL, ending in `/`. */
  url: string;
  /** scheme://host:port */
  origin: string;
  port: number;
  user: { name: string; password: string } | null;
  /** `Authorization: Basic …` for the test user. */
  auth: string;
  emu: RunningEmulator;
  server: RunningServer;
  stack: Stack;
  config: Config;
  stateDir: string;
  /** Everything logged so far. */
  logs(): string;
  close(): Promise<void>;
}

export function basicAuth(name: string, password: string): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}

function isRunning(e: TestStackOptions['emulator']): e is RunningEmulator {
  return !!e && typeof (e as RunningEmulator).mintLoginToken === 'function';
}

export async function startStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const ownEmulator = !isRunning(opts.emulator);
  const emu = isRunning(opts.emulator) ? opts.emulator : await startTestEmulator(opts.emulator ?? {});
  const stateDir = mkdtempSync(join(tmpdir(), 'jottadav-stack-'));
  const user = opts.user === null ? null : (opts.user ?? { name: 'alice', password: `pw-${Math.random().toString(36).slice(2)}-x` });
  const config = configSchema.parse({
    server: { port: 0, metricsPort: 0, ...opts.server },
    // A spool folder per stack: the default one in the OS temp dir is shared and swept at start.
    storage: { spoolDir: join(stateDir, 'spool'), ...opts.storage },
    webdav: opts.webdav,
    log: { level: opts.log?.level ?? 'info', json: opts.log?.json ?? false },
  });

  let captured = '';
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => {
    captured += chunk.toString('utf8');
  });
  const logger = createLogger({ ...config.log, stream });
  const metrics = new ServerMetrics();
  let stack: Stack | undefined;
  try {
    stack = await buildStack({ config, stateDir, logger, metrics, emulator: emu });
    const users = UserDirectory.fromConfig(config.server, user ?? undefined);
    const server = await startServer({ server: config.server, webdav: stack.webdav, storage: stack.storage, users, logger, metrics, checks: stack.checks });
    const builtStack = stack;
    return {
      url: server.url,
      origin: server.origin,
      port: server.port,
      user,
      auth: user ? basicAuth(user.name, user.password) : '',
      emu,
      server,
      stack: builtStack,
      config,
      stateDir,
      logs: () => captured,
      close: async () => {
        await server.close(2000);
        await builtStack.close();
        if (ownEmulator) await emu.close();
        logger.close();
        rmSync(stateDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stack?.close();
    if (ownEmulator) await emu.close();
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/** One request to the stack's server; `path` is relative to the share (`''` = its root) unless it starts with `/`. */
export async function request(
  s: Pick<TestStack, 'url' | 'origin' | 'auth'>,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string | Buffer; auth?: string | null } = {},
): Promise<HttpAnswer> {
  const url = path.startsWith('/') ? s.origin + path : s.url + path;
  const headers: Record<string, string> = { ...init.headers };
  const auth = init.auth === undefined ? s.auth : init.auth;
  if (auth) headers.Authorization = auth;
  const res = await fetch(url, { method, headers, body: init.body, redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}
