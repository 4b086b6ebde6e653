// File bodies: content-addressed blobs (keyed by MD5, the service's own content key) and the partial bytes of
// pending uploads, kept for resume. Two stores with one interface: on disk for `--data` (streamed, fsynced, a
// partial becomes a blob by rename) and in memory for tests. The MD5 of a partial is computed while it is written.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { bodyBytesSeen } from '../util/gc.js';
import { syncDir } from './journal.js';

export interface AppendResult {
  /** Size of the partial after this piece. */
  size: number;
  /** Whether the body ended normally (false: the connection broke; the bytes that came are kept). */
  ended: boolean;
}

export interface BlobStore {
  read(md5: string, start: number, endInclusive: number): Readable;
  partialSize(uploadId: string): Promise<number>;
  /** Writes `body` into the partial at `start` (dropping anything after it), feeding every byte to the running MD5. */
  append(uploadId: string, start: number, body: AsyncIterable<Buffer>): Promise<AppendResult>;
  /** MD5 (hex) of the whole partial. */
  partialMd5(uploadId: string): Promise<string>;
  /** The partial becomes the blob for `md5`. */
  commit(uploadId: string, md5: string): Promise<void>;
  discard(uploadId: string): Promise<void>;
  deleteBlob(md5: string): Promise<void>;
  /** Start-up cleanup: drop blobs and partials nothing refers to, and temp files. */
  collect(keepBlobs: Set<string>, keepUploads: Set<string>): Promise<void>;
}

/** Running MD5 per partial, valid while `bytes` equals the partial's size. */
class HashStates {
  private readonly states = new Map<string, { hash: Hash; bytes: number }>();

  async at(uploadId: string, start: number, prefix: () => AsyncIterable<Buffer> | Iterable<Buffer>): Promise<{ hash: Hash; bytes: number }> {
    const s = this.states.get(uploadId);
    if (s && s.bytes === start) return s;
    const fresh = { hash: createHash('md5'), bytes: 0 };
    if (start > 0) {
      for await (const chunk of prefix()) {
        fresh.hash.update(chunk);
        fresh.bytes += chunk.length;
      }
    }
    this.states.set(uploadId, fresh);
    return fresh;
  }

  drop(uploadId: string): void {
    this.states.delete(uploadId);
  }
}

/** Feeds every chunk of a request body to `onChunk`; false when the body broke off (connection lost or cut). */
async function consume(body: AsyncIterable<Buffer>, onChunk: (b: Buffer) => Promise<void> | void): Promise<boolean> {
  try {
    for await (const chunk of body) await onChunk(chunk);
    return true;
  } catch {
    return false;
  }
}

/** Slabs of the memory store start at this size and double up to `SLAB_MAX`. */
const SLAB_MIN = 64 * 1024;
const SLAB_MAX = 16 * 1024 * 1024;

/**
 * Bytes in slabs: what arrives is copied in, so the chunks a socket hands over die at once, and a blob is its
 * slabs (no joining at the end). Joining a 1 GiB upload into one buffer allocated a fresh GiB per upload, and
 * on this kind of VM first-touching memory costs 0.5-1.7 s of kernel time per GiB; slabs of at most 16 MiB are
 * reused by the allocator once freed. Slabs grow from 64 KiB, and a small blob is trimmed to its size when
 * committed, so many small files cost no more than their bytes. Reads hand out slices of whole slabs.
 */
class Slabs {
  private slabs: { buf: Buffer; used: number }[] = [];
  size = 0;

  append(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length) {
      let last = this.slabs[this.slabs.length - 1];
      if (!last || last.used === last.buf.length) {
        const grow = last ? Math.min(SLAB_MAX, last.buf.length * 2) : SLAB_MIN;
        last = { buf: Buffer.allocUnsafe(Math.max(grow, Math.min(SLAB_MAX, chunk.length - from))), used: 0 };
        this.slabs.push(last);
      }
      const n = Math.min(chunk.length - from, last.buf.length - last.used);
      chunk.copy(last.buf, last.used, from, from + n);
      last.used += n;
      from += n;
      this.size += n;
    }
  }

  /** Drops everything from byte `size` on. */
  truncate(size: number): void {
    if (size >= this.size) return;
    let pos = 0;
    const kept: { buf: Buffer; used: number }[] = [];
    for (const slab of this.slabs) {
      if (pos >= size) break;
      slab.used = Math.min(slab.used, size - pos);
      kept.push(slab);
      pos += slab.used;
    }
    this.slabs = kept;
    this.size = size;
  }

  /** A committed blob held in one slab is trimmed to its bytes. */
  trimmed(): this {
    const only = this.slabs.length === 1 ? this.slabs[0] : undefined;
    if (only && only.used < only.buf.length) this.slabs = [{ buf: Buffer.from(only.buf.subarray(0, only.used)), used: only.used }];
    return this;
  }

  /** The bytes [start, end) as slices of the slabs, in order. */
  *slices(start = 0, end = this.size): Generator<Buffer> {
    let pos = 0;
    for (const { buf, used } of this.slabs) {
      const from = Math.max(start, pos);
      const to = Math.min(end, pos + used);
      if (from < to) yield buf.subarray(from - pos, to - pos);
      pos += used;
      if (pos >= end) return;
    }
  }
}

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Slabs>();
  /** Partial uploads, kept for resume. */
  private readonly partials = new Map<string, Slabs>();
  private readonly hashes = new HashStates();

  read(md5: string, start: number, endInclusive: number): Readable {
    const b = this.blobs.get(md5);
    // Chunk by chunk (object mode): a byte-mode stream would join whatever slabs it buffered into one copy.
    return Readable.from(b ? b.slices(start, endInclusive + 1) : []);
  }

  private partial(uploadId: string): Slabs {
    let p = this.partials.get(uploadId);
    if (!p) {
      p = new Slabs();
      this.partials.set(uploadId, p);
    }
    return p;
  }

  async partialSize(uploadId: string): Promise<number> {
    return this.partials.get(uploadId)?.size ?? 0;
  }

  async append(uploadId: string, start: number, body: AsyncIterable<Buffer>): Promise<AppendResult> {
    const p = this.partial(uploadId);
    p.truncate(start);
    const state = await this.hashes.at(uploadId, start, () => p.slices());
    const ended = await consume(body, (chunk) => {
      bodyBytesSeen(chunk.length);
      p.append(chunk);
      state.hash.update(chunk);
      state.bytes += chunk.length;
    });
    return { size: p.size, ended };
  }

  async partialMd5(uploadId: string): Promise<string> {
    const p = this.partial(uploadId);
    const state = await this.hashes.at(uploadId, p.size, () => p.slices());
    return state.hash.copy().digest('hex');
  }

  async commit(uploadId: string, md5: string): Promise<void> {
    if (!this.blobs.has(md5)) this.blobs.set(md5, this.partial(uploadId).trimmed());
    await this.discard(uploadId);
  }

  async discard(uploadId: string): Promise<void> {
    this.partials.delete(uploadId);
    this.hashes.drop(uploadId);
  }

  async deleteBlob(md5: string): Promise<void> {
    this.blobs.delete(md5);
  }

  async collect(keepBlobs: Set<string>, keepUploads: Set<string>): Promise<void> {
    for (const k of [...this.blobs.keys()]) if (!keepBlobs.has(k)) this.blobs.delete(k);
    for (const k of [...this.partials.keys()]) if (!keepUploads.has(k)) this.partials.delete(k);
  }
}

const SAFE_ID = /^[A-Za-z0-9_-]+$/;

export class DiskBlobStore implements BlobStore {
  private readonly hashes = new HashStates();
  private readonly blobDir: string;
  private readonly uploadDir: string;

  constructor(dataDir: string) {
    this.blobDir = join(dataDir, 'blobs');
    this.uploadDir = join(dataDir, 'uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true, mode: 0o700 });
    await mkdir(this.uploadDir, { recursive: true, mode: 0o700 });
  }

  private blobPath(md5: string): string {
    if (!/^[0-9a-f]{32}$/.test(md5)) throw new Error('invalid content key');
    return join(this.blobDir, md5.slice(0, 2), md5);
  }

  private partialPath(uploadId: string): string {
    if (!SAFE_ID.test(uploadId)) throw new Error('invalid upload id');
    return join(this.uploadDir, `${uploadId}.part`);
  }

  read(md5: string, start: number, endInclusive: number): Readable {
    if (endInclusive < start) return Readable.from([]);
    return createReadStream(this.blobPath(md5), { start, end: endInclusive });
  }

  async partialSize(uploadId: string): Promise<number> {
    try {
      return (await stat(this.partialPath(uploadId))).size;
    } catch {
      return 0;
    }
  }

  async append(uploadId: string, start: number, body: AsyncIterable<Buffer>): Promise<AppendResult> {
    const path = this.partialPath(uploadId);
    const fh = await open(path, 'a+', 0o600);
    try {
      if ((await fh.stat()).size > start) await truncate(path, start);
      const state = await this.hashes.at(uploadId, start, () => createReadStream(path, { start: 0, end: start - 1 }));
      const ended = await consume(body, async (chunk) => {
        await fh.write(chunk);
        state.hash.update(chunk);
        state.bytes += chunk.length;
      });
      // The bytes are kept for a resume only once they are on disk.
      await fh.sync();
      return { size: (await fh.stat()).size, ended };
    } finally {
      await fh.close();
    }
  }

  async partialMd5(uploadId: string): Promise<string> {
    const path = this.partialPath(uploadId);
    const size = await this.partialSize(uploadId);
    const state = await this.hashes.at(uploadId, size, () => createReadStream(path, { start: 0, end: size - 1 }));
    return state.hash.copy().digest('hex');
  }

  async commit(uploadId: string, md5: string): Promise<void> {
    const target = this.blobPath(md5);
    const from = this.partialPath(uploadId);
    this.hashes.drop(uploadId);
    try {
      await stat(target);
      await unlink(from); // the same content is already stored
      return;
    } catch {
      // not stored yet
    }
    await mkdir(join(this.blobDir, md5.slice(0, 2)), { recursive: true, mode: 0o700 });
    await rename(from, target);
    syncDir(join(this.blobDir, md5.slice(0, 2)));
  }

  async discard(uploadId: string): Promise<void> {
    this.hashes.drop(uploadId);
    await rm(this.partialPath(uploadId), { force: true });
  }

  async deleteBlob(md5: string): Promise<void> {
    await rm(this.blobPath(md5), { force: true });
  }

  async collect(keepBlobs: Set<string>, keepUploads: Set<string>): Promise<void> {
    for (const sub of await readdir(this.blobDir)) {
      for (const name of await readdir(join(this.blobDir, sub)).catch(() => [] as string[])) {
        if (!keepBlobs.has(name)) await rm(join(this.blobDir, sub, name), { force: true });
      }
    }
    for (const name of await readdir(this.uploadDir)) {
      const id = name.endsWith('.part') ? name.slice(0, -5) : '';
      if (!keepUploads.has(id)) await rm(join(this.uploadDir, name), { force: true });
    }
  }
}
