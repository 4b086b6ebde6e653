// Where the token set lives and who may refresh it. Jottacloud's refresh tokens are single-use: a refresh
// answers a new one and kills the old, and a second refresh with the old one ends the whole session
// (invalid_grant). So, for one account:
// - one refresh at a time: in this process (single-flight: concurrent callers await the same promise) and
//   across processes sharing the store (the store's refresh lock; the store is re-read under it, so a set
//   another process rotated is adopted instead of refreshed again);
// - the new set is saved before anything uses it; if saving fails it is not handed out;
// - invalid_grant (or any other refusal of the refresh token) is final: ReloginRequiredError, no retry loop;
//   network errors and 5xx are retried a few times with backoff.
import type { AxiosInstance } from 'axios';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../util/files.js';
import type { Endpoints } from './endpoints.js';
import { AuthError, ReloginRequiredError, TokenPersistError, TransientAuthError } from './auth/errors.js';
import { authContext, tokenSetSchema, type AuthContext, type TokenSet } from './auth/grant.js';
import { refreshTokenSet } from './auth/index.js';
import type { AccessTokenSource } from './token-source.js';
import { processIsAlive } from '../util/process.js';

export type { TokenSet } from './auth/grant.js';

/** Keeps one account's token set. A file store ships here; a shared (Redis) one implements the same. */
export interface TokenStore {
  /** Where the set is kept, for messages (a path, a key). */
  readonly location: string;
  /** The saved set, or undefined when there is none. */
  read(): Promise<TokenSet | undefined>;
  /** Saves the set so that a crash leaves either the old or the new one. */
  write(set: TokenSet): Promise<void>;
  /** Runs `fn` while no other process (sharing this store) refreshes the same account. */
  withRefreshLock<T>(fn: () => Promise<T>): Promise<T>;
}

const storeVersion = 1;

/** The stored form of a token set (the same JSON in every store): `{"version":1,"tokens":{…}}`. */
export function formatStoredTokens(set: TokenSet): string {
  return `${JSON.stringify({ version: storeVersion, tokens: set }, null, 2)}\n`;
}

/** Reads the stored form back; anything damaged means a new login (`location` names the store in the message). */
export function parseStoredTokens(text: string, location: string): TokenSet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ReloginRequiredError(`the token store ${location} is not valid JSON`);
  }
  const doc = parsed as { version?: unknown; tokens?: unknown };
  if (doc?.version !== storeVersion) throw new ReloginRequiredError(`the token store ${location} has an unknown format`);
  const result = tokenSetSchema.safeParse(doc.tokens);
  if (!result.success) throw new ReloginRequiredError(`the token store ${location} is incomplete`);
  return result.data;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface FileTokenStoreOptions {
  /** How long to wait for another process's refresh before giving up. Default 60 s. */
  lockTimeoutMs?: number;
  /** A lock older than this is left over from a crash. Default 2 minutes (a refresh with retries takes far less). */
  staleLockMs?: number;
}

/**
 * The token set as JSON in one file (default `<config dir>/tokens.json`), mode 0600, replaced atomically
 * (temp file, fsync, rename). The refresh lock is `<file>.lock`, created exclusively, holding the owner's pid.
 */
export class FileTokenStore implements TokenStore {
  readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;

  constructor(
    readonly location: string,
    options: FileTokenStoreOptions = {},
  ) {
    this.lockPath = `${location}.lock`;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
    this.staleLockMs = options.staleLockMs ?? 120_000;
  }

  async read(): Promise<TokenSet | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AuthError(`The token store ${this.location} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return parseStoredTokens(text, this.location);
  }

  async write(set: TokenSet): Promise<void> {
    await writeFileAtomic(this.location, formatStoredTokens(set), 0o600);
  }

  async withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquireLock();
    try {
      return await fn();
    } finally {
      await fs.rm(this.lockPath, { force: true });
    }
  }

  private async acquireLock(): Promise<void> {
    await fs.mkdir(dirname(this.lockPath), { recursive: true, mode: 0o700 });
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      try {
        const handle = await fs.open(this.lockPath, 'wx', 0o600);
        try {
          await handle.writeFile(`${process.pid} ${Date.now()}\n`);
        } finally {
          await handle.close();
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // A lock whose owner died (crash, kill -9) would otherwise block every refresh until removed by hand.
      // Two processes may both judge it stale; the loser's open('wx') then fails and it waits as usual.
      if (await this.lockIsStale()) {
        await fs.rm(this.lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new AuthError(
          `Another jottadav process has held the token lock ${this.lockPath} for too long; if none is running, delete that file`,
        );
      }
      await sleep(25 + Math.random() * 50);
    }
  }

  private async lockIsStale(): Promise<boolean> {
    try {
      const [text, stat] = await Promise.all([fs.readFile(this.lockPath, 'utf8'), fs.stat(this.lockPath)]);
      const [pidText, timeText] = text.trim().split(/\s+/);
      const pid = Number(pidText);
      const since = Number(timeText) || stat.mtimeMs;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processIsAlive(pid)) return true;
      // An empty lock is one whose writer died between creating and filling it.
      if (!text.trim()) return Date.now() - stat.mtimeMs > 5_000;
      return Date.now() - since > this.staleLockMs;
    } catch {
      return false; // gone already: the next open('wx') decides
    }
  }
}

export interface RefreshRetryOptions {
  /** Tries in all for a refresh that fails transiently (5xx, 429, network). Default 4. */
  attempts?: number;
  /** Backoff before the second try, doubled each time up to maxDelayMs. Defaults 500 ms, 8 s. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface TokenManagerOptions {
  store: TokenStore;
  endpoints: Endpoints;
  http?: AxiosInstance;
  /** Refresh when less than this is left (capped at half the token's lifetime). Default 5 minutes. */
  refreshAheadMs?: number;
  retry?: RefreshRetryOptions;
  /** Told about each refresh attempt (for logs and metrics; carries no secret). */
  onRefresh?: (event: { outcome: 'refreshed' | 'adopted' | 'transient-failure' | 'refused' | 'persist-failed'; attempt: number }) => void;
}

/** Hands out access tokens for one account, refreshing them as described at the top of this file. */
export class TokenManager implements AccessTokenSource {
  private current?: TokenSet;
  private inflight?: Promise<TokenSet>;
  /** A refresh token the service refused or that was spent unsaved: never sent again (each call re-reads the store for a new login). */
  private refusedRefreshToken?: string;
  private readonly ctx: AuthContext;
  private readonly store: TokenStore;
  private readonly refreshAheadMs: number;
  private readonly retry: Required<RefreshRetryOptions>;

  constructor(private readonly options: TokenManagerOptions) {
    this.store = options.store;
    this.ctx = authContext(options.endpoints, options.http);
    this.refreshAheadMs = options.refreshAheadMs ?? 5 * 60_000;
    this.retry = { attempts: 4, minDelayMs: 500, maxDelayMs: 8_000, ...options.retry };
  }

  async getAccessToken(): Promise<string> {
    if (this.inflight) return (await this.inflight).accessToken;
    const set = this.current ?? (await this.load());
    if (!this.isDue(set)) return set.accessToken;
    return (await this.refresh()).accessToken;
  }

  async renewAfterUnauthorized(rejected: string): Promise<string> {
    if (this.inflight) {
      const set = await this.inflight;
      if (set.accessToken !== rejected) return set.accessToken;
    }
    const set = this.current ?? (await this.load());
    // Someone already replaced the rejected token (a concurrent caller, another process via the store).
    if (set.accessToken !== rejected) return set.accessToken;
    return (await this.refresh(rejected)).accessToken;
  }

  /** The token set in use (after loading it if needed); for commands that show the account's state. */
  async tokenSet(): Promise<TokenSet> {
    return this.current ?? (await this.load());
  }

  private async load(): Promise<TokenSet> {
    const set = await this.store.read();
    if (!set) throw new ReloginRequiredError(`no token set is saved in ${this.store.location}`);
    this.current = set;
    return set;
  }

  /** Due for a refresh: less than refreshAheadMs left, or less than half its lifetime for short-lived tokens. */
  private isDue(set: TokenSet): boolean {
    const expires = Date.parse(set.expiresAt);
    const lifetime = expires - Date.parse(set.obtainedAt);
    const ahead = Math.min(this.refreshAheadMs, Math.max(0, lifetime / 2));
    return expires - Date.now() <= ahead;
  }

  private refresh(rejected?: string): Promise<TokenSet> {
    // Single-flight: every caller arriving while a refresh runs shares its outcome.
    this.inflight ??= this.store.withRefreshLock(() => this.refreshUnderLock(rejected)).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async refreshUnderLock(rejected?: string): Promise<TokenSet> {
    // Another process may have rotated the set while we waited for the lock (or long before).
    const latest = await this.load();
    if (latest.accessToken !== rejected && !this.isDue(latest)) {
      this.options.onRefresh?.({ outcome: 'adopted', attempt: 0 });
      return latest;
    }
    if (latest.refreshToken === this.refusedRefreshToken) {
      throw new ReloginRequiredError('the saved refresh token was already spent or refused');
    }
    const next = await this.refreshWithRetry(latest);
    try {
      await this.store.write(next);
    } catch (err) {
      // The new set exists only in memory; a token nobody can continue from after a restart is not handed out.
      this.current = undefined;
      this.refusedRefreshToken = latest.refreshToken;
      this.options.onRefresh?.({ outcome: 'persist-failed', attempt: 0 });
      throw new TokenPersistError(this.store.location, err);
    }
    this.current = next;
    return next;
  }

  private async refreshWithRetry(set: TokenSet): Promise<TokenSet> {
    for (let attempt = 1; ; attempt++) {
      try {
        const next = await refreshTokenSet(this.ctx, set);
        this.options.onRefresh?.({ outcome: 'refreshed', attempt });
        return next;
      } catch (err) {
        if (err instanceof TransientAuthError) {
          this.options.onRefresh?.({ outcome: 'transient-failure', attempt });
          if (attempt >= this.retry.attempts) {
            throw new TransientAuthError(`${err.message}; gave up after ${attempt} tries`, err.status, err.oauthError);
          }
          const delay = Math.min(this.retry.maxDelayMs, this.retry.minDelayMs * 2 ** (attempt - 1));
          await sleep(delay / 2 + Math.random() * (delay / 2));
          continue;
        }
        if (err instanceof AuthError && err.status !== undefined && err.status >= 400 && err.status < 500) {
          // invalid_grant (spent, revoked or expired refresh token), invalid_client, …: only a new login helps.
          this.refusedRefreshToken = set.refreshToken;
          this.options.onRefresh?.({ outcome: 'refused', attempt });
          const reason = err.oauthError === 'invalid_grant' ? 'the refresh token was refused: invalid_grant' : `the refresh was refused: HTTP ${err.status}`;
          throw new ReloginRequiredError(reason, err.status, err.oauthError);
        }
        throw err;
      }
    }
  }
}
