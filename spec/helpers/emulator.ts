// Test helpers for anything that talks to the Jottacloud emulator: start one on an ephemeral port (in memory by
// default), sign in the way a real client does (password grant with a freshly minted personal login token), and
// small fetch wrappers for JFS/API calls with the bearer token.
import { type EmulatorOptions, type RunningEmulator, startEmulator } from '../../lib/emulator/index.js';

export type { RunningEmulator } from '../../lib/emulator/index.js';

export interface TokenSet {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
  [key: string]: unknown;
}

/** An emulator on 127.0.0.1, port 0 (ephemeral), in memory unless `dataDir` is given. Close it when done. */
export function startTestEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ host: '127.0.0.1', port: 0, ...opts });
}

/**
 * Mocha hooks: a fresh emulator for the enclosing `describe` (started in `before`, closed in `after`), plus a
 * signed-in access token. Read `ctx.emu` / `ctx.token` inside tests.
 */
export function withEmulator(opts: EmulatorOptions = {}): { emu: RunningEmulator; token: string } {
  const ctx = {} as { emu: RunningEmulator; token: string };
  before(async () => {
    ctx.emu = await startTestEmulator(opts);
    ctx.token = await accessToken(ctx.emu);
  });
  after(async () => {
    await ctx.emu?.close();
  });
  return ctx;
}

/** What a personal login token carries (base64url JSON, as the web UI issues it). */
export function decodeLoginToken(token: string): { username: string; realm: string; well_known_link: string; auth_token: string } {
  return JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
    username: string;
    realm: string;
    well_known_link: string;
    auth_token: string;
  };
}

/** Signs in like `rclone config` with a personal login token: password grant, client `jottacli`. */
export async function login(emu: RunningEmulator): Promise<TokenSet> {
  const lt = decodeLoginToken(emu.mintLoginToken());
  const realm = lt.realm || 'jottacloud';
  const res = await fetch(`${emu.url}/auth/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: 'jottacli',
      grant_type: 'password',
      password: lt.auth_token,
      username: lt.username,
      scope: 'openid offline_access',
    }).toString(),
  });
  if (res.status !== 200) throw new Error(`login failed: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as TokenSet;
}

export async function accessToken(emu: RunningEmulator): Promise<string> {
  return (await login(emu)).access_token;
}

/** `fetch` against the emulator with `Authorization: Bearer <token>`; `path` starts with `/`. */
export function emuFetch(emu: RunningEmulator, token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(emu.url + path, { ...init, headers });
}

/** `/jfs/<user>/Jotta/Archive/<rel>` with each segment percent-encoded (`+` too, as the service wants). */
export function archivePath(emu: RunningEmulator, rel = ''): string {
  const segs = [emu.user, 'Jotta', 'Archive', ...rel.split('/').filter((s) => s !== '')];
  return '/jfs/' + segs.map((s) => encodeURIComponent(s)).join('/');
}
