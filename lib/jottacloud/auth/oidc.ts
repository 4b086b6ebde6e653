// What the two OpenID Connect kinds (standard and white-label) share: reading a realm's discovery document
// and refreshing with `grant_type=refresh_token`. Keycloak rotates refresh tokens: each refresh answers a new
// one and kills the old, so the caller (tokens.ts) must save the answer before anything uses it.
import { discoveryField, getJson, postForm, tokenAnswer, type AuthContext, type TokenSet } from './grant.js';

export interface Discovery {
  issuer?: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
}

export async function discover(ctx: AuthContext, wellKnownUrl: string): Promise<Discovery> {
  const what = 'Reading the sign-in configuration';
  const doc = await getJson(ctx, wellKnownUrl, what);
  return {
    issuer: typeof doc.issuer === 'string' ? doc.issuer : undefined,
    authorizationEndpoint: discoveryField(doc, 'authorization_endpoint', what),
    tokenEndpoint: discoveryField(doc, 'token_endpoint', what),
  };
}

export async function refreshOidc(ctx: AuthContext, set: TokenSet): Promise<TokenSet> {
  const what = 'Refreshing the Jottacloud token';
  const res = await postForm(
    ctx,
    set.tokenUrl,
    { grant_type: 'refresh_token', refresh_token: set.refreshToken, client_id: set.clientId, client_secret: set.clientSecret },
    what,
  );
  return tokenAnswer(res, { ...set, refreshToken: set.refreshToken }, what);
}
