// The Express app in front of the WebDAV layer: request log and metrics, the share's base path, OPTIONS without
// credentials (Windows probes the server root before it logs in), authentication, the read-only guard, the
// body-size guard, the browser page, then the WebDAV handler — which gets the raw request stream: no body
// parser is ever registered here.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type winston from 'winston';
import type { ServerConfig } from '../config/schema.js';
import type { StorageProvider } from '../storage/types.js';
import { Authenticator, writeMethods, type AuthenticatedUser, type UserDirectory } from './auth/index.js';
import { BrowserPage, isBrowser } from './browser.js';
import { IdleCollector, type IdleGcOptions } from './idle-gc.js';
import { logRequest, pathOf } from './logging.js';
import type { ServerMetrics } from './metrics.js';
import { elapsedMs, guardBody, trackTraffic } from './traffic.js';

/** The WebDAV layer as the server uses it (`createWebdavHandler` from lib/webdav). */
export interface WebdavHandler {
  handle(req: IncomingMessage, res: ServerResponse, user: AuthenticatedUser | null): void;
  close(): Promise<void>;
}

export interface AppOptions {
  server: ServerConfig;
  webdav: WebdavHandler;
  /** The provider the WebDAV layer serves, for the browser page's listing and quota. */
  storage: StorageProvider;
  users: UserDirectory;
  logger: winston.Logger;
  metrics: ServerMetrics;
  tls: boolean;
  /**
   * The collection after bursts of work (`idle-gc.ts`); off unless given. Measured (bench workloads 1-3, A/B):
   * RSS when the 1 GiB GET starts, after the listing workloads, 245/342 -> 189/179 MiB; but that GET's median
   * went 1.57/1.51 -> 2.77/2.59 s (more collections for external memory pressure during it), so `serve` turns it
   * on only with `server.releaseMemoryWhenIdle` (default off) until the GET path stops allocating a Buffer per chunk.
   */
  idleGc?: IdleGcOptions | false;
}

export interface ServerApp {
  app: express.Express;
  /** From now on every answer carries `Connection: close` (graceful shutdown). */
  drain(): void;
  /** Requests being answered now. */
  inFlight(): number;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** The idle collector, or null when switched off or not available. */
  idleGc: IdleCollector | null;
}

/** `/` or `/dav` (no trailing slash) → the prefix to compare with; `''` for the whole server. */
function prefixOf(basePath: string): string {
  return basePath.replace(/\/+$/, '');
}

function inShare(path: string, prefix: string): boolean {
  if (!prefix) return true;
  const p = path.toLowerCase();
  const b = prefix.toLowerCase();
  return p === b || p.startsWith(`${b}/`);
}

const davHeaders = {
  DAV: '1, 2',
  'MS-Author-Via': 'DAV',
  Allow: 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK',
};

/** Request headers for a debug line: credentials and cookies replaced, everything else as sent. */
export function loggableHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = /^(authorization|proxy-authorization|cookie)$/i.test(name) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function createApp(opts: AppOptions): ServerApp {
  const { server, webdav, logger, metrics } = opts;
  const prefix = prefixOf(server.basePath);
  const auth = new Authenticator({
    users: opts.users,
    realm: server.auth.realm,
    digest: server.auth.digest,
    nonceLifetimeMs: server.auth.nonceLifetimeSec * 1000,
    anonymousReadOnly: server.anonymous === 'read-only',
    maxFailures: server.auth.maxFailures,
    windowSec: server.auth.windowSec,
    blockSec: server.auth.blockSec,
    onFailure: (f) => {
      metrics.loginFailed(f.scheme);
      logger.warn(`login refused`, { address: f.address, user: f.user || '-', scheme: f.scheme, reason: f.reason });
    },
  });
  const browser = server.browser ? new BrowserPage({ storage: opts.storage, basePath: server.basePath, tls: opts.tls }) : null;

  let draining = false;
  let active = 0;
  let idleWaiters: (() => void)[] = [];
  // Memory back after bursts of work (idle-gc.ts); counted with the requests in flight below.
  const gcOptions = opts.idleGc === false || opts.idleGc === undefined ? null : opts.idleGc;
  const collector = gcOptions
    ? new IdleCollector({
        ...gcOptions,
        onCollect: (c) => {
          gcOptions.onCollect?.(c);
          if (!logger.isDebugEnabled()) return;
          const mib = (n: number) => (n / 1048576).toFixed(1);
          logger.debug(
            `idle collection: heap ${mib(c.before.heapBytes)} -> ${mib(c.after.heapBytes)} MiB, ` +
              `external ${mib(c.before.externalBytes)} -> ${mib(c.after.externalBytes)} MiB, ${c.ms.toFixed(1)} ms`,
          );
        },
      })
    : null;
  const idleGc = collector?.enabled ? collector : null;

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', server.trustProxy);

  // Log line and metrics, written when the exchange is over (finished or cut).
  app.use((req: Request, res: Response, next: NextFunction) => {
    const traffic = trackTraffic(req, res);
    active++;
    idleGc?.enter();
    metrics.requestStarted();
    if (draining) res.setHeader('Connection', 'close');
    if (logger.isDebugEnabled()) logger.debug(`request ${req.method} ${pathOf(req)}`, { headers: loggableHeaders(req.headers) });
    res.once('close', () => {
      const ms = elapsedMs(traffic);
      const user = res.locals.user as AuthenticatedUser | null | undefined;
      const record = {
        method: req.method,
        path: pathOf(req),
        status: res.statusCode,
        bytesIn: traffic.bytesIn(),
        bytesOut: traffic.bytesOut(),
        ms,
        user: user?.name ?? '',
        aborted: !res.writableFinished,
      };
      logRequest(logger, record);
      metrics.requestFinished({ method: req.method, status: res.statusCode, seconds: ms / 1000, bytesIn: record.bytesIn, bytesOut: record.bytesOut });
      active--;
      idleGc?.leave();
      if (active === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        waiters.forEach((w) => w());
      }
    });
    next();
  });

  app.use(async (req: Request, res: Response) => {
    const path = pathOf(req);
    const method = req.method.toUpperCase();
    if (!inShare(path, prefix)) {
      // Windows maps a share by probing the server root (and its parents) with OPTIONS first.
      if (method === 'OPTIONS') {
        res.status(200).set(davHeaders).set('Content-Length', '0').end();
        return;
      }
      res.status(404).type('text/plain').send('Not found: the share is at ' + (prefix || '/') + '/\n');
      return;
    }

    // Answered for anyone: clients probe capabilities before they log in.
    if (method === 'OPTIONS') {
      res.locals.user = null;
      webdav.handle(req, res, null);
      return;
    }

    const outcome = await auth.authenticate(req, res, req.ip ?? req.socket.remoteAddress ?? 'unknown');
    if (!outcome.ok) return;
    const user = outcome.user;
    res.locals.user = user;

    const isForm = method === 'POST' && browser !== null;
    if (writeMethods.has(method) && (user === null || user.readOnly)) {
      res.status(403).type('text/plain').send(`${user ? user.name : 'Anonymous access'} is read-only here: ${method} is refused.\n`);
      return;
    }

    // PUT bodies stream to Jottacloud; so do the upload form's. Everything else is a small XML body.
    if (method !== 'PUT' && !isForm) {
      if (!(await guardBody(req, res, server.maxBodyBytes))) return;
    }

    // Everything a WebDAV client may receive gets these two: an uploaded HTML file opened from the share
    // must not run scripts in the share's origin, and nothing is sniffed into something executable.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'; frame-ancestors 'none'");

    if (browser && (method === 'GET' || method === 'HEAD') && isBrowser(req)) {
      res.removeHeader('Content-Security-Policy');
      if (await browser.serveFolder(req, res, user)) return;
      res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'; frame-ancestors 'none'");
    }
    if (isForm) {
      res.removeHeader('Content-Security-Policy');
      await browser.handlePost(req, res, user);
      return;
    }
    webdav.handle(req, res, user);
  });

  // Anything thrown above: one line in the log (no request details beyond the path), a plain 500 to the client.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error(`internal error on ${req.method} ${pathOf(req)}: ${err instanceof Error ? err.message : String(err)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(500).type('text/plain').send('Internal server error.\n');
  });

  return {
    app,
    drain: () => {
      draining = true;
    },
    inFlight: () => active,
    idleGc,
    idle: () => (active === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))),
  };
}
