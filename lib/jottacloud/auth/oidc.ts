// What the two OpenID Connect kinds (standard and white-label) share: reading a realm's discovery document.
import { discoveryField, getJson, type AuthContext } from './grant.js';

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
