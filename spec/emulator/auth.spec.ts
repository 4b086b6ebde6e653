// The emulator's authentication (lib/emulator/auth.ts), over real HTTP: a bare node:http server
// routes to EmulatorAuth.handle like the emulator core does, plus a /probe route that checks the
// bearer token with EmulatorAuth.authenticate the way JFS and the JSON API do.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_LEGACY_PASSWORD,
  DEFAULT_WELL_KNOWN_LINK,
  EmulatorAuth,
  LEGACY_DEFAULT_CLIENT,
  LEGACY_REGISTER_BEARER,
  type AuthOptions,
} from '../../lib/emulator/auth.js';

const USER = 'emu-user';
const REALMS = [
  'jottacloud',
  'elgiganten',
  'elkjop',
  'elko',
  'gigantti',
  'letsgo',
  'mediamarkt',
  'onlime_wl',
  'phonero',
  'comhem',
  'get',
  'telia_se',
];
const TOKEN_PATH = '/auth/realms/jottacloud/protocol/openid-connect/token';
const SPENT = { error: 'invalid_grant', error_description: "Session doesn't have required client" };

interface Emu {
  auth: EmulatorAuth;
  origin: string;
  close(): Promise<void>;
}

const open: Emu[] = [];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function startEmu(opts: Partial<AuthOptions> = {}): Promise<Emu> {
  const auth = new EmulatorAuth({ user: USER, ...opts });
  const server = createServer((req, res) => {
    const forwarded = req.headers['x-forwarded-host'];
    const origin = typeof forwarded === 'string' ? `https://${forwarded}` : `http://127.0.0.1:${port}`;
    const url = new URL(req.url ?? '/', origin);
    auth.handle(req, res, url, origin).then(
      (served) => {
        if (served) return;
        if (url.pathname === '/probe') {
          const who = auth.authenticate(req.headers.authorization);
          res.writeHead(who ? 200 : 401).end(who ?? 'unauthorized');
          return;
        }
        res.writeHead(404).end('not auth');
      },
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  const port = await listen(server);
  const emu = { auth, origin: `http://127.0.0.1:${port}`, close: () => shut(server) };
  open.push(emu);
  return emu;
}

afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

function form(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  };
}

function basic(id: string, secret = ''): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

function claims(jwt: unknown): Record<string, unknown> {
  expect(jwt).to.be.a('string');
  const parts = (jwt as string).split('.');
  expect(parts).to.have.length(3);
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function probe(emu: Emu, accessToken: unknown): Promise<number> {
  return (await fetch(`${emu.origin}/probe`, { headers: { Authorization: `Bearer ${String(accessToken)}` } })).status;
}

/** What rclone's "standard" config does with a personal login token. */
async function loginWithToken(emu: Emu, loginToken = emu.auth.mintLoginToken()): Promise<Record<string, unknown>> {
  const decoded = JSON.parse(Buffer.from(loginToken, 'base64url').toString('utf8')) as Record<string, string>;
  const res = await fetch(`${emu.origin}${TOKEN_PATH}`, {
    ...form({
      client_id: 'jottacli',
      grant_type: 'password',
      password: decoded.auth_token!,
      scope: 'openid offline_access',
      username: decoded.username!,
    }),
  });
  expect(res.status).to.equal(200);
  return json(res);
}

/** Go oauth2's refresh as rclone sends it: client id in HTTP Basic with an empty secret. */
async function refresh(emu: Emu, refreshToken: unknown, realm = 'jottacloud', client = 'jottacli'): Promise<Response> {
  return fetch(`${emu.origin}/auth/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(client) },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: String(refreshToken) }).toString(),
  });
}

/** A loopback "browser callback" server like rclone's on :53682; records the query it got. */
async function startCallback(): Promise<{ uri: string; got: () => URLSearchParams | undefined }> {
  let got: URLSearchParams | undefined;
  const server = createServer((req, res) => {
    got = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
    res.writeHead(200).end('done');
  });
  const port = await listen(server);
  open.push({ auth: undefined as unknown as EmulatorAuth, origin: '', close: () => shut(server) });
  return { uri: `http://127.0.0.1:${port}/callback`, got: () => got };
}

async function authorize(
  emu: Emu,
  params: Record<string, string>,
  realm = 'jottacloud',
): Promise<Response> {
  const q = new URLSearchParams(params).toString();
  return fetch(`${emu.origin}/auth/realms/${realm}/protocol/openid-connect/auth?${q}`, { redirect: 'manual' });
}

async function codeFor(emu: Emu, redirectUri: string, extra: Record<string, string> = {}, realm = 'jottacloud') {
  const res = await authorize(
    emu,
    { client_id: 'desktop', redirect_uri: redirectUri, response_type: 'code', scope: 'openid jotta-default offline_access', state: 's1', ...extra },
    realm,
  );
  expect(res.status).to.equal(302);
  return new URL(res.headers.get('location')!).searchParams.get('code')!;
}

async function exchange(emu: Emu, code: string, redirectUri: string, extra: Record<string, string> = {}, realm = 'jottacloud') {
  return fetch(`${emu.origin}/auth/realms/${realm}/protocol/openid-connect/token`, {
    ...form({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'desktop', ...extra }),
  });
}

describe('emulator auth', () => {
  describe('OpenID discovery', () => {
    it('answers for the jottacloud realm and every white-label realm', async () => {
      const emu = await startEmu();
      for (const realm of REALMS) {
        const res = await fetch(`${emu.origin}/auth/realms/${realm}/.well-known/openid-configuration`);
        expect(res.status, realm).to.equal(200);
        const doc = await json(res);
        const base = `${emu.origin}/auth/realms/${realm}`;
        expect(doc.issuer).to.equal(base);
        expect(doc.authorization_endpoint).to.equal(`${base}/protocol/openid-connect/auth`);
        expect(doc.token_endpoint).to.equal(`${base}/protocol/openid-connect/token`);
        expect(doc.userinfo_endpoint).to.equal(`${base}/protocol/openid-connect/userinfo`);
        expect(doc.end_session_endpoint).to.equal(`${base}/protocol/openid-connect/logout`);
        expect(doc.jwks_uri).to.equal(`${base}/protocol/openid-connect/certs`);
        expect(doc.grant_types_supported).to.include.members(['authorization_code', 'refresh_token', 'password']);
      }
    });

    it('names the real host when the request came through the MITM proxy', async () => {
      const emu = await startEmu();
      const res = await fetch(`${emu.origin}/auth/realms/jottacloud/.well-known/openid-configuration`, {
        headers: { 'X-Forwarded-Host': 'id.jottacloud.com' },
      });
      const doc = await json(res);
      expect(doc.token_endpoint).to.equal('https://id.jottacloud.com/auth/realms/jottacloud/protocol/openid-connect/token');
      expect(doc.issuer).to.equal('https://id.jottacloud.com/auth/realms/jottacloud');
    });

    it('answers 404 "Realm does not exist" for an unknown realm, and leaves other paths alone', async () => {
      const emu = await startEmu();
      const res = await fetch(`${emu.origin}/auth/realms/nosuch/.well-known/openid-configuration`);
      expect(res.status).to.equal(404);
      expect(await json(res)).to.deep.equal({ error: 'Realm does not exist' });
      const other = await fetch(`${emu.origin}/jfs/${USER}`);
      expect(other.status).to.equal(404);
      expect(await other.text()).to.equal('not auth');
      const wrongMethod = await fetch(`${emu.origin}${TOKEN_PATH}`);
      expect(wrongMethod.status).to.equal(405);
      expect(wrongMethod.headers.get('allow')).to.equal('POST');
    });

    it('publishes the key that signs the tokens (jwks_uri)', async () => {
      const emu = await startEmu();
      const tokens = await loginWithToken(emu);
      const jwks = await json(await fetch(`${emu.origin}/auth/realms/jottacloud/protocol/openid-connect/certs`));
      const [key] = jwks.keys as Record<string, string>[];
      const [header, payload, signature] = (tokens.access_token as string).split('.') as [string, string, string];
      expect(JSON.parse(Buffer.from(header, 'base64url').toString())).to.include({ alg: 'RS256', kid: key!.kid });
      const publicKey = createPublicKey({ key: key as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
      expect(verify('sha256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'))).to.equal(true);
    });
  });

  describe('personal login token (password grant)', () => {
    it('mints base64url JSON with username, realm, well_known_link and auth_token', async () => {
      const emu = await startEmu();
      const token = emu.auth.mintLoginToken();
      expect(token).to.match(/^[A-Za-z0-9_-]+$/);
      const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, string>;
      expect(Object.keys(decoded)).to.deep.equal(['username', 'realm', 'well_known_link', 'auth_token']);
      expect(decoded).to.include({ username: USER, realm: 'jottacloud', well_known_link: DEFAULT_WELL_KNOWN_LINK });
      expect(decoded.auth_token).to.have.length.greaterThan(20);
    });

    it('logs in as rclone does and answers a full Keycloak token set with JWT-shaped tokens', async () => {
      const emu = await startEmu();
      const t = await loginWithToken(emu);
      expect(t).to.have.all.keys(
        'access_token',
        'expires_in',
        'refresh_expires_in',
        'refresh_token',
        'token_type',
        'id_token',
        'not-before-policy',
        'session_state',
        'scope',
      );
      expect(t.token_type).to.equal('Bearer');
      expect(t.expires_in).to.equal(3600);
      expect(t.scope).to.equal('openid offline_access profile email');
      const access = claims(t.access_token);
      expect(access.sub).to.match(new RegExp(`^f:[0-9a-f-]{36}:${USER}$`));
      expect(access).to.include({ username: USER, preferred_username: USER, azp: 'jottacli', session_state: t.session_state });
      expect((access.exp as number) - (access.iat as number)).to.equal(3600);
      expect(claims(t.refresh_token)).to.include({ typ: 'Offline', azp: 'jottacli' });
      expect(claims(t.id_token)).to.include({ typ: 'ID', aud: 'jottacli', preferred_username: USER });
      expect(await probe(emu, t.access_token)).to.equal(200);
      expect(await probe(emu, 'not-a-token')).to.equal(401);
    });

    it('accepts a login token only once', async () => {
      const emu = await startEmu();
      const loginToken = emu.auth.mintLoginToken();
      await loginWithToken(emu, loginToken);
      const authToken = (JSON.parse(Buffer.from(loginToken, 'base64url').toString()) as { auth_token: string }).auth_token;
      const again = await fetch(`${emu.origin}${TOKEN_PATH}`, {
        ...form({ client_id: 'jottacli', grant_type: 'password', password: authToken, username: USER }),
      });
      expect(again.status).to.equal(401);
      expect(await json(again)).to.deep.equal({ error: 'invalid_grant', error_description: 'Invalid user credentials' });
    });

    it('refuses a wrong user name without spending the login token', async () => {
      const emu = await startEmu();
      const loginToken = emu.auth.mintLoginToken();
      const authToken = (JSON.parse(Buffer.from(loginToken, 'base64url').toString()) as { auth_token: string }).auth_token;
      const wrong = await fetch(`${emu.origin}${TOKEN_PATH}`, {
        ...form({ client_id: 'jottacli', grant_type: 'password', password: authToken, username: 'someone-else' }),
      });
      expect(wrong.status).to.equal(401);
      await loginWithToken(emu, loginToken);
    });

    it('answers grant and client errors as Keycloak does', async () => {
      const emu = await startEmu();
      const post = async (fields: Record<string, string>, realm = 'jottacloud') => {
        const res = await fetch(`${emu.origin}/auth/realms/${realm}/protocol/openid-connect/token`, form(fields));
        return { status: res.status, body: await json(res) };
      };
      expect(await post({ client_id: 'jottacli' })).to.deep.equal({
        status: 400,
        body: { error: 'invalid_request', error_description: 'Missing form parameter: grant_type' },
      });
      expect((await post({ client_id: 'jottacli', grant_type: 'client_credentials' })).body.error).to.equal('unsupported_grant_type');
      expect(await post({ client_id: 'nosuch', grant_type: 'password' })).to.deep.include({ status: 401 });
      expect((await post({ client_id: 'nosuch', grant_type: 'password' })).body.error).to.equal('invalid_client');
      expect((await post({ grant_type: 'password', username: USER, password: 'x' })).body.error).to.equal('invalid_client');
      // desktop logs in through the browser only; jottacli exists only in the jottacloud realm
      expect((await post({ client_id: 'desktop', grant_type: 'password', username: USER, password: 'x' })).body).to.deep.equal({
        error: 'unauthorized_client',
        error_description: 'Client not allowed for direct access grants',
      });
      expect((await post({ client_id: 'jottacli', grant_type: 'password' }, 'elkjop')).status).to.equal(401);
      const bad = await post({ client_id: 'jottacli', grant_type: 'password', username: USER, password: 'guess' });
      expect(bad).to.deep.equal({ status: 401, body: { error: 'invalid_grant', error_description: 'Invalid user credentials' } });
    });

    it('refuses an oversized body with 413', async () => {
      const emu = await startEmu();
      const res = await fetch(`${emu.origin}${TOKEN_PATH}`, form({ grant_type: 'password', pad: 'x'.repeat(70_000) }));
      expect(res.status).to.equal(413);
    });
  });

  describe('refresh tokens', () => {
    it('accept rclone-style HTTP Basic client authentication and rotate on every refresh', async () => {
      const emu = await startEmu();
      const first = await loginWithToken(emu);
      const res = await refresh(emu, first.refresh_token);
      expect(res.status).to.equal(200);
      const second = await json(res);
      expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
      expect(second.access_token).to.not.equal(first.access_token);
      expect(second.session_state).to.equal(first.session_state);
      expect(await probe(emu, second.access_token)).to.equal(200);
      // the new refresh token works, with the client id in the form this time
      const third = await fetch(`${emu.origin}${TOKEN_PATH}`, {
        ...form({ grant_type: 'refresh_token', refresh_token: String(second.refresh_token), client_id: 'jottacli' }),
      });
      expect(third.status).to.equal(200);
    });

    it('answer the exact invalid_grant body for a spent token, and the reuse ends the whole session', async () => {
      const emu = await startEmu();
      const first = await loginWithToken(emu);
      const second = await json(await refresh(emu, first.refresh_token));
      const reuse = await refresh(emu, first.refresh_token);
      expect(reuse.status).to.equal(400);
      expect(await json(reuse)).to.deep.equal(SPENT);
      // the other holder of this token family is logged out as well
      const after = await refresh(emu, second.refresh_token);
      expect(after.status).to.equal(400);
      expect(await json(after)).to.deep.equal(SPENT);
    });

    it('refuse an unknown refresh token and a token presented by another client', async () => {
      const emu = await startEmu();
      const garbage = await refresh(emu, 'abc.def.ghi');
      expect(await json(garbage)).to.deep.equal({ error: 'invalid_grant', error_description: 'Invalid refresh token' });
      const t = await loginWithToken(emu);
      const other = await refresh(emu, t.refresh_token, 'jottacloud', 'desktop');
      expect(other.status).to.equal(400);
      expect((await json(other)).error).to.equal('invalid_grant');
      // Go's oauth2 falls back from Basic to form fields after a 401 for an unknown client
      const unknown = await refresh(emu, t.refresh_token, 'jottacloud', 'nosuch');
      expect(unknown.status).to.equal(401);
      const retry = await fetch(`${emu.origin}${TOKEN_PATH}`, {
        ...form({ client_id: 'jottacli', grant_type: 'refresh_token', refresh_token: String(t.refresh_token) }),
      });
      expect(retry.status).to.equal(200);
    });

    it('stop working after revokeRefreshTokens while access tokens live on', async () => {
      const emu = await startEmu();
      const t = await loginWithToken(emu);
      emu.auth.revokeRefreshTokens();
      const res = await refresh(emu, t.refresh_token);
      expect(res.status).to.equal(400);
      expect(await json(res)).to.deep.equal({ error: 'invalid_grant', error_description: 'Session not active' });
      expect(await probe(emu, t.access_token)).to.equal(200);
    });

    it('end with a logout (POST refresh_token → 204)', async () => {
      const emu = await startEmu();
      const t = await loginWithToken(emu);
      const out = await fetch(`${emu.origin}/auth/realms/jottacloud/protocol/openid-connect/logout`, {
        ...form({ client_id: 'jottacli', refresh_token: String(t.refresh_token) }),
      });
      expect(out.status).to.equal(204);
      expect((await json(await refresh(emu, t.refresh_token))).error_description).to.equal('Session not active');
    });

    it('end at the revocation endpoint (RFC 7009), and so do access tokens', async () => {
      const emu = await startEmu();
      const revokeUrl = `${emu.origin}/auth/realms/jottacloud/protocol/openid-connect/revoke`;
      const t = await loginWithToken(emu);
      const r1 = await fetch(revokeUrl, form({ client_id: 'jottacli', token: String(t.access_token) }));
      expect(r1.status).to.equal(200);
      expect(await probe(emu, t.access_token)).to.equal(401);
      const r2 = await fetch(revokeUrl, form({ client_id: 'jottacli', token: String(t.refresh_token) }));
      expect(r2.status).to.equal(200);
      expect((await json(await refresh(emu, t.refresh_token))).error_description).to.equal('Session not active');
      // an unknown token is not an error: the answer reveals nothing
      expect((await fetch(revokeUrl, form({ client_id: 'jottacli', token: 'whatever' }))).status).to.equal(200);
    });

    it('end at the browser logout (GET with id_token_hint), which redirects back to the loopback port', async () => {
      const emu = await startEmu();
      const t = await loginWithToken(emu);
      const q = new URLSearchParams({
        id_token_hint: String(t.id_token),
        post_logout_redirect_uri: 'http://127.0.0.1:53682/bye',
        state: 'st',
      });
      const res = await fetch(`${emu.origin}/auth/realms/jottacloud/protocol/openid-connect/logout?${q}`, {
        redirect: 'manual',
      });
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.equal('http://127.0.0.1:53682/bye?state=st');
      expect((await json(await refresh(emu, t.refresh_token))).error_description).to.equal('Session not active');
    });

    it('of non-offline sessions expire after refreshTokenLifetimeSec', async () => {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const emu = await startEmu({ clock: () => now, refreshTokenLifetimeSec: 600 });
      const cb = 'http://127.0.0.1:9/cb';
      const res = await exchange(emu, await codeFor(emu, cb, { scope: 'openid' }), cb, { client_id: 'desktop' });
      const t = await json(res);
      expect(t.refresh_expires_in).to.equal(600);
      expect(claims(t.refresh_token).typ).to.equal('Refresh');
      now += 601_000;
      expect(await json(await refresh(emu, t.refresh_token, 'jottacloud', 'desktop'))).to.deep.equal({
        error: 'invalid_grant',
        error_description: 'Token is not active',
      });
    });
  });

  describe('access tokens', () => {
    it('expire after the configured lifetime', async () => {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const emu = await startEmu({ clock: () => now, accessTokenLifetimeSec: 60 });
      const t = await loginWithToken(emu);
      expect(t.expires_in).to.equal(60);
      const c = claims(t.access_token);
      expect((c.exp as number) - (c.iat as number)).to.equal(60);
      now += 59_000;
      expect(await probe(emu, t.access_token)).to.equal(200);
      now += 2_000;
      expect(await probe(emu, t.access_token)).to.equal(401);
      expect(emu.auth.authenticate(`Bearer ${String(t.access_token)}`)).to.equal(null);
      // the refresh token still gets a fresh one
      const fresh = await json(await refresh(emu, t.refresh_token));
      expect(await probe(emu, fresh.access_token)).to.equal(200);
    });

    it('all stop at expireAccessTokens, and refreshing brings a working one', async () => {
      const emu = await startEmu();
      const a = await loginWithToken(emu);
      const b = await loginWithToken(emu);
      emu.auth.expireAccessTokens();
      expect(await probe(emu, a.access_token)).to.equal(401);
      expect(await probe(emu, b.access_token)).to.equal(401);
      const fresh = await json(await refresh(emu, a.refresh_token));
      expect(await probe(emu, fresh.access_token)).to.equal(200);
    });

    it('authenticate reads only "Bearer <token>"', async () => {
      const emu = await startEmu();
      const t = await loginWithToken(emu);
      expect(emu.auth.authenticate(`Bearer ${String(t.access_token)}`)).to.equal(USER);
      expect(emu.auth.authenticate(`bearer ${String(t.access_token)}`)).to.equal(USER);
      expect(emu.auth.authenticate(String(t.access_token))).to.equal(null);
      expect(emu.auth.authenticate(undefined)).to.equal(null);
      expect(emu.auth.authenticate(basic(USER, 'pw'))).to.equal(null);
    });

    it('get the profile from userinfo', async () => {
      const emu = await startEmu({ email: 'emu@example.net' });
      const t = await loginWithToken(emu);
      const url = `${emu.origin}/auth/realms/jottacloud/protocol/openid-connect/userinfo`;
      const res = await fetch(url, { headers: { Authorization: `Bearer ${String(t.access_token)}` } });
      expect(res.status).to.equal(200);
      const info = await json(res);
      expect(info).to.include({ sub: claims(t.access_token).sub, preferred_username: USER, email: 'emu@example.net' });
      const anon = await fetch(url);
      expect(anon.status).to.equal(401);
      expect(anon.headers.get('www-authenticate')).to.match(/^Bearer realm="jottacloud"/);
      const elsewhere = await fetch(url.replace('/jottacloud/', '/elkjop/'), {
        headers: { Authorization: `Bearer ${String(t.access_token)}` },
      });
      expect(elsewhere.status).to.equal(401);
    });
  });

  describe('authorization-code flow (white-label / traditional)', () => {
    it('signs in at once, redirects to the loopback port, and the code gives a token set once', async () => {
      const emu = await startEmu();
      const cb = await startCallback();
      const q = new URLSearchParams({
        client_id: 'desktop',
        redirect_uri: cb.uri,
        response_type: 'code',
        scope: 'openid jotta-default offline_access',
        state: 'xyz-state',
        nonce: 'n-1',
      });
      const page = await fetch(`${emu.origin}/auth/realms/jottacloud/protocol/openid-connect/auth?${q}`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.equal('done');
      const got = cb.got()!;
      expect(got.get('state')).to.equal('xyz-state');
      expect(got.get('iss')).to.equal(`${emu.origin}/auth/realms/jottacloud`);
      const code = got.get('code')!;
      expect(code).to.be.a('string');

      const res = await fetch(`${emu.origin}${TOKEN_PATH}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('desktop') },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: cb.uri }).toString(),
      });
      expect(res.status).to.equal(200);
      const t = await json(res);
      expect(t.scope).to.equal('openid jotta-default offline_access profile email');
      expect(t.session_state).to.equal(got.get('session_state'));
      expect(claims(t.id_token)).to.include({ aud: 'desktop', nonce: 'n-1', azp: 'desktop' });
      expect(claims(t.access_token).azp).to.equal('desktop');
      expect(await probe(emu, t.access_token)).to.equal(200);

      const again = await exchange(emu, code, cb.uri);
      expect(again.status).to.equal(400);
      expect(await json(again)).to.deep.equal({ error: 'invalid_grant', error_description: 'Code not valid' });
    });

    it('refuses a redirect_uri that differs from the one the code was issued for', async () => {
      const emu = await startEmu();
      const code = await codeFor(emu, 'http://127.0.0.1:53682/');
      const res = await exchange(emu, code, 'http://127.0.0.1:53683/');
      expect(res.status).to.equal(400);
      expect(await json(res)).to.deep.equal({ error: 'invalid_grant', error_description: 'Incorrect redirect_uri' });
      // a failed exchange spends the code too
      expect((await json(await exchange(emu, code, 'http://127.0.0.1:53682/'))).error_description).to.equal('Code not valid');
    });

    it('redirects only to a loopback http URL and knows each realm\'s client id', async () => {
      const emu = await startEmu();
      const base = { response_type: 'code', scope: 'openid offline_access', state: 's' };
      const evil = await authorize(emu, { ...base, client_id: 'desktop', redirect_uri: 'https://evil.example/cb' });
      expect(evil.status).to.equal(400);
      expect(await evil.text()).to.include('Invalid parameter: redirect_uri');
      const local = await authorize(emu, { ...base, client_id: 'desktop', redirect_uri: 'http://localhost:53682/' });
      expect(local.status).to.equal(302);
      expect(local.headers.get('location')).to.match(/^http:\/\/localhost:53682\/\?.*code=/);
      // Phonero and Let's Go register their desktop app as desktop-win
      const wrong = await authorize(emu, { ...base, client_id: 'desktop', redirect_uri: 'http://127.0.0.1:1/' }, 'phonero');
      expect(wrong.status).to.equal(400);
      expect(await wrong.text()).to.include('Client not found.');
      const cb = 'http://127.0.0.1:1/';
      const code = await codeFor(emu, cb, { client_id: 'desktop-win', scope: 'openid offline_access' }, 'phonero');
      const res = await exchange(emu, code, cb, { client_id: 'desktop-win' }, 'phonero');
      expect(res.status).to.equal(200);
      const t = await json(res);
      expect(claims(t.access_token).iss).to.equal(`${emu.origin}/auth/realms/phonero`);
      // jottacli has no browser login: the error goes back to the redirect URI
      const cli = await authorize(emu, { ...base, client_id: 'jottacli', redirect_uri: cb });
      const back = new URL(cli.headers.get('location')!).searchParams;
      expect(back.get('error')).to.equal('unauthorized_client');
      expect(back.get('state')).to.equal('s');
    });

    it('codes are short-lived', async () => {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const emu = await startEmu({ clock: () => now });
      const cb = 'http://127.0.0.1:1/';
      const code = await codeFor(emu, cb);
      now += 61_000;
      expect((await json(await exchange(emu, code, cb))).error_description).to.equal('Code not valid');
    });

    it('checks a PKCE verifier when the request carried a challenge', async () => {
      const emu = await startEmu();
      const cb = 'http://127.0.0.1:1/';
      const verifier = 'v'.repeat(50);
      const challenge = (await import('node:crypto')).createHash('sha256').update(verifier).digest('base64url');
      const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };
      const bad = await exchange(emu, await codeFor(emu, cb, pkce), cb, { code_verifier: 'w'.repeat(50) });
      expect((await json(bad)).error_description).to.match(/^PKCE verification failed/);
      const good = await exchange(emu, await codeFor(emu, cb, pkce), cb, { code_verifier: verifier });
      expect(good.status).to.equal(200);
    });

    it('keeps one session per desktop client: a new login logs the older one out', async () => {
      const emu = await startEmu();
      const cb = 'http://127.0.0.1:1/';
      const older = await json(await exchange(emu, await codeFor(emu, cb), cb));
      const newer = await json(await exchange(emu, await codeFor(emu, cb), cb));
      expect(await json(await refresh(emu, older.refresh_token, 'jottacloud', 'desktop'))).to.deep.equal(SPENT);
      expect((await refresh(emu, newer.refresh_token, 'jottacloud', 'desktop')).status).to.equal(200);
      // personal-login-token sessions are separate families and unaffected
      const cli = await loginWithToken(emu);
      expect((await refresh(emu, cli.refresh_token)).status).to.equal(200);
    });
  });

  describe('legacy login (/auth/v1)', () => {
    const legacyUrl = (emu: Emu, path: string, q: Record<string, string>) =>
      `${emu.origin}/auth/v1/${path}?${new URLSearchParams(q).toString()}`;

    /** rclone puts these "form" fields in the query string of a POST with an empty body. */
    async function legacyLogin(emu: Emu, client: { id: string; secret: string }, headers: Record<string, string> = {}) {
      return fetch(
        legacyUrl(emu, 'token', {
          grant_type: 'PASSWORD',
          password: emu.auth.legacyPassword,
          username: USER,
          client_id: client.id,
          client_secret: client.secret,
        }),
        { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers } },
      );
    }

    it('registers a machine-specific client and logs in with it', async () => {
      const emu = await startEmu();
      const unauth = await fetch(legacyUrl(emu, 'register', { device_id: 'rclone-abc' }), { method: 'POST' });
      expect(unauth.status).to.equal(401);
      const apiError = await json(unauth);
      expect(apiError).to.have.all.keys('code', 'message', 'cause', 'error_id', 'x-id');
      expect(apiError).to.include({ code: 401, error_id: 'BadCredentialsException' });
      expect(apiError['x-id']).to.match(/^\d{12}$/);
      const reg = await fetch(legacyUrl(emu, 'register', { device_id: 'rclone-abc' }), {
        method: 'POST',
        headers: { Authorization: `Bearer ${LEGACY_REGISTER_BEARER}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      expect(reg.status).to.equal(200);
      const client = await json(reg);
      expect(client).to.have.all.keys('client_id', 'client_secret');
      const res = await legacyLogin(emu, { id: String(client.client_id), secret: String(client.client_secret) });
      expect(res.status).to.equal(200);
      const t = await json(res);
      expect(t).to.have.all.keys('token_type', 'access_token', 'refresh_token', 'session_id', 'expires_in');
      expect(t).to.include({ token_type: 'bearer', expires_in: 3600 });
      // shaped like the old service's: opaque base64 "<id>:<secret>" access token, five-part JWE refresh token
      expect(Buffer.from(String(t.access_token), 'base64').toString()).to.match(/^[a-z0-9]{13}:[a-z0-9]{26}$/);
      expect(String(t.refresh_token).split('.')).to.have.length(5);
      expect(await probe(emu, t.access_token)).to.equal(200);
      // a wrong secret for the registered client is refused
      const bad = await legacyLogin(emu, { id: String(client.client_id), secret: 'nope' });
      expect(bad.status).to.equal(401);
    });

    it('logs in with the default client, form body as akeamc/jotta sends it', async () => {
      const emu = await startEmu();
      expect(emu.auth.legacyPassword).to.equal(DEFAULT_LEGACY_PASSWORD);
      const res = await fetch(`${emu.origin}/auth/v1/token`, {
        ...form({
          grant_type: 'PASSWORD',
          username: `${USER}@example.com`,
          password: DEFAULT_LEGACY_PASSWORD,
          client_id: LEGACY_DEFAULT_CLIENT.id,
          client_secret: LEGACY_DEFAULT_CLIENT.secret,
        }),
      });
      expect(res.status).to.equal(200);
    });

    it('answers token errors as an OAuth 2 server does', async () => {
      const emu = await startEmu({ legacyPassword: 'right' });
      const res = await legacyLogin(emu, LEGACY_DEFAULT_CLIENT);
      expect(res.status).to.equal(200);
      const wrong = await fetch(
        legacyUrl(emu, 'token', {
          grant_type: 'PASSWORD',
          username: USER,
          password: 'wrong',
          client_id: LEGACY_DEFAULT_CLIENT.id,
          client_secret: LEGACY_DEFAULT_CLIENT.secret,
        }),
        { method: 'POST' },
      );
      expect(wrong.status).to.equal(400);
      expect(await json(wrong)).to.deep.equal({ error: 'invalid_grant', error_description: 'Bad credentials' });
      const badClient = await legacyLogin(emu, { id: LEGACY_DEFAULT_CLIENT.id, secret: 'guess' });
      expect(badClient.status).to.equal(401);
      expect((await json(badClient)).error).to.equal('invalid_client');
    });

    it('refreshes only with the upper-case REFRESH_TOKEN grant, once per token', async () => {
      const emu = await startEmu();
      const t = await json(await legacyLogin(emu, LEGACY_DEFAULT_CLIENT));
      const refreshWith = (grantType: string, token: unknown) =>
        fetch(`${emu.origin}/auth/v1/token`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            Authorization: basic(LEGACY_DEFAULT_CLIENT.id, LEGACY_DEFAULT_CLIENT.secret),
          },
          body: new URLSearchParams({ grant_type: grantType, refresh_token: String(token) }).toString(),
        });
      const lower = await refreshWith('refresh_token', t.refresh_token);
      expect(lower.status).to.equal(400);
      expect(await json(lower)).to.deep.equal({
        error: 'unsupported_grant_type',
        error_description: 'Unsupported grant type: refresh_token',
      });
      const upper = await refreshWith('REFRESH_TOKEN', t.refresh_token);
      expect(upper.status).to.equal(200);
      const next = await json(upper);
      expect(next.refresh_token).to.not.equal(t.refresh_token);
      expect(next.session_id).to.equal(t.session_id);
      expect(await probe(emu, next.access_token)).to.equal(200);
      const spent = await refreshWith('REFRESH_TOKEN', t.refresh_token);
      expect(spent.status).to.equal(400);
      const spentBody = await json(spent);
      expect(spentBody.error).to.equal('invalid_grant');
      expect(spentBody.error_description).to.match(/^The provided authorization grant .* or was issued to another client\.$/);
      expect((await refreshWith('REFRESH_TOKEN', next.refresh_token)).status).to.equal(200);
      // a legacy refresh token means nothing to Keycloak
      expect((await refresh(emu, next.refresh_token)).status).to.equal(400);
    });

    it('asks for an SMS code with X-JottaCloud-OTP and accepts it once on the retry', async () => {
      const emu = await startEmu({ legacyOtp: true });
      expect(emu.auth.currentOtp()).to.equal(null);
      const first = await legacyLogin(emu, LEGACY_DEFAULT_CLIENT);
      expect(first.status).to.equal(401);
      expect(first.headers.get('x-jottacloud-otp')).to.equal('required; SMS');
      const code = emu.auth.currentOtp();
      expect(code).to.match(/^\d{6}$/);
      const wrongCode = code === '000000' ? '111111' : '000000';
      const wrong = await legacyLogin(emu, LEGACY_DEFAULT_CLIENT, { 'X-Jottacloud-Otp': wrongCode });
      expect(wrong.status).to.equal(401);
      const ok = await legacyLogin(emu, LEGACY_DEFAULT_CLIENT, { 'X-Jottacloud-Otp': code! });
      expect(ok.status).to.equal(200);
      expect(await probe(emu, (await json(ok)).access_token)).to.equal(200);
      const replay = await legacyLogin(emu, LEGACY_DEFAULT_CLIENT, { 'X-Jottacloud-Otp': code! });
      expect(replay.status).to.equal(401);
      // a wrong password never gets as far as the SMS
      const noPw = await fetch(`${emu.origin}/auth/v1/token`, {
        ...form({ grant_type: 'PASSWORD', username: USER, password: 'x', client_id: LEGACY_DEFAULT_CLIENT.id, client_secret: LEGACY_DEFAULT_CLIENT.secret }),
      });
      expect(noPw.status).to.equal(400);
      expect(noPw.headers.get('x-jottacloud-otp')).to.equal(null);
    });
  });

  describe('persistence (dataDir)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'jottadav-auth-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps sessions, spent tokens, login tokens and legacy clients across a restart, in a 0600 file', async () => {
      const one = await startEmu({ dataDir: dir });
      const first = await loginWithToken(one);
      const second = await json(await refresh(one, first.refresh_token));
      const unusedLoginToken = one.auth.mintLoginToken();
      const reg = await json(
        await fetch(`${one.origin}/auth/v1/register?device_id=d1`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${LEGACY_REGISTER_BEARER}` },
        }),
      );
      await one.close();

      const file = join(dir, 'auth.json');
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      const text = readFileSync(file, 'utf8');
      for (const secret of [first.access_token, second.access_token, second.refresh_token, reg.client_secret]) {
        expect(text).to.not.include(String(secret));
      }

      const two = await startEmu({ dataDir: dir });
      expect(await probe(two, second.access_token)).to.equal(200);
      expect(await json(await refresh(two, first.refresh_token))).to.deep.equal(SPENT);

      // a fresh family, from the login token minted before the restart
      const third = await loginWithToken(two, unusedLoginToken);
      expect((await refresh(two, third.refresh_token)).status).to.equal(200);
      const legacy = await fetch(`${two.origin}/auth/v1/token`, {
        ...form({
          grant_type: 'PASSWORD',
          username: USER,
          password: two.auth.legacyPassword,
          client_id: String(reg.client_id),
          client_secret: String(reg.client_secret),
        }),
      });
      expect(legacy.status).to.equal(200);
    });

    it('keeps a rotated refresh token valid after a restart', async () => {
      const one = await startEmu({ dataDir: dir });
      const t = await loginWithToken(one);
      const rotated = await json(await refresh(one, t.refresh_token));
      await one.close();
      const two = await startEmu({ dataDir: dir });
      expect((await refresh(two, rotated.refresh_token)).status).to.equal(200);
    });

    it('refuses a damaged auth.json with a sentence that says what to do', () => {
      writeFileSync(join(dir, 'auth.json'), '{ not json');
      expect(() => new EmulatorAuth({ user: USER, dataDir: dir })).to.throw(/not valid JSON; remove it/);
    });
  });
});
