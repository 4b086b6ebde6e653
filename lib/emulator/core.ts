// The emulator's state behind the HTTP routes: the tree, the blob store, pending uploads, quota and the
// view context — opened from a data folder (journal replay, cleanup of unreferenced blobs) or in memory.
import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { type BlobStore, DiskBlobStore, MemoryBlobStore } from './blobs.js';
import { FileJournal } from './journal.js';
import { type Node, Tree } from './tree.js';
import type { ViewContext } from './views.js';

export interface CoreOptions {
  user: string;
  dataDir?: string;
  /** Bytes; -1 = unlimited. */
  capacityBytes: number;
  bandwidth: number;
  log: (line: string) => void;
}

export class EmulatorCore {
  readonly tree: Tree;
  readonly blobs: BlobStore;
  /** upload id → file node id, for the upload URL. */
  readonly uploads = new Map<string, string>();
  /** Upload ids with a request in progress (one writer per partial). */
  readonly uploadsInFlight = new Set<string>();
  /** The `host` attribute and error hostname, like the service's `dn-094`. */
  readonly host = `dn-${String(randomInt(100, 1000))}`;
  private journal?: FileJournal;

  private constructor(readonly opts: CoreOptions, blobs: BlobStore, journal: FileJournal | undefined) {
    this.blobs = blobs;
    this.journal = journal;
    this.tree = new Tree(opts.user, journal, {
      contentReleased: (md5) => {
        this.blobs.deleteBlob(md5).catch((e: unknown) => opts.log(`blob cleanup failed: ${String(e)}`));
      },
      uploadDiscarded: (uploadId) => {
        this.uploads.delete(uploadId);
        this.blobs.discard(uploadId).catch((e: unknown) => opts.log(`partial cleanup failed: ${String(e)}`));
      },
    });
  }

  static async open(opts: CoreOptions): Promise<EmulatorCore> {
    if (!opts.dataDir) {
      const core = new EmulatorCore(opts, new MemoryBlobStore(), undefined);
      core.tree.load([]);
      return core;
    }
    await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    const blobs = new DiskBlobStore(opts.dataDir);
    await blobs.init();
    const { journal, nodes } = FileJournal.open(opts.dataDir, opts.log);
    const core = new EmulatorCore(opts, blobs, journal);
    core.tree.load(nodes.values());
    const pending = core.tree.pendingUploads();
    for (const [id, file] of pending) core.uploads.set(id, file.id);
    await blobs.collect(core.tree.referencedContent(), new Set(pending.keys()));
    return core;
  }

  get view(): ViewContext {
    return { tree: this.tree, host: this.host, capacity: this.opts.capacityBytes };
  }

  get responder(): { bandwidth: number; host: string } {
    return { bandwidth: this.opts.bandwidth, host: this.host };
  }

  /** Whether storing `bytes` more would go over the quota (usage counts old revisions and trash too). */
  overQuota(bytes: number): boolean {
    const cap = this.opts.capacityBytes;
    if (cap < 0) return false;
    const usage = this.tree.usage();
    return usage >= cap || usage + bytes > cap;
  }

  uploadFile(uploadId: string): Node | undefined {
    const file = this.tree.node(this.uploads.get(uploadId));
    return file?.latest?.uploadId === uploadId ? file : undefined;
  }

  close(): void {
    this.journal?.close();
    this.journal = undefined;
  }
}
