// "Traditional" sign-in for the official service and every white-label one: the OAuth authorization-code
// flow in the user's browser. A one-shot HTTP server on 127.0.0.1 receives the redirect, the code
// is exchanged at the realm's token endpoint (with PKCE, so a code seen by anyone else is worthless). The
// wait is bounded; the server is closed whatever happens.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rebaseUrl } from '../endpoints.js';
import { AuthError } from './errors.js';
import { postForm, tokenAnswer, type AuthContext, type TokenSet } from './grant.js';
import { discover } from './oidc.js';
import { discoveryUrl, type WhiteLabelService } from './services.js';

export interface AuthorizationCodeOptions {
  service: WhiteLabelService;
  /** Shown the URL the user must open (printed by the CLI; tests follow it with an HTTP client). */
  openUrl: (url: string) => void | Promise<void>;
  /** How long to wait for the browser to come back. Default 5 minutes. */
  timeoutMs?: number;
  /**
   * Port of the one-shot callback server. Default 53682, redirecting to `http://localhost:53682/`: the address
   * rclone's Jottacloud backend uses, so the services' desktop clients are known to accept it. 0 = any free port
   * (redirecting to `http://127.0.0.1:<port>/`), for services that accept any loopback port.
   */
  callbackPort?: number;
  signal?: AbortSignal;
}

const page = (title: string, text: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;

interface Callback {
  redirectUri: string;
  code: Promise<string>;
  close(): void;
}

export const DEFAULT_CALLBACK_PORT = 53682;

/** Listens on 127.0.0.1 for the single redirect carrying `code` and the expected `state`. */
async function listenForCallback(state: string, timeoutMs: number, port: number, signal?: AbortSignal): Promise<Callback> {
  let settle: { resolve: (code: string) => void; reject: (err: Error) => void } | undefined;
  const code = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  // A timeout may fire while the caller is still showing the URL; it is awaited right after.
  code.catch(() => undefined);
  const close = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    server.close();
    server.closeAllConnections();
  };
  const finish = (err: Error | null, value?: string) => {
    close();
    if (err) settle!.reject(err);
    else settle!.resolve(value!);
  };
  const onAbort = () => finish(new AuthError('The browser sign-in was cancelled'));

  const timer = setTimeout(
    () => finish(new AuthError(`No answer from the browser within ${Math.round(timeoutMs / 1000)} seconds; run \`jottadav login\` again`)),
    timeoutMs,
  );
  timer.unref();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
      return;
    }
    const error = url.searchParams.get('error');
    const gotCode = url.searchParams.get('code');
    const gotState = url.searchParams.get('state');
    // A request without our state is not the service's redirect (or a forged one): ignore it, keep waiting.
    if (gotState !== state) {
      res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' }).end(page('Sign-in not recognised', 'This request does not belong to the running jottadav login.'));
      return;
    }
    if (error) {
      const description = url.searchParams.get('error_description');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', Connection: 'close' }).end(page('Sign-in failed', 'Return to the terminal.'));
      finish(new AuthError(`The service refused the sign-in (${description ? `${error}: ${description}` : error})`, undefined, error));
      return;
    }
    if (!gotCode) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Missing code');
      return;
    }
    res
      .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', Connection: 'close' })
      .end(page('Signed in', 'jottadav has been signed in. You can close this window and return to the terminal.'));
    finish(null, gotCode);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      close();
      reject(
        err.code === 'EADDRINUSE'
          ? new AuthError(`Port ${port} on 127.0.0.1 is in use, so the browser cannot come back to it; close what uses it or pass --callback-port`)
          : err,
      );
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const redirectUri = port === 0 ? `http://127.0.0.1:${bound}/` : `http://localhost:${bound}/`;
  return { redirectUri, code, close };
}

export async function loginWithBrowser(ctx: AuthContext, options: AuthorizationCodeOptions): Promise<TokenSet> {
  const { service } = options;
  const discovery = await discover(ctx, discoveryUrl(service, ctx.endpoints));
  const state = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const callback = await listenForCallback(state, options.timeoutMs ?? 5 * 60_000, options.callbackPort ?? DEFAULT_CALLBACK_PORT, options.signal);
  try {
    const auth = new URL(rebaseUrl(discovery.authorizationEndpoint, ctx.endpoints));
    auth.searchParams.set('client_id', service.clientId);
    auth.searchParams.set('redirect_uri', callback.redirectUri);
    auth.searchParams.set('response_type', 'code');
    auth.searchParams.set('scope', service.scopes.join(' '));
    auth.searchParams.set('state', state);
    auth.searchParams.set('code_challenge', challenge);
    auth.searchParams.set('code_challenge_method', 'S256');
    await options.openUrl(auth.toString());
    const code = await callback.code;
    const what = `Signing in to ${service.name}`;
    const res = await postForm(
      ctx,
      discovery.tokenEndpoint,
      { grant_type: 'authorization_code', code, redirect_uri: callback.redirectUri, client_id: service.clientId, code_verifier: verifier },
      what,
    );
    return tokenAnswer(res, { kind: 'whitelabel', service: service.key, tokenUrl: discovery.tokenEndpoint, clientId: service.clientId }, what);
  } finally {
    callback.close();
  }
}
