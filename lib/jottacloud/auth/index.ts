// Signing in to Jottacloud (three kinds, see each file) and refreshing the resulting token set.

export { AuthError, OtpRequiredError, ReloginRequiredError, TokenPersistError, TransientAuthError, redactSecrets } from './errors.js';
export { authContext, refreshTokenSet, tokenSetSchema, type AuthContext, type TokenSet } from './grant.js';
export { loginLegacy, registerLegacyClient, legacyDefaultClient, type LegacyClient, type LegacyLoginOptions } from './legacy.js';
export { decodeLoginToken, loginWithLoginToken, standardClientId } from './standard.js';
export { findService, serviceKeys, whiteLabelServices, type WhiteLabelService } from './services.js';
export { loginWithBrowser, type AuthorizationCodeOptions } from './whitelabel.js';
