// Emulator auth: the Keycloak side (`/auth/realms/<realm>/…`) — OpenID discovery, the token
// endpoint (password grant with personal login tokens, authorization code, refresh rotation),
// the browser authorization endpoint (signs the test user in at once), userinfo, certs, logout
// and revocation. Status codes and error bodies follow what Keycloak answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import {
  BodyTooLargeError,
  NO_STORE,
  basicCredentials,
  bearerToken,
  formFields,
  readBody,
  sendHtml,
  sendJson,
  sendMethodNotAllowed,
  sendOAuthError,
} from './auth-http.js';
import { grantScope, isRealm, realmClient, type RealmClient } from './auth-realms.js';
import { hashToken } from './auth-store.js';
import { isAccountName, type AuthContext, type IssuedTokens, type RefreshRefusal } from './auth-tokens.js';

/** Keycloak's default "client login timeout": a code must be exchanged within a minute. */
const CODE_LIFETIME_MS = 60_000;

interface PendingCode {
  realm: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  sid: string;
  nonce?: string;
  challenge?: { value: string; method: 'plain' | 'S256' };
  expMs: number;
}

/** One token-endpoint call, after the client is known: what every grant works from. */
interface TokenRequest {
  res: ServerResponse;
  client: RealmClient;
  realm: string;
  issuer: string;
  field: (name: string) => string | undefined;
}

interface Route {
  methods: string[];
  serve: (req: IncomingMessage, res: ServerResponse, url: URL, realm: string, origin: string) => Promise<void>;
}

const REALM_PATH = /^\/auth\/realms\/([^/]+)(\/.*)?$/;

export class KeycloakEndpoints {
  /** Codes live a minute and are never persisted: a restart in between simply fails that login. */
  private readonly codes = new Map<string, PendingCode>();
  private readonly routes: ReadonlyMap<string, Route>;

  constructor(private readonly ctx: AuthContext) {
    this.routes = new Map<string, Route>([
      ['/.well-known/openid-configuration', { methods: ['GET', 'HEAD'], serve: async (q, s, _u, r, o) => this.discovery(q, s, r, o) }],
      ['/protocol/openid-connect/token', { methods: ['POST'], serve: (q, s, _u, r, o) => this.token(q, s, r, o) }],
      ['/protocol/openid-connect/auth', { methods: ['GET', 'POST'], serve: (q, s, u, r, o) => this.authorize(q, s, u, r, o) }],
      ['/protocol/openid-connect/userinfo', { methods: ['GET', 'POST'], serve: (q, s, _u, r) => this.userinfo(q, s, r) }],
      ['/protocol/openid-connect/certs', { methods: ['GET', 'HEAD'], serve: async (_q, s) => this.certs(s) }],
      ['/protocol/openid-connect/logout', { methods: ['GET', 'POST'], serve: (q, s, u, r) => this.logout(q, s, u, r) }],
      ['/protocol/openid-connect/revoke', { methods: ['POST'], serve: (q, s, _u, r) => this.revoke(q, s, r) }],
    ]);
  }

  /** Serves `/auth/realms/…`; false for every other path. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, origin: string): Promise<boolean> {
    const m = REALM_PATH.exec(url.pathname);
    if (!m) return false;
    let realm: string;
    try {
      realm = decodeURIComponent(m[1]!);
    } catch {
      realm = '';
    }
    if (!isRealm(realm)) {
      sendJson(res, 404, { error: 'Realm does not exist' });
      return true;
    }
    const route = this.routes.get(m[2] ?? '');
    if (!route) {
      sendJson(res, 404, { error: 'Unable to find matching target resource method' });
      return true;
    }
    if (!route.methods.includes(req.method ?? '')) {
      sendMethodNotAllowed(res, route.methods);
      return true;
    }
    try {
      await route.serve(req, res, url, realm, origin);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      res.setHeader('Connection', 'close');
      sendOAuthError(res, 413, 'invalid_request', 'Request body too large');
    }
    return true;
  }

  private discovery(req: IncomingMessage, res: ServerResponse, realm: string, origin: string): void {
    const issuer = issuerOf(origin, realm);
    const oidc = `${issuer}/protocol/openid-connect`;
    const algs = ['RS256'];
    const doc = {
      issuer,
      authorization_endpoint: `${oidc}/auth`,
      token_endpoint: `${oidc}/token`,
      userinfo_endpoint: `${oidc}/userinfo`,
      end_session_endpoint: `${oidc}/logout`,
      frontchannel_logout_session_supported: true,
      frontchannel_logout_supported: true,
      jwks_uri: `${oidc}/certs`,
      revocation_endpoint: `${oidc}/revoke`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'password'],
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: algs,
      userinfo_signing_alg_values_supported: algs,
      request_object_signing_alg_values_supported: ['none'],
      response_modes_supported: ['query'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      claims_supported: ['aud', 'sub', 'iss', 'auth_time', 'name', 'preferred_username', 'email', 'acr'],
      claim_types_supported: ['normal'],
      claims_parameter_supported: false,
      scopes_supported: ['openid', 'offline_access', 'jotta-default', 'profile', 'email'],
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      code_challenge_methods_supported: ['plain', 'S256'],
      tls_client_certificate_bound_access_tokens: false,
      backchannel_logout_supported: false,
      backchannel_logout_session_supported: false,
    };
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end();
      return;
    }
    sendJson(res, 200, doc);
  }

  private certs(res: ServerResponse): void {
    sendJson(res, 200, this.ctx.store.key.jwks());
  }

  private async token(req: IncomingMessage, res: ServerResponse, realm: string, origin: string) {
    const form = new URLSearchParams(await readBody(req));
    const field = (name: string) => form.get(name) ?? undefined;
    const grantType = field('grant_type');
    if (!grantType) return sendOAuthError(res, 400, 'invalid_request', 'Missing form parameter: grant_type');
    const client = this.authenticateClient(req, res, realm, field('client_id'));
    if (!client) return;
    const request: TokenRequest = { res, client, realm, issuer: issuerOf(origin, realm), field };
    switch (grantType) {
      case 'password':
        return this.passwordGrant(request);
      case 'authorization_code':
        return this.codeGrant(request);
      case 'refresh_token':
        return this.refreshGrant(request);
      default:
        return sendOAuthError(res, 400, 'unsupported_grant_type', 'Unsupported grant_type');
    }
  }

  /**
   * Client authentication, either as form `client_id` or HTTP Basic: Go's oauth2 (rclone) first sends
   * `Basic base64(jottacli:)` and retries with the form field after a 401. The emulator's clients are
   * public, so a secret, if any, is not checked.
   */
  private authenticateClient(
    req: IncomingMessage,
    res: ServerResponse,
    realm: string,
    formClientId: string | undefined,
  ): RealmClient | undefined {
    const basic = basicCredentials(req.headers.authorization);
    if (basic && formClientId !== undefined && basic.id !== formClientId) {
      sendOAuthError(res, 400, 'invalid_request', 'Parameter client_id does not match the Authorization header');
      return undefined;
    }
    const clientId = basic?.id ?? formClientId;
    if (!clientId) {
      sendOAuthError(res, 401, 'invalid_client', 'Missing parameter: client_id');
      return undefined;
    }
    const client = realmClient(realm, clientId);
    if (!client) sendOAuthError(res, 401, 'invalid_client', 'Invalid client or Invalid client credentials');
    return client;
  }

  /** Personal login token: `password` is its `auth_token`, good for exactly one login. */
  private passwordGrant({ res, client, realm, issuer, field }: TokenRequest): void {
    if (!client.passwordGrant) {
      return sendOAuthError(res, 400, 'unauthorized_client', 'Client not allowed for direct access grants');
    }
    const username = field('username');
    const password = field('password');
    if (!username) return sendOAuthError(res, 400, 'invalid_request', 'Missing parameter: username');
    const scope = grantScope(field('scope'));
    if ('invalid' in scope) return sendOAuthError(res, 400, 'invalid_scope', `Invalid scopes: ${scope.invalid.join(' ')}`);
    const loginHash = password ? hashToken(password) : '';
    if (!isAccountName(this.ctx.identity, username) || !this.ctx.store.loginTokens.has(loginHash)) {
      return sendOAuthError(res, 401, 'invalid_grant', 'Invalid user credentials');
    }
    this.ctx.store.loginTokens.delete(loginHash);
    const issued = this.ctx.tokens.startSession({ kind: 'oidc', realm, clientId: client.id, scope: scope.scope }, issuer);
    this.ctx.persist();
    sendTokenSet(res, issued);
  }

  private codeGrant({ res, client, realm, issuer, field }: TokenRequest): void {
    if (!client.authorizationCode) {
      return sendOAuthError(res, 400, 'unauthorized_client', 'Client not allowed to exchange code');
    }
    const code = field('code');
    if (!code) return sendOAuthError(res, 400, 'invalid_request', 'Missing parameter: code');
    const pending = this.codes.get(code);
    this.codes.delete(code); // single use, whatever happens next
    if (!pending || pending.expMs <= this.ctx.tokens.now() || pending.realm !== realm) {
      return sendOAuthError(res, 400, 'invalid_grant', 'Code not valid');
    }
    if (pending.clientId !== client.id) return sendOAuthError(res, 400, 'invalid_grant', 'Auth error');
    if (field('redirect_uri') !== pending.redirectUri) {
      return sendOAuthError(res, 400, 'invalid_grant', 'Incorrect redirect_uri');
    }
    if (pending.challenge) {
      const verifier = field('code_verifier');
      if (!verifier) return sendOAuthError(res, 400, 'invalid_grant', 'PKCE code verifier not specified');
      const derived =
        pending.challenge.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (derived !== pending.challenge.value) {
        return sendOAuthError(res, 400, 'invalid_grant', 'PKCE verification failed: Invalid code verifier');
      }
    }
    const issued = this.ctx.tokens.startSession(
      { kind: 'oidc', realm, clientId: client.id, scope: pending.scope },
      issuer,
      { sid: pending.sid, ...(pending.nonce !== undefined ? { nonce: pending.nonce } : {}) },
    );
    this.ctx.persist();
    sendTokenSet(res, issued);
  }

  private refreshGrant({ res, client, realm, issuer, field }: TokenRequest): void {
    const refreshToken = field('refresh_token');
    if (!refreshToken) return sendOAuthError(res, 400, 'invalid_request', 'Missing parameter: refresh_token');
    const checked = this.ctx.tokens.checkRefresh(refreshToken, { realm, clientId: client.id });
    if ('refusal' in checked) {
      this.ctx.persist(); // a reuse has just killed a session: that must survive a restart too
      return sendOAuthError(res, 400, 'invalid_grant', REFUSALS[checked.refusal]);
    }
    const issued = this.ctx.tokens.rotate(checked.sid, checked.session, issuer);
    this.ctx.persist();
    sendTokenSet(res, issued);
  }

  /** The browser login: no page to fill in, the emulator's one user is signed in at once. */
  private async authorize(req: IncomingMessage, res: ServerResponse, url: URL, realm: string, origin: string) {
    const fields = req.method === 'POST' ? formFields(url, await readBody(req)) : formFields(url, '');
    const field = (name: string) => fields.get(name);
    const clientId = field('client_id');
    if (!clientId) return sendHtml(res, 400, 'We are sorry...', 'Invalid Request');
    const client = realmClient(realm, clientId);
    if (!client) return sendHtml(res, 400, 'We are sorry...', 'Client not found.');
    const redirectUri = field('redirect_uri');
    if (!redirectUri || !isLoopbackRedirect(redirectUri)) {
      return sendHtml(res, 400, 'We are sorry...', 'Invalid parameter: redirect_uri');
    }
    const issuer = issuerOf(origin, realm);
    const state = field('state');
    const back = (params: Record<string, string>) => {
      const target = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) target.searchParams.append(k, v);
      if (state !== undefined) target.searchParams.append('state', state);
      res.writeHead(302, { Location: target.toString(), 'Content-Length': 0 });
      res.end();
    };
    const fail = (error: string, description: string) => back({ error, error_description: description });
    const responseType = field('response_type');
    if (!responseType) return fail('invalid_request', 'Missing parameter: response_type');
    if (responseType !== 'code' || !client.authorizationCode) {
      return fail(
        'unauthorized_client',
        'Client is not allowed to initiate browser login with given response_type. ' +
          (client.authorizationCode ? 'Implicit flow is disabled for the client.' : 'Standard flow is disabled for the client.'),
      );
    }
    const scope = grantScope(field('scope'));
    if ('invalid' in scope) return fail('invalid_scope', `Invalid scopes: ${scope.invalid.join(' ')}`);
    const challengeValue = field('code_challenge');
    const challengeMethod = field('code_challenge_method') ?? (challengeValue ? 'plain' : undefined);
    if (challengeMethod !== undefined && challengeMethod !== 'plain' && challengeMethod !== 'S256') {
      return fail('invalid_request', 'Invalid parameter: code challenge method is not matching the configured one');
    }
    if (challengeMethod && !challengeValue) return fail('invalid_request', 'Missing parameter: code_challenge');

    const now = this.ctx.tokens.now();
    for (const [c, p] of this.codes) if (p.expMs <= now) this.codes.delete(c);
    const sid = randomUUID();
    const code = `${randomUUID()}.${sid}.${randomUUID()}`;
    const nonce = field('nonce');
    this.codes.set(code, {
      realm,
      clientId: client.id,
      redirectUri,
      scope: scope.scope,
      sid,
      ...(nonce !== undefined ? { nonce } : {}),
      ...(challengeMethod && challengeValue ? { challenge: { value: challengeValue, method: challengeMethod } } : {}),
      expMs: now + CODE_LIFETIME_MS,
    });
    back({ session_state: sid, iss: issuer, code });
  }

  private async userinfo(req: IncomingMessage, res: ServerResponse, realm: string) {
    const body = req.method === 'POST' ? await readBody(req) : '';
    const token = bearerToken(req.headers.authorization) ?? new URLSearchParams(body).get('access_token');
    const challenge = (error: string, description: string) =>
      sendOAuthError(res, 401, error, description, {
        'WWW-Authenticate': `Bearer realm="${realm}", error="${error}", error_description="${description}"`,
      });
    if (!token) return challenge('invalid_request', 'Token not provided');
    const found = this.ctx.tokens.accessSession(token);
    if (!found || found.session.kind !== 'oidc' || found.session.realm !== realm) {
      return challenge('invalid_token', 'Token verification failed');
    }
    if (found.session.state !== 'active') {
      return challenge('invalid_token', "User session not found or doesn't have client attached on it");
    }
    sendJson(res, 200, this.ctx.tokens.profile(realm));
  }

  /**
   * RP-initiated logout. POST with the refresh token (what a desktop client sends) ends the session
   * and answers 204; the browser form (GET with `id_token_hint`) ends it and redirects back.
   */
  private async logout(req: IncomingMessage, res: ServerResponse, url: URL, realm: string) {
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const client = this.authenticateClient(req, res, realm, form.get('client_id') ?? undefined);
      if (!client) return;
      const token = form.get('refresh_token');
      if (!token) return sendOAuthError(res, 400, 'invalid_request', 'No refresh token');
      const sid = this.sessionOf(token, realm, client.id);
      if (!sid) return sendOAuthError(res, 400, 'invalid_grant', 'Invalid refresh token');
      this.ctx.tokens.endSession(sid);
      this.ctx.persist();
      res.writeHead(204, NO_STORE);
      res.end();
      return;
    }
    const hint = url.searchParams.get('id_token_hint');
    const payload = hint ? this.ctx.store.key.verify(hint) : null;
    if (payload && typeof payload.sid === 'string') {
      this.ctx.tokens.endSession(payload.sid);
      this.ctx.persist();
    }
    const back = url.searchParams.get('post_logout_redirect_uri');
    if (back && isLoopbackRedirect(back)) {
      const target = new URL(back);
      const state = url.searchParams.get('state');
      if (state !== null) target.searchParams.append('state', state);
      res.writeHead(302, { Location: target.toString(), 'Content-Length': 0 });
      res.end();
      return;
    }
    sendHtml(res, 200, 'Logging out', 'You are logged out');
  }

  /** RFC 7009: answers 200 whether or not the token was known, so it reveals nothing. */
  private async revoke(req: IncomingMessage, res: ServerResponse, realm: string) {
    const form = new URLSearchParams(await readBody(req));
    const client = this.authenticateClient(req, res, realm, form.get('client_id') ?? undefined);
    if (!client) return;
    const token = form.get('token');
    if (!token) return sendOAuthError(res, 400, 'invalid_request', 'Missing token parameter');
    const sid = this.sessionOf(token, realm, client.id);
    if (sid) this.ctx.tokens.endSession(sid);
    else this.ctx.tokens.revokeAccessToken(token);
    this.ctx.persist();
    res.writeHead(200, { ...NO_STORE, 'Content-Length': 0 });
    res.end();
  }

  /** The session a refresh token of this realm and client belongs to (spent or not), if any. */
  private sessionOf(token: string, realm: string, clientId: string): string | undefined {
    const payload = this.ctx.store.key.verify(token);
    const sid = payload?.sid;
    if (typeof sid !== 'string' || (payload?.typ !== 'Refresh' && payload?.typ !== 'Offline')) return undefined;
    const session = this.ctx.store.sessions.get(sid);
    return session && session.kind === 'oidc' && session.realm === realm && session.clientId === clientId
      ? sid
      : undefined;
  }
}

const REFUSALS: Record<RefreshRefusal, string> = {
  invalid: 'Invalid refresh token',
  expired: 'Token is not active',
  'session-not-active': 'Session not active',
  'session-lost-client': "Session doesn't have required client",
  'wrong-client': 'Unmatching clients',
};

function sendTokenSet(res: ServerResponse, t: IssuedTokens): void {
  sendJson(
    res,
    200,
    {
      access_token: t.accessToken,
      expires_in: t.expiresIn,
      refresh_expires_in: t.refreshExpiresIn,
      refresh_token: t.refreshToken,
      token_type: 'Bearer',
      ...(t.idToken !== undefined ? { id_token: t.idToken } : {}),
      'not-before-policy': 0,
      session_state: t.sid,
      scope: t.session.scope,
    },
    NO_STORE,
  );
}

export function issuerOf(origin: string, realm: string): string {
  return `${origin}/auth/realms/${realm}`;
}

/** Desktop clients get the code back on a local port (rclone: http://localhost:53682/). */
function isLoopbackRedirect(uri: string): boolean {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
}
