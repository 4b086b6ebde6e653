// The token set every kind of sign-in ends in, and the one way this code talks to a token endpoint or a
// discovery document: form POST / JSON GET, answers checked, failures turned into typed errors that carry
// no secret (axios errors hold the request body, so none of them ever leaves this file).
import type { AxiosInstance, AxiosResponse } from 'axios';
import { z } from 'zod';
import { authKinds } from '../../config/schema.js';
import { rebaseUrl, type Endpoints } from '../endpoints.js';
import { createHttpClient } from '../http.js';
import { AuthError, TransientAuthError } from './errors.js';

export const tokenSetSchema = z
  .object({
    /** How the set was obtained; decides how it is refreshed. */
    kind: z.enum(authKinds),
    /** White-label service key, `jottacloud` for the official service. */
    service: z.string().min(1),
    tokenUrl: z.string().url(),
    clientId: z.string().min(1),
    clientSecret: z.string().optional(),
    accessToken: z.string().min(1),
    refreshToken: z.string().min(1),
    tokenType: z.string().min(1),
    /** ISO 8601 times. */
    obtainedAt: z.string().datetime(),
    expiresAt: z.string().datetime(),
    refreshExpiresAt: z.string().datetime().optional(),
    idToken: z.string().optional(),
    scope: z.string().optional(),
    sessionState: z.string().optional(),
  })
  .strict();

export type TokenSet = z.infer<typeof tokenSetSchema>;

/** What a sign-in or refresh needs: the HTTP transport and where the service lives. */
export interface AuthContext {
  http: AxiosInstance;
  endpoints: Endpoints;
}

export function authContext(endpoints: Endpoints, http?: AxiosInstance): AuthContext {
  return { endpoints, http: http ?? createHttpClient({ userAgent: 'jottadav', timeoutMs: 30_000 }) };
}

/** An OAuth token answer (Keycloak's fields; the legacy endpoint sends a subset plus `session_id`). */
const tokenAnswerSchema = z
  .object({
    access_token: z.string().min(1),
    refresh_token: z.string().min(1).optional(),
    token_type: z.string().optional(),
    expires_in: z.coerce.number().positive().optional(),
    refresh_expires_in: z.coerce.number().nonnegative().optional(),
    id_token: z.string().optional(),
    scope: z.string().optional(),
    session_state: z.string().optional(),
  })
  .passthrough();

/** Access tokens live about an hour when an answer does not say. */
const defaultLifetimeSec = 3600;

/**
 * Builds the token set from a successful answer. `previous` supplies what a refresh answer may leave out
 * (a refresh token when the service does not rotate it, the token URL and client).
 */
export function tokenSetFromAnswer(
  data: unknown,
  base: Pick<TokenSet, 'kind' | 'service' | 'tokenUrl' | 'clientId' | 'clientSecret'> & { refreshToken?: string },
  what: string,
  now = Date.now(),
): TokenSet {
  const parsed = tokenAnswerSchema.safeParse(data);
  if (!parsed.success) throw new AuthError(`${what}: the answer holds no access token`);
  const a = parsed.data;
  const refreshToken = a.refresh_token ?? base.refreshToken;
  if (!refreshToken) throw new AuthError(`${what}: the answer holds no refresh token (was offline_access granted?)`);
  const set: TokenSet = {
    kind: base.kind,
    service: base.service,
    tokenUrl: base.tokenUrl,
    clientId: base.clientId,
    ...(base.clientSecret ? { clientSecret: base.clientSecret } : {}),
    accessToken: a.access_token,
    refreshToken,
    tokenType: a.token_type ?? 'Bearer',
    obtainedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + (a.expires_in ?? defaultLifetimeSec) * 1000).toISOString(),
  };
  // Keycloak reports 0 for offline sessions, which do not expire on their own.
  if (a.refresh_expires_in) set.refreshExpiresAt = new Date(now + a.refresh_expires_in * 1000).toISOString();
  if (a.id_token) set.idToken = a.id_token;
  if (a.scope) set.scope = a.scope;
  if (a.session_state) set.sessionState = a.session_state;
  return set;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the service';
  }
}

/** Sends one request; a connection failure becomes a TransientAuthError naming only the host and the error code. */
async function send(ctx: AuthContext, what: string, run: () => Promise<AxiosResponse>, url: string): Promise<AxiosResponse> {
  try {
    return await run();
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'network error';
    throw new TransientAuthError(`${what}: cannot reach ${hostOf(url)} (${code})`);
  }
}

/** POSTs an `application/x-www-form-urlencoded` body; the URL is moved onto the configured endpoints first. */
export async function postForm(
  ctx: AuthContext,
  url: string,
  form: Record<string, string | undefined>,
  what: string,
  headers: Record<string, string> = {},
): Promise<AxiosResponse> {
  const target = rebaseUrl(url, ctx.endpoints);
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
  return send(
    ctx,
    what,
    () =>
      ctx.http.post(target, body.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers },
        responseType: 'json',
      }),
    target,
  );
}

/** GETs a JSON document (a discovery document), failing with a typed error unless it answers 200 with an object. */
export async function getJson(ctx: AuthContext, url: string, what: string): Promise<Record<string, unknown>> {
  const target = rebaseUrl(url, ctx.endpoints);
  const res = await send(ctx, what, () => ctx.http.get(target, { headers: { Accept: 'application/json' }, responseType: 'json' }), target);
  if (res.status !== 200) throw failure(res, `${what} (${hostOf(target)})`);
  const data: unknown = typeof res.data === 'string' ? safeJson(res.data) : res.data;
  if (typeof data !== 'object' || data === null) throw new AuthError(`${what}: ${hostOf(target)} did not answer with JSON`);
  return data as Record<string, unknown>;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Statuses worth another try: the service is busy or broken for a moment. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * The error for a non-2xx answer: Keycloak's `{"error","error_description"}` or the JSON API's
 * `{"code","message","error_id"}`; transient statuses as TransientAuthError.
 */
export function failure(res: AxiosResponse, what: string): AuthError {
  const data: unknown = typeof res.data === 'string' ? (safeJson(res.data) ?? res.data) : res.data;
  let detail = `HTTP ${res.status}`;
  let oauthError: string | undefined;
  if (typeof data === 'object' && data !== null) {
    const d = data as Record<string, unknown>;
    if (typeof d.error === 'string') {
      oauthError = d.error;
      detail = typeof d.error_description === 'string' ? `${d.error}: ${d.error_description}` : d.error;
    } else if (typeof d.message === 'string' || typeof d.error_id === 'string') {
      oauthError = typeof d.error_id === 'string' ? d.error_id : undefined;
      detail = [d.error_id, d.message].filter((x) => typeof x === 'string' && x).join(': ') || detail;
    }
  } else if (typeof data === 'string' && data.trim() && data.length < 200 && !/[<]/.test(data)) {
    detail = `HTTP ${res.status}: ${data.trim()}`;
  }
  const message = `${what} failed (${detail})`;
  return isTransientStatus(res.status) ? new TransientAuthError(message, res.status, oauthError) : new AuthError(message, res.status, oauthError);
}

/** Checks a token endpoint's answer and returns the token set it carries. */
export function tokenAnswer(res: AxiosResponse, base: Parameters<typeof tokenSetFromAnswer>[1], what: string): TokenSet {
  if (res.status < 200 || res.status >= 300) throw failure(res, what);
  const data: unknown = typeof res.data === 'string' ? safeJson(res.data) : res.data;
  return tokenSetFromAnswer(data, base, what);
}

/** Reads a string field of a discovery document. */
export function discoveryField(doc: Record<string, unknown>, field: string, what: string): string {
  const v = doc[field];
  if (typeof v !== 'string' || !v) throw new AuthError(`${what}: the discovery document has no ${field}`);
  return v;
}

/**
 * One refresh at the set's token endpoint. The legacy endpoint wants the grant type in upper case
 * (`REFRESH_TOKEN`); Keycloak the OAuth spelling. The answer's refresh token replaces the old one, which is dead
 * from now on, so the caller must save the result before using it.
 */
export async function refreshTokenSet(ctx: AuthContext, set: TokenSet): Promise<TokenSet> {
  const what = 'Refreshing the Jottacloud token';
  const res = await postForm(
    ctx,
    set.tokenUrl,
    {
      grant_type: set.kind === 'legacy' ? 'REFRESH_TOKEN' : 'refresh_token',
      refresh_token: set.refreshToken,
      client_id: set.clientId,
      client_secret: set.clientSecret,
    },
    what,
  );
  return tokenAnswer(res, set, what);
}
