// Test harness for the storage specs: a real emulator on an ephemeral port, a real API client signed in
// with a personal login token (as a user would), and a provider on it with its own spool folder.
// Requests are counted through the client's onRequest hook.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../lib/emulator/index.js';
import { authContext, loginWithLoginToken, type TokenSet } from '../../lib/jottacloud/auth/index.js';
import { JottacloudClient, singleOriginEndpoints, type RequestInfo } from '../../lib/jottacloud/index.js';
import { TokenManager, type TokenStore } from '../../lib/jottacloud/tokens.js';
import { openStorage, type JottacloudStorage, type StorageOptions } from '../../lib/storage/provider.js';

class MemoryTokenStore implements TokenStore {
  readonly location = 'memory';
  constructor(private set: TokenSet) {}
  async read(): Promise<TokenSet | undefined> {
    return this.set;
  }
  async write(set: TokenSet): Promise<void> {
    this.set = set;
  }
  async withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}

export interface Harness {
  emulator: RunningEmulator;
  client: JottacloudClient;
  storage: JottacloudStorage;
  /** Spool folder of this harness. */
  spoolDir: string;
  /** HTTP requests the client made since the last `resetCount()`. */
  requests: RequestInfo[];
  resetCount(): void;
  /** A second provider on the same account (its own cache), e.g. to see the service's state. */
  openStorage(config?: StorageOptions['config']): Promise<JottacloudStorage>;
  close(): Promise<void>;
}

export async function startHarness(
  config: StorageOptions['config'] = {},
  emulatorOptions: EmulatorOptions = {},
): Promise<Harness> {
  const emulator = await startEmulator({ port: 0, ...emulatorOptions });
  const endpoints = singleOriginEndpoints(emulator.url);
  const set = await loginWithLoginToken(authContext(endpoints), emulator.mintLoginToken());
  const tokens = new TokenManager({ store: new MemoryTokenStore(set), endpoints });
  const requests: RequestInfo[] = [];
  const client = new JottacloudClient({
    endpoints,
    tokens,
    username: emulator.user,
    // Few, fast retries: fault specs then decide exactly which call fails.
    retry: { maxRetries: 0, minDelayMs: 1, maxDelayMs: 5 },
    onRequest: (info) => requests.push(info),
  });
  const dir = mkdtempSync(join(tmpdir(), 'jottadav-storage-'));
  const spoolDir = join(dir, 'spool');
  const others: JottacloudStorage[] = [];
  const storage = await openStorage({ client, config: { spoolDir, ...config } });
  return {
    emulator,
    client,
    storage,
    spoolDir,
    requests,
    resetCount: () => {
      requests.length = 0;
    },
    openStorage: async (cfg = config) => {
      const s = await openStorage({ client, config: { spoolDir: join(dir, `spool-${others.length}`), ...cfg } });
      others.push(s);
      return s;
    },
    close: async () => {
      await storage.close();
      for (const s of others) await s.close();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function body(text: string | Buffer): Readable {
  return Readable.from([typeof text === 'string' ? Buffer.from(text) : text]);
}

export async function readAll(storage: JottacloudStorage, path: string): Promise<string> {
  return (await buffer(await storage.openRead(path))).toString();
}

/** Hex MD5 of a text or buffer, as the service and the WebDAV checksum headers spell it. */
export const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex');

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejects(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}
