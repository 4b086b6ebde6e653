// The ways signing in and refreshing can fail, as typed errors whose messages a user can act on, and the
// one redaction pass every auth error message goes through (tokens, passwords, codes never reach a log).
import { redactSecrets as redactApiSecrets } from '../errors.js';

/** Every auth failure. `status` is the HTTP status when the service answered; `oauthError` its `error` code. */
export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    message: string,
    readonly status?: number,
    readonly oauthError?: string,
  ) {
    super(redactSecrets(message));
  }
}

/**
 * The token set can no longer be refreshed (spent or revoked refresh token, missing token store): only a new
 * `jottadav login` helps, so nothing retries this.
 */
export class ReloginRequiredError extends AuthError {
  override name = 'ReloginRequiredError';
  constructor(reason: string, status?: number, oauthError?: string) {
    super(`The saved Jottacloud sign-in can no longer be used (${reason}); run \`jottadav login\` again.`, status, oauthError);
  }
}

/** The service or the network failed in a way that may pass (5xx, 429, connection errors): worth a bounded retry. */
export class TransientAuthError extends AuthError {
  override name = 'TransientAuthError';
}

/**
 * A refresh succeeded but the new token set could not be saved. The old refresh token is spent at the service
 * either way, so the new token is not used (a later process could not continue from it) and the user is told.
 */
export class TokenPersistError extends AuthError {
  override name = 'TokenPersistError';
  constructor(where: string, cause: unknown) {
    super(
      `The Jottacloud token was refreshed but could not be saved to ${where} (${describeCause(cause)}); ` +
        'the previous refresh token is now spent, so fix the problem and run `jottadav login` again.',
    );
  }
}

/** Legacy sign-in: the account uses two-factor authentication and the service has just sent a code by SMS. */
export class OtpRequiredError extends AuthError {
  override name = 'OtpRequiredError';
  constructor() {
    super('This account uses two-factor authentication: Jottacloud has sent a code by SMS; run the login again with --otp <code>.');
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return (cause as NodeJS.ErrnoException).code ?? cause.message;
  return String(cause);
}

// The API client's redaction covers tokens, passwords and Authorization values; sign-in adds one-time
// secrets of its own: authorization codes and SMS codes.
const signInSecrets: Array<[RegExp, string]> = [
  [/\b(code|otp)=[^&\s"'<]*/gi, '$1=[redacted]'],
  [/("(?:code|otp)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"[redacted]"'],
  [/\b(x-jottacloud-otp|cookie|set-cookie)(["']?\s*[:=]\s*["']?)[^"'\n,}]+/gi, '$1$2[redacted]'],
];

/** Replaces anything that looks like a credential in `text` with `[redacted]`. */
export function redactSecrets(text: string): string {
  let out = redactApiSecrets(text);
  for (const [re, replacement] of signInSecrets) out = out.replace(re, replacement);
  return out;
}
