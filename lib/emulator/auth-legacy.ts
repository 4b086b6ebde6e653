// Emulator auth: the legacy username/password login on api.jottacloud.com (`/auth/v1/token`,
// `/auth/v1/register`) — upper-case grant types, optional SMS two-factor code, per-machine
// client registration. No known service still offers it; the emulator keeps it working so the
// client's legacy path can be tested. The token endpoint was an OAuth 2 server and answers errors
// as one (`{"error","error_description"}`, per the refresh failure quoted in rclone #2992);
// registration, an api.jottacloud.com call, answers in the JSON API's error shape.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomInt, timingSafeEqual } from 'node:crypto';
import {
  BodyTooLargeError,
  NO_STORE,
  basicCredentials,
  formFields,
  readBody,
  sendApiError,
  sendJson,
  sendMethodNotAllowed,
  sendOAuthError,
} from './auth-http.js';
import { hashToken } from './auth-store.js';
import { isAccountName, randomAlnum, type AuthContext } from './auth-tokens.js';

/**
 * The client every legacy login without its own registration uses: rclone ships these (the secret
 * obscured in its source), so the emulator accepts exactly this pair or a registered one.
 */
export const LEGACY_DEFAULT_CLIENT = { id: 'nibfk8biu12ju7hpqomr8b1e40', secret: '4b0uvg43ghpl9ln8no3te9e5tq' } as const;
/** The fixed bearer both rclone and akeamc/jotta send to `/auth/v1/register`. */
export const LEGACY_REGISTER_BEARER = 'c2xrZmpoYWRsZmFramhkc2xma2phaHNkbGZramhhc2xkZmtqaGFzZGxrZmpobGtq';

const TOKEN_PATH = '/auth/v1/token';
const REGISTER_PATH = '/auth/v1/register';
const OTP_LIFETIME_MS = 5 * 60_000;
const BAD_CREDENTIALS = 'org.springframework.security.authentication.BadCredentialsException';
const INVALID_ARGUMENT = 'no.jotta.backup.errors.InvalidArgumentException';
/**
 * The legacy service refused a refresh with the generic OAuth 2 wording (RFC 6749 §5.2), HTTP 400, as
 * quoted in rclone issues #2992 and #3171.
 */
const INVALID_GRANT =
  'The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is ' +
  'invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued ' +
  'to another client.';
/** rclone reads exactly this value to decide that a verification code is needed. */
const OTP_HEADER = { 'X-JottaCloud-OTP': 'required; SMS' };

export interface LegacyOptions {
  password: string;
  otp: boolean;
}

export class LegacyEndpoints {
  /** The last verification code "sent by SMS"; single use, five minutes. */
  private otp: { code: string; expMs: number } | null = null;

  constructor(
    private readonly ctx: AuthContext,
    private readonly opts: LegacyOptions,
  ) {}

  currentOtp(): string | null {
    return this.otp && this.otp.expMs > this.ctx.tokens.now() ? this.otp.code : null;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, origin: string): Promise<boolean> {
    if (url.pathname !== TOKEN_PATH && url.pathname !== REGISTER_PATH) return false;
    if (req.method !== 'POST') {
      sendMethodNotAllowed(res, ['POST']);
      return true;
    }
    let fields: Map<string, string>;
    try {
      fields = formFields(url, await readBody(req));
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      res.setHeader('Connection', 'close');
      sendApiError(res, 413, INVALID_ARGUMENT, 'Request body too large');
      return true;
    }
    if (url.pathname === REGISTER_PATH) this.register(req, res, fields);
    else this.token(req, res, fields, origin);
    return true;
  }

  private register(req: IncomingMessage, res: ServerResponse, fields: Map<string, string>): void {
    if (req.headers.authorization !== `Bearer ${LEGACY_REGISTER_BEARER}`) {
      return sendApiError(res, 401, BAD_CREDENTIALS, 'Bad credentials');
    }
    const deviceId = fields.get('device_id');
    if (!deviceId) return sendApiError(res, 400, INVALID_ARGUMENT, 'Missing parameter: device_id');
    const clientId = randomAlnum(26);
    const clientSecret = randomAlnum(26);
    this.ctx.store.legacyClients.set(clientId, {
      secretHash: hashToken(clientSecret),
      deviceId,
      registeredMs: this.ctx.tokens.now(),
    });
    this.ctx.persist();
    sendJson(res, 200, { client_id: clientId, client_secret: clientSecret }, NO_STORE);
  }

  private token(req: IncomingMessage, res: ServerResponse, fields: Map<string, string>, origin: string): void {
    const grantType = fields.get('grant_type');
    // The service wants the grant types in upper case: rclone rewrites Go oauth2's
    // "grant_type=refresh_token" to "REFRESH_TOKEN" before it sends a legacy refresh.
    if (grantType !== 'PASSWORD' && grantType !== 'REFRESH_TOKEN') {
      if (!grantType) return sendOAuthError(res, 400, 'invalid_request', 'Missing grant type');
      return sendOAuthError(res, 400, 'unsupported_grant_type', `Unsupported grant type: ${grantType}`);
    }
    const clientId = this.authenticateClient(req, fields);
    if (!clientId) return sendOAuthError(res, 401, 'invalid_client', 'Bad client credentials');
    if (grantType === 'PASSWORD') return this.passwordGrant(req, res, fields, clientId, origin);

    const refreshToken = fields.get('refresh_token');
    if (!refreshToken) return sendOAuthError(res, 400, 'invalid_request', 'Missing refresh token');
    const checked = this.ctx.tokens.checkLegacyRefresh(refreshToken, clientId);
    if (!checked) return sendOAuthError(res, 400, 'invalid_grant', INVALID_GRANT);
    const issued = this.ctx.tokens.rotate(checked.sid, checked.session, origin);
    this.ctx.persist();
    this.sendTokens(res, issued);
  }

  private passwordGrant(
    req: IncomingMessage,
    res: ServerResponse,
    fields: Map<string, string>,
    clientId: string,
    origin: string,
  ): void {
    const username = fields.get('username') ?? '';
    const password = fields.get('password') ?? '';
    if (!isAccountName(this.ctx.identity, username) || !sameSecret(password, this.opts.password)) {
      return sendOAuthError(res, 400, 'invalid_grant', 'Bad credentials');
    }
    if (this.opts.otp) {
      const sent = req.headers['x-jottacloud-otp'];
      const given = (Array.isArray(sent) ? sent[0] : sent)?.replace(/[\s-]/g, '');
      if (!given) {
        // First attempt: "send the SMS" and tell the client to come back with the code.
        this.otp = { code: String(randomInt(0, 1_000_000)).padStart(6, '0'), expMs: this.ctx.tokens.now() + OTP_LIFETIME_MS };
        return sendOAuthError(res, 401, 'unauthorized', 'Two-factor authentication required', OTP_HEADER);
      }
      const expected = this.currentOtp();
      if (expected === null || !sameSecret(given, expected)) {
        return sendOAuthError(res, 401, 'unauthorized', 'Invalid verification code');
      }
      this.otp = null;
    }
    const issued = this.ctx.tokens.startSession({ kind: 'legacy', realm: '', clientId, scope: '' }, origin);
    this.ctx.persist();
    this.sendTokens(res, issued);
  }

  /** Form fields or HTTP Basic (Go's oauth2 sends Basic on refresh, then retries with form fields). */
  private authenticateClient(req: IncomingMessage, fields: Map<string, string>): string | undefined {
    const basic = basicCredentials(req.headers.authorization);
    const id = basic?.id ?? fields.get('client_id');
    const secret = basic?.secret ?? fields.get('client_secret') ?? '';
    if (!id) return undefined;
    if (id === LEGACY_DEFAULT_CLIENT.id) return sameSecret(secret, LEGACY_DEFAULT_CLIENT.secret) ? id : undefined;
    const registered = this.ctx.store.legacyClients.get(id);
    return registered && sameSecret(hashToken(secret), registered.secretHash) ? id : undefined;
  }

  private sendTokens(res: ServerResponse, t: { accessToken: string; refreshToken: string; sid: string; expiresIn: number }) {
    sendJson(
      res,
      200,
      {
        token_type: 'bearer', // lower case in a token set rclone saved from the real service (#2992)
        access_token: t.accessToken,
        refresh_token: t.refreshToken,
        session_id: t.sid,
        expires_in: t.expiresIn,
      },
      NO_STORE,
    );
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
