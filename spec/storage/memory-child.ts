// Child process of memory.spec.ts: uploads a generated body of BYTES bytes without a client MD5 through a
// provider (so it is spooled to disk and hashed) and prints the peak RSS and heap it saw, as JSON. It runs
// apart from mocha and the emulator so that its memory is the provider's alone.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { authContext, loginWithLoginToken, type TokenSet } from '../../lib/jottacloud/auth/index.js';
import { JottacloudClient, singleOriginEndpoints } from '../../lib/jottacloud/index.js';
import { TokenManager } from '../../lib/jottacloud/tokens.js';
import { openStorage } from '../../lib/storage/provider.js';

const url = process.env.EMULATOR_URL!;
const user = process.env.EMULATOR_USER!;
const bytes = Number(process.env.BYTES);
const spoolDir = process.env.SPOOL_DIR!;

const endpoints = singleOriginEndpoints(url);
let set: TokenSet = await loginWithLoginToken(authContext(endpoints), process.env.LOGIN_TOKEN!);
const tokens = new TokenManager({
  endpoints,
  store: {
    location: 'memory',
    read: async () => set,
    write: async (s) => {
      set = s;
    },
    withRefreshLock: (fn) => fn(),
  },
});
const client = new JottacloudClient({ endpoints, tokens, username: user });
const storage = await openStorage({ client, config: { spoolDir } });

/** 1 MiB chunks of a repeating pattern, generated on demand (the source itself holds nothing). */
function generated(total: number): Readable {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7) & 0xff;
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      this.push(n === chunk.length ? Buffer.from(chunk) : chunk.subarray(0, n));
    },
  });
}

global.gc?.();
const baseline = process.memoryUsage();
let peakRss = baseline.rss;
let peakHeap = baseline.heapUsed;
const timer = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}, 20);

const expected = createHash('md5');
const chunk = Buffer.alloc(1024 * 1024);
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7) & 0xff;
for (let sent = 0; sent < bytes; sent += chunk.length) expected.update(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));

const started = Date.now();
const written = await storage.write('/big.bin', generated(bytes));
clearInterval(timer);
await storage.close();
process.stdout.write(
  JSON.stringify({
    size: written.entry.size,
    md5: written.entry.md5,
    expectedMd5: expected.digest('hex'),
    baselineRss: baseline.rss,
    peakRss,
    baselineHeap: baseline.heapUsed,
    peakHeap,
    ms: Date.now() - started,
  }),
);
