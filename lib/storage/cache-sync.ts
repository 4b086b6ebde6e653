// Cache invalidation across jottadav instances that share one metadata cache in Redis. The shared records
// already carry each write-through, so a PUT through one instance is listed by the next request to any other;
// what Redis cannot see is each instance's own bookkeeping (fetches in flight, the records it stored under a
// folder). So every path a write changed is published on one channel, and every other instance `forget`s it:
// a listing fetch it began before the write is then not stored, and records under a moved or deleted folder
// are dropped by whoever stored them. Messages missed while the subscription was down are covered by dropping
// this instance's records when it reconnects (and, failing all else, by the cache TTL).
import { randomUUID } from 'node:crypto';
import { closeRedis, safeRedisUrl, type RedisClient } from '../util/redis.js';
import type { MetadataCache } from './cache.js';

interface ChangeMessage {
  /** The instance that made the write (it has forgotten already). */
  from: string;
  path: string;
}

export interface CacheSyncOptions {
  /** A connected client used for publishing; a second connection is made from it for the subscription. */
  client: RedisClient;
  /** `<redis.keyPrefix>:cache-changes` by convention; every instance of one deployment uses the same. */
  channel: string;
  /** For messages: the Redis URL (its password is masked). */
  url: string;
  log?: (message: string) => void;
}

export interface CacheSync {
  /** This instance's id in messages. */
  readonly id: string;
  /** Changes received from other instances so far. */
  readonly received: number;
  close(): Promise<void>;
}

/** Publishes this cache's changes and applies the other instances' ones until closed. */
export async function shareCacheChanges(cache: MetadataCache, opts: CacheSyncOptions): Promise<CacheSync> {
  const id = randomUUID();
  const log = opts.log ?? (() => undefined);
  const subscriber = opts.client.duplicate();
  let up = false;
  subscriber.on('error', (err: Error) => log(`cache invalidation channel (${safeRedisUrl(opts.url)}): ${err.message}`));
  subscriber.on('ready', () => {
    // A reconnect: whatever was published meanwhile is lost to us, so nothing we stored can be trusted.
    if (up) void cache.clear().catch(() => undefined);
    up = true;
  });
  await subscriber.connect();
  const state = { id, received: 0 };
  await subscriber.subscribe(opts.channel, (raw: string) => {
    let msg: ChangeMessage;
    try {
      msg = JSON.parse(raw) as ChangeMessage;
    } catch {
      return;
    }
    if (msg.from === id || typeof msg.path !== 'string') return;
    state.received++;
    void cache.forget(msg.path).catch((err: unknown) => log(`dropping ${msg.path} from the cache failed: ${err instanceof Error ? err.message : String(err)}`));
  });
  const stop = cache.onChange(async (path) => {
    // The write itself succeeded on the service; a Redis hiccup must not turn it into an error for the client.
    try {
      await opts.client.publish(opts.channel, JSON.stringify({ from: id, path } satisfies ChangeMessage));
    } catch (err) {
      log(`publishing a cache change for ${path} failed (other instances may show the old state until the cache TTL): ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return {
    id,
    get received() {
      return state.received;
    },
    close: async () => {
      stop();
      await subscriber.unsubscribe(opts.channel).catch(() => undefined);
      await closeRedis(subscriber);
    },
  };
}
