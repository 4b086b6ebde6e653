// `jottadav serve`: reads the configuration (flags on top), works out who may log in, has the wiring module
// build the layers (the configured account, or the embedded emulator when there is none), starts the server,
// and stops it gracefully on SIGTERM/SIGINT (requests in flight finish within the grace period, exit 0).
import { dirname } from 'node:path';
import { configDir as defaultConfigDir, loadConfig, type Config } from '../config/index.js';
import { UserDirectory, type CommandLineUser } from './auth/index.js';
import { generatedCredentials } from './credentials.js';
import { startServer } from './listen.js';
import { paceCollections } from '../util/gc.js';
import { createLogger } from './logging.js';
import { ServerMetrics } from './metrics.js';
import { buildStack } from './stack.js';

export interface ServeCliOptions {
  config?: string;
  host?: string;
  port?: number;
  user?: string;
  pass?: string;
  cert?: string;
  key?: string;
  basePath?: string;
  readOnly?: boolean;
  anonymous?: boolean;
  htpasswd?: string;
  /** A port number, or false for `--no-metrics`. */
  metricsPort?: number | false;
  metrics?: boolean;
}

/** Only flags the user gave become config overrides, so config and JOTTADAV_* values are not masked by defaults. */
export function flagsToConfig(opts: ServeCliOptions): Record<string, unknown> {
  const server: Record<string, unknown> = {};
  if (opts.host !== undefined) server.host = opts.host;
  if (opts.port !== undefined) server.port = opts.port;
  if (opts.basePath !== undefined) server.basePath = opts.basePath;
  if (opts.cert !== undefined || opts.key !== undefined) {
    if (!opts.cert || !opts.key) throw new Error('--cert and --key go together: give both to serve HTTPS.');
    server.tls = { cert: opts.cert, key: opts.key };
  }
  if (opts.readOnly) server.readOnly = true;
  if (opts.anonymous) server.anonymous = 'read-only';
  if (opts.htpasswd !== undefined) server.htpasswd = opts.htpasswd;
  if (opts.metrics === false) server.metricsPort = false;
  else if (opts.metricsPort !== undefined) server.metricsPort = opts.metricsPort;
  return Object.keys(server).length ? { server } : {};
}

/** `--user/--pass`, else JOTTADAV_USER/JOTTADAV_PASS; one without the other is a mistake worth stopping for. */
export function commandLineUser(opts: ServeCliOptions, env: NodeJS.ProcessEnv = process.env): CommandLineUser | undefined {
  const name = opts.user ?? env.JOTTADAV_USER;
  const password = opts.pass ?? env.JOTTADAV_PASS;
  if (name === undefined && password === undefined) return undefined;
  if (!name || !password) throw new Error('give both a user name and a password (--user and --pass, or JOTTADAV_USER and JOTTADAV_PASS).');
  if (/[:\s]/.test(name)) throw new Error('the user name must not contain spaces or colons.');
  return { name, password };
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function runServeCommand(opts: ServeCliOptions): Promise<void> {
  paceCollections();
  const { config, path: configPath } = loadConfig({ file: opts.config, flags: flagsToConfig(opts) });
  const stateDir = opts.config ? dirname(configPath) : defaultConfigDir();
  const logger = createLogger(config.log);
  const metrics = new ServerMetrics();

  let cliUser = commandLineUser(opts);
  const users = UserDirectory.fromConfig(config.server, cliUser);
  let generated: Awaited<ReturnType<typeof generatedCredentials>> | undefined;
  if (users.size === 0 && config.server.anonymous === 'off') {
    // Nobody configured: a user with a generated password rather than an open share.
    generated = await generatedCredentials(stateDir);
    cliUser = { name: generated.name, password: generated.password };
    users.addPlain(cliUser.name, cliUser.password);
  }

  const stack = await buildStack({ config, stateDir, metrics, logger });
  let server;
  try {
    server = await startServer({
      server: config.server,
      webdav: stack.webdav,
      storage: stack.storage,
      users,
      logger,
      metrics,
      checks: stack.checks,
      // Off unless asked for: the collection gives memory back but slows the next large transfer (schema.ts).
      idleGc: config.server.releaseMemoryWhenIdle ? {} : false,
    });
  } catch (err) {
    await stack.close();
    throw err;
  }

  print(`jottadav is serving ${stack.description}`);
  print(`WebDAV: ${server.url}`);
  if (generated) {
    if (stack.embedded) {
      print(`User: ${generated.name}`);
      print(`Password: ${generated.password}`);
    } else {
      print(`User: ${generated.name} (password in ${generated.path})`);
    }
  } else if (cliUser) {
    print(`User: ${cliUser.name}`);
  }
  if (config.server.anonymous === 'read-only') print('Anonymous visitors may read (read-only).');
  if (server.ops) print(`Health and metrics (this machine only): ${server.ops.url}/healthz ${server.ops.url}/metrics`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second Ctrl-C (or SIGTERM) means "now".
        logger.warn(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      stopping = true;
      const grace = config.server.shutdownGraceSec;
      logger.info(`${signal}: no new connections; waiting up to ${grace} s for ${server.inFlight()} request(s) in flight`);
      // Whatever happens below, the process ends: a backend that will not close must not keep it alive.
      setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting');
        process.exit(1);
      }, (grace + 15) * 1000).unref();
      void (async () => {
        const { cut } = await server.close();
        if (cut) logger.warn(`grace period over: ${cut} request(s) cut`);
        logger.debug('server closed; closing the WebDAV layer, storage and backend');
        await stack.close().catch((err: unknown) => logger.error(`closing the backend failed: ${err instanceof Error ? err.message : String(err)}`));
        logger.info('stopped');
        resolve();
      })();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  // Keep-alive sockets and store timers of the layers below may still hold the event loop: the work is done,
  // so exit once the log is flushed.
  await new Promise<void>((resolve) => {
    logger.once('finish', () => resolve());
    logger.end();
    setTimeout(resolve, 1000).unref();
  });
  process.exit(0);
}

export type { Config };
