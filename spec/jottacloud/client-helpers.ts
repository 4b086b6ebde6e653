// Shared pieces of the API client specs: a token source that signs in against the emulator the way a
// real client does (password grant with a minted personal login token) and signs in again after a 401,
// a client factory pointed at one emulator, and small byte helpers.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { JottacloudClient, singleOriginEndpoints, type AccessTokenSource, type JottacloudClientOptions, type RequestInfo } from '../../lib/jottacloud/index.js';
import { accessToken, type RunningEmulator } from '../helpers/emulator.js';

/** The simplest honest AccessTokenSource: one login, and a fresh login when a token is refused. */
export class EmulatorTokens implements AccessTokenSource {
  renewals = 0;
  private token?: Promise<string>;

  constructor(private readonly emu: RunningEmulator) {}

  getAccessToken(): Promise<string> {
    this.token ??= accessToken(this.emu);
    return this.token;
  }

  async renewAfterUnauthorized(rejected: string): Promise<string> {
    const current = await this.getAccessToken();
    if (current !== rejected) return current;
    this.renewals++;
    this.token = accessToken(this.emu);
    return this.token;
  }
}

export interface TestClient {
  client: JottacloudClient;
  tokens: EmulatorTokens;
  requests: RequestInfo[];
}

export function makeClient(emu: RunningEmulator, options: Partial<JottacloudClientOptions> = {}): TestClient {
  const tokens = new EmulatorTokens(emu);
  const requests: RequestInfo[] = [];
  const client = new JottacloudClient({
    endpoints: singleOriginEndpoints(emu.url),
    tokens,
    onRequest: (info) => requests.push(info),
    ...options,
  });
  return { client, tokens, requests };
}

export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** Deterministic pseudo-random bytes (so a failing test can be re-run with the same content). */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function parallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
