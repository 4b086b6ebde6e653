// The Redis pieces every layer shares when `store` is a redis:// URL: opening a connection (its URL's password
// never reaches a message), key names under one prefix, and a cross-instance lock — SET NX PX with a random token,
// released and renewed only by its holder (compare-and-delete in a script), renewed while held so a long holder
// keeps it and a crashed one frees it after one lease. Layers above build on these; none of them opens Redis itself.
//
// The Redis client library is loaded by the first connectRedis, not with this module: a deployment without Redis
// (the usual one) would otherwise carry it in every process — some 20 MiB of RSS for code it never runs.
import type * as KeyvRedisModule from '@keyv/redis';
import type { KeyvStoreAdapter } from 'keyv';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

let loaded: typeof KeyvRedisModule | undefined;

async function redisModule(): Promise<typeof KeyvRedisModule> {
  loaded ??= await import('@keyv/redis');
  return loaded;
}

function newClient(
  create: typeof KeyvRedisModule.createClient,
  url: string,
  connectTimeout: number,
  reconnect: (retries: number) => number | false,
) {
  return create({ url, socket: { connectTimeout, reconnectStrategy: reconnect } });
}

export type RedisClient = ReturnType<typeof newClient>;

/** `redis://user:secret@host` → `redis://user:***@host`: for messages and logs. */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparsable URL)';
  }
}

/** Every key and channel jottadav uses in Redis, under the deployment's prefix (`redis.keyPrefix`). */
export function redisKeys(prefix: string) {
  return {
    /** The account's token set (one deployment serves one account). */
    tokens: `${prefix}:tokens`,
    tokenRefreshLock: `${prefix}:tokens:refresh-lock`,
    /** Paths changed by a write, published for the other instances' caches. */
    cacheChanges: `${prefix}:cache-changes`,
    /** Guards the WebDAV lock table and dead properties while one instance checks and changes them. */
    webdavStateLock: `${prefix}:webdav-state-lock`,
  };
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export interface ConnectOptions {
  /** Told about connection errors after the first connect (the client reconnects by itself). */
  onError?: (message: string) => void;
  /** How long the first connect may take. Default 10 s. */
  connectTimeoutMs?: number;
}

/** Opens a connection; fails with one sentence (URL without password) when Redis cannot be reached. */
export async function connectRedis(url: string, opts: ConnectOptions = {}): Promise<RedisClient> {
  const timeout = opts.connectTimeoutMs ?? 10_000;
  let connected = false;
  let firstError: string | undefined;
  // While starting, one failure is the answer; once up, reconnect with a capped backoff like any service.
  const { createClient } = await redisModule();
  const client = newClient(createClient, url, timeout, (retries) => (connected ? Math.min(50 * 2 ** retries, 2_000) : false));
  // Without a listener an 'error' event would crash the process; a dropped connection is retried instead.
  client.on('error', (err: Error) => {
    if (!connected) firstError ??= err.message;
    else opts.onError?.(`Redis at ${safeRedisUrl(url)}: ${err.message}`);
  });
  try {
    await client.connect();
  } catch (err) {
    const reason = firstError ?? (err instanceof Error ? err.message : String(err));
    throw new RedisUnavailableError(`Redis at ${safeRedisUrl(url)} cannot be reached: ${reason.replace(url, safeRedisUrl(url))}.`);
  }
  connected = true;
  return client;
}

/** Closes a connection without waiting on a server that is gone. */
export async function closeRedis(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  await client.close().catch(() => client.destroy());
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}

export interface RedisLockOptions {
  /** The lock's lease; renewed every third of it while held. */
  leaseMs: number;
  /** How long to wait for another holder before giving up. Default 60 s. */
  waitMs?: number;
  /** What the lock guards, for the timeout message. */
  what?: string;
}

/**
 * One named lock shared by every instance on the same Redis. `exclusive(fn)` runs fn while holding it; calls
 * nested inside fn (same async context) run at once instead of waiting for themselves.
 */
export class RedisLock {
  private readonly held = new AsyncLocalStorage<boolean>();
  /** In this process one caller at a time asks Redis; the others queue here instead of polling. */
  private local: Promise<unknown> = Promise.resolve();
  /** Times the lock was taken (tests and metrics). */
  acquisitions = 0;

  constructor(
    private readonly client: RedisClient,
    readonly key: string,
    private readonly options: RedisLockOptions,
  ) {}

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.held.getStore()) return fn();
    const turn = this.local.then(() => this.holding(fn));
    this.local = turn.catch(() => undefined);
    return turn;
  }

  private async holding<T>(fn: () => Promise<T>): Promise<T> {
    const token = await this.acquire();
    const renewal = setInterval(() => {
      // A blip is harmless: the next renewal, a third of the lease later, tries again.
      this.client.eval(RENEW, { keys: [this.key], arguments: [token, String(this.options.leaseMs)] }).catch(() => undefined);
    }, Math.max(100, Math.floor(this.options.leaseMs / 3)));
    renewal.unref();
    try {
      return await this.held.run(true, fn);
    } finally {
      clearInterval(renewal);
      // Only our own token is deleted: if the lease ran out and someone else holds it now, theirs stays.
      await this.client.eval(RELEASE, { keys: [this.key], arguments: [token] }).catch(() => undefined);
    }
  }

  private async acquire(): Promise<string> {
    const token = randomUUID();
    const deadline = Date.now() + (this.options.waitMs ?? 60_000);
    for (;;) {
      const ok = await this.client.set(this.key, token, { condition: 'NX', expiration: { type: 'PX', value: this.options.leaseMs } });
      if (ok === 'OK') {
        this.acquisitions++;
        return token;
      }
      if (Date.now() > deadline) {
        throw new LockTimeoutError(`Another jottadav instance has held the ${this.options.what ?? 'shared'} lock (${this.key}) for too long`);
      }
      await sleep(10 + Math.random() * 40);
    }
  }
}

/**
 * A keyv store in Redis on a shared connection. keyv sets the adapter's namespace from its own (the metadata
 * cache picks one per account root); the deployment's key prefix is put in front, so two deployments on one
 * Redis never share records. Closing a keyv on it leaves the connection open: the caller owns it.
 */
export function redisKeyvStore(client: RedisClient, keyPrefix: string): KeyvStoreAdapter {
  // A client only comes from connectRedis, which has loaded the library.
  if (!loaded) throw new Error('redisKeyvStore before connectRedis');
  class PrefixedStore extends loaded.default<unknown> {
    override get namespace(): string | undefined {
      return super.namespace;
    }
    override set namespace(value: string | undefined) {
      super.namespace = `${keyPrefix}:${value ?? 'keyv'}`;
    }
  }
  const store = new PrefixedStore(client as never, { noNamespaceAffectsAll: false });
  store.namespace = undefined;
  store.disconnect = async () => undefined;
  // Connection trouble is reported once, by connectRedis's listener; an unheard 'error' here must not throw.
  store.on('error', () => undefined);
  return store as unknown as KeyvStoreAdapter;
}
