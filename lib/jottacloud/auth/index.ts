// Signing in to Jottacloud (three kinds, see each file) and refreshing the resulting token set.
import type { AuthContext, TokenSet } from './grant.js';
import { refreshLegacy } from './legacy.js';
import { refreshOidc } from './oidc.js';

export { AuthError, OtpRequiredError, ReloginRequiredError, TokenPersistError, TransientAuthError, redactSecrets } from './errors.js';
export { authContext, tokenSetSchema, type AuthContext, type TokenSet } from './grant.js';
export { loginLegacy, registerLegacyClient, legacyDefaultClient, type LegacyClient, type LegacyLoginOptions } from './legacy.js';
export { decodeLoginToken, loginWithLoginToken, standardClientId } from './standard.js';
export { findService, serviceKeys, whiteLabelServices, type WhiteLabelService } from './services.js';
export { loginWithBrowser, type AuthorizationCodeOptions } from './whitelabel.js';

/** One refresh of `set` at its token endpoint, the way its kind requires. Does not save anything. */
export function refreshTokenSet(ctx: AuthContext, set: TokenSet): Promise<TokenSet> {
  return set.kind === 'legacy' ? refreshLegacy(ctx, set) : refreshOidc(ctx, set);
}
