// HTTP Digest (RFC 7616) for clients that will not send Basic over plain HTTP (Windows' WebClient by default).
// Nonces are stateless until used: `<issued-ms>.<random>.<hmac>` signed with a per-process key, so a flood of
// unauthenticated requests costs no memory; an expired or foreign nonce whose response is otherwise right gets
// `stale=true` (the client retries with a fresh one without asking the user). Replay protection keeps, per
// nonce in use, the nonce counts (nc) already seen: a repeated nc is refused.
import { createHmac, randomBytes } from 'node:crypto';
import { digestHash, safeEqual, type DigestAlgorithm } from './passwords.js';
import type { AuthenticatedUser, UserDirectory } from './users.js';

/** Parses `a=b, c="d \"e\""` auth-params (RFC 9110 §11.2). */
export function parseAuthParams(input: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(input)) !== null) {
    out.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]);
    if (re.lastIndex >= input.length) break;
  }
  return out;
}

export type DigestOutcome =
  | { kind: 'ok'; user: AuthenticatedUser }
  /** Right credentials, but the nonce expired or is not ours: challenge again with stale=true. */
  | { kind: 'stale' }
  /** Wrong user or password, or a replayed nonce count. */
  | { kind: 'fail'; reason: string }
  /** Not a usable Digest header at all (missing fields, other realm, unsupported qop/algorithm). */
  | { kind: 'malformed'; reason: string };

const algorithms: Record<string, { base: DigestAlgorithm; session: boolean }> = {
  'md5': { base: 'MD5', session: false },
  'md5-sess': { base: 'MD5', session: true },
  'sha-256': { base: 'SHA-256', session: false },
  'sha-256-sess': { base: 'SHA-256', session: true },
};

export interface DigestOptions {
  users: UserDirectory;
  realm: string;
  nonceLifetimeMs: number;
  /** A nonce is retired (stale) after this many uses, bounding the replay memory kept per nonce. */
  maxUsesPerNonce?: number;
}

export class DigestAuth {
  private readonly key = randomBytes(32);
  private readonly opaque = randomBytes(12).toString('base64url');
  /** nonce → nc values seen; only nonces that authenticated a request are here. */
  private readonly seen = new Map<string, Set<number>>();
  private readonly maxUses: number;

  constructor(private readonly opts: DigestOptions) {
    this.maxUses = opts.maxUsesPerNonce ?? 100_000;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url').slice(0, 22);
  }

  newNonce(now = Date.now()): string {
    const body = `${now.toString(36)}.${randomBytes(12).toString('base64url')}`;
    return `${body}.${this.sign(body)}`;
  }

  /** Issued by us and not expired. */
  private nonceIsFresh(nonce: string, now: number): boolean {
    const parts = nonce.split('.');
    if (parts.length !== 3) return false;
    const body = `${parts[0]}.${parts[1]}`;
    if (!safeEqual(this.sign(body), parts[2])) return false;
    const issued = parseInt(parts[0], 36);
    return Number.isFinite(issued) && now - issued >= 0 && now - issued < this.opts.nonceLifetimeMs;
  }

  /** `WWW-Authenticate` values: SHA-256 first (preferred, RFC 7616 §3.7), then MD5 for older clients. */
  challenges(stale = false): string[] {
    const out: string[] = [];
    for (const alg of ['SHA-256', 'MD5'] as const) {
      if (!this.opts.users.offersDigest(alg)) continue;
      out.push(
        `Digest realm="${this.opts.realm}", qop="auth", algorithm=${alg}, nonce="${this.newNonce()}", opaque="${this.opaque}"` +
          (stale ? ', stale=true' : ''),
      );
    }
    return out;
  }

  /** Checks one `Authorization: Digest …` value for a request with `method` and request-target `requestUri`. */
  verify(method: string, requestUri: string, params: string, now = Date.now()): DigestOutcome {
    const p = parseAuthParams(params);
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response')?.toLowerCase();
    const qop = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    const alg = algorithms[(p.get('algorithm') ?? 'MD5').toLowerCase()];
    if (!username || !nonce || !uri || !response || !nc || !cnonce) return { kind: 'malformed', reason: 'missing Digest fields' };
    if (p.get('realm') !== this.opts.realm) return { kind: 'malformed', reason: 'another realm' };
    // Without qop (RFC 2069) there is no nc and so no replay protection: refused.
    if (qop !== 'auth') return { kind: 'malformed', reason: 'qop must be auth' };
    if (!alg) return { kind: 'malformed', reason: 'unsupported algorithm' };
    if (p.get('userhash') === 'true') return { kind: 'malformed', reason: 'userhash is not supported' };
    if (!/^[0-9a-fA-F]{8}$/.test(nc)) return { kind: 'malformed', reason: 'bad nc' };
    const opaque = p.get('opaque');
    if (opaque !== undefined && opaque !== this.opaque) return { kind: 'stale' };
    // The digest covers the uri it names; it must be this request's, or a captured header would open any path.
    if (!sameRequestTarget(uri, requestUri)) return { kind: 'fail', reason: 'uri does not match the request' };

    const creds = this.opts.users.digestCredentials(username, alg.base);
    if (!creds) return { kind: 'fail', reason: 'no Digest credentials for this user' };
    const h = (s: string) => digestHash(alg.base, s);
    const ha1 = alg.session ? h(`${creds.ha1}:${nonce}:${cnonce}`) : creds.ha1;
    const expected = h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${h(`${method}:${uri}`)}`);
    if (!safeEqual(expected, response)) return { kind: 'fail', reason: 'wrong password' };

    if (!this.nonceIsFresh(nonce, now)) {
      this.seen.delete(nonce);
      return { kind: 'stale' };
    }
    let counts = this.seen.get(nonce);
    if (!counts) {
      this.prune(now);
      counts = new Set();
      this.seen.set(nonce, counts);
    }
    const count = parseInt(nc, 16);
    if (counts.has(count)) return { kind: 'fail', reason: 'replayed nonce count' };
    if (counts.size >= this.maxUses) return { kind: 'stale' };
    counts.add(count);
    return { kind: 'ok', user: creds.user };
  }

  /** Forgets nonces that expired (they would be answered stale anyway). */
  private prune(now: number): void {
    if (this.seen.size < 1000) return;
    for (const nonce of this.seen.keys()) if (!this.nonceIsFresh(nonce, now)) this.seen.delete(nonce);
  }
}

/** Clients send the request-target as they wrote it; some send an absolute URL. */
function sameRequestTarget(uri: string, requestUri: string): boolean {
  if (uri === requestUri) return true;
  try {
    const u = new URL(uri);
    return `${u.pathname}${u.search}` === requestUri;
  } catch {
    return false;
  }
}
