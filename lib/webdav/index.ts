// The WebDAV layer's entry point: `createWebdavHandler` builds a webdav-server v2 server whose file system
// is Jottacloud (through lib/storage) and whose methods are our own handlers, registered with the server
// (`server.method`), wherever the library's cannot meet what clients need — which is every method that
// touches data: its GET reads from byte 0 for a Range, its PUT cannot fail after the body is handed over,
// its PROPPATCH and If-header parser can take the process down, its locks ignore timeouts and live in
// memory. The library still parses the request, runs its before/after hooks and asks our FileSystem for
// the resource type. Authentication happened before `handle` is called (lib/server); this layer enforces
// read-only users and uses the user name as the lock owner.
import type { IncomingMessage, ServerResponse } from 'node:http';
import Keyv from 'keyv';
import webdavServer from 'webdav-server';
import type { v2 as V2 } from 'webdav-server';
import type { Entry, StorageProvider } from '../storage/types.js';
import { DavRequest, type DavShared, type LogFn, type WebdavUser } from './context.js';
import { DeadPropertyStore } from './deadprops.js';
import { DavError, sendError, toDavError, type Operation } from './errors.js';
import { LockTable, type SharedStateGuard } from './locks.js';
import { handleGet } from './methods/get.js';
import { handleLock, handleUnlock } from './methods/lock.js';
import { handleCopyMove, handleDelete, handleMkcol } from './methods/namespace.js';
import { handleOptions } from './methods/options.js';
import { handlePropfind, handleProppatch } from './methods/propfind.js';
import { handlePut } from './methods/put.js';
import { decodeRequestPath, hrefFor, normaliseBasePath } from './paths.js';
import { JottaFileSystem } from './filesystem.js';

const { v2 } = webdavServer;

export type { WebdavUser, LogFn } from './context.js';
export type { DavRequest } from './context.js';

export interface WebdavOptions {
  storage: StorageProvider;
  /** URL prefix of the share, e.g. `/` or `/dav`. */
  basePath?: string;
  /** Where locks are kept (default: memory). Give a persistent store so locks survive a restart. */
  lockStore?: Keyv;
  /** Where dead properties are kept (default: memory). */
  propertyStore?: Keyv;
  /**
   * Given when other instances share `lockStore` and `propertyStore` (Redis): both are re-read per request and
   * LOCK, UNLOCK and PROPPATCH (check, then change) run one at a time across the instances.
   */
  sharedState?: SharedStateGuard;
  /** Keep Finder's `._*` and `.DS_Store` out of Jottacloud (accepted and dropped; hidden from listings). */
  ignoreMacMetadata?: boolean;
  /** Lock timeout when the client asks for none (seconds, default 3600). */
  lockTimeoutDefault?: number;
  /** Longest lock timeout granted, also for `Infinite` (seconds, default 7 days). */
  lockTimeoutMax?: number;
  /**
   * Answers GET/HEAD of a folder (the server's browser page). Without it a folder GET answers its member
   * names as plain text.
   */
  renderFolder?: (req: IncomingMessage, res: ServerResponse, folder: Entry, user: WebdavUser | null) => Promise<void>;
  log?: LogFn;
  /** Clock for lock expiry (epoch ms); tests pass their own to expire locks without waiting. */
  now?: () => number;
}

export interface WebdavHandler {
  /** Handles one request; the server has already authenticated it and passes the user (null = anonymous read-only). */
  handle(req: IncomingMessage, res: ServerResponse, user: WebdavUser | null): void;
  /** Waits for pending lock/property writes; the stores themselves belong to the caller. */
  close(): Promise<void>;
}

type Handler = (ctx: DavRequest) => Promise<void>;

const WRITE_METHODS = new Set(['PUT', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'PROPPATCH', 'LOCK', 'UNLOCK']);
/** Methods that decide on the lock table or a resource's properties and then change them (shared stores only). */
const CHECK_THEN_CHANGE = new Set(['LOCK', 'UNLOCK', 'PROPPATCH']);

const OPERATION: Record<string, Operation> = {
  GET: 'read',
  HEAD: 'read',
  PUT: 'write',
  MKCOL: 'mkcol',
  DELETE: 'delete',
  COPY: 'copy',
  MOVE: 'move',
  PROPFIND: 'props',
  PROPPATCH: 'props',
  LOCK: 'lock',
  UNLOCK: 'lock',
};

export function createWebdavHandler(opts: WebdavOptions): WebdavHandler {
  const basePath = normaliseBasePath(opts.basePath);
  const log: LogFn = opts.log ?? (() => undefined);
  const shared: DavShared = {
    storage: opts.storage,
    basePath,
    locks: new LockTable(opts.lockStore ?? new Keyv(), opts.now, opts.sharedState),
    props: new DeadPropertyStore(opts.propertyStore ?? new Keyv(), opts.sharedState),
    ignoreMacMetadata: opts.ignoreMacMetadata ?? false,
    lockTimeout: { default: opts.lockTimeoutDefault ?? 3600, max: opts.lockTimeoutMax ?? 7 * 24 * 3600 },
    log,
  };
  const requests = new WeakMap<IncomingMessage, DavRequest>();
  // Another instance may have changed the tables since this one last looked.
  const syncShared = () => Promise.all([shared.locks.sync(), shared.props.sync()]);
  const ready = Promise.all([shared.locks.ready(), shared.props.ready()]);
  ready.catch((err: unknown) => log('error', 'loading the WebDAV lock/property store failed', { error: String(err) }));

  const server = new v2.WebDAVServer({
    requireAuthentification: false,
    // the user was authenticated by lib/server; hand the library the one we were given
    httpAuthentication: {
      askForAuthentication: () => ({}),
      getUser: (ctx: V2.HTTPRequestContext, callback: (error: Error, user?: V2.IUser) => void) => {
        const user = requests.get(ctx.request)?.user;
        callback(null as unknown as Error, {
          uid: user?.name ?? '',
          username: user?.name ?? '',
          isAdministrator: false,
          isDefaultUser: !user,
        });
      },
    },
    rootFileSystem: new JottaFileSystem(opts.storage, (ctx) => {
      const req = (ctx as Partial<V2.HTTPRequestContext>).request;
      return req ? requests.get(req) : undefined;
    }),
    serverName: 'jottadav',
    version: '1',
    headers: { DAV: '1, 2', 'MS-Author-Via': 'DAV', 'Accept-Ranges': 'bytes' },
  });

  const renderFolder = opts.renderFolder;
  const handlers: Record<string, Handler> = {
    OPTIONS: handleOptions,
    GET: (ctx) => handleGet(ctx, renderFolder ? (c, folder) => renderFolder(c.req, c.res, folder, c.user) : undefined),
    HEAD: (ctx) => handleGet(ctx, renderFolder ? (c, folder) => renderFolder(c.req, c.res, folder, c.user) : undefined),
    PUT: handlePut,
    MKCOL: handleMkcol,
    DELETE: handleDelete,
    COPY: handleCopyMove,
    MOVE: handleCopyMove,
    PROPFIND: handlePropfind,
    PROPPATCH: handleProppatch,
    LOCK: handleLock,
    UNLOCK: handleUnlock,
  };

  const run = async (ctx: DavRequest, handler: Handler) => {
    const res = ctx.res;
    // webdav-server adds permissive CORS headers to every answer; a credentialed share must not
    for (const h of ['Access-Control-Allow-Origin', 'Access-Control-Allow-Credentials', 'Access-Control-Expose-Headers']) res.removeHeader(h);
    try {
      await ready;
      if (WRITE_METHODS.has(ctx.method)) ctx.assertMayWrite();
      if (opts.sharedState && CHECK_THEN_CHANGE.has(ctx.method)) {
        await opts.sharedState.exclusive(async () => {
          await syncShared();
          await handler(ctx);
        });
      } else {
        await syncShared();
        await handler(ctx);
      }
    } catch (err) {
      const dav = toDavError(err, OPERATION[ctx.method] ?? 'read');
      if (dav.status >= 500 && dav.status !== 507) {
        log('warn', `${ctx.method} ${ctx.path} failed`, { status: dav.status, error: err instanceof Error ? err.message : String(err) });
      }
      if (isAbort(err, ctx)) {
        res.destroy();
        return;
      }
      sendError(res, dav, ctx.method);
    }
  };

  for (const [name, handler] of Object.entries(handlers)) {
    server.method(name, {
      chunked(httpCtx: V2.HTTPRequestContext, _input, callback: () => void) {
        const ctx = requests.get(httpCtx.request);
        if (!ctx) return callback();
        void run(ctx, handler).finally(() => {
          if (!ctx.res.writableEnded && !ctx.res.destroyed) ctx.res.end();
          callback();
        });
      },
    });
  }
  server.onUnknownMethod({
    chunked(httpCtx: V2.HTTPRequestContext, _input, callback: () => void) {
      const ctx = requests.get(httpCtx.request);
      if (ctx) sendError(ctx.res, new DavError(501, `method ${ctx.method} is not supported`), ctx.method);
      callback();
    },
  });

  return {
    handle(req, res, user) {
      // every answer, refusals included, says this is a class 1 and 2 WebDAV server
      res.setHeader('DAV', '1, 2');
      res.setHeader('MS-Author-Via', 'DAV');
      let decoded;
      // `OPTIONS *` asks about the server as a whole: answer it as the share root
      const url = req.url === '*' && req.method === 'OPTIONS' ? basePath || '/' : (req.url ?? '/');
      try {
        decoded = decodeRequestPath(url, basePath);
      } catch (err) {
        sendError(res, toDavError(err, 'read'), req.method ?? 'GET');
        return;
      }
      if (!decoded) {
        sendError(res, new DavError(404, 'not under the WebDAV share'), req.method ?? 'GET');
        return;
      }
      const ctx = new DavRequest(req, res, user, shared, decoded.path, decoded.trailingSlash);
      requests.set(req, ctx);
      // webdav-server resolves the URL itself; give it the path inside the share, already validated
      const original = req.url;
      req.url = hrefFor(decoded.path, false, '');
      try {
        server.executeRequest(req, res);
      } catch (err) {
        log('error', 'webdav-server threw while dispatching', { error: err instanceof Error ? err.message : String(err) });
        sendError(res, new DavError(500, 'internal error'), ctx.method);
      } finally {
        req.url = original;
      }
    },
    async close() {
      await shared.locks.flush();
      await shared.props.flush();
    },
  };
}

function isAbort(err: unknown, ctx: DavRequest): boolean {
  if (ctx.signal.aborted) return true;
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'ABORTED';
}
