// The token set in Redis, for several jottadav instances on one account (`store: redis://…`), and the choice of
// token store from the configuration. Jottacloud's refresh tokens are single-use, so the instances must refresh
// exactly once per expiry: the refresh runs under a Redis lock (SET NX PX with a random token, renewed while
// held, released only by its holder), and TokenManager re-reads the set under that lock — an instance that
// waited finds the set another one rotated and adopts it instead of spending the old refresh token again.
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { closeRedis, connectRedis, RedisLock, redisKeys, safeRedisUrl, type RedisClient } from '../util/redis.js';
import { FileTokenStore, formatStoredTokens, parseStoredTokens, type TokenSet, type TokenStore } from './tokens.js';

export interface RedisTokenStoreOptions {
  /** Key prefix shared by the instances of one deployment (`redis.keyPrefix`); one deployment serves one account. */
  prefix: string;
  /** The refresh lock's lease; renewed while a refresh runs. */
  leaseMs: number;
  /** For messages: the Redis URL (its password is masked). */
  url: string;
  /** How long to wait for another instance's refresh. Default 60 s. */
  lockWaitMs?: number;
}

export class RedisTokenStore implements TokenStore {
  readonly location: string;
  readonly key: string;
  readonly lock: RedisLock;

  constructor(
    private readonly client: RedisClient,
    options: RedisTokenStoreOptions,
  ) {
    const keys = redisKeys(options.prefix);
    this.key = keys.tokens;
    this.location = `${safeRedisUrl(options.url)} key ${this.key}`;
    this.lock = new RedisLock(client, keys.tokenRefreshLock, { leaseMs: options.leaseMs, waitMs: options.lockWaitMs, what: 'token refresh' });
  }

  async read(): Promise<TokenSet | undefined> {
    const text = await this.client.get(this.key);
    return text === null ? undefined : parseStoredTokens(text, this.location);
  }

  async write(set: TokenSet): Promise<void> {
    // One SET replaces the whole value: a reader sees the old set or the new one, never a mix.
    await this.client.set(this.key, formatStoredTokens(set));
  }

  withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.exclusive(fn);
  }
}

/** A token store and what closes it (the Redis connection it opened, if any). */
export interface OpenedTokenStore {
  store: TokenStore;
  close(): Promise<void>;
}

/**
 * The configured token store: the file `tokenStore` (default `<dir>/tokens.json`) for `store: local`, else the
 * set in Redis under `<keyPrefix>:tokens` (known before login has told us the user name, which is why the key
 * does not carry it). `client` reuses a connection the caller owns.
 */
export async function openTokenStore(
  config: Pick<Config, 'store' | 'redis' | 'tokenStore'>,
  opts: { dir?: string; client?: RedisClient } = {},
): Promise<OpenedTokenStore> {
  if (config.store === 'local') {
    return { store: new FileTokenStore(config.tokenStore ?? join(opts.dir ?? '.', 'tokens.json')), close: async () => undefined };
  }
  const own = !opts.client;
  const client = opts.client ?? (await connectRedis(config.store));
  const store = new RedisTokenStore(client, {
    prefix: config.redis.keyPrefix,
    leaseMs: config.redis.lockLeaseSec * 1000,
    url: config.store,
  });
  return { store, close: async () => (own ? closeRedis(client) : undefined) };
}
