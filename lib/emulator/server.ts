// The emulator's one HTTP server: routing by path for every host (JFS, API, upload URL, auth, admin), the
// per-request latency and fault injection, the bearer-token check, and request counts per route.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiRoutes, UPLOAD_PREFIX } from './api.js';
import type { EmulatorCore } from './core.js';
import { EmuError, errors } from './errors.js';
import { Faults, FaultSpecError } from './faults.js';
import { type ErrorFormat, readSmallBody, sendError, sendJson, sendText } from './http.js';
import { JFS_VERBS, JfsRoutes } from './jfs.js';

/** What the server needs from the auth part (lib/emulator/auth.ts implements it). */
export interface AuthService {
  handle(req: IncomingMessage, res: ServerResponse, url: URL, publicOrigin: string): Promise<boolean>;
  authenticate(authorization: string | undefined): string | null;
  mintLoginToken(): string;
  expireAccessTokens(): void;
  revokeRefreshTokens(): void;
  /** The legacy login's pending SMS code (served as `/__emulator/otp`). */
  currentOtp?(): string | null;
}

export interface ServerOptions {
  latencyMs: number;
  log: (line: string) => void;
}

/** A short label per kind of request, for `/__emulator/stats` (the benchmark counts backend calls with it). */
export function routeLabel(method: string, url: URL): string {
  const p = url.pathname;
  if (p.startsWith('/jfs/')) {
    const mode = url.searchParams.get('mode');
    const verb = method === 'POST' ? JFS_VERBS.find((v) => url.searchParams.has(v)) : undefined;
    return `${method} jfs${verb ? ` ${verb}` : mode ? ` mode=${mode}` : ''}`;
  }
  if (p.startsWith(UPLOAD_PREFIX)) return `${method} upload`;
  if (p.startsWith('/auth/realms/')) return `${method} ${p.replace(/^\/auth\/realms\/[^/]+/, '/auth/realms/*')}`;
  return `${method} ${p}`;
}

export class EmulatorServer {
  readonly faults: Faults;
  readonly http: Server;
  private readonly jfs: JfsRoutes;
  private readonly api: ApiRoutes;
  private readonly counts = new Map<string, number>();
  private readonly bytesOut = new Map<string, number>();
  private total = 0;
  /** When each connection last finished an answer (for the `idle=` fault modifier). */
  private readonly answeredAt = new WeakMap<object, number>();

  constructor(
    private readonly core: EmulatorCore,
    private readonly auth: AuthService,
    private readonly opts: ServerOptions,
    faultSpec?: string,
  ) {
    this.faults = new Faults(faultSpec);
    this.jfs = new JfsRoutes(core);
    this.api = new ApiRoutes(core, this.faults);
    this.http = createServer((req, res) => {
      this.serve(req, res).catch((e: unknown) => {
        opts.log(`internal error on ${req.method} ${req.url?.split('?')[0]}: ${e instanceof Error ? e.message : String(e)}`);
        if (!res.headersSent) void sendError(core.responder, res, new EmuError(500, 'java.lang.RuntimeException', 'Internal error'), 'json');
        else res.destroy();
      });
    });
    // Large uploads through slow (throttled) lines must not hit Node's default request timeout.
    this.http.requestTimeout = 0;
    this.http.keepAliveTimeout = 30_000;
  }

  stats(): { total: number; routes: Record<string, number>; bytesOut: Record<string, number> } {
    const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
    return { total: this.total, routes: sorted(this.counts), bytesOut: sorted(this.bytesOut) };
  }

  resetStats(): void {
    this.counts.clear();
    this.bytesOut.clear();
    this.total = 0;
  }

  /** Adds up the body bytes answered per route, so a test can tell a ranged read from a whole download. */
  private countBytesOut(label: string, res: ServerResponse): void {
    let sent = 0;
    const add = (chunk: unknown, encoding?: unknown) => {
      if (typeof chunk === 'string') sent += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      else if (chunk instanceof Uint8Array) sent += chunk.byteLength;
    };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.write = ((...args: unknown[]) => {
      add(args[0], args[1]);
      return write(...args);
    }) as ServerResponse['write'];
    res.end = ((...args: unknown[]) => {
      if (typeof args[0] !== 'function') add(args[0], args[1]);
      return end(...args);
    }) as ServerResponse['end'];
    res.once('close', () => this.bytesOut.set(label, (this.bytesOut.get(label) ?? 0) + sent));
  }

  /**
   * How long the request's connection sat idle since its previous answer (undefined for the first request on
   * it); and from now on, when this answer is done, the connection's idle time counts from then.
   */
  private idleBefore(req: IncomingMessage, res: ServerResponse): number | undefined {
    const socket = req.socket;
    const last = this.answeredAt.get(socket);
    res.once('finish', () => this.answeredAt.set(socket, Date.now()));
    return last === undefined ? undefined : Date.now() - last;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://emulator.invalid');
    } catch {
      return sendError(this.core.responder, res, errors.invalidArgument('Bad request'), 'json');
    }
    const forwardedHost = headerValue(req.headers['x-forwarded-host']);
    const publicOrigin = forwardedHost ? `https://${forwardedHost}` : `http://${req.headers.host ?? '127.0.0.1'}`;

    if (url.pathname.startsWith('/__emulator/')) {
      // The admin surface is for the local test harness only, never for what comes through the MITM proxy.
      if (forwardedHost) return sendError(this.core.responder, res, errors.notFound(url.pathname), 'json');
      return this.admin(req, res, url);
    }

    const label = routeLabel(method, url);
    this.total++;
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
    this.countBytesOut(label, res);
    const format: ErrorFormat = url.pathname.startsWith('/jfs/') ? 'xml' : 'json';

    try {
      const fault = this.faults.onRequest(method, url.pathname, this.idleBefore(req, res));
      if (fault.expireTokens) this.auth.expireAccessTokens();
      if (fault.revokeRefresh) this.auth.revokeRefreshTokens();
      const delay = this.opts.latencyMs + fault.delayMs;
      if (delay > 0) await sleep(delay);
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined) throw errors.injected(fault.status);

      if (url.pathname.startsWith('/auth/')) {
        if (await this.auth.handle(req, res, url, publicOrigin)) return;
        throw errors.notFound(url.pathname);
      }
      const user = this.auth.authenticate(headerValue(req.headers.authorization));
      const isJfs = url.pathname.startsWith('/jfs/') || url.pathname === '/jfs';
      const isApi = url.pathname.startsWith('/account/') || url.pathname.startsWith('/files/');
      if (!isJfs && !isApi) throw errors.notFound(url.pathname);
      if (!user) throw errors.badCredentials();
      if (isJfs) return await this.jfs.handle(req, res, url, user);
      if (await this.api.handle(req, res, url, publicOrigin)) return;
      throw errors.notFound(url.pathname);
    } catch (e) {
      if (!(e instanceof EmuError)) throw e;
      return sendError(this.core.responder, res, e, format);
    }
  }

  private async admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const r = this.core.responder;
    const method = req.method ?? 'GET';
    switch (`${method} ${url.pathname}`) {
      case 'GET /__emulator/faults':
        return sendJson(r, res, 200, { faults: this.faults.describe() });
      case 'PUT /__emulator/faults':
      case 'POST /__emulator/faults': {
        const spec = (await readSmallBody(req, 64 * 1024)).toString('utf8').trim();
        try {
          this.faults.set(spec || undefined);
        } catch (e) {
          if (e instanceof FaultSpecError) return sendJson(r, res, 400, { error: e.message });
          throw e;
        }
        this.opts.log(spec ? `faults set: ${spec}` : 'faults cleared');
        return sendJson(r, res, 200, { faults: this.faults.describe() });
      }
      case 'DELETE /__emulator/faults':
        this.faults.set(undefined);
        this.opts.log('faults cleared');
        return sendJson(r, res, 200, { faults: [] });
      case 'POST /__emulator/login-token': {
        const token = this.auth.mintLoginToken();
        return sendText(r, res, 200, 'text/plain; charset=UTF-8', token + '\n');
      }
      case 'GET /__emulator/stats':
        return sendJson(r, res, 200, this.stats());
      case 'DELETE /__emulator/stats':
        this.resetStats();
        return sendJson(r, res, 200, this.stats());
      case 'GET /__emulator/otp': {
        // The legacy flow's "SMS", when the auth part offers one.
        const otp = this.auth.currentOtp?.();
        if (!otp) return sendJson(r, res, 404, { error: 'no one-time code pending' });
        return sendText(r, res, 200, 'text/plain; charset=UTF-8', otp + '\n');
      }
      case 'GET /__emulator/health':
        return sendJson(r, res, 200, { ok: true, user: this.core.tree.user });
      default:
        return sendJson(r, res, 404, { error: `no admin route ${method} ${url.pathname}` });
    }
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
