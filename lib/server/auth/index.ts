// The gate in front of the share: reads `Authorization` (Basic or Digest), asks the user directory, limits failed
// logins per client address, and answers 401 with a challenge for every scheme on offer (clients pick the one
// they can do; every 401 carries `WWW-Authenticate`). Anonymous access exists only when configured, and is
// read-only; a write without credentials then gets a 401 so the client can log in instead of a dead-end 403.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { DigestAuth } from './digest.js';
import type { AuthenticatedUser, UserDirectory } from './users.js';

export { UserDirectory, stripDomain, type AuthenticatedUser, type CommandLineUser } from './users.js';

/** Methods that change something; read-only users and anonymous visitors get 403/401 for them. */
export const writeMethods = new Set(['PUT', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'PROPPATCH', 'LOCK', 'UNLOCK', 'POST', 'PATCH']);

export interface AuthOptions {
  users: UserDirectory;
  realm: string;
  digest: boolean;
  nonceLifetimeMs: number;
  anonymousReadOnly: boolean;
  maxFailures: number;
  windowSec: number;
  blockSec: number;
  /** Told about every refused login (metrics, log); never given the password. */
  onFailure?: (info: { address: string; user: string; scheme: string; reason: string }) => void;
}

export type AuthResult =
  | { ok: true; user: AuthenticatedUser | null }
  /** The response (401/429/400) has been sent. */
  | { ok: false };

export class Authenticator {
  private readonly digest: DigestAuth | null;
  private readonly limiter: RateLimiterMemory;

  constructor(private readonly opts: AuthOptions) {
    this.digest = opts.digest ? new DigestAuth({ users: opts.users, realm: opts.realm, nonceLifetimeMs: opts.nonceLifetimeMs }) : null;
    this.limiter = new RateLimiterMemory({ points: opts.maxFailures, duration: opts.windowSec, blockDuration: opts.blockSec });
  }

  challenges(stale = false): string[] {
    const basic = `Basic realm="${this.opts.realm}", charset="UTF-8"`;
    return [...(this.digest?.challenges(stale) ?? []), basic];
  }

  private unauthorized(res: ServerResponse, stale = false): AuthResult {
    res.statusCode = 401;
    res.setHeader('WWW-Authenticate', this.challenges(stale));
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Authentication required.\n');
    return { ok: false };
  }

  /** Seconds until `address` may try again, or 0 when it is not blocked. */
  private async blockedFor(address: string): Promise<number> {
    const state = await this.limiter.get(address);
    return state && state.consumedPoints > this.opts.maxFailures ? Math.ceil(state.msBeforeNext / 1000) : 0;
  }

  private async fail(req: IncomingMessage, res: ServerResponse, address: string, user: string, scheme: string, reason: string): Promise<AuthResult> {
    this.opts.onFailure?.({ address, user, scheme, reason });
    await this.limiter.consume(address).catch(() => undefined);
    return this.unauthorized(res);
  }

  /** `address` is the client address as the server trusts it (socket, or X-Forwarded-For behind a proxy). */
  async authenticate(req: IncomingMessage, res: ServerResponse, address: string): Promise<AuthResult> {
    const header = req.headers.authorization;
    const method = req.method ?? 'GET';
    if (!header) {
      if (this.opts.anonymousReadOnly && !writeMethods.has(method)) return { ok: true, user: null };
      return this.unauthorized(res);
    }

    const retry = await this.blockedFor(address);
    if (retry > 0) {
      res.statusCode = 429;
      res.setHeader('Retry-After', String(retry));
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('Too many failed logins from this address; try again later.\n');
      return { ok: false };
    }

    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const rest = space < 0 ? '' : header.slice(space + 1).trim();

    if (scheme === 'basic') {
      const decoded = Buffer.from(rest, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return this.fail(req, res, address, '', 'basic', 'malformed Basic credentials');
      const name = decoded.slice(0, colon);
      const user = await this.opts.users.verifyPassword(name, decoded.slice(colon + 1));
      if (!user) return this.fail(req, res, address, name, 'basic', 'wrong user name or password');
      return { ok: true, user };
    }
    if (scheme === 'digest' && this.digest) {
      const outcome = this.digest.verify(method, req.url ?? '/', rest);
      switch (outcome.kind) {
        case 'ok':
          return { ok: true, user: outcome.user };
        case 'stale':
          return this.unauthorized(res, true);
        case 'malformed':
          // Not a guess at a password (another realm, an old client without qop): no strike, just a new challenge.
          this.opts.onFailure?.({ address, user: '', scheme: 'digest', reason: outcome.reason });
          return this.unauthorized(res);
        case 'fail':
          return this.fail(req, res, address, digestUser(rest), 'digest', outcome.reason);
      }
    }
    // Bearer, NTLM, Negotiate…: not ours. Answer with what we do offer.
    return this.unauthorized(res);
  }
}

function digestUser(params: string): string {
  return /username="([^"]*)"/.exec(params)?.[1] ?? '';
}
