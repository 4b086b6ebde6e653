// The MD5 spool: Jottacloud's upload starts with an allocate call that needs the body's MD5 and size, so
// a body whose MD5 the client did not declare is read once while hashing — kept in memory up to
// `memoryLimit`, spilled to a private temp file beyond — and then replayed (from any offset, so an
// interrupted upload can resume). A body whose MD5 *was* declared is not spooled: `sizeCheckingStream`
// passes it to the upload unhashed (the service itself refuses bytes that do not match the MD5 given at
// allocate); `verifyingStream` is the hashing variant, which withholds the last bytes on a mismatch.
//
// A body that spills to disk is hashed on a worker thread while it arrives (`HashThread`, `md5-worker.ts`):
// receiving, hashing and writing on one thread made that thread the bound of the spool phase.
//
// Temp files live in `<dir>/spool-<pid>-<random>` with mode 0600. They are removed on success, failure
// and abort alike; `Spool.open` removes the files of processes that no longer run (a crash's leftovers).
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { bodyBytesSeen } from '../util/gc.js';
import { processIsAlive } from '../util/process.js';
import type { HashAnswer, HashRequest } from './md5-worker.js';

export const defaultMemoryLimit = 10 * 1024 * 1024;

export interface SpoolOptions {
  /** Bodies up to this many bytes stay in memory. */
  memoryLimit?: number;
  /** Folder for temp files (created 0700 if missing). */
  dir: string;
}

/** A body that has been read, hashed and stored; replay it with `open`, and always `dispose` it. */
export interface SpooledBody {
  /** Lower-case hex. */
  readonly md5: string;
  readonly size: number;
  /** True when the body went to a temp file. */
  readonly onDisk: boolean;
  /**
   * Milliseconds spent computing the MD5: on this thread at the end for a body kept in memory; on the hashing
   * thread while the body arrived for one on disk (overlapping the receiving, so not added to it).
   */
  readonly hashMs: number;
  /** A fresh stream of the bytes from `start` (for resuming an upload). */
  open(start?: number): Readable;
  /** Frees the memory / removes the temp file. Idempotent. */
  dispose(): Promise<void>;
}

const FILE_PREFIX = 'spool-';

export class Spool {
  readonly memoryLimit: number;
  readonly dir: string;
  private readonly live = new Set<string>();
  private readonly hasher = new HashThread();

  private constructor(options: SpoolOptions) {
    this.memoryLimit = options.memoryLimit ?? defaultMemoryLimit;
    this.dir = options.dir;
  }

  /** Creates the folder and removes spool files left behind by processes that have died. */
  static async open(options: SpoolOptions): Promise<Spool> {
    const spool = new Spool(options);
    await fs.mkdir(spool.dir, { recursive: true, mode: 0o700 });
    await spool.removeLeftovers();
    return spool;
  }

  /** Paths of the temp files this spool currently holds (for tests and diagnostics). */
  get files(): string[] {
    return [...this.live];
  }

  private async removeLeftovers(): Promise<void> {
    for (const name of await fs.readdir(this.dir)) {
      const m = /^spool-(\d+)-[0-9a-f]+$/.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      // Another jottadav sharing the folder keeps its files; ours from a previous life (same pid reused) go.
      if (pid !== process.pid && processIsAlive(pid)) continue;
      await fs.rm(join(this.dir, name), { force: true });
    }
  }

  /**
   * Reads `body` to the end while hashing. Rejects (and leaves nothing behind) when the body fails, the
   * signal aborts, or `expectedSize` is given and the byte count differs. A body declared larger than the
   * memory limit goes to disk (and its hashing thread) from its first byte, rather than filling memory first.
   */
  async spool(body: Readable, options: { signal?: AbortSignal; expectedSize?: number } = {}): Promise<SpooledBody> {
    const toDisk = options.expectedSize !== undefined && options.expectedSize > this.memoryLimit;
    const sink = new SpillingSink(toDisk ? 0 : this.memoryLimit, () => this.newFile(), this.hasher);
    try {
      await pipeline(body, sink, { signal: options.signal });
      if (options.expectedSize !== undefined && sink.size !== options.expectedSize) {
        throw new SizeMismatchError(options.expectedSize, sink.size);
      }
    } catch (err) {
      await sink.discard();
      if (sink.path) this.live.delete(sink.path);
      throw err;
    }
    const { md5, size, path, hashMs } = sink;
    if (!path) {
      const chunks = sink.chunks;
      sink.chunks = [];
      let released = false;
      return {
        md5,
        size,
        onDisk: false,
        hashMs,
        open: (start = 0) => {
          if (released) throw new Error('spooled body already disposed');
          return Readable.from(sliceChunks(chunks, start), { objectMode: false });
        },
        dispose: async () => {
          released = true;
          chunks.length = 0;
        },
      };
    }
    let disposed = false;
    return {
      md5,
      size,
      onDisk: true,
      hashMs,
      open: (start = 0) => {
        if (disposed) throw new Error('spooled body already disposed');
        // createReadStream with start beyond the end yields an empty stream, which is right for size 0.
        return createReadStream(path, { start, highWaterMark: 1024 * 1024 });
      },
      dispose: async () => {
        if (disposed) return;
        disposed = true;
        await fs.rm(path, { force: true });
        this.live.delete(path);
      },
    };
  }

  private newFile(): string {
    const path = join(this.dir, `${FILE_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
    this.live.add(path);
    return path;
  }

  /** Removes every temp file still held and ends the hashing thread (shutdown). */
  async close(): Promise<void> {
    await this.hasher.close();
    await Promise.all([...this.live].map((p) => fs.rm(p, { force: true })));
    this.live.clear();
  }
}

export class SizeMismatchError extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`expected ${expected} bytes, received ${actual}`);
  }
}

export class Md5MismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`the body's MD5 is ${actual}, not the declared ${expected}`);
  }
}

function* sliceChunks(chunks: Buffer[], start: number): Generator<Buffer> {
  let skip = start;
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    yield skip ? c.subarray(skip) : c;
    skip = 0;
  }
}

/**
 * Keeps bytes: in memory until the limit, then in a temp file (with backpressure). A body that stays in memory
 * is hashed at its end on this thread (at most `memoryLimit` bytes); one that spills is hashed on the
 * `HashThread` while it arrives, so receiving and writing here overlap with hashing there.
 */
class SpillingSink extends Writable {
  /** Lower-case hex, set once the body has ended. */
  md5 = '';
  /** Time spent in the MD5 (on the hashing thread for a body on disk, in parallel with receiving it). */
  hashMs = 0;
  size = 0;
  chunks: Buffer[] = [];
  path?: string;
  private file?: WriteStream;
  private job?: HashJob;
  /** The hash on this thread, for a body that spilled while every ring of the hashing thread was in use. */
  private local?: Hash;

  constructor(
    private readonly memoryLimit: number,
    private readonly newFile: () => string,
    private readonly hasher: HashThread,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this._writev([{ chunk }], done);
  }

  // What arrived while the previous disk write was under way goes to the file together (one writev), instead
  // of one write and one wait per 64 KiB socket read.
  override _writev(items: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    let toFile: Buffer[] | undefined;
    for (const { chunk } of items) {
      this.size += chunk.length;
      bodyBytesSeen(chunk.length);
      if (!this.file && this.size <= this.memoryLimit) {
        this.chunks.push(chunk);
        continue;
      }
      if (!this.file) {
        this.path = this.newFile();
        this.file = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
        this.file.on('error', () => undefined); // reported through the write callbacks / final
        this.job = this.hasher.job();
        if (!this.job) this.local = createHash('md5');
        toFile = this.chunks;
        this.chunks = [];
      }
      (toFile ??= []).push(chunk);
    }
    if (!toFile) return done();
    // The chunks are done with once they are on disk *and* copied to the hashing ring.
    let waiting = 2;
    let failed = false;
    const step = (err?: Error | null): void => {
      if (failed) return;
      if (err) {
        failed = true;
        return done(err);
      }
      if (--waiting === 0) done();
    };
    const file = this.file as WriteStream;
    file.cork();
    for (let i = 0; i < toFile.length - 1; i++) file.write(toFile[i]);
    // Wait for the writes themselves (not just 'drain') so a disk error fails these chunks.
    file.write(toFile[toFile.length - 1], (err) => step(err));
    file.uncork();
    if (this.local) {
      const t = performance.now();
      for (const c of toFile) this.local.update(c);
      this.hashMs += performance.now() - t;
      return step();
    }
    const fed = (this.job as HashJob).feed(toFile);
    if (fed) fed.then(() => step(), step);
    else step();
  }

  override _final(done: (err?: Error | null) => void): void {
    const file = this.file;
    if (!file) {
      const t = performance.now();
      const hash = createHash('md5');
      for (const c of this.chunks) hash.update(c);
      this.md5 = hash.digest('hex');
      this.hashMs = performance.now() - t;
      return done();
    }
    const written = new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const local = this.local;
    const hashed = local ? Promise.resolve({ md5: local.digest('hex'), ms: this.hashMs }) : (this.job as HashJob).finish();
    Promise.all([written, hashed]).then(
      ([, result]) => {
        this.md5 = result.md5;
        this.hashMs = result.ms;
        done();
      },
      (err: Error) => done(err),
    );
  }

  /** Drops whatever was stored; waits until the temp file is closed and removed. */
  async discard(): Promise<void> {
    this.chunks = [];
    this.job?.drop();
    const file = this.file;
    if (file) {
      if (!file.closed) {
        await new Promise<void>((resolve) => {
          file.once('close', () => resolve());
          file.destroy();
        });
      }
    }
    if (this.path) await fs.rm(this.path, { force: true });
  }
}

/** Bytes of the ring each spilling body shares with the hashing thread. */
const RING_BYTES = 2 * 1024 * 1024;
/** Ranges are handed to the hashing thread in batches of at least this many bytes (one message each). */
const BATCH_BYTES = 512 * 1024;
/** The hashing thread ends after this long without a body to hash (it holds a few MiB of its own). */
const IDLE_MS = 30_000;
/**
 * Rings that exist at once; a body spilling while all are in use is hashed on this thread, as before the
 * hashing thread. A ring is reused, not allocated per body: the thread's isolate hardly ever collects
 * garbage, so rings dropped per body piled up there (50 clients writing small spilled bodies: RSS +213 MiB).
 * Two bodies hashed there keep its one core busy; more would only queue.
 */
const MAX_RINGS = 2;

/**
 * The thread bodies on disk are hashed on (`md5-worker.ts`): started with the first such body, ended after
 * `IDLE_MS` without one. If it fails, every body it was hashing fails with it and the next body starts a new one.
 */
export class HashThread {
  private worker?: Worker;
  private nextId = 1;
  private readonly jobs = new Map<number, HashJob>();
  private idle?: NodeJS.Timeout;
  /** Rings no job is using; with the ones in use never more than MAX_RINGS. */
  private free: SharedArrayBuffer[] = [];
  private rings = 0;

  /** Rings allocated now (in use or free): never more than MAX_RINGS. */
  get ringCount(): number {
    return this.rings;
  }

  /** A hash for one body (the thread is started if need be); undefined when every ring is in use. */
  job(): HashJob | undefined {
    let ring = this.free.pop();
    if (!ring) {
      if (this.rings >= MAX_RINGS) return undefined;
      ring = new SharedArrayBuffer(RING_BYTES);
      this.rings++;
    }
    clearTimeout(this.idle);
    const worker = this.start();
    const id = this.nextId++;
    const taken = ring;
    // Reusing a ring once its job ended is safe: the thread only reads it, and what it may still read for a
    // dropped job goes nowhere; the next job's `start` comes after that job's last message.
    const job = new HashJob(id, worker, taken, () => {
      this.free.push(taken);
      this.release(id);
    });
    this.jobs.set(id, job);
    // Only while a body is hashed does the thread keep the process alive.
    worker.ref();
    return job;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./md5-worker.js', import.meta.url));
    worker.on('message', (a: HashAnswer) => this.jobs.get(a.id)?.answer(a));
    const fail = (err: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const job of this.jobs.values()) job.fail(err);
      this.jobs.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the MD5 thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private release(id: number): void {
    if (!this.jobs.delete(id) || this.jobs.size > 0 || !this.worker) return;
    this.worker.unref();
    this.idle = setTimeout(() => void this.close(), IDLE_MS);
    this.idle.unref();
  }

  /** Ends the thread (bodies still being hashed fail). */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    const worker = this.worker;
    this.worker = undefined;
    this.free = [];
    this.rings = this.jobs.size; // the rings of bodies still hashing are not returned to the pool
    if (worker) await worker.terminate();
  }
}

/**
 * One body's MD5 on the hashing thread. `feed` copies chunks into the shared ring — the chunks themselves stay
 * the caller's (they are written to disk meanwhile; handing them over would detach them) — and hands the
 * ranges over in batches; when the ring is full it waits for the thread to catch up, which is the body's
 * backpressure. `finish` gives the digest of everything fed.
 */
export class HashJob {
  private readonly ring: Uint8Array;
  /** Where the next byte goes in the ring. */
  private head = 0;
  private copied = 0;
  private hashed = 0;
  private batch: number[] = [];
  private batchBytes = 0;
  private result?: { md5: string; ms: number };
  private error?: Error;
  private done = false;
  private wake?: () => void;

  constructor(
    private readonly id: number,
    private readonly worker: Worker,
    ring: SharedArrayBuffer,
    private readonly release: () => void,
  ) {
    this.ring = new Uint8Array(ring);
    worker.postMessage({ op: 'start', id, ring } satisfies HashRequest);
  }

  /** Copies the chunks into the ring; undefined when they all fit straight away, else a promise for when they did. */
  feed(chunks: Buffer[]): Promise<void> | undefined {
    if (this.error) return Promise.reject(this.error);
    for (let i = 0; i < chunks.length; i++) {
      const left = this.copy(chunks[i]);
      if (left) return this.feedSlowly([left, ...chunks.slice(i + 1)]);
    }
    if (this.batchBytes >= BATCH_BYTES) this.post();
    return undefined;
  }

  private async feedSlowly(chunks: Buffer[]): Promise<void> {
    for (let chunk of chunks) {
      for (;;) {
        const left = this.copy(chunk);
        if (!left) break;
        chunk = left;
        this.post();
        await this.change(); // rejects once the thread has failed
      }
    }
    if (this.batchBytes >= BATCH_BYTES) this.post();
  }

  /** Copies what fits of `chunk` into the ring; returns the rest (undefined when all of it fitted). */
  private copy(chunk: Buffer): Buffer | undefined {
    let from = 0;
    while (from < chunk.length) {
      const free = RING_BYTES - (this.copied - this.hashed);
      const n = Math.min(chunk.length - from, free, RING_BYTES - this.head);
      if (n === 0) return chunk.subarray(from);
      this.ring.set(chunk.subarray(from, from + n), this.head);
      this.batch.push(this.head, n);
      this.batchBytes += n;
      this.head = (this.head + n) % RING_BYTES;
      this.copied += n;
      from += n;
    }
    return undefined;
  }

  private post(): void {
    if (!this.batchBytes) return;
    this.worker.postMessage({ op: 'hash', id: this.id, ranges: this.batch } satisfies HashRequest);
    this.batch = [];
    this.batchBytes = 0;
  }

  private change(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** The MD5 of all bytes fed (and the thread's time hashing them). */
  async finish(): Promise<{ md5: string; ms: number }> {
    this.post();
    this.worker.postMessage({ op: 'end', id: this.id } satisfies HashRequest);
    while (!this.result) await this.change();
    this.end();
    return this.result;
  }

  /** Forgets the body (the thread drops its state). */
  drop(): void {
    if (this.done) return;
    this.worker.postMessage({ op: 'drop', id: this.id } satisfies HashRequest);
    this.end();
  }

  /** From the thread. */
  answer(a: HashAnswer): void {
    if ('md5' in a) this.result = { md5: a.md5, ms: a.ms };
    else this.hashed = a.hashed;
    this.notify();
  }

  /** The thread failed. */
  fail(err: Error): void {
    this.error = err;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private end(): void {
    this.done = true;
    this.release();
  }
}

/**
 * Passes `body` through while counting and hashing; the last chunk is held back until the end is known,
 * and released only if the size and MD5 match — otherwise the stream errors with `Md5MismatchError` /
 * `SizeMismatchError` before the receiver has the full body. The declared MD5 may be hex or base64.
 */
export function verifyingStream(expectedMd5: string, expectedSize: number): Transform {
  const want = normalizeMd5(expectedMd5);
  if (!want) throw new Error(`not an MD5: ${expectedMd5}`);
  const hash = createHash('md5');
  let size = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      bodyBytesSeen(chunk.length);
      hash.update(chunk);
      size += chunk.length;
      if (size > expectedSize) return done(new SizeMismatchError(expectedSize, size));
      const previous = held;
      held = chunk;
      done(null, previous);
    },
    flush(done: TransformCallback) {
      if (size !== expectedSize) return done(new SizeMismatchError(expectedSize, size));
      const got = hash.digest('hex');
      if (got !== want) return done(new Md5MismatchError(want, got));
      done(null, held);
    },
  });
}

/**
 * Passes a body whose MD5 the client declared on to the upload without hashing it: the service compares the
 * bytes with the MD5 given at allocate and refuses a mismatch (421, the old revision stays current), so a
 * second MD5 here only cost CPU. It only counts: a byte past `expectedSize` fails the stream with
 * `SizeMismatchError` before it is passed on, and so does an end short of it. The chunk that completes the
 * size is held until the end is known, so the receiver never gets all it expects from a body that turns
 * out longer than declared.
 */
export function sizeCheckingStream(expectedSize: number): Transform {
  let size = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      if (chunk.length === 0) return done();
      bodyBytesSeen(chunk.length);
      size += chunk.length;
      if (size > expectedSize) return done(new SizeMismatchError(expectedSize, size));
      if (size < expectedSize) return done(null, chunk);
      held = chunk;
      done();
    },
    flush(done: TransformCallback) {
      if (size !== expectedSize) return done(new SizeMismatchError(expectedSize, size));
      done(null, held);
    },
  });
}

/** Lower-case hex from a hex (`OC-Checksum: MD5:…`) or base64 (`Content-MD5`) MD5; undefined if it is neither. */
export function normalizeMd5(value: string): string | undefined {
  const v = value.trim();
  if (/^[0-9a-fA-F]{32}$/.test(v)) return v.toLowerCase();
  if (/^[A-Za-z0-9+/]{22}(==)?$/.test(v)) {
    const bytes = Buffer.from(v, 'base64');
    if (bytes.length === 16) return bytes.toString('hex');
  }
  return undefined;
}
