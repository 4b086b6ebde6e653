// Legacy sign-in: user name and password sent to `auth/v1/token` on the JSON API host. No known service
// still offers it, but accounts configured that way must keep working. Its quirks:
// - grant types are upper case (`PASSWORD` here, `REFRESH_TOKEN` in grant.ts's refresh), unlike OAuth's;
// - with two-factor authentication the first answer is an error carrying `X-JottaCloud-OTP: required; SMS`
//   (the service has just sent the SMS); the same request is then repeated with `X-Jottacloud-Otp: <code>`;
// - a machine may register its own client (`auth/v1/register`), otherwise the public default client is used.
import { randomBytes } from 'node:crypto';
import type { Endpoints } from '../endpoints.js';
import { AuthError, OtpRequiredError } from './errors.js';
import { postForm, tokenAnswer, type AuthContext, type TokenSet } from './grant.js';

/** The public client the legacy API knows every third-party client by (as rclone ships it). */
export const legacyDefaultClient = { clientId: 'nibfk8biu12ju7hpqomr8b1e40', clientSecret: '4b0uvg43ghpl9ln8no3te9e5tq' } as const;

/** The fixed bearer value the registration call is sent with (it identifies no one; the service expects it). */
const registrationBearer = 'c2xrZmpoYWRsZmFramhkc2xma2phaHNkbGZramhhc2xkZmtqaGFzZGxrZmpobGtq';

export function legacyTokenUrl(endpoints: Endpoints): string {
  return `${endpoints.api}auth/v1/token`;
}

export interface LegacyClient {
  clientId: string;
  clientSecret: string;
}

/** Registers a client for this machine, so that signing in elsewhere does not end this machine's session. */
export async function registerLegacyClient(ctx: AuthContext): Promise<LegacyClient> {
  const what = 'Registering this machine with Jottacloud';
  const deviceId = `jottadav-${randomBytes(12).toString('hex')}`;
  const res = await postForm(ctx, `${ctx.endpoints.api}auth/v1/register`, { device_id: deviceId }, what, {
    Authorization: `Bearer ${registrationBearer}`,
  });
  const data = res.data as { client_id?: unknown; client_secret?: unknown } | undefined;
  if (res.status >= 200 && res.status < 300 && typeof data?.client_id === 'string' && typeof data.client_secret === 'string') {
    return { clientId: data.client_id, clientSecret: data.client_secret };
  }
  throw new AuthError(`${what} failed (HTTP ${res.status})`, res.status);
}

export interface LegacyLoginOptions {
  username: string;
  password: string;
  client?: LegacyClient;
  /** A code the user already has (a second run after the SMS arrived): sent with the first request. */
  otp?: string;
  /** Asked for the SMS code when the service wants one and none was given; without it OtpRequiredError is thrown. */
  askOtp?: () => Promise<string>;
}

function isOtpChallenge(headers: Record<string, unknown>): boolean {
  const value = headers['x-jottacloud-otp'];
  return typeof value === 'string' && /^\s*required/i.test(value);
}

/** Codes are shown as "123-456" in the SMS; the service wants the six digits. */
function normaliseOtp(code: string): string {
  const digits = code.replace(/[\s-]/g, '');
  if (!/^\d{4,8}$/.test(digits)) throw new AuthError('The verification code must be the digits from the SMS');
  return digits;
}

export async function loginLegacy(ctx: AuthContext, options: LegacyLoginOptions): Promise<TokenSet> {
  const client = options.client ?? legacyDefaultClient;
  const tokenUrl = legacyTokenUrl(ctx.endpoints);
  const what = 'Signing in with user name and password';
  const form = {
    grant_type: 'PASSWORD',
    username: options.username,
    password: options.password,
    client_id: client.clientId,
    client_secret: client.clientSecret,
  };
  const attempt = (otp?: string) => postForm(ctx, tokenUrl, form, what, otp ? { 'X-Jottacloud-Otp': normaliseOtp(otp) } : {});
  let res = await attempt(options.otp);
  if (res.status >= 400 && isOtpChallenge(res.headers as Record<string, unknown>)) {
    if (options.otp) throw new AuthError(`${what} failed: the verification code was not accepted; run the login again without --otp to get a new SMS`, res.status);
    if (!options.askOtp) throw new OtpRequiredError();
    res = await attempt(await options.askOtp());
    if (res.status >= 400 && isOtpChallenge(res.headers as Record<string, unknown>)) {
      throw new AuthError(`${what} failed: the verification code was not accepted`, res.status);
    }
  }
  return tokenAnswer(res, { kind: 'legacy', service: 'jottacloud', tokenUrl, clientId: client.clientId, clientSecret: client.clientSecret }, what);
}
