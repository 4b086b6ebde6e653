// Emulator auth: issuing token sets and the rules of their life — access tokens that expire,
// single-use refresh tokens that rotate (a spent one coming back kills its whole family, as
// Jottacloud's Keycloak does), and one browser session per desktop client. Knows nothing of HTTP.
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { JwtPayload } from './auth-jwt.js';
import { base64url } from './auth-jwt.js';
import { hashToken, type AuthStore, type SessionRecord } from './auth-store.js';
import { realmId } from './auth-realms.js';

export interface Identity {
  user: string;
  email: string;
}

export interface Lifetimes {
  accessSec: number;
  /** Refresh tokens of sessions without `offline_access` (Keycloak's "SSO session idle"). */
  refreshSec: number;
  clock: () => number;
}

/** Offline tokens (scope offline_access) and legacy sessions: Keycloak's "offline session idle", 30 days. */
const LONG_REFRESH_SEC = 30 * 24 * 3600;

/** Why a refresh token was refused; callers turn this into their endpoint's error body. */
export type RefreshRefusal = 'invalid' | 'expired' | 'session-not-active' | 'session-lost-client' | 'wrong-client';

export interface NewSession {
  kind: SessionRecord['kind'];
  realm: string;
  clientId: string;
  scope: string;
}

export interface IssuedTokens {
  sid: string;
  session: SessionRecord;
  accessToken: string;
  refreshToken: string;
  idToken?: string;
  expiresIn: number;
  /** Keycloak reports 0 for offline tokens: they have no fixed end, only an idle limit. */
  refreshExpiresIn: number;
}

export class TokenService {
  constructor(
    private readonly store: AuthStore,
    private readonly identity: Identity,
    private readonly lifetimes: Lifetimes,
  ) {}

  now(): number {
    return this.lifetimes.clock();
  }

  /** A new login: a new session (token family) and its first token set. */
  startSession(spec: NewSession, issuer: string, opts: { sid?: string; nonce?: string } = {}): IssuedTokens {
    const now = this.now();
    if (spec.kind === 'oidc' && spec.clientId !== 'jottacli') {
      // White-label/desktop logins allow one active session per client: the newer login wins
      // (jottacloud-protocol.md, "Only one active authentication per client at a time").
      for (const s of this.store.sessions.values()) {
        if (s.state === 'active' && s.kind === 'oidc' && s.realm === spec.realm && s.clientId === spec.clientId) {
          s.state = 'replaced';
          s.updatedMs = now;
        }
      }
    }
    const session: SessionRecord = {
      ...spec,
      offline: spec.kind === 'legacy' || spec.scope.split(' ').includes('offline_access'),
      refreshHash: '',
      refreshExpMs: 0,
      authTimeSec: Math.floor(now / 1000),
      state: 'active',
      updatedMs: now,
    };
    const sid = opts.sid ?? randomUUID();
    this.store.sessions.set(sid, session);
    return this.issue(sid, session, issuer, opts.nonce);
  }

  /**
   * Checks a presented refresh token. A validly signed but spent token of a live session is a
   * reuse: the session dies, so the client holding the newer token is logged out too.
   */
  checkRefresh(
    token: string,
    expect: { realm: string; clientId: string },
  ): { sid: string; session: SessionRecord } | { refusal: RefreshRefusal } {
    const now = this.now();
    const payload = this.store.key.verify(token);
    const sid = payload && typeof payload.sid === 'string' ? payload.sid : undefined;
    if (!payload || !sid || payload.typ === 'Bearer' || payload.typ === 'ID') return { refusal: 'invalid' };
    if (typeof payload.exp === 'number' && payload.exp * 1000 <= now) return { refusal: 'expired' };
    const session = this.store.sessions.get(sid);
    if (!session || session.kind !== 'oidc' || session.realm !== expect.realm) {
      return { refusal: session ? 'invalid' : 'session-not-active' };
    }
    if (session.state === 'reused' || session.state === 'replaced') return { refusal: 'session-lost-client' };
    if (session.state !== 'active') return { refusal: 'session-not-active' };
    if (session.clientId !== expect.clientId) return { refusal: 'wrong-client' };
    if (hashToken(token) !== session.refreshHash) {
      session.state = 'reused';
      session.updatedMs = now;
      return { refusal: 'session-lost-client' };
    }
    if (session.refreshExpMs <= now) return { refusal: 'expired' };
    return { sid, session };
  }

  /**
   * The legacy service's refresh tokens are opaque, so a token is found by its hash among the live
   * ones; a spent or unknown one is simply refused (the legacy answer is the same for every case).
   */
  checkLegacyRefresh(token: string, clientId: string): { sid: string; session: SessionRecord } | null {
    const hash = hashToken(token);
    const now = this.now();
    for (const [sid, session] of this.store.sessions) {
      if (session.kind !== 'legacy' || session.refreshHash !== hash) continue;
      const usable = session.state === 'active' && session.refreshExpMs > now && session.clientId === clientId;
      return usable ? { sid, session } : null;
    }
    return null;
  }

  /** The next token set of a session; the refresh token it replaces is spent from now on. */
  rotate(sid: string, session: SessionRecord, issuer: string): IssuedTokens {
    session.updatedMs = this.now();
    return this.issue(sid, session, issuer);
  }

  /** Ends a session on the client's own request (logout / revocation endpoints). */
  endSession(sid: string): void {
    const session = this.store.sessions.get(sid);
    if (session && session.state === 'active') {
      session.state = 'logged-out';
      session.updatedMs = this.now();
    }
  }

  /** The session behind a live access token, or null if the token is unknown or expired. */
  accessSession(token: string): { sid: string; session: SessionRecord } | null {
    const rec = this.store.accessTokens.get(hashToken(token));
    if (!rec || rec.expMs <= this.now()) return null;
    const session = this.store.sessions.get(rec.sid);
    return session ? { sid: rec.sid, session } : null;
  }

  revokeAccessToken(token: string): void {
    this.store.accessTokens.delete(hashToken(token));
  }

  expireAccessTokens(): void {
    this.store.accessTokens.clear();
  }

  revokeRefreshTokens(): void {
    const now = this.now();
    for (const s of this.store.sessions.values()) {
      if (s.state === 'active') {
        s.state = 'revoked';
        s.updatedMs = now;
      }
    }
  }

  subject(realm: string): string {
    return realm ? `f:${realmId(realm)}:${this.identity.user}` : this.identity.user;
  }

  /** The user's profile claims, as in tokens and the userinfo answer. */
  profile(realm: string): JwtPayload {
    const { user, email } = this.identity;
    return { sub: this.subject(realm), email_verified: true, name: user, preferred_username: user, username: user, email };
  }

  private issue(sid: string, session: SessionRecord, issuer: string, nonce?: string): IssuedTokens {
    if (session.kind === 'legacy') return this.issueLegacy(sid, session);
    const now = this.now();
    const iat = Math.floor(now / 1000);
    const accessExpMs = now + this.lifetimes.accessSec * 1000;
    const refreshSec = session.offline ? LONG_REFRESH_SEC : this.lifetimes.refreshSec;
    const refreshExpMs = now + refreshSec * 1000;
    const common = { iat, iss: issuer, azp: session.clientId, session_state: sid, sid, scope: session.scope };
    const accessToken = this.store.key.sign({
      exp: Math.floor(accessExpMs / 1000),
      jti: randomUUID(),
      ...common,
      aud: 'account',
      typ: 'Bearer',
      auth_time: session.authTimeSec,
      acr: '1',
      ...this.profile(session.realm),
    });
    const refreshToken = this.store.key.sign({
      exp: Math.floor(refreshExpMs / 1000),
      jti: randomUUID(),
      ...common,
      aud: issuer,
      sub: this.subject(session.realm),
      typ: session.offline ? 'Offline' : 'Refresh',
    });
    let idToken: string | undefined;
    if (session.kind === 'oidc' && session.scope.split(' ').includes('openid')) {
      idToken = this.store.key.sign({
        exp: Math.floor(accessExpMs / 1000),
        jti: randomUUID(),
        ...common,
        aud: session.clientId,
        typ: 'ID',
        auth_time: session.authTimeSec,
        ...(nonce !== undefined ? { nonce } : {}),
        at_hash: atHash(accessToken),
        acr: '1',
        ...this.profile(session.realm),
      });
    }
    this.store.accessTokens.set(hashToken(accessToken), { sid, expMs: accessExpMs });
    session.refreshHash = hashToken(refreshToken);
    session.refreshExpMs = refreshExpMs;
    return {
      sid,
      session,
      accessToken,
      refreshToken,
      ...(idToken !== undefined ? { idToken } : {}),
      expiresIn: this.lifetimes.accessSec,
      refreshExpiresIn: session.offline ? 0 : refreshSec,
    };
  }

  private issueLegacy(sid: string, session: SessionRecord): IssuedTokens {
    const now = this.now();
    const accessToken = legacyAccessToken();
    const refreshToken = legacyRefreshToken();
    this.store.accessTokens.set(hashToken(accessToken), { sid, expMs: now + this.lifetimes.accessSec * 1000 });
    session.refreshHash = hashToken(refreshToken);
    session.refreshExpMs = now + LONG_REFRESH_SEC * 1000;
    return {
      sid,
      session,
      accessToken,
      refreshToken,
      expiresIn: this.lifetimes.accessSec,
      refreshExpiresIn: 0,
    };
  }
}

/**
 * Legacy tokens look like the ones the old service handed out (rclone issue #2992 shows a saved
 * set): the access token an opaque base64 string of `<13 chars>:<26 chars>`, the refresh token a
 * five-part JWE. Neither carries readable claims, so clients cannot rely on decoding them.
 */
function legacyAccessToken(): string {
  return Buffer.from(`${randomAlnum(13)}:${randomAlnum(26)}`).toString('base64').replace(/=+$/, '');
}

function legacyRefreshToken(): string {
  const header = base64url(JSON.stringify({ alg: 'A128KW', enc: 'A128CBC-HS256' }));
  const parts = [40, 16, 96, 16].map((n) => base64url(randomBytes(n)));
  return [header, ...parts].join('.');
}

export function randomAlnum(length: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) out += chars[randomInt(0, chars.length)];
  return out;
}

/** OpenID Connect `at_hash`: the left half of SHA-256 of the access token, base64url. */
function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken).digest();
  return base64url(digest.subarray(0, digest.length / 2));
}

/** Keycloak user names are case-insensitive, and the e-mail address logs in as well. */
export function isAccountName(identity: Identity, name: string): boolean {
  const n = name.trim().toLowerCase();
  return n === identity.user.toLowerCase() || n === identity.email.toLowerCase();
}

/** What the route handlers share: the state, the token rules and a way to persist before answering. */
export interface AuthContext {
  store: AuthStore;
  tokens: TokenService;
  identity: Identity;
  persist(): void;
}
