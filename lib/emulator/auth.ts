// Emulator auth: the one entry point the emulator core uses for everything about logging in —
// serves the Keycloak routes (`/auth/realms/…`) and the legacy ones (`/auth/v1/…`), checks
// bearer tokens for the JFS and JSON API, mints personal login tokens and offers test hooks
// (expire access tokens, revoke refresh tokens, read the "SMS" code). Shares no code with the
// client side of jottadav: it is an independent reading of jottacloud-protocol.md.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { bearerToken } from './auth-http.js';
import { base64url } from './auth-jwt.js';
import { LegacyEndpoints } from './auth-legacy.js';
import { KeycloakEndpoints } from './auth-oidc.js';
import { AuthStore, hashToken } from './auth-store.js';
import { TokenService, type AuthContext, type Identity } from './auth-tokens.js';

export { LEGACY_DEFAULT_CLIENT, LEGACY_REGISTER_BEARER } from './auth-legacy.js';
export { realmNames } from './auth-realms.js';

export interface AuthOptions {
  /** The account's JFS user name. */
  user: string;
  /** Default 3600, like the service's access tokens. */
  accessTokenLifetimeSec?: number;
  /** Persist auth state in dataDir/auth.json (0600, written atomically); undefined = memory only. */
  dataDir?: string;
  /** The account's e-mail address; it logs in as well as the user name. Default `<user>@example.com`. */
  email?: string;
  /** Password of the legacy login (`/auth/v1/token`). Default `DEFAULT_LEGACY_PASSWORD`. */
  legacyPassword?: string;
  /** Legacy login asks for an SMS verification code (header `X-JottaCloud-OTP: required; SMS`). */
  legacyOtp?: boolean;
  /** Refresh-token lifetime of sessions without `offline_access`. Default 1800 (Keycloak's SSO idle). */
  refreshTokenLifetimeSec?: number;
  /** Milliseconds since the epoch; tests pass their own clock to move time without waiting. */
  clock?: () => number;
}

export const DEFAULT_LEGACY_PASSWORD = 'jottadav-emulator-password';

/** Where a personal login token sends its client for OpenID discovery. */
export const DEFAULT_WELL_KNOWN_LINK = 'https://id.jottacloud.com/auth/realms/jottacloud/.well-known/openid-configuration';

export class EmulatorAuth {
  readonly user: string;
  readonly email: string;
  readonly legacyPassword: string;
  private readonly store: AuthStore;
  private readonly tokens: TokenService;
  private readonly ctx: AuthContext;
  private readonly keycloak: KeycloakEndpoints;
  private readonly legacy: LegacyEndpoints;

  constructor(opts: AuthOptions) {
    if (!opts.user) throw new Error('the emulator needs a user name');
    const accessSec = opts.accessTokenLifetimeSec ?? 3600;
    const refreshSec = opts.refreshTokenLifetimeSec ?? 1800;
    if (!(accessSec > 0) || !(refreshSec > 0)) throw new Error('token lifetimes must be positive numbers of seconds');
    this.user = opts.user;
    this.email = opts.email ?? `${opts.user}@example.com`;
    this.legacyPassword = opts.legacyPassword ?? DEFAULT_LEGACY_PASSWORD;
    const identity: Identity = { user: this.user, email: this.email };
    const clock = opts.clock ?? Date.now;
    this.store = new AuthStore(opts.dataDir);
    this.tokens = new TokenService(this.store, identity, { accessSec, refreshSec, clock });
    this.ctx = { store: this.store, tokens: this.tokens, identity, persist: () => this.store.save(clock()) };
    this.keycloak = new KeycloakEndpoints(this.ctx);
    this.legacy = new LegacyEndpoints(this.ctx, { password: this.legacyPassword, otp: opts.legacyOtp ?? false });
  }

  /**
   * Serves every auth route and resolves true; resolves false, leaving `res` alone, for any other
   * path. `publicOrigin` starts every absolute URL in the answers (the real host name when the
   * request came through the MITM proxy, else the emulator's own http://127.0.0.1:<port>).
   */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, publicOrigin: string): Promise<boolean> {
    const origin = publicOrigin.replace(/\/+$/, '');
    if (await this.keycloak.handle(req, res, url, origin)) return true;
    return this.legacy.handle(req, res, url, origin);
  }

  /** `Bearer <token>` → the user name if the access token is known and unexpired, else null. */
  authenticate(authorization: string | undefined): string | null {
    const token = bearerToken(authorization);
    return token !== null && this.tokens.accessSession(token) ? this.user : null;
  }

  /**
   * A personal login token, as the web UI's "generate token" makes it: base64url (no padding) of
   * `{"username","realm","well_known_link","auth_token"}`. Good for one login.
   */
  mintLoginToken(wellKnownLink: string = DEFAULT_WELL_KNOWN_LINK): string {
    const authToken = base64url(randomBytes(32));
    this.store.loginTokens.add(hashToken(authToken));
    this.ctx.persist();
    const json = JSON.stringify({
      username: this.user,
      realm: 'jottacloud',
      well_known_link: wellKnownLink,
      auth_token: authToken,
    });
    return base64url(json);
  }

  /** Every access token issued so far stops working; refresh tokens still do. */
  expireAccessTokens(): void {
    this.tokens.expireAccessTokens();
    this.ctx.persist();
  }

  /** Every session ends: the next refresh fails and the user must log in again. */
  revokeRefreshTokens(): void {
    this.tokens.revokeRefreshTokens();
    this.ctx.persist();
  }

  /** The legacy login's current SMS verification code, or null when none is outstanding. */
  currentOtp(): string | null {
    return this.legacy.currentOtp();
  }
}
