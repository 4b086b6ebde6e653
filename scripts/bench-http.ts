// The benchmark's one HTTP client: every target (jottadav, both rclone modes, the service's own API, the raw
// loopback server) is driven through these few functions, so differences in the numbers come from the servers and
// not from the client. Also the request bodies: unique per upload (the emulator, like the service, deduplicates by
// MD5, so a repeated body would skip the transfer), cheap to make, and reproducible so their MD5 can be known first.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body, when asked to keep it (`keep`); otherwise only counted. */
  body: Buffer;
  bytes: number;
  /** Milliseconds from sending to the response head, and to the first body byte (= head when there is no body). */
  headMs: number;
  firstByteMs: number;
  totalMs: number;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  body?: Buffer | string | (() => Readable);
  /** Keep the response body (listings); big downloads are only counted. */
  keep?: boolean;
  /** Hash the response body (MD5 hex into `md5`). */
  hash?: boolean;
  agent?: http.Agent;
  /** Extra CA (PEM) for https: the MITM proxy's throwaway CA. */
  ca?: string;
  /** Upper bound for the whole exchange. */
  timeoutMs?: number;
}

/** Keep-alive agents, so every target gets warm connections the same way. */
export function keepAliveAgent(maxSockets = 16, tls?: { ca?: string }): http.Agent {
  // A timeout of its own makes Node's agent honour the server's Keep-Alive hint (it ignores it otherwise).
  const options = { keepAlive: true, maxSockets, timeout: 60_000 };
  return tls ? new https.Agent({ ...options, ca: tls.ca }) : new http.Agent(options);
}

/**
 * One exchange. A request that fails on a reused keep-alive connection before any answer (the server closed it
 * as the request arrived) is sent once more on a new one, as browsers do; every body here can be made again.
 */
export async function request(method: string, url: string, opts: RequestOptions = {}): Promise<Answer & { md5?: string }> {
  try {
    return await exchange(method, url, opts);
  } catch (e) {
    if (!(e instanceof StaleConnectionError)) throw e;
    return exchange(method, url, opts);
  }
}

class StaleConnectionError extends Error {}

async function exchange(method: string, url: string, opts: RequestOptions): Promise<Answer & { md5?: string }> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    let answered = false;
    if (Buffer.isBuffer(opts.body) || typeof opts.body === 'string') headers['Content-Length'] ??= Buffer.byteLength(opts.body);
    const req = mod.request(u, { method, headers, agent: opts.agent, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      answered = true;
      const headMs = performance.now() - started;
      let firstByteMs = -1;
      let bytes = 0;
      const chunks: Buffer[] = [];
      const md5 = opts.hash ? createHash('md5') : undefined;
      res.on('data', (chunk: Buffer) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - started;
        bytes += chunk.length;
        if (opts.keep) chunks.push(chunk);
        md5?.update(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const totalMs = performance.now() - started;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          bytes,
          headMs,
          firstByteMs: firstByteMs < 0 ? headMs : firstByteMs,
          totalMs,
          ...(md5 ? { md5: md5.digest('hex') } : {}),
        });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${u.pathname} took longer than ${timeoutMs} ms`)), timeoutMs);
    function fail(err: Error & { code?: string }) {
      clearTimeout(timer);
      // Name the request: a bare "write EPIPE" does not say which target or step broke.
      const stale = req.reusedSocket && !answered;
      const text = `${method} ${u.host}${decodeURIComponent(u.pathname)}: ${err.message}${stale ? ' (a reused connection, no answer)' : ''}`;
      reject(Object.assign(stale ? new StaleConnectionError(text, { cause: err }) : new Error(text, { cause: err }), { code: err.code }));
    }
    req.on('error', fail);
    if (typeof opts.body === 'function') {
      pipeline(opts.body(), req).catch(fail);
    } else {
      req.end(opts.body);
    }
  });
}

/** Like `request`, but an unexpected status is an error naming the method, path and status. */
export async function expectStatus(allowed: number[], method: string, url: string, opts: RequestOptions = {}): Promise<Answer> {
  const a = await request(method, url, { ...opts, keep: opts.keep ?? true });
  if (!allowed.includes(a.status)) {
    const path = new URL(url).pathname;
    throw new Error(`${method} ${decodeURIComponent(path)} answered ${a.status} (expected ${allowed.join('/')}): ${a.body.toString('utf8').slice(0, 300)}`);
  }
  return a;
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------------- bodies

const BLOCK = 1024 * 1024;
/** One random MiB, made once; every body is this block with a per-body, per-block stamp in front. */
const base = (() => {
  const b = Buffer.alloc(BLOCK);
  // A fixed xorshift stream rather than crypto random: reproducible across runs, so MD5s can be cached.
  let x = 0x9e3779b9;
  for (let i = 0; i < BLOCK; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
})();

/** The bytes of body `seed` of `size` bytes, as a stream of 1 MiB chunks (fresh buffers: sockets keep them until sent). */
export function bodyStream(size: number, seed: string): Readable {
  const stamp = Buffer.from(createHash('sha256').update(seed).digest('hex'));
  let offset = 0;
  let index = 0;
  return new Readable({
    highWaterMark: 4 * BLOCK,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(BLOCK, size - offset);
      const chunk = Buffer.allocUnsafe(n);
      base.copy(chunk, 0, 0, n);
      // seed stamp + block number make every block of every body different
      const head = Buffer.from(`${stamp.toString('latin1')}:${index}:`);
      head.copy(chunk, 0, 0, Math.min(head.length, n));
      offset += n;
      index++;
      this.push(chunk);
    },
  });
}

/** MD5 (hex) of `bodyStream(size, seed)`; not part of any measurement. */
export async function bodyMd5(size: number, seed: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of bodyStream(size, seed)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` at a time; the first failure stops new work. */
export async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < count) {
      const i = next++;
      try {
        await work(i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failed !== undefined) throw failed;
}
