// Standard sign-in with a personal login token (Settings → Security in the web UI). The token is
// base64url (no padding) of JSON {username, realm, well_known_link, auth_token}; it is single-use. The client
// reads the realm's discovery document and trades the auth_token for a token set with a password grant as
// the official command-line client (`jottacli`) does.
import { AuthError } from './errors.js';
import { postForm, tokenAnswer, type AuthContext, type TokenSet } from './grant.js';
import { discover } from './oidc.js';

export const standardClientId = 'jottacli';
const standardScope = 'openid offline_access';

export interface LoginToken {
  username: string;
  realm: string;
  wellKnownLink: string;
  authToken: string;
}

const badToken =
  'The personal login token is not valid: paste the whole text generated under Settings → Security in the Jottacloud web UI (each one works once)';

export function decodeLoginToken(token: string): LoginToken {
  const text = token.trim();
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text)) throw new AuthError(badToken);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError(badToken);
  }
  const j = json as Record<string, unknown>;
  const fields = ['username', 'realm', 'well_known_link', 'auth_token'] as const;
  if (typeof json !== 'object' || json === null || fields.some((f) => typeof j[f] !== 'string' || !j[f])) throw new AuthError(badToken);
  try {
    new URL(j.well_known_link as string);
  } catch {
    throw new AuthError(badToken);
  }
  return { username: j.username as string, realm: j.realm as string, wellKnownLink: j.well_known_link as string, authToken: j.auth_token as string };
}

export async function loginWithLoginToken(ctx: AuthContext, loginToken: string): Promise<TokenSet> {
  const token = decodeLoginToken(loginToken);
  const discovery = await discover(ctx, token.wellKnownLink);
  const what = 'Signing in with the personal login token';
  const res = await postForm(
    ctx,
    discovery.tokenEndpoint,
    { client_id: standardClientId, grant_type: 'password', password: token.authToken, scope: standardScope, username: token.username },
    what,
  );
  if (res.status === 400 || res.status === 401) {
    const err = (res.data as { error?: string } | undefined)?.error;
    if (err === 'invalid_grant') {
      throw new AuthError(`${what} failed: Jottacloud refused the token (it works only once); generate a new one under Settings → Security`, res.status, err);
    }
  }
  return tokenAnswer(res, { kind: 'standard', service: 'jottacloud', tokenUrl: discovery.tokenEndpoint, clientId: standardClientId }, what);
}
