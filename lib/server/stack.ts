// The wiring module: the one place that builds the layers for `jottadav serve` — the Jottacloud client on the
// configured account (or on the embedded emulator when no account is configured), the storage provider on it,
// the WebDAV handler on that — and hands the server what it needs: the handler, the provider (browser page),
// readiness checks, and one close() for all of it. Everything else in lib/server sees only lib/webdav.
// With `store: redis://…` the token set, metadata cache, WebDAV locks and dead properties live in Redis
// (one connection, plus one for the cache-change channel) so several instances can serve one account.
import Keyv from 'keyv';
import { KeyvFile } from 'keyv-file';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type winston from 'winston';
import type { Config } from '../config/index.js';
import type { RunningEmulator } from '../emulator/index.js';
import { authContext, loginWithLoginToken } from '../jottacloud/auth/index.js';
import { JottacloudClient } from '../jottacloud/client.js';
import { endpointsFromSetting, singleOriginEndpoints, type Endpoints } from '../jottacloud/endpoints.js';
import { FileTokenStore, TokenManager, type TokenStore } from '../jottacloud/tokens.js';
import { openTokenStore } from '../jottacloud/token-store-redis.js';
import { openStorage, type StorageProvider } from '../storage/index.js';
import { shareCacheChanges } from '../storage/cache-sync.js';
import { closeRedis, connectRedis, redisKeys, redisKeyvStore, RedisLock, type RedisClient } from '../util/redis.js';
import { createWebdavHandler } from '../webdav/index.js';
import type { WebdavHandler } from './app.js';
import type { ServerMetrics } from './metrics.js';
import type { ReadinessChecks } from './ops.js';

/** An emulator to serve instead of an account: the embedded one, or one a test started. */
export interface EmulatorTarget {
  url: string;
  user: string;
  mintLoginToken(): string;
}

export interface StackOptions {
  config: Config;
  /** Folder for state that belongs to this server: embedded emulator data, its token set, locks, properties. */
  stateDir: string;
  logger: winston.Logger;
  metrics?: ServerMetrics;
  /** Serve this emulator (tests); otherwise the configured account, or the embedded emulator. */
  emulator?: EmulatorTarget;
}

export interface Stack {
  storage: StorageProvider;
  webdav: WebdavHandler;
  checks: ReadinessChecks;
  /** For the start-up banner, e.g. "the embedded Jottacloud emulator (data in …)". */
  description: string;
  /** True when serving the embedded emulator. */
  embedded: boolean;
  client: JottacloudClient;
  tokens: TokenManager;
  close(): Promise<void>;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // removed between listing and stat
  }
}

function fileStore(path: string): Keyv {
  return new Keyv({ store: new KeyvFile({ filename: path, writeDelay: 50 }) });
}

export async function buildStack(opts: StackOptions): Promise<Stack> {
  const { config, stateDir, logger, metrics } = opts;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const closers: (() => Promise<void>)[] = [];

  let endpoints: Endpoints;
  let tokenStore: TokenStore;
  let redis: RedisClient | undefined;
  let username: string;
  let device = config.account?.device;
  let mountpoint = config.account?.mountpoint;
  let description: string;
  let embedded = false;
  let target = opts.emulator;

  try {
    if (config.store !== 'local') {
      if (!config.account) throw new Error('store: redis serves a configured account (run `jottadav login` with that store first), not the embedded emulator.');
      redis = await connectRedis(config.store, { onError: (message) => logger.warn(message) });
      const client = redis;
      closers.push(() => closeRedis(client));
    }
    if (!target && !config.account) {
      // No account: a local Jottacloud that keeps its files under the config folder across restarts.
      // Loaded only here: a server of a real account never carries the emulator's code (~12 MiB of RSS).
      const { startEmulator } = await import('../emulator/index.js');
      const dataDir = join(stateDir, 'emulator');
      const emu: RunningEmulator = await startEmulator({ host: '127.0.0.1', port: 0, dataDir, log: (line) => logger.debug(`emulator: ${line}`) });
      closers.push(() => emu.close());
      target = emu;
      embedded = true;
      description = `the embedded Jottacloud emulator (data in ${dataDir})`;
    }
    if (target) {
      // Sign in the way a user would, with a fresh personal login token; the set lives beside our state.
      endpoints = singleOriginEndpoints(target.url);
      const emulatorTokens = new FileTokenStore(join(stateDir, 'emulator-tokens.json'));
      tokenStore = emulatorTokens;
      const set = await loginWithLoginToken(authContext(endpoints), target.mintLoginToken());
      await tokenStore.withRefreshLock(() => tokenStore.write(set));
      username = target.user;
      description ??= `the Jottacloud emulator at ${target.url}`;
    } else {
      const account = config.account!;
      endpoints = endpointsFromSetting(config.endpoints);
      tokenStore = (await openTokenStore(config, { dir: stateDir, ...(redis ? { client: redis } : {}) })).store;
      username = account.username;
      description = `the Jottacloud account ${account.username} (${account.device}/${account.mountpoint})`;
    }
    const tokens = new TokenManager({
      store: tokenStore,
      endpoints,
      onRefresh: (e) => logger.info(`token refresh: ${e.outcome}`, { attempt: e.attempt }),
    });
    const client = new JottacloudClient({
      endpoints,
      tokens,
      username,
      ...(device ? { device } : {}),
      ...(mountpoint ? { mountpoint } : {}),
      ...(metrics ? { onRequest: metrics.recordBackendRequest } : {}),
    });
    device ??= client.device;
    mountpoint ??= client.mountpoint;

    const storage = await openStorage({
      client,
      config: config.storage,
      account: { device, mountpoint },
      log: (message) => logger.warn(message),
      ...(redis ? { cacheStore: redisKeyvStore(redis, config.redis.keyPrefix) } : {}),
    });
    // Before the Redis connection (closed last): the cache still deletes its records when it closes.
    closers.splice(closers.length - (redis ? 1 : 0), 0, () => storage.close());
    if (redis) {
      const sync = await shareCacheChanges(storage.cache, {
        client: redis,
        channel: redisKeys(config.redis.keyPrefix).cacheChanges,
        url: config.store,
        log: (message) => logger.warn(message),
      });
      closers.unshift(() => sync.close());
    }
    if (metrics) {
      metrics.observeCache(() => {
        const st = storage.cache.stats;
        return { hits: st.listingHits + st.entryHits, misses: st.listingMisses + st.entryMisses };
      });
      metrics.observeSpool(() => storage.spool.files.reduce((sum, f) => sum + sizeOf(f), 0));
    }

    const shared = redis
      ? {
          lockStore: new Keyv({ store: redisKeyvStore(redis, config.redis.keyPrefix), namespace: 'webdav-locks' }),
          propertyStore: new Keyv({ store: redisKeyvStore(redis, config.redis.keyPrefix), namespace: 'webdav-properties' }),
          sharedState: new RedisLock(redis, redisKeys(config.redis.keyPrefix).webdavStateLock, {
            leaseMs: config.redis.lockLeaseSec * 1000,
            what: 'WebDAV lock and property',
          }),
        }
      : {
          lockStore: fileStore(join(stateDir, 'webdav-locks.json')),
          propertyStore: fileStore(join(stateDir, 'webdav-properties.json')),
        };
    const webdav = createWebdavHandler({
      storage,
      basePath: config.server.basePath,
      ignoreMacMetadata: config.webdav.ignoreMacMetadata,
      lockTimeoutDefault: config.webdav.lockTimeoutDefaultSec,
      lockTimeoutMax: config.webdav.lockTimeoutMaxSec,
      ...shared,
      log: (level, message, meta) => logger.log(level, message, meta),
    });
    closers.unshift(() => webdav.close());

    const checks: ReadinessChecks = {
      token: async () => {
        await tokens.getAccessToken();
      },
      backend: async () => {
        await client.driveInfo();
      },
    };
    if (redis) {
      const r = redis;
      checks.store = async () => {
        await r.ping();
      };
    }
    return {
      storage,
      webdav,
      checks,
      description,
      embedded,
      client,
      tokens,
      close: async () => {
        for (const close of closers) await close().catch((err: unknown) => logger.warn(`closing: ${err instanceof Error ? err.message : String(err)}`));
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => undefined);
    throw err;
  }
}

