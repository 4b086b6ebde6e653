// The token manager against the emulator, whose refresh tokens are single-use like the service's: refresh
// ahead of expiry, saved (0600) before use, one refresh for many concurrent callers (counted at the emulator),
// across processes sharing a store too, the clear re-login error for a spent or revoked refresh token, bounded
// retries of transient failures, and no new token handed out when it could not be saved.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import {
  authContext,
  findService,
  loginLegacy,
  loginWithBrowser,
  loginWithLoginToken,
  ReloginRequiredError,
  TokenPersistError,
  TransientAuthError,
  type AuthContext,
  type TokenSet,
} from '../../lib/jottacloud/auth/index.js';
import { singleOriginEndpoints, type Endpoints } from '../../lib/jottacloud/endpoints.js';
import { FileTokenStore, TokenManager, type TokenManagerOptions, type TokenStore } from '../../lib/jottacloud/tokens.js';

const oidcTokenRoute = 'POST /auth/realms/*/protocol/openid-connect/token';

/** The same set, but at the end of its life: the manager must refresh before handing out a token. */
function due(set: TokenSet): TokenSet {
  const now = Date.now();
  return { ...set, obtainedAt: new Date(now - 3600_000).toISOString(), expiresAt: new Date(now - 1000).toISOString() };
}

async function status(emu: RunningEmulator, accessToken: string): Promise<number> {
  const res = await fetch(`${emu.url}/account/v1/customer`, { headers: { Authorization: `Bearer ${accessToken}` } });
  await res.arrayBuffer();
  return res.status;
}

/** A refresh sent by hand, to see whether the service still takes a refresh token. */
async function manualRefresh(emu: RunningEmulator, set: TokenSet): Promise<{ status: number; body: string }> {
  const res = await fetch(set.tokenUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: set.refreshToken, client_id: set.clientId }).toString(),
  });
  return { status: res.status, body: await res.text() };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}

describe('TokenManager', () => {
  let emu: RunningEmulator;
  let endpoints: Endpoints;
  let ctx: AuthContext;
  let dir: string;
  const quickRetry = { attempts: 3, minDelayMs: 1, maxDelayMs: 5 };

  before(async () => {
    emu = await startEmulator({ port: 0 });
    endpoints = singleOriginEndpoints(emu.url);
    ctx = authContext(endpoints);
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'jottadav-manager-'));
    emu.setFaults(undefined);
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function storeWith(set: TokenSet, name = 'tokens.json'): Promise<FileTokenStore> {
    const store = new FileTokenStore(join(dir, name));
    await store.write(set);
    return store;
  }

  function manager(store: TokenStore, extra: Partial<TokenManagerOptions> = {}): TokenManager {
    return new TokenManager({ store, endpoints, retry: quickRetry, ...extra });
  }

  function tokenCalls(route = oidcTokenRoute): number {
    return emu.stats().routes[route] ?? 0;
  }

  it('hands out the saved token while it is fresh, without calling the service', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const tokens = manager(await storeWith(set));
    emu.resetStats();
    expect(await tokens.getAccessToken()).to.equal(set.accessToken);
    expect(await tokens.getAccessToken()).to.equal(set.accessToken);
    expect(tokenCalls()).to.equal(0);
  });

  it('refreshes ahead of expiry and saves the rotated set (0600) before using it', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const store = await storeWith(due(set));
    const token = await manager(store).getAccessToken();
    expect(token).to.not.equal(set.accessToken);
    expect(await status(emu, token)).to.equal(200);

    const onDisk = JSON.parse(await fs.readFile(store.location, 'utf8')) as { tokens: TokenSet };
    expect(onDisk.tokens.accessToken).to.equal(token);
    expect(onDisk.tokens.refreshToken).to.not.equal(set.refreshToken);
    expect(Date.parse(onDisk.tokens.expiresAt)).to.be.greaterThan(Date.now());
    expect((await fs.stat(store.location)).mode & 0o777).to.equal(0o600);
    // The service rotated: the old refresh token is dead, the saved one is the live one.
    expect((await manualRefresh(emu, set)).status).to.equal(400);
  });

  it('many concurrent callers trigger exactly one refresh and all get its token', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const tokens = manager(await storeWith(due(set)));
    emu.resetStats();
    const got = await Promise.all([
      ...Array.from({ length: 8 }, () => tokens.getAccessToken()),
      ...Array.from({ length: 4 }, () => tokens.renewAfterUnauthorized(set.accessToken)),
    ]);
    expect(new Set(got).size).to.equal(1);
    expect(got[0]).to.not.equal(set.accessToken);
    expect(tokenCalls()).to.equal(1);
  });

  it('two processes sharing one store refresh once between them (lock + re-read)', async function () {
    this.timeout(30_000);
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const store = await storeWith(due(set));
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'lib', 'jottacloud', 'tokens.js')).href;
    const endpointsUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'lib', 'jottacloud', 'endpoints.js')).href;
    const child = `
      import { FileTokenStore, TokenManager } from ${JSON.stringify(moduleUrl)};
      import { singleOriginEndpoints } from ${JSON.stringify(endpointsUrl)};
      const tokens = new TokenManager({ store: new FileTokenStore(${JSON.stringify(store.location)}), endpoints: singleOriginEndpoints(${JSON.stringify(emu.url)}) });
      process.stdout.write(await tokens.getAccessToken());`;
    emu.resetStats();
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const proc = spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
        proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
        proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child failed: ${err}`))));
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a).to.equal(b);
    expect(a).to.not.equal(set.accessToken);
    expect(tokenCalls()).to.equal(1);
    expect((await store.read())!.accessToken).to.equal(a);
  });

  it('after a 401, renews only if the rejected token is still the current one', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const tokens = manager(await storeWith(set));
    const first = await tokens.getAccessToken();
    emu.auth.expireAccessTokens();
    expect(await status(emu, first)).to.equal(401);
    emu.resetStats();
    const renewed = await tokens.renewAfterUnauthorized(first);
    expect(renewed).to.not.equal(first);
    expect(await status(emu, renewed)).to.equal(200);
    // A late caller still holding the old token gets the new one, no second refresh.
    expect(await tokens.renewAfterUnauthorized(first)).to.equal(renewed);
    expect(tokenCalls()).to.equal(1);
  });

  it('adopts a set another process already rotated instead of refreshing again', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const store = await storeWith(set);
    const a = manager(store);
    const b = manager(store);
    const old = await a.getAccessToken();
    emu.auth.expireAccessTokens();
    const fromB = await b.renewAfterUnauthorized(old);
    emu.resetStats();
    // A still holds the old set in memory; the store (re-read under the lock) has B's.
    expect(await a.renewAfterUnauthorized(old)).to.equal(fromB);
    expect(tokenCalls()).to.equal(0);
  });

  it('a spent refresh token gives one clear sentence to log in again, and is not sent again', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    // Two configurations holding copies of one token set: the first refresh kills the other copy.
    const first = manager(await storeWith(due(set), 'a.json'));
    const second = manager(await storeWith(due(set), 'b.json'));
    await first.getAccessToken();
    emu.resetStats();
    const err = await rejection(second.getAccessToken());
    expect(err).to.be.instanceOf(ReloginRequiredError);
    expect(err.message).to.match(/^[^.]*\(the refresh token was refused: invalid_grant\); run `jottadav login` again\.$/);
    expect(err.message).to.not.include(set.refreshToken);
    expect(tokenCalls()).to.equal(1);
    // No retry loop: asking again fails the same way without another refresh.
    expect(await rejection(second.getAccessToken())).to.be.instanceOf(ReloginRequiredError);
    expect(tokenCalls()).to.equal(1);
  });

  it('after a refused refresh, picks up a new login saved to the store without a restart', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const store = await storeWith(due(set));
    const tokens = manager(store);
    emu.auth.revokeRefreshTokens();
    expect(await rejection(tokens.getAccessToken())).to.be.instanceOf(ReloginRequiredError);
    // What `jottadav login` does in another terminal meanwhile.
    const fresh = await loginWithLoginToken(ctx, emu.mintLoginToken());
    await store.write(fresh);
    expect(await tokens.getAccessToken()).to.equal(fresh.accessToken);
  });

  it('a revoked session ends in the same re-login error', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    emu.auth.revokeRefreshTokens();
    const err = await rejection(manager(await storeWith(due(set))).getAccessToken());
    expect(err).to.be.instanceOf(ReloginRequiredError);
    expect(err.message).to.include('jottadav login');
  });

  it('says to log in when nothing is saved', async () => {
    const err = await rejection(manager(new FileTokenStore(join(dir, 'none.json'))).getAccessToken());
    expect(err).to.be.instanceOf(ReloginRequiredError);
    expect(err.message).to.include('none.json');
  });

  it('recovers from transient refresh failures (503s, a dropped connection) with bounded retries', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const events: string[] = [];
    const tokens = manager(await storeWith(due(set)), { retry: { attempts: 4, minDelayMs: 1, maxDelayMs: 5 }, onRefresh: (e) => events.push(e.outcome) });
    emu.setFaults('status=503;path=/auth/realms/jottacloud/protocol/openid-connect/token;count=2;drop;path=/auth/realms/jottacloud/protocol/openid-connect/token;after=2;count=1');
    const token = await tokens.getAccessToken();
    expect(await status(emu, token)).to.equal(200);
    expect(events).to.deep.equal(['transient-failure', 'transient-failure', 'transient-failure', 'refreshed']);
  });

  it('gives up after the bounded number of tries, keeping the saved set usable for later', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const store = await storeWith(due(set));
    const tokens = manager(store);
    emu.setFaults('status=502;path=/auth/realms/jottacloud/protocol/openid-connect/token');
    emu.resetStats();
    const err = await rejection(tokens.getAccessToken());
    expect(err).to.be.instanceOf(TransientAuthError);
    expect(err.message).to.include('gave up after 3 tries');
    expect(tokenCalls()).to.equal(3);
    expect((await store.read())!.refreshToken).to.equal(set.refreshToken);
    emu.setFaults(undefined);
    expect(await status(emu, await tokens.getAccessToken())).to.equal(200);
  });

  it('does not hand out a refreshed token it could not save, and says the refresh token is spent', async () => {
    const set = await loginWithLoginToken(ctx, emu.mintLoginToken());
    const file = await storeWith(due(set));
    // The file store, except that saving fails (a full disk, a read-only mount).
    const failing: TokenStore = {
      location: file.location,
      read: () => file.read(),
      write: () => Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })),
      withRefreshLock: (fn) => file.withRefreshLock(fn),
    };
    const tokens = manager(failing);
    emu.resetStats();
    const err = await rejection(tokens.getAccessToken());
    expect(err).to.be.instanceOf(TokenPersistError);
    expect(err.message).to.include('ENOSPC').and.include('spent').and.include('jottadav login');
    expect(tokenCalls()).to.equal(1);
    expect((await file.read())!.accessToken).to.equal(set.accessToken);
    // The refresh did happen at the service, so the saved refresh token is dead, and nothing retries it.
    expect((await manualRefresh(emu, set)).status).to.equal(400);
    expect(await rejection(tokens.getAccessToken())).to.be.instanceOf(ReloginRequiredError);
  });

  it('refreshes a legacy set with the upper-case REFRESH_TOKEN grant', async () => {
    const set = await loginLegacy(ctx, { username: emu.user, password: emu.auth.legacyPassword });
    const tokens = manager(await storeWith(due(set)));
    emu.resetStats();
    const token = await tokens.getAccessToken();
    expect(token).to.not.equal(set.accessToken);
    expect(await status(emu, token)).to.equal(200);
    expect(tokenCalls('POST /auth/v1/token')).to.equal(1);
    expect((await tokens.tokenSet()).clientId).to.equal(set.clientId);
  });

  it('refreshes a white-label set with its own client (desktop-win)', async () => {
    const set = await loginWithBrowser(ctx, {
      service: findService('phonero')!,
      timeoutMs: 20_000,
      openUrl: async (url) => {
        const first = await fetch(url, { redirect: 'manual' });
        await (await fetch(first.headers.get('location')!)).text();
      },
    });
    const tokens = manager(await storeWith(due(set)));
    const token = await tokens.getAccessToken();
    expect(token).to.not.equal(set.accessToken);
    expect(await status(emu, token)).to.equal(200);
    expect((await tokens.tokenSet()).clientId).to.equal('desktop-win');
  });
});
