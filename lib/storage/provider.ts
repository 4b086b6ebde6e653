// JottacloudStorage: the StorageProvider on top of the API client. It owns the rules that make Jottacloud
// unlike a disk, and the order of calls that keeps a user's data safe when one of them fails:
//   - names: mapped with names.ts before any request (too long → InvalidName without a request);
//   - case: the service folds case; a write to `Report.PDF` over `report.pdf` updates that file and the
//     **existing stored name wins** (as on the service). A case-only rename is a plain `mv` to the new
//     spelling; if the service ever leaves the old spelling, it goes through a hidden temporary name;
//   - delete: to trash (default) or hard;
//   - versions `replace`: the new bytes go to a hidden sibling first; only when they are complete is the
//     old file moved aside to a hidden backup, the new one moved into place, and the backup hard-deleted.
//     Until the new file is in place the old one exists under its own name or (briefly) the backup name,
//     and a failed step moves it back — so either the old or the new content is always reachable;
//   - trashed, never-completed and our hidden entries are never shown as files; a trashed tombstone in
//     the way of a copy/move is handled (the service's "copy lands in trash" quirk is undone with cphash);
//   - times: whole seconds; set at upload and later via cphash (no re-upload); creation time kept;
//   - roots (roots.ts), the optional read-only trash view (moving out of it restores), and quota.
// Every successful change goes into the metadata cache at once, so there is never a stale read after
// our own write; a change whose outcome is unknown (timeout) drops what the cache knew about the path.
import { createHash } from 'node:crypto';
import { Readable, Transform, Writable, pipeline as pipe, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyvStoreAdapter } from 'keyv';
import { storageSchema, type StorageConfig } from '../config/schema.js';
import type { z } from 'zod';
import {
  AlreadyExistsError,
  JottacloudError,
  NotFoundError,
  type File,
  type Folder,
  type JottacloudClient,
  type RemoteLocation,
} from '../jottacloud/index.js';
import { MetadataCache, type CachedEntry } from './cache.js';
import { fileEntry, folderEntry, hiddenName, isVisibleFile, isVisibleFolder, parseHidden, toEntry, UNKNOWN_TIME } from './entries.js';
import { fromBackend, isAbort, outcomeUnknown } from './failures.js';
import { baseName, decodeName, encodeName, foldCase, joinPath, pathKey, rcloneEncoding, splitPath, type NameEncoding } from './names.js';
import { BUILTIN_DEVICE, Roots, type Place } from './roots.js';
import { Md5MismatchError, SizeMismatchError, Spool, normalizeMd5, sizeCheckingStream, verifyingStream, type SpooledBody } from './spool.js';
import {
  Aborted,
  AlreadyExists,
  BackendError,
  ChecksumMismatch,
  Conflict,
  IsAFolder,
  NotAFolder,
  NotFound,
  ParentNotFound,
  QuotaExceeded,
  ReadOnly,
  StorageError,
  type DeleteOptions,
  type Entry,
  type OperationOptions,
  type PhaseTiming,
  type Quota,
  type QuotaOptions,
  type ReadOptions,
  type StatOptions,
  type StorageProvider,
  type TimesPatch,
  type TransferOptions,
  type WriteOptions,
  type Written,
} from './types.js';

export interface StorageOptions {
  client: JottacloudClient;
  /** The `storage` config section (defaults applied here when missing). */
  config?: z.input<typeof storageSchema>;
  /** Fallbacks for `root.device` / `root.mountpoint` (the account section). */
  account?: { device?: string; mountpoint?: string };
  /** A keyv store for the metadata cache (e.g. Redis); default in memory. */
  cacheStore?: KeyvStoreAdapter;
  /** Name mapping; default current rclone's. */
  encoding?: NameEncoding;
  /** Warnings about things left behind (a backup that could not be removed, …). Never gets secrets. */
  log?: (message: string) => void;
  /**
   * A hidden `tmp` upload of ours whose last revision is older than this is the leftover of a cleanup that failed
   * (a crash, the service failing the delete too) and is deleted when its folder is listed. Default 24 hours: far
   * beyond any upload still under way, from this instance or another.
   */
  staleUploadMs?: number;
}

const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;

type TreePlace = Extract<Place, { kind: 'tree' }>;

interface TrashItem {
  /** Display name in the trash view (deduplicated with ` (2)`…). */
  name: string;
  kind: 'file' | 'folder';
  stored: string;
  /** Location of the trashed entry's original parent. */
  parent: RemoteLocation & { path: string[] };
  deleted?: Date;
  size: number;
  md5?: string;
  modified: number;
  created: number;
}

/** Opens the spool folder (removing a crash's leftovers) and returns the provider. */
export async function openStorage(options: StorageOptions): Promise<JottacloudStorage> {
  const config = storageSchema.parse(options.config ?? {});
  const spool = await Spool.open({ dir: config.spoolDir ?? join(tmpdir(), 'jottadav-spool'), memoryLimit: config.md5MemoryLimit });
  return new JottacloudStorage(options, config, spool);
}

export class JottacloudStorage implements StorageProvider {
  readonly config: StorageConfig;
  readonly roots: Roots;
  readonly cache: MetadataCache;
  readonly spool: Spool;
  private readonly client: JottacloudClient;
  private readonly encoding: NameEncoding;
  private readonly log: (message: string) => void;
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly staleUploadMs: number;
  /** Listing requests on their way, by folder key (see `children`). */
  private readonly listings = new Map<string, Promise<CachedEntry[]>>();
  private quotaCache?: { at: number; value: Quota };
  private quotaRefresh?: Promise<unknown>;
  private trashCache?: { at: number; items: TrashItem[] };

  /** Use `openStorage`; the constructor is public for callers that manage the spool themselves. */
  constructor(options: StorageOptions, config: StorageConfig, spool: Spool) {
    this.config = config;
    this.client = options.client;
    this.spool = spool;
    this.encoding = options.encoding ?? rcloneEncoding;
    this.log = options.log ?? (() => undefined);
    this.staleUploadMs = options.staleUploadMs ?? STALE_UPLOAD_MS;
    this.roots = new Roots(
      {
        mode: config.root.mode,
        device: config.root.device ?? options.account?.device ?? BUILTIN_DEVICE,
        mountpoint: config.root.mountpoint ?? options.account?.mountpoint ?? 'Archive',
        trashView: config.trashView,
      },
      this.encoding,
    );
    this.cache = new MetadataCache({
      ttlMs: config.cacheTtlSec * 1000,
      maxEntries: config.cacheMaxEntries,
      store: options.cacheStore,
      namespace: `jottadav:${this.roots.config.mode}:${this.roots.config.device}:${this.roots.config.mountpoint}`,
    });
  }

  async close(): Promise<void> {
    await this.cache.close();
    await this.spool.close();
  }

  // =================================================================================================
  // Reading

  async stat(path: string, options: StatOptions = {}): Promise<Entry> {
    const place = this.roots.place(path);
    if (place.kind === 'trash') return this.trashStat(place.path, place.trashSegments);
    if (place.kind === 'root') return rootEntry(place.path);
    if (place.kind === 'tree' && place.segments.length === 0 && this.roots.config.mode === 'mountpoint') return rootEntry('/');
    const found = options.forChange && place.kind === 'tree' ? await this.lookupInParent(place, options.signal) : await this.lookup(place, options.signal);
    if (!found) throw new NotFound(place.path);
    return this.present(found, place);
  }

  async list(path: string, options: OperationOptions = {}): Promise<Entry[]> {
    const place = this.roots.place(path);
    if (place.kind === 'trash') return this.trashList(place.path, place.trashSegments);
    const children = await this.children(place, options.signal);
    const base = place.path === '/' ? '' : place.path;
    const out = children.map((c) => this.present(c, place, c.path ?? `${base}/${c.name}`));
    if (place.path === '/' && this.roots.config.trashView) {
      out.push({ ...rootEntry(this.roots.config.trashView), name: baseName(this.roots.config.trashView), readOnly: true });
    }
    return out;
  }

  async openRead(path: string, options: ReadOptions = {}): Promise<Readable> {
    const place = this.roots.place(path);
    if (place.kind === 'trash') throw new ReadOnly(place.path, 'cannot be read while in the trash; move it out of the trash view first');
    if (place.kind !== 'tree') throw new IsAFolder(place.path);
    const found = await this.lookup(place, options.signal);
    if (!found) throw new NotFound(place.path);
    if (found.kind !== 'file') throw new IsAFolder(place.path);
    const start = options.start ?? 0;
    const last = found.size - 1;
    const end = options.end === undefined ? last : Math.min(options.end, last);
    if (start > end) return Readable.from([]);
    try {
      const range = start > 0 || end < last ? { start, end } : undefined;
      const dl = await this.client.download(this.sibling(place, found.stored), { range, signal: options.signal });
      return dl.stream;
    } catch (e) {
      if (e instanceof NotFoundError) await this.cache.invalidate(place.path);
      throw fromBackend(e, place.path);
    }
  }

  async quota(options: QuotaOptions = {}): Promise<Quota> {
    const ttl = this.config.quotaTtlSec * 1000;
    if (this.quotaCache && Date.now() - this.quotaCache.at < ttl) return this.quotaCache.value;
    if (options.stale && this.quotaCache) {
      // One refresh at a time; its failure only means the old figure is kept a little longer.
      this.quotaRefresh ??= this.quota()
        .catch(() => undefined)
        .finally(() => (this.quotaRefresh = undefined));
      return this.quotaCache.value;
    }
    if (options.signal?.aborted) throw new Aborted('/');
    try {
      const q = await this.client.quota();
      const value: Quota = {
        used: q.usage,
        available: q.unlimited ? null : (q.free ?? 0),
        total: q.unlimited ? null : (q.capacity ?? null),
      };
      this.quotaCache = { at: Date.now(), value };
      return value;
    } catch (e) {
      throw fromBackend(e, '/');
    }
  }

  /**
   * Quirk: the service answers 460 both when the account is full and under heavy load. The client calls it
   * "quota exceeded" only when usage ≥ capacity; an upload that would take usage past the capacity is just
   * as refused, so we ask once more with the upload's size.
   */
  private async wouldNotFit(bytes: number): Promise<boolean> {
    this.quotaCache = undefined;
    const q = await this.quota().catch(() => undefined);
    return q?.available !== null && q?.available !== undefined && q.available < bytes;
  }

  // =================================================================================================
  // Writing

  async write(path: string, body: Readable, options: WriteOptions = {}): Promise<Written> {
    const place = this.roots.assertWritable(this.roots.place(path), 'write a file');
    if (place.segments.length === 0) {
      if (this.roots.config.mode === 'mountpoint' || (await this.lookup(place, options.signal))) throw new IsAFolder(place.path);
      throw new ReadOnly(place.path, 'cannot be a file: this level holds mountpoints only');
    }
    // Where the time goes, phase by phase (cheap: a clock read per phase), for the answer's Server-Timing.
    const timings: PhaseTiming[] = [];
    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      timings.push({ name, ms: now - mark });
      mark = now;
    };
    return this.serial(place.path, async () => {
      const parent = await this.requireFolder(this.parentOf(place), place.path, options.signal);
      const existing = await this.lookupInParent(place, options.signal);
      if (existing?.kind === 'folder') throw new IsAFolder(existing.path ?? place.path);
      phase('check'); // waiting for an earlier write to the same path, and the parent's listing unless cached
      // The service keeps the first spelling; writing in another case updates that file.
      const stored = existing?.stored ?? place.segments[place.segments.length - 1];
      const modified = wholeSeconds(options.modified ?? new Date());
      const created = wholeSeconds(options.created ?? (existing ? new Date(existing.created) : modified));

      const declared = options.md5 ? normalizeMd5(options.md5) : undefined;
      let spooled: SpooledBody | undefined;
      /** The client's body, when it goes to the upload unspooled: what it is piped into, once it is. */
      let unspooled = false;
      let passed: Transform | undefined;
      let passError: Error | undefined;
      const pass = (through: Transform): Transform => {
        passed = through;
        through.on('error', (e) => (passError ??= e));
        body.pipe(through);
        return through;
      };
      let upload: { size: number; md5: string; body: Readable | ((offset: number) => Readable) };
      try {
        if (declared && options.size !== undefined) {
          // The client told us the MD5: no spooling and no hashing on the way — the service checks the bytes
          // against the MD5 given at allocate and refuses a mismatch (421), keeping the old revision. Only the
          // size is checked here. Where the service checks less than the whole body — deduplication (no byte
          // sent) and resuming an earlier cut upload (the first bytes are the earlier ones) — we hash it.
          // The body is piped only once the allocate has said which it is (opening it at an offset).
          const size = options.size;
          unspooled = true;
          body.on('error', (e) => {
            passError ??= e;
            passed?.destroy(e);
          });
          upload = {
            size,
            md5: declared,
            body: (offset: number) => (offset === 0 ? pass(sizeCheckingStream(size)) : skipping(offset, pass(verifyingStream(declared, size)))),
          };
        } else {
          spooled = await this.spool.spool(body, { signal: options.signal, expectedSize: options.size });
          phase('spool');
          timings.push({ name: 'hash', ms: spooled.hashMs }); // part of spool, not after it
          if (declared && declared !== spooled.md5) throw new Md5MismatchError(declared, spooled.md5);
          const s = spooled;
          upload = { size: s.size, md5: s.md5, body: (offset: number) => s.open(offset) };
        }
      } catch (e) {
        throw this.writeFailure(e, place.path);
      }

      const replace = this.config.versions === 'replace' && existing?.kind === 'file';
      const uploadTo = this.sibling(place, replace ? hiddenName('tmp', stored) : stored);
      /** Allocate answered COMPLETED before any byte of the client's (unspooled) body was sent. */
      let deduplicated = false;
      try {
        try {
          const result = await this.client.upload(uploadTo, {
            size: upload.size,
            md5: upload.md5,
            created,
            modified,
            body: upload.body,
            // The client's body can be sent once: a second attempt could only be an allocate that completes
            // without bytes, and after bytes went out that would not say whose bytes the service holds.
            maxAttempts: unspooled ? 1 : 1 + this.config.uploadResumeAttempts,
            signal: options.signal,
            // The first answer ends the allocate phase; resumed rounds (rare) count as upload.
            onAllocate: () => timings.some((t) => t.name === 'allocate') || phase('allocate'),
          });
          if (unspooled && !result.transferred && !passed) {
            // Deduplication: the account already held content with the declared MD5 and size, so the file now
            // has it without a byte sent, and nobody compared it with the client's body. The body has to be
            // received anyway; it is hashed as it drains, and a mismatch (a stale MD5) is undone below.
            deduplicated = true;
            const got = await md5OfRest(pass(sizeCheckingStream(upload.size)), options.signal);
            if (got !== upload.md5) throw new Md5MismatchError(upload.md5, got);
          }
          // With the client's MD5 this includes receiving its body: it streams through as it arrives.
          phase('upload');
        } catch (e) {
          const failure = passError ?? e;
          if (replace) await this.discard(uploadTo);
          else if (deduplicated) {
            const undoFailed = await this.undoDeduplicated(place, uploadTo, existing ?? undefined, failure);
            if (undoFailed) throw undoFailed;
          }
          throw failure;
        }
        const parentPath = parent.path ?? this.parentPathOf(place.path);
        // No re-read: what the service now holds is what the upload (or, replacing, the final mv) answered.
        const entry = replace
          ? await this.placed(await this.swap(place, uploadTo, stored), parentPath)
          : await this.remember(parentPath, {
              name: this.decode(stored),
              stored,
              kind: 'file',
              size: upload.size,
              md5: upload.md5,
              modified: modified.getTime(),
              created: created.getTime(),
            });
        phase('commit');
        return { entry: this.present(entry, place), created: !existing, timings };
      } catch (e) {
        if (outcomeUnknown(e)) await this.cache.invalidate(place.path);
        if (e instanceof JottacloudError && e.status === 460 && (await this.wouldNotFit(upload.size))) {
          throw new QuotaExceeded(place.path, { cause: e });
        }
        throw this.writeFailure(e, place.path);
      } finally {
        await spooled?.dispose();
        if (unspooled && !passed?.writableFinished) {
          // The upload stopped early (or never asked for the body): let the rest of the client's body drain
          // instead of stalling it.
          if (passed) {
            body.unpipe(passed);
            passed.destroy();
          }
          body.resume();
        }
      }
    });
  }

  /**
   * A deduplicated write whose body turned out not to match its declared MD5 (or could not be checked to the
   * end): the service holds content at `loc` that the client never sent. Put back what was there — delete a
   * file that did not exist before (as a failed upload is discarded); give an existing one its previous
   * content again as a new revision (an allocate with its MD5, size and times, which deduplication completes
   * from the revision just superseded, without bytes). Returns the error to answer when that fails: the
   * client must not be told only "checksum mismatch" while the path holds content nobody sent.
   */
  private async undoDeduplicated(place: TreePlace, loc: RemoteLocation, existing: CachedEntry | undefined, cause: unknown): Promise<StorageError | undefined> {
    try {
      if (!existing) {
        if (await this.discard(loc)) return undefined;
        throw new Error('the new file could not be removed');
      }
      if (!existing.md5) throw new Error('its previous MD5 is unknown');
      await this.client.upload(loc, {
        size: existing.size,
        md5: existing.md5,
        created: new Date(existing.created),
        modified: new Date(existing.modified),
        body: Buffer.alloc(0),
        heldOnly: true,
      });
      return undefined;
    } catch (e) {
      const what = existing ? 'its previous content could not be restored' : 'the file could not be removed';
      this.log(
        `ERROR: ${place.path} was written by deduplication with content the client declared but did not send ` +
          `(${(cause as Error).message}), and ${what}: ${(e as Error).message}. It now holds that declared content.`,
      );
      return new BackendError(place.path, `the body did not match its declared MD5, and ${what}: the file holds other content than was sent`, {
        cause: e,
      });
    } finally {
      // The service's revision (and with it the ETag) changed either way: the next read asks it.
      await this.cache.invalidate(place.path);
    }
  }

  async mkdir(path: string, options: OperationOptions = {}): Promise<Entry> {
    const place = this.roots.place(path);
    if (place.kind === 'root' || place.kind === 'device') throw new AlreadyExists(place.path);
    const tree = this.roots.assertWritable(place, 'create a folder');
    return this.serial(tree.path, async () => {
      if (tree.segments.length === 0) return this.createMountPoint(tree, options.signal);
      const parent = await this.requireFolder(this.parentOf(tree), tree.path, options.signal);
      const existing = await this.lookupInParent(tree, options.signal);
      if (existing) throw new AlreadyExists(tree.path, existing.path);
      try {
        const folder = await this.client.mkdir(this.loc(tree));
        const entry: CachedEntry = { ...folderEntry(folder.name || tree.segments[tree.segments.length - 1], this.encoding), path: undefined };
        entry.path = joinChild(parent.path ?? this.parentPathOf(tree.path), entry.name);
        await this.cache.put(entry.path.slice(0, entry.path.lastIndexOf('/')) || '/', entry);
        return this.present(entry, tree);
      } catch (e) {
        if (outcomeUnknown(e)) await this.cache.invalidate(tree.path);
        throw fromBackend(e, tree.path);
      }
    });
  }

  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    const place = this.roots.assertWritable(this.roots.place(path), 'delete');
    if (place.segments.length === 0) throw new ReadOnly(place.path, 'is a mountpoint and cannot be deleted here');
    await this.serial(place.path, async () => {
      const existing = await this.lookupInParent(place, options.signal);
      if (!existing) throw new NotFound(place.path);
      await this.remove(place, existing, options.mode ?? this.config.delete);
    });
  }

  async move(from: string, to: string, options: TransferOptions): Promise<Written> {
    const srcPlace = this.roots.place(from);
    if (srcPlace.kind === 'trash') return this.restore(srcPlace.path, srcPlace.trashSegments, to, options);
    const src = this.roots.assertWritable(srcPlace, 'move');
    const dst = this.roots.assertWritable(this.roots.place(to), 'move here');
    if (src.segments.length === 0) throw new ReadOnly(src.path, 'is a mountpoint and cannot be moved');
    if (dst.segments.length === 0) throw new ReadOnly(dst.path, 'is a mountpoint');
    return this.serial(src.path, () =>
      this.serial(pathKey(src.path) === pathKey(dst.path) ? undefined : dst.path, async () => {
        const entry = await this.lookupInParent(src, options.signal);
        if (!entry) throw new NotFound(src.path);
        if (pathKey(src.path) === pathKey(dst.path) && sameLocation(src, dst)) {
          const newName = dst.segments[dst.segments.length - 1];
          if (newName === entry.stored) throw new Conflict(dst.path, 'source and destination are the same');
          return this.renameCase(src, entry, newName);
        }
        if (entry.kind === 'folder' && isInside(dst, src)) throw new Conflict(dst.path, 'cannot move a folder into itself');
        const { parent, target } = await this.destination(dst, options.overwrite, options.signal);
        const srcLoc = this.sibling(src, entry.stored);
        try {
          let result: CachedEntry;
          const parentPath = parent.path ?? this.parentPathOf(dst.path);
          if (entry.kind === 'file' && target?.kind === 'file') {
            const dstLoc = this.sibling(dst, target.stored);
            const moved =
              this.config.versions === 'replace'
                ? await this.swap(dst, srcLoc, target.stored)
                : await this.settleFile(await this.client.move(srcLoc, dstLoc), dstLoc);
            result = await this.placed(moved, parentPath);
          } else {
            if (target) await this.remove(dst, target, this.config.delete);
            const dstLoc = this.loc(dst);
            if (entry.kind === 'file') {
              result = await this.placed(await this.settleFile(await this.client.move(srcLoc, dstLoc), dstLoc), parentPath);
            } else {
              await this.moveFolderClearingTombstone(srcLoc, dstLoc, dst.path);
              result = { ...entry, ...folderEntry(dstLoc.path[dstLoc.path.length - 1], this.encoding, new Date(entry.modified)) };
              result.path = joinChild(parent.path ?? this.parentPathOf(dst.path), result.name);
              await this.cache.put(this.parentPathOf(result.path), result);
            }
          }
          await this.cache.remove(src.path);
          return { entry: this.present(result, dst), created: !target };
        } catch (e) {
          if (outcomeUnknown(e)) {
            await this.cache.invalidate(src.path);
            await this.cache.invalidate(dst.path);
          }
          throw fromBackend(e, src.path);
        }
      }),
    );
  }

  async copy(from: string, to: string, options: TransferOptions): Promise<Written> {
    const srcPlace = this.roots.place(from);
    if (srcPlace.kind === 'trash') throw new ReadOnly(srcPlace.path, 'is in the trash; move it out of the trash view to restore it');
    if (srcPlace.kind !== 'tree') throw new ReadOnly(srcPlace.path, 'cannot be copied');
    const dst = this.roots.assertWritable(this.roots.place(to), 'copy here');
    if (dst.segments.length === 0) throw new ReadOnly(dst.path, 'is a mountpoint');
    return this.serial(dst.path, async () => {
      const entry = srcPlace.segments.length === 0 ? null : await this.lookup(srcPlace, options.signal);
      if (!entry) throw new NotFound(srcPlace.path);
      if (pathKey(srcPlace.path) === pathKey(dst.path) && sameLocation(srcPlace, dst)) throw new Conflict(dst.path, 'source and destination are the same');
      if (entry.kind === 'folder' && isInside(dst, srcPlace)) throw new Conflict(dst.path, 'cannot copy a folder into itself');
      const { parent, target } = await this.destination(dst, options.overwrite, options.signal);
      const srcLoc = this.sibling(srcPlace, entry.stored);
      try {
        let result: CachedEntry;
        if (entry.kind === 'file') {
          if (target?.kind === 'folder') await this.remove(dst, target, this.config.delete);
          const stored = target?.kind === 'file' ? target.stored : dst.segments[dst.segments.length - 1];
          const dstLoc = this.sibling(dst, stored);
          let copied: File;
          if (target?.kind === 'file' && this.config.versions === 'replace') {
            const tmp = this.sibling(dst, hiddenName('tmp', stored));
            try {
              await this.settleFile(await this.client.copy(srcLoc, tmp), tmp);
            } catch (e) {
              await this.discard(tmp);
              throw e;
            }
            copied = await this.swap(dst, tmp, stored);
          } else {
            copied = await this.settleFile(await this.client.copy(srcLoc, dstLoc), dstLoc);
          }
          result = await this.placed(copied, parent.path ?? this.parentPathOf(dst.path));
        } else {
          if (target) await this.remove(dst, target, this.config.delete);
          await this.copyTree(srcLoc, this.loc(dst), options.signal);
          result = folderEntry(dst.segments[dst.segments.length - 1], this.encoding);
          result.path = joinChild(parent.path ?? this.parentPathOf(dst.path), result.name);
          await this.cache.invalidate(dst.path);
          await this.cache.put(this.parentPathOf(result.path), result);
        }
        return { entry: this.present(result, dst), created: !target };
      } catch (e) {
        if (outcomeUnknown(e)) await this.cache.invalidate(dst.path);
        throw fromBackend(e, dst.path);
      }
    });
  }

  async setTimes(path: string, times: TimesPatch, options: OperationOptions = {}): Promise<Entry> {
    const place = this.roots.place(path);
    if (place.kind !== 'tree') return this.stat(path, options);
    this.roots.assertWritable(place, 'change times');
    if (place.segments.length === 0) return this.stat(path, options);
    return this.serial(place.path, async () => {
      const entry = await this.lookup(place, options.signal);
      if (!entry) throw new NotFound(place.path);
      if (entry.kind === 'folder' || !entry.md5) return this.present(entry, place);
      const loc = this.sibling(place, entry.stored);
      try {
        // cphash with the file's own size and MD5: the content stays, only the times change.
        const file = await this.client.cphash(loc, {
          size: entry.size,
          md5: entry.md5,
          created: wholeSeconds(times.created ?? new Date(entry.created)),
          modified: wholeSeconds(times.modified ?? new Date(entry.modified)),
        });
        if (!file) throw new NotFound(place.path);
        const updated: CachedEntry = { ...fileEntry(file, this.encoding), path: entry.path };
        await this.cache.put(this.parentPathOf(entry.path ?? place.path), updated);
        return this.present(updated, place);
      } catch (e) {
        if (outcomeUnknown(e)) await this.cache.invalidate(place.path);
        throw fromBackend(e, place.path);
      }
    });
  }

  // =================================================================================================
  // Lookups

  /** The entry at a place (from the cache, else one request), or null when nothing live is there. */
  private async lookup(place: Place, signal?: AbortSignal): Promise<CachedEntry | null> {
    if (signal?.aborted) throw new Aborted(place.path);
    if (place.kind === 'trash') throw new ReadOnly(place.path);
    if (place.kind === 'root' || (place.kind === 'tree' && place.segments.length === 0 && this.roots.config.mode === 'mountpoint')) {
      return { ...folderEntry('', this.encoding), name: '', path: '/' };
    }
    const cached = await this.cache.lookup(place.path);
    if (cached !== undefined) return cached;
    if (place.kind === 'device' || place.segments.length === 0) {
      // A device or mountpoint: look in the level above (one listing, cached).
      const above = this.roots.place(this.parentPathOf(place.path));
      const siblings = await this.children(above, signal);
      const name = baseName(place.path).toLowerCase();
      return siblings.find((c) => c.name.toLowerCase() === name) ?? null;
    }
    const ticket = this.cache.begin();
    try {
      const item = await this.client.metadata(this.loc(place));
      if (item.kind === 'file') {
        if (!isVisibleFile(item)) {
          await this.cache.storeEntry(ticket, place.path, null);
          return null;
        }
        const entry = { ...fileEntry(item, this.encoding), path: this.canonical(item.parentPath, item.name, place) };
        await this.cache.storeEntry(ticket, place.path, entry);
        return entry;
      }
      if (item.deleted || parseHidden(item.name)) {
        await this.cache.storeEntry(ticket, place.path, null);
        return null;
      }
      // A folder's metadata is its listing: keep both.
      const entry = { ...folderEntry(item.name, this.encoding, item.modified), path: this.canonical(item.parentPath, item.name, place) };
      await this.cache.storeEntry(ticket, place.path, entry);
      await this.cache.storeListing(ticket, place.path, await this.visibleChildren(item, place, entry.path));
      return entry;
    } catch (e) {
      if (e instanceof NotFoundError) {
        await this.cache.storeEntry(ticket, place.path, null);
        return null;
      }
      throw fromBackend(e, place.path);
    }
  }

  /**
   * The entry at a place as its parent folder's listing has it (cached, else one listing request that is then
   * cached), or null — also when the parent itself is missing. For the checks before a change: the change needs
   * the parent anyway, and the next change in that folder costs no request. Without a cache a listing would buy
   * nothing later, so then it is the one-path lookup.
   */
  private async lookupInParent(place: TreePlace, signal?: AbortSignal): Promise<CachedEntry | null> {
    if (place.segments.length === 0 || !this.cache.enabled) return this.lookup(place, signal);
    if (signal?.aborted) throw new Aborted(place.path);
    const cached = await this.cache.lookup(place.path);
    if (cached !== undefined) return cached;
    let siblings: CachedEntry[];
    try {
      siblings = await this.children(this.parentOf(place), signal);
    } catch (e) {
      if (e instanceof NotFound || e instanceof NotAFolder) return null;
      throw e;
    }
    const key = foldCase(baseName(place.path));
    return siblings.find((c) => foldCase(c.name) === key) ?? null;
  }

  /**
   * The children of a folder-like place (cached listing, else one request). Callers that ask while a request for
   * the same listing is on its way wait for it and take what it stored, so eight PUTs into a folder not yet listed
   * cost one listing, not eight; if it stored nothing (a write overtook it, or it failed), they ask themselves.
   */
  private async children(place: Place, signal?: AbortSignal): Promise<CachedEntry[]> {
    if (signal?.aborted) throw new Aborted(place.path);
    const cached = await this.cache.listing(place.path);
    if (cached) return cached;
    const key = pathKey(place.path);
    const pending = this.listings.get(key);
    if (pending) {
      await pending.catch(() => undefined);
      const stored = await this.cache.listing(place.path);
      if (stored) return stored;
      return this.fetchChildren(place);
    }
    const fetching = this.fetchChildren(place);
    this.listings.set(key, fetching);
    try {
      return await fetching;
    } finally {
      if (this.listings.get(key) === fetching) this.listings.delete(key);
    }
  }

  private async fetchChildren(place: Place): Promise<CachedEntry[]> {
    const ticket = this.cache.begin();
    let self: CachedEntry | undefined;
    let list: CachedEntry[];
    try {
      if (place.kind === 'root') {
        list =
          this.roots.config.mode === 'device'
            ? (await this.client.deviceInfo(this.roots.config.device)).mountPoints
                .filter((m) => !m.deleted)
                .map((m) => ({ ...folderEntry(m.name, this.encoding, m.modified), path: joinChild('/', this.decode(m.name)) }))
            : (await this.client.driveInfo()).devices.map((d) => ({
                ...folderEntry(d.name, this.encoding, d.modified),
                path: joinChild('/', this.decode(d.name)),
              }));
      } else if (place.kind === 'device') {
        list = (await this.client.deviceInfo(place.device)).mountPoints
          .filter((m) => !m.deleted)
          .map((m) => ({ ...folderEntry(m.name, this.encoding, m.modified), path: joinChild(place.path, this.decode(m.name)) }));
      } else if (place.kind === 'tree') {
        const folder = await this.client.metadata(this.loc(place), 'list');
        if (folder.kind === 'file') {
          if (isVisibleFile(folder)) throw new NotAFolder(place.path);
          throw new NotFound(place.path);
        }
        if (folder.deleted) throw new NotFound(place.path);
        const selfPath = place.segments.length === 0 ? place.path : this.canonical(folder.parentPath, folder.name, place);
        // The listing is also the folder's own metadata: a change inside it then needs no lookup of the folder.
        if (place.segments.length > 0) self = { ...folderEntry(folder.name, this.encoding, folder.modified), path: selfPath };
        list = await this.visibleChildren(folder, place, selfPath);
      } else {
        throw new ReadOnly(place.path);
      }
    } catch (e) {
      if (e instanceof NotFoundError) throw new NotFound(place.path, { cause: e });
      throw fromBackend(e, place.path);
    }
    if (self) await this.cache.storeEntry(ticket, place.path, self);
    await this.cache.storeListing(ticket, place.path, list);
    return list;
  }

  /** The live, complete, not-hidden children of a listing; leftovers of an interrupted swap are settled. */
  private async visibleChildren(folder: Folder, place: TreePlace, selfPath: string): Promise<CachedEntry[]> {
    const out: CachedEntry[] = [];
    const leftovers: File[] = [];
    const stale: File[] = [];
    // The entry's own `name` is the decoded name: decoding it a second time for the path cost as much again.
    for (const d of folder.folders) {
      if (!isVisibleFolder(d)) continue;
      const entry = folderEntry(d.name, this.encoding);
      entry.path = joinChild(selfPath, entry.name);
      out.push(entry);
    }
    for (const f of folder.files) {
      if (isVisibleFile(f)) {
        const entry = fileEntry(f, this.encoding);
        entry.path = joinChild(selfPath, entry.name);
        out.push(entry);
      } else if (!f.deleted) {
        const hidden = parseHidden(f.name)?.kind;
        if (hidden === 'old' && f.complete) leftovers.push(f);
        else if (hidden === 'tmp' && isOlderThan(f, this.staleUploadMs)) stale.push(f);
      }
    }
    // Not awaited: the listing does not wait for the clean-up, and a failed delete is tried again next time.
    if (stale.length) void this.sweepStaleUploads(place, stale);
    for (const f of leftovers) {
      const restored = await this.settleBackup(place, f, out);
      if (restored) out.push({ ...restored, path: joinChild(selfPath, restored.name) });
    }
    return out;
  }

  /** Deletes hidden `tmp` uploads that a failed clean-up left behind (see StorageOptions.staleUploadMs). */
  private async sweepStaleUploads(place: TreePlace, files: File[]): Promise<void> {
    for (const f of files) {
      if (await this.discard(this.loc(place, [...place.segments, f.name]))) this.log(`removed the leftover temporary upload ${f.name} in ${place.path}`);
    }
  }

  /**
   * A hidden backup left by a swap that was cut short (crash, failures in a row). If its file is there, the
   * swap had put the new content in place: the backup goes. If not, it is the only copy: it moves back.
   */
  private async settleBackup(place: TreePlace, backup: File, live: CachedEntry[]): Promise<CachedEntry | undefined> {
    const target = parseHidden(backup.name)?.target;
    if (!target || this.queues.size > 0) return undefined; // a swap of ours may be in progress
    const folderSegs = place.segments;
    const backupLoc = this.loc(place, [...folderSegs, backup.name]);
    try {
      if (live.some((c) => c.stored.toLowerCase() === target.toLowerCase())) {
        await this.client.deleteFile(backupLoc);
        return undefined;
      }
      const moved = await this.client.move(backupLoc, this.loc(place, [...folderSegs, target]));
      this.log(`restored ${target} from a backup left by an interrupted replace`);
      return fileEntry(moved, this.encoding);
    } catch (e) {
      this.log(`could not settle the leftover backup ${backup.name}: ${(e as Error).message}`);
      return undefined;
    }
  }

  private async requireFolder(place: Place, child: string, signal?: AbortSignal): Promise<CachedEntry> {
    // A parent that the cache says is missing may have been made by another client since its folder was listed:
    // before a change is refused for it, the service is asked (this costs a request only on the way to a 409).
    if (place.kind === 'tree' && (await this.cache.lookup(place.path)) === null) await this.cache.invalidate(place.path);
    const found = await this.lookup(place, signal);
    if (!found) throw new ParentNotFound(child);
    if (found.kind !== 'folder') throw new ParentNotFound(child);
    return found;
  }

  /**
   * A file our change put in `parentPath`, as the service's answer to that change describes it (`mv`/`cp` answer
   * the new `<file>`): into the cache at once, so no re-read is needed. An answer that is not a live, complete
   * file (a copy still flagged as trashed that cphash could not bring back) is not trusted: the path is forgotten.
   */
  private async placed(file: File, parentPath: string): Promise<CachedEntry> {
    const entry = fileEntry(file, this.encoding);
    if (isVisibleFile(file)) return this.remember(parentPath, entry);
    entry.path = joinChild(parentPath, entry.name);
    await this.cache.invalidate(entry.path);
    return entry;
  }

  /** Our own change made `entry` in `parentPath`: the cache shows it from now on. */
  private async remember(parentPath: string, entry: CachedEntry): Promise<CachedEntry> {
    const placed = { ...entry, path: joinChild(parentPath, entry.name) };
    await this.cache.put(parentPath, placed);
    return placed;
  }

  // =================================================================================================
  // Changing, the careful parts

  /**
   * Replace mode: put the complete file at `source` in place of the live file `targetStored` beside
   * `place`, leaving no old revisions. The old file is moved aside (not deleted) until the new one is in
   * place, and moved back if that fails.
   */
  private async swap(place: TreePlace, source: RemoteLocation & { path: string[] }, targetStored: string): Promise<File> {
    const targetLoc = this.sibling(place, targetStored);
    const backupLoc = this.sibling(place, hiddenName('old', targetStored));
    try {
      await this.client.move(targetLoc, backupLoc);
    } catch (e) {
      await this.discardIfTemp(source);
      throw e;
    }
    let placed: File;
    try {
      placed = await this.settleFile(await this.client.move(source, targetLoc), targetLoc);
    } catch (e) {
      try {
        await this.client.move(backupLoc, targetLoc);
      } catch (e2) {
        this.log(`replace of ${place.path} failed and the old content could not be moved back yet; it is kept as ${backupLoc.path.at(-1)} and restored at the next listing (${(e2 as Error).message})`);
        // The next listing must read the service (not the cache) to find the backup and move it back.
        await this.cache.invalidate(place.path);
      }
      // The old content is safe either way (in place, or in the backup the next listing restores); the hidden
      // upload must not outlive the failure — nothing ever removes a leftover `tmp` sibling later.
      await this.discardIfTemp(source);
      throw e;
    }
    try {
      await this.client.deleteFile(backupLoc);
    } catch (e) {
      this.log(`the old version of ${place.path} stays hidden as ${backupLoc.path.at(-1)} until the next listing removes it (${(e as Error).message})`);
      await this.cache.invalidate(place.path);
    }
    return placed;
  }

  /** Removes one of our temporary upload files (best effort; a leftover is hidden, and swept after a day). */
  private async discard(loc: RemoteLocation): Promise<boolean> {
    try {
      await this.client.deleteFile(loc);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return true;
      this.log(`could not remove the temporary ${String(loc.path)}: ${(e as Error).message}`);
      return false;
    }
  }

  private async discardIfTemp(loc: RemoteLocation & { path: string[] }): Promise<void> {
    if (parseHidden(loc.path[loc.path.length - 1])?.kind === 'tmp') await this.discard(loc);
  }

  /**
   * Quirk (rclone #6112): a copy or move onto a path whose old file is in trash "succeeds" but the result is
   * still flagged deleted. A cphash with the same content brings it back. Returns the file as it now is.
   */
  private async settleFile(result: File, loc: RemoteLocation): Promise<File> {
    if (!result.deleted) return result;
    const md5 = result.md5 ?? result.currentRevision?.md5;
    const size = result.size ?? result.currentRevision?.size;
    if (!md5 || size === undefined) return result;
    return (await this.client.cphash(loc, { size, md5, created: result.created, modified: result.modified ?? new Date() })) ?? result;
  }

  /** mvDir, clearing a trashed folder of the same name at the destination (it blocks the move). */
  private async moveFolderClearingTombstone(src: RemoteLocation, dst: RemoteLocation, userPath: string): Promise<void> {
    try {
      await this.client.moveFolder(src, dst);
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
      const there = await this.client.metadata(dst).catch(() => undefined);
      if (!there || there.kind === 'file' || !there.deleted) throw e;
      // Only a trashed folder is in the way (the service's "move onto a previously deleted path" failure):
      // it is purged from the trash, which is what emptying the trash would do.
      this.log(`${userPath}: removing a trashed folder of the same name from the trash so the move can go through`);
      await this.client.deleteFolder(dst);
      await this.client.moveFolder(src, dst);
    }
  }

  private async remove(place: TreePlace, entry: CachedEntry, mode: 'trash' | 'hard'): Promise<void> {
    const loc = this.sibling(place, entry.stored);
    try {
      if (entry.kind === 'file') await (mode === 'hard' ? this.client.deleteFile(loc) : this.client.trashFile(loc));
      else await (mode === 'hard' ? this.client.deleteFolder(loc) : this.client.trashFolder(loc));
    } catch (e) {
      if (outcomeUnknown(e)) await this.cache.invalidate(place.path);
      if (e instanceof NotFoundError) {
        await this.cache.remove(place.path);
        throw new NotFound(place.path, { cause: e });
      }
      throw fromBackend(e, place.path);
    }
    this.trashCache = undefined;
    await this.cache.remove(entry.path ?? place.path);
  }

  /** A rename that changes only the case of the last name. */
  private async renameCase(place: TreePlace, entry: CachedEntry, newStored: string): Promise<Written> {
    const from = this.sibling(place, entry.stored);
    const to = this.sibling(place, newStored);
    const mv = (a: RemoteLocation, b: RemoteLocation) => (entry.kind === 'file' ? this.client.move(a, b) : this.client.moveFolder(a, b));
    try {
      const result = await mv(from, to);
      if (result.name !== newStored) {
        // The service kept the old spelling (it compares without case): go through a hidden name.
        const via = this.sibling(place, hiddenName('ren', newStored));
        await mv(from, via);
        await mv(via, to);
      }
    } catch (e) {
      await this.cache.invalidate(place.path);
      throw fromBackend(e, place.path);
    }
    await this.cache.remove(entry.path ?? place.path);
    const parentPath = this.parentPathOf(entry.path ?? place.path);
    const renamed: CachedEntry = { ...entry, name: this.decode(newStored), stored: newStored };
    renamed.path = joinChild(parentPath, renamed.name);
    await this.cache.put(parentPath, renamed);
    return { entry: this.present(renamed, place), created: false };
  }

  private async copyTree(src: RemoteLocation & { path: string[] }, dst: RemoteLocation & { path: string[] }, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new Aborted(String(dst.path));
    await this.client.mkdir(dst);
    const listing = await this.client.list(src);
    for (const d of listing.folders) {
      if (isVisibleFolder(d)) await this.copyTree({ ...src, path: [...src.path, d.name] }, { ...dst, path: [...dst.path, d.name] }, signal);
    }
    for (const f of listing.files) {
      if (!isVisibleFile(f)) continue;
      const to = { ...dst, path: [...dst.path, f.name] };
      await this.settleFile(await this.client.copy({ ...src, path: [...src.path, f.name] }, to), to);
    }
  }

  private async createMountPoint(place: TreePlace, signal?: AbortSignal): Promise<Entry> {
    const existing = await this.lookup(place, signal);
    if (existing) throw new AlreadyExists(place.path, existing.path);
    if (place.device.toLowerCase() === BUILTIN_DEVICE.toLowerCase()) {
      throw new ReadOnly(place.path, `cannot be created: Jottacloud allows no new mountpoints on the ${BUILTIN_DEVICE} device`);
    }
    try {
      const mp = await this.client.createMountPoint(place.mountpoint, place.device);
      const entry: CachedEntry = { ...folderEntry(mp.name, this.encoding, mp.modified) };
      entry.path = joinChild(this.parentPathOf(place.path), entry.name);
      await this.cache.put(this.parentPathOf(place.path), entry);
      return this.present(entry, place);
    } catch (e) {
      throw fromBackend(e, place.path);
    }
  }

  // =================================================================================================
  // The trash view

  private async trashItems(): Promise<TrashItem[]> {
    const ttl = this.config.cacheTtlSec * 1000;
    if (this.trashCache && Date.now() - this.trashCache.at < ttl) return this.trashCache.items;
    let folder: Folder;
    try {
      folder = await this.client.listTrash();
    } catch (e) {
      throw fromBackend(e, this.roots.config.trashView || '/');
    }
    const items: TrashItem[] = [];
    const taken = new Set<string>();
    const add = (item: Omit<TrashItem, 'name' | 'parent'>, abspath: string | undefined) => {
      if (!abspath || this.roots.userPath(abspath) === undefined) return; // outside what this share exposes
      const [, device, mountpoint, ...rest] = splitPath(abspath);
      const decoded = this.decode(item.stored);
      let name = decoded;
      for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${decoded} (${i})`;
      taken.add(name.toLowerCase());
      items.push({ ...item, name, parent: { device, mountpoint, path: rest } });
    };
    for (const d of folder.folders) {
      add({ kind: 'folder', stored: d.name, deleted: d.deletedAt, size: 0, modified: d.deletedAt?.getTime() ?? UNKNOWN_TIME, created: UNKNOWN_TIME }, d.abspath);
    }
    for (const f of folder.files) {
      const rev = f.currentRevision;
      add(
        {
          kind: 'file',
          stored: f.name,
          deleted: f.deletedAt,
          size: rev?.size ?? 0,
          md5: rev?.md5,
          modified: rev?.modified?.getTime() ?? UNKNOWN_TIME,
          created: rev?.created?.getTime() ?? UNKNOWN_TIME,
        },
        f.parentPath,
      );
    }
    this.trashCache = { at: Date.now(), items };
    return items;
  }

  private async trashItem(path: string, name: string): Promise<TrashItem> {
    const item = (await this.trashItems()).find((i) => i.name.toLowerCase() === name.toLowerCase());
    if (!item) throw new NotFound(path);
    return item;
  }

  private trashEntry(item: TrashItem, path: string): Entry {
    const c: CachedEntry = { name: item.name, stored: item.stored, kind: item.kind, size: item.size, md5: item.md5, modified: item.modified, created: item.created };
    return toEntry(c, path, { readOnly: true, deleted: item.deleted });
  }

  private async trashStat(path: string, segs: string[]): Promise<Entry> {
    if (segs.length === 0) return { ...rootEntry(path), name: baseName(path), readOnly: true };
    const item = await this.trashItem(path, segs[0]);
    if (segs.length === 1) return this.trashEntry(item, path);
    const found = (await this.trashList(joinPath(splitPath(path).slice(0, -1)), segs.slice(0, -1))).find(
      (e) => e.name.toLowerCase() === segs[segs.length - 1].toLowerCase(),
    );
    if (!found) throw new NotFound(path);
    return found;
  }

  private async trashList(path: string, segs: string[]): Promise<Entry[]> {
    if (segs.length === 0) return (await this.trashItems()).map((i) => this.trashEntry(i, joinChild(path, i.name)));
    const item = await this.trashItem(path, segs[0]);
    if (item.kind !== 'folder') throw new NotAFolder(path);
    // Inside a trashed folder: the service still lists it at its original path, entries marked deleted.
    const loc = { ...item.parent, path: [...item.parent.path, item.stored, ...segs.slice(1).map((s) => this.encodeName(s, path))] };
    let folder: File | Folder;
    try {
      folder = await this.client.metadata(loc, 'list');
    } catch (e) {
      throw fromBackend(e, path);
    }
    if (folder.kind === 'file') throw new NotAFolder(path);
    const out: Entry[] = [];
    for (const d of folder.folders) {
      if (parseHidden(d.name)) continue;
      out.push(toEntry(folderEntry(d.name, this.encoding), joinChild(path, this.decode(d.name)), { readOnly: true, deleted: d.deletedAt }));
    }
    for (const f of folder.files) {
      if (parseHidden(f.name) || !f.currentRevision || f.currentRevision.state !== 'COMPLETED') continue;
      const c = fileEntry({ ...f, complete: true, size: f.currentRevision.size, md5: f.currentRevision.md5, modified: f.currentRevision.modified, created: f.currentRevision.created }, this.encoding);
      out.push(toEntry(c, joinChild(path, c.name), { readOnly: true, deleted: f.deletedAt }));
    }
    return out;
  }

  /** Moving out of the trash view: the entry comes back (at its old place, or wherever it is moved to). */
  private async restore(from: string, segs: string[], to: string, options: TransferOptions): Promise<Written> {
    if (segs.length === 0) throw new ReadOnly(from, 'is the trash view itself');
    const dst = this.roots.assertWritable(this.roots.place(to), 'restore here');
    if (dst.segments.length === 0) throw new ReadOnly(dst.path, 'is a mountpoint');
    const item = await this.trashItem(from, segs[0]);
    const source = { ...item.parent, path: [...item.parent.path, item.stored, ...segs.slice(1).map((s) => this.encodeName(s, from))] };
    return this.serial(dst.path, async () => {
      const { parent, target } = await this.destination(dst, options.overwrite, options.signal);
      try {
        if (target) await this.remove(dst, target, this.config.delete);
        const dstLoc = this.loc(dst);
        await this.restoreTree(source, dstLoc, options.signal);
        this.trashCache = undefined;
        await this.cache.invalidate(dst.path);
        const entry = await this.lookup(dst, options.signal);
        if (!entry) throw new NotFound(dst.path);
        await this.cache.put(parent.path ?? this.parentPathOf(dst.path), entry);
        return { entry: this.present(entry, dst), created: !target };
      } catch (e) {
        await this.cache.invalidate(dst.path);
        throw fromBackend(e, from);
      }
    });
  }

  /** cphash per file (a trashed match is restored, or rebuilt elsewhere by deduplication), mkdir per folder. */
  private async restoreTree(src: RemoteLocation & { path: string[] }, dst: RemoteLocation & { path: string[] }, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new Aborted(String(dst.path));
    const item = await this.client.metadata(src);
    if (item.kind === 'file') {
      const rev = item.currentRevision;
      if (!rev || rev.state !== 'COMPLETED' || !rev.md5 || rev.size === undefined) throw new NotFound(String(src.path));
      const done = await this.client.cphash(dst, { size: rev.size, md5: rev.md5, created: rev.created, modified: rev.modified ?? new Date() });
      if (!done) throw new NotFound(String(src.path));
      return;
    }
    await this.client.mkdir(dst);
    for (const d of item.folders) await this.restoreTree({ ...src, path: [...src.path, d.name] }, { ...dst, path: [...dst.path, d.name] }, signal);
    for (const f of item.files) {
      if (!f.currentRevision || f.currentRevision.state !== 'COMPLETED' || parseHidden(f.name)) continue;
      await this.restoreTree({ ...src, path: [...src.path, f.name] }, { ...dst, path: [...dst.path, f.name] }, signal);
    }
  }

  // =================================================================================================
  // Small helpers

  private loc(place: TreePlace, segments: string[] = place.segments): RemoteLocation & { path: string[] } {
    return { device: place.device, mountpoint: place.mountpoint, path: segments };
  }

  /** The location of `stored` beside the place (same folder): the stored spelling of the last name. */
  private sibling(place: TreePlace, stored: string): RemoteLocation & { path: string[] } {
    return this.loc(place, [...place.segments.slice(0, -1), stored]);
  }

  /** The checks every move/copy/restore target goes through: the parent folder, and what is already there. */
  private async destination(dst: TreePlace, overwrite: boolean, signal?: AbortSignal): Promise<{ parent: CachedEntry; target: CachedEntry | null }> {
    const parent = await this.requireFolder(this.parentOf(dst), dst.path, signal);
    const target = await this.lookupInParent(dst, signal);
    if (target && !overwrite) throw new AlreadyExists(dst.path, target.path);
    return { parent, target };
  }

  private parentOf(place: TreePlace): Place {
    if (place.segments.length === 0) return this.roots.place(this.parentPathOf(place.path));
    return { ...place, path: this.parentPathOf(place.path), segments: place.segments.slice(0, -1) };
  }

  private parentPathOf(path: string): string {
    return joinPath(splitPath(path).slice(0, -1));
  }

  private decode(stored: string): string {
    return decodeName(stored, this.encoding);
  }

  private encodeName(name: string, path: string): string {
    return encodeName(name, this.encoding, path);
  }

  /** The user path of an entry from what the service echoed, else rebuilt from the request. */
  private canonical(serviceParent: string | undefined, storedName: string, place: TreePlace): string {
    const fromService = serviceParent ? this.roots.userPath(serviceParent, storedName) : undefined;
    return fromService ?? this.roots.userPathOf(place, [...place.segments.slice(0, -1), storedName]);
  }

  private present(c: CachedEntry, place: Place, path = c.path ?? place.path): Entry {
    const entry = toEntry(c, path);
    if (place.kind === 'tree' && place.segments.length > 0 && !place.readOnly) return entry;
    // Views, virtual levels and the trash view are read-only; decided by the entry's own place.
    let own: Place | undefined;
    try {
      own = this.roots.place(path);
    } catch {
      own = undefined;
    }
    if (!own || own.kind !== 'tree' || own.readOnly) entry.readOnly = true;
    return entry;
  }

  /** Runs changes to one path one after another (two PUTs of one file must not interleave their swaps). */
  private async serial<T>(path: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (path === undefined) return fn(); // already serialised by the caller (a case-only rename)
    const key = pathKey(path);
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    }
  }

  private writeFailure(e: unknown, path: string): StorageError {
    if (e instanceof Md5MismatchError) return new ChecksumMismatch(path, e.message, { cause: e });
    if (e instanceof SizeMismatchError) return new ChecksumMismatch(path, `the body has a different length than declared (${e.message})`, { cause: e });
    if (isAbort(e)) return new Aborted(path, { cause: e });
    return fromBackend(e, path);
  }
}

// -----------------------------------------------------------------------------------------------------

/**
 * `stream` without its first `skip` bytes (the service already holds them: a resumed upload), its errors
 * passed on.
 */
function skipping(skip: number, stream: Readable): Transform {
  let toSkip = skip;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (toSkip >= chunk.length) {
        toSkip -= chunk.length;
        return done();
      }
      const rest = toSkip ? chunk.subarray(toSkip) : chunk;
      toSkip = 0;
      done(null, rest);
    },
  });
  pipe(stream, out, () => undefined); // an error of `stream` destroys `out` with it
  return out;
}

/** MD5 (hex) of what is left of `stream`, read to the end. */
async function md5OfRest(stream: Readable, signal?: AbortSignal): Promise<string> {
  const hash = createHash('md5');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done();
    },
  });
  await pipeline(stream, sink, { signal });
  return hash.digest('hex');
}

function rootEntry(path: string): Entry {
  return { name: baseName(path), path, kind: 'folder', size: 0, modified: new Date(UNKNOWN_TIME), created: new Date(UNKNOWN_TIME) };
}

function joinChild(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Jottacloud keeps whole seconds; rounding down here keeps what we report equal to what it stores. */
function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function sameLocation(a: TreePlace, b: TreePlace): boolean {
  return a.device.toLowerCase() === b.device.toLowerCase() && a.mountpoint.toLowerCase() === b.mountpoint.toLowerCase();
}

/** `inner` is `outer` or below it (case-insensitively). */
function isInside(inner: TreePlace, outer: TreePlace): boolean {
  if (!sameLocation(inner, outer)) return false;
  const a = pathKey(inner.path);
  const b = pathKey(outer.path);
  return a === b || a.startsWith(b === '/' ? '/' : b + '/');
}

/** Whether the newest revision of `f` (complete or not) was last touched more than `ms` ago; false when unknown. */
function isOlderThan(f: File, ms: number): boolean {
  const times = [f.currentRevision?.updated, f.latestRevision?.updated, f.updated].filter((t): t is Date => t instanceof Date);
  if (!times.length) return false;
  return Date.now() - Math.max(...times.map((t) => t.getTime())) > ms;
}
