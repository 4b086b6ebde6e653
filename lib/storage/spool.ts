// The MD5 spool: Jottacloud's upload starts with an allocate call that needs the body's MD5 and size, so
// a body whose MD5 the client did not declare is read once while hashing — kept in memory up to
// `memoryLimit`, spilled to a private temp file beyond — and then replayed (from any offset, so an
// interrupted upload can resume). A body whose MD5 *was* declared is not spooled: `sizeCheckingStream`
// passes it to the upload unhashed (the service itself refuses bytes that do not match the MD5 given at
// allocate); `verifyingStream` is the hashing variant, which withholds the last bytes on a mismatch.
//
// Temp files live in `<dir>/spool-<pid>-<random>` with mode 0600. They are removed on success, failure
// and abort alike; `Spool.open` removes the files of processes that no longer run (a crash's leftovers).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { processIsAlive } from '../util/process.js';

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
  /** Milliseconds of the spooling spent computing the MD5. */
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
   * signal aborts, or `expectedSize` is given and the byte count differs.
   */
  async spool(body: Readable, options: { signal?: AbortSignal; expectedSize?: number } = {}): Promise<SpooledBody> {
    const sink = new SpillingSink(this.memoryLimit, () => this.newFile());
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
    const md5 = sink.hash.digest('hex');
    const { size, path, hashMs } = sink;
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
        return createReadStream(path, { start, highWaterMark: 256 * 1024 });
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

  /** Removes every temp file still held (shutdown). */
  async close(): Promise<void> {
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

/** Hashes and keeps bytes: in memory until the limit, then in a temp file (with backpressure). */
class SpillingSink extends Writable {
  readonly hash = createHash('md5');
  /** Time spent in the MD5 (two clock reads per chunk). */
  hashMs = 0;
  size = 0;
  chunks: Buffer[] = [];
  path?: string;
  private file?: WriteStream;

  constructor(
    private readonly memoryLimit: number,
    private readonly newFile: () => string,
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
      const t = performance.now();
      this.hash.update(chunk);
      this.hashMs += performance.now() - t;
      this.size += chunk.length;
      if (!this.file && this.size <= this.memoryLimit) {
        this.chunks.push(chunk);
        continue;
      }
      if (!this.file) {
        this.path = this.newFile();
        this.file = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
        this.file.on('error', () => undefined); // reported through the write callbacks / final
        toFile = this.chunks;
        this.chunks = [];
      }
      (toFile ??= []).push(chunk);
    }
    if (!toFile) return done();
    const file = this.file as WriteStream;
    file.cork();
    for (let i = 0; i < toFile.length - 1; i++) file.write(toFile[i]);
    // Wait for the writes themselves (not just 'drain') so a disk error fails these chunks.
    file.write(toFile[toFile.length - 1], (err) => done(err ?? null));
    file.uncork();
  }

  override _final(done: (err?: Error | null) => void): void {
    if (!this.file) return done();
    this.file.end((err?: Error | null) => done(err ?? null));
  }

  /** Drops whatever was stored; waits until the temp file is closed and removed. */
  async discard(): Promise<void> {
    this.chunks = [];
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
