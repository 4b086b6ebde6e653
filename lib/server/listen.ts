// Puts the app on the network: HTTP or HTTPS (`--cert/--key`), the timeouts that suit long uploads but not
// slow-loris clients, the warning for plain HTTP on a non-loopback address, the operations port, and the
// graceful stop (stop accepting, let requests in flight finish within a grace period, then cut the rest).
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type winston from 'winston';
import type { ServerConfig } from '../config/schema.js';
import type { StorageProvider } from '../storage/types.js';
import { createApp, type WebdavHandler } from './app.js';
import type { IdleCollector, IdleGcOptions } from './idle-gc.js';
import type { UserDirectory } from './auth/index.js';
import { ServerMetrics } from './metrics.js';
import { startOpsServer, type OpsServer, type ReadinessChecks } from './ops.js';
import { hasBody, trackTraffic } from './traffic.js';

export interface StartServerOptions {
  server: ServerConfig;
  webdav: WebdavHandler;
  storage: StorageProvider;
  users: UserDirectory;
  logger: winston.Logger;
  metrics?: ServerMetrics;
  /** Readiness checks for `/healthz/ready`; the wiring module knows what "the backend works" means. */
  checks?: ReadinessChecks;
  /** The collection after bursts of work (`idle-gc.ts`); off unless given (see AppOptions.idleGc for why). */
  idleGc?: IdleGcOptions | false;
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:8080/dav/` — the share's URL. */
  url: string;
  /** The origin without the base path. */
  origin: string;
  host: string;
  port: number;
  tls: boolean;
  ops: OpsServer | null;
  metrics: ServerMetrics;
  /** Requests being answered now. */
  inFlight(): number;
  /** The collection after bursts of work, or null when off or not available in this runtime. */
  idleGc: IdleCollector | null;
  /**
   * Stops accepting connections, waits up to `graceMs` for requests in flight, then cuts what is left.
   * Resolves with the number of requests that had to be cut.
   */
  close(graceMs?: number): Promise<{ cut: number }>;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The warning for plain HTTP beyond this machine, or null when there is nothing to warn about. */
export function plainHttpWarning(host: string, tls: boolean): string | null {
  if (tls || isLoopback(host)) return null;
  const where = host === '0.0.0.0' || host === '::' ? 'all interfaces' : host;
  return (
    `serving plain HTTP on ${where}: Windows Explorer refuses Basic auth over HTTP (WebClient BasicAuthLevel=1), ` +
    `so Windows users can only log in with Digest, and passwords and files cross the network unencrypted; ` +
    `give --cert and --key to serve HTTPS.`
  );
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { server: cfg, logger } = opts;
  const tls = cfg.tls !== undefined;
  const metrics = opts.metrics ?? new ServerMetrics();
  const built = createApp({ server: cfg, webdav: opts.webdav, storage: opts.storage, users: opts.users, logger, metrics, tls, idleGc: opts.idleGc });

  const idleMs = cfg.idleTimeoutSec * 1000;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    // Counting starts before Express sees the request, so no body byte can slip past the counters and guard.
    const traffic = trackTraffic(req, res);
    // The idle timeout guards against clients that stall while they owe us bytes (the body) or should be reading
    // (the answer). Between the two the silence is ours — storage may spend minutes committing a large upload to
    // Jottacloud — so it is suspended from the end of the body until the answer starts.
    const socket = req.socket;
    let answering = false;
    if (hasBody(req)) traffic.onBodyReceived(() => !answering && socket.setTimeout(0));
    else socket.setTimeout(0);
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      answering = true;
      if (!socket.destroyed) socket.setTimeout(idleMs);
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
    built.app(req, res);
  };
  // Node checks the headers timeout only every `connectionsCheckingInterval` (30 s by default), so a client dribbling
  // its headers (slow-loris) would be held up to 30 s past the limit; check at a quarter of it instead.
  const headersMs = Math.min(60_000, idleMs);
  const checkEveryMs = Math.max(250, Math.min(30_000, Math.floor(headersMs / 4)));
  let http: Server;
  if (cfg.tls) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(cfg.tls.cert);
      key = readFileSync(cfg.tls.key);
    } catch (err) {
      throw new Error(`cannot read the TLS certificate or key: ${(err as Error).message}`);
    }
    http = createHttpsServer({ cert, key, connectionsCheckingInterval: checkEveryMs }, handler);
  } else {
    http = createHttpServer({ connectionsCheckingInterval: checkEveryMs }, handler);
  }
  // A multi-gigabyte upload may take hours: no limit on a whole request, but headers must arrive within a
  // minute (or the idle timeout, if shorter) and a client that stalls mid-request is cut (slow-loris clients).
  http.requestTimeout = 0;
  http.headersTimeout = headersMs;
  http.timeout = idleMs;
  http.keepAliveTimeout = 30_000;
  // A request can fail before Express runs (bad TLS handshake, malformed HTTP): answer 400 and move on.
  // Headers that did not arrive in time (a slow-loris client) get 408, as Node itself would answer.
  http.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(cfg.port, cfg.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const warning = plainHttpWarning(cfg.host, tls);
  if (warning) logger.warn(warning);

  let stopping = false;
  let ops: OpsServer | null = null;
  if (cfg.metricsPort !== false) {
    try {
      ops = await startOpsServer({ port: cfg.metricsPort, metrics, checks: opts.checks ?? {}, isShuttingDown: () => stopping });
    } catch (err) {
      http.close();
      throw new Error(`cannot listen on the metrics port 127.0.0.1:${cfg.metricsPort} (${(err as Error).message}); set server.metricsPort to another port or false`);
    }
  }

  const origin = `${tls ? 'https' : 'http'}://${urlHost(cfg.host)}:${port}`;
  const base = cfg.basePath.replace(/\/+$/, '');
  let closing: Promise<{ cut: number }> | null = null;

  return {
    url: `${origin}${base}/`,
    origin,
    host: cfg.host,
    port,
    tls,
    ops,
    metrics,
    inFlight: built.inFlight,
    idleGc: built.idleGc,
    close(graceMs = cfg.shutdownGraceSec * 1000) {
      closing ??= (async () => {
        stopping = true;
        built.drain();
        built.idleGc?.close();
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          built.idle().then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), graceMs);
          }),
        ]);
        clearTimeout(timer);
        const cut = timedOut ? built.inFlight() : 0;
        http.closeAllConnections();
        await closed;
        await ops?.close();
        return { cut };
      })();
      return closing;
    },
  };
}
