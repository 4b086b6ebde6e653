// The metadata cache: what the provider knows about folders and files without asking the service again.
// Two kinds of records live in a keyv store (in-memory by default; any keyv store, e.g. Redis, plugs in):
//   `l:<folder>`  a folder's complete listing (its live children, by case-folded name), with a TTL;
//   `e:<path>`    one entry learned by a direct metadata read, or `null` = known not to exist, with a TTL.
// Keys are case-folded user paths, so `/Docs/A.txt` and `/docs/a.TXT` are one record, as on the service.
//
// The rule this file exists for: **no stale read after our own write**. Every write the provider makes
// goes through `put`/`remove`/`invalidate` here once the service has confirmed it, which updates the cached
// listing in place (keeping its original expiry) and drops what the write made uncertain. A listing fetch
// that was already on its way when a write happened could carry the old state; `begin()` hands out a
// ticket and a listing or entry is only stored if no write touched that folder since its ticket was taken.
// Writes to one folder's listing are serialised in-process, so two concurrent puts never lose each other.
//
// Several instances sharing one store (Redis) see each other's write-through at once, since it lands in the
// shared record. What each instance keeps in-process (fetch tickets, which records it stored) is kept right by
// `onChange`: every path our own writes changed is reported, cache-sync.ts publishes it, and the other instances
// `forget` it — so a fetch they began before the write cannot store a stale listing, and records under a moved
// or deleted folder that only they knew of are dropped.
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import { LRUCache } from 'lru-cache';
import { foldCase, joinPath, pathKey, splitPath } from './names.js';
import type { EntryKind } from './types.js';

/** What the cache keeps per entry: plain JSON (times in epoch ms), so any keyv store can hold it. */
export interface CachedEntry {
  /** User name in the stored case. */
  name: string;
  /** The name as Jottacloud stores it (after the look-alike mapping). */
  stored: string;
  kind: EntryKind;
  size: number;
  md5?: string;
  modified: number;
  created: number;
  contentType?: string;
  /** Revision number of a file's current revision, when known. */
  revision?: number;
  /** The full user path in the stored case, when known (what `Entry.path` reports). */
  path?: string;
}

interface ListingRecord {
  /** Children by `':' + foldCase(name)` (the prefix keeps names like `__proto__` plain data). */
  children: Record<string, CachedEntry>;
}

/** Marks the moment a fetch started; stores made with it are dropped if a write overtook the fetch. */
export interface FetchTicket {
  readonly seq: number;
}

export interface CacheOptions {
  /** How long a listing or entry stays valid, ms. 0 disables caching entirely. */
  ttlMs: number;
  /** A keyv store adapter (e.g. `@keyv/redis`); default: in-process memory. */
  store?: KeyvStoreAdapter;
  /** Key namespace within a shared store (one per account/root). */
  namespace?: string;
  /**
   * In-process store only: how many entries (listed children plus single-entry records) it holds at most;
   * the least recently used listings go first. Default DEFAULT_MAX_ENTRIES.
   */
  maxEntries?: number;
}

/**
 * About 0.7 KiB of heap per cached entry (heap snapshots after 30,000 listed entries), so some 70 MiB at the most:
 * room for the folders a few file managers have open (ten 10,000-entry folders) while a server that listed a large
 * tree stays bounded (`storage.cacheMaxEntries` sets it). A listing pushed out is
 * simply fetched again; nothing stale can come of it.
 */
export const DEFAULT_MAX_ENTRIES = 100_000;

export class MetadataCache {
  private readonly kv: Keyv;
  private readonly ttlMs: number;
  /** Sequence of writes; `touched` records the last write per folder key and per subtree root. */
  private seq = 0;
  private readonly touched = new Map<string, number>();
  /** Folder keys whose listings we have stored, so a subtree can be dropped without scanning the store. */
  private readonly listed = new Set<string>();
  private readonly entries = new Set<string>();
  private readonly locks = new Map<string, Promise<void>>();
  /** Tickets older than this count as overtaken (the `touched` map is pruned past it, so it stays small). */
  private floorSeq = 0;
  private sweeper?: NodeJS.Timeout;
  private readonly listeners = new Set<(path: string) => Promise<void> | void>();
  /** Records in a store other instances share (Redis) stay when this one closes: they still serve the others. */
  private readonly shared: boolean;
  /** Counters for tests and diagnostics. */
  readonly stats = { listingHits: 0, listingMisses: 0, entryHits: 0, entryMisses: 0 };

  constructor(options: CacheOptions) {
    this.ttlMs = options.ttlMs;
    this.shared = options.store !== undefined;
    const namespace = options.namespace ?? 'jottadav';
    this.kv = options.store
      ? new Keyv({ store: options.store, namespace })
      : // In memory there is nothing to serialise: values are kept as objects (a listing changes only in `mutate`).
        new Keyv({ store: boundedStore(options.maxEntries ?? DEFAULT_MAX_ENTRIES), namespace, serialize: undefined, deserialize: undefined });
    if (this.ttlMs > 0) {
      // The memory store drops an expired record only when it is read again; sweep the ones we wrote.
      this.sweeper = setInterval(() => void this.sweep(), Math.max(this.ttlMs, 1000));
      this.sweeper.unref();
    }
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  begin(): FetchTicket {
    return { seq: this.seq };
  }

  /** The cached children of `folder`, or undefined when not cached. */
  async listing(folder: string): Promise<CachedEntry[] | undefined> {
    if (!this.enabled) return undefined;
    const rec = (await this.kv.get(listingKey(folder))) as ListingRecord | undefined;
    if (!rec) {
      this.stats.listingMisses++;
      return undefined;
    }
    this.stats.listingHits++;
    return Object.values(rec.children);
  }

  /**
   * What is known about one path: the entry, `null` when it is known not to exist (its parent's listing
   * is cached and lacks it, or a lookup found nothing), undefined when unknown.
   */
  async lookup(path: string): Promise<CachedEntry | null | undefined> {
    if (!this.enabled) return undefined;
    const segments = splitPath(path);
    if (segments.length === 0) return undefined;
    const parent = joinPath(segments.slice(0, -1));
    const name = segments[segments.length - 1];
    const rec = (await this.kv.get(listingKey(parent))) as ListingRecord | undefined;
    if (rec) {
      this.stats.entryHits++;
      return childOf(rec, name) ?? null;
    }
    const single = (await this.kv.get(entryKey(path))) as CachedEntry | null | undefined;
    if (single !== undefined) {
      this.stats.entryHits++;
      return single;
    }
    this.stats.entryMisses++;
    return undefined;
  }

  /** Stores a listing fetched with `ticket`, unless a write to that folder happened meanwhile. */
  async storeListing(ticket: FetchTicket, folder: string, children: CachedEntry[]): Promise<void> {
    if (!this.enabled || this.overtaken(ticket, folder)) return;
    const rec: ListingRecord = { children: {} };
    for (const c of children) {
      const k = ':' + foldCase(c.name);
      // Two stored names can decode to one user name (one written raw by another app); the first stays.
      if (!Object.hasOwn(rec.children, k)) rec.children[k] = c;
    }
    const key = listingKey(folder);
    await this.kv.set(key, rec, this.ttlMs);
    this.listed.add(pathKey(folder));
  }

  /** Stores the result of a direct lookup (`null` = not found) made with `ticket`. */
  async storeEntry(ticket: FetchTicket, path: string, entry: CachedEntry | null): Promise<void> {
    if (!this.enabled || this.overtaken(ticket, parentKeyOf(path)) || this.overtaken(ticket, pathKey(path))) return;
    await this.kv.set(entryKey(path), entry, this.ttlMs);
    this.entries.add(pathKey(path));
  }

  /** Our write created or changed `entry` inside `folder`: make it visible at once. */
  async put(folder: string, entry: CachedEntry): Promise<void> {
    const path = joinPath([...splitPath(folder), entry.name]);
    await this.mutate(folder, [path], (rec) => {
      // Another entry that only differed in case is the same entry on the service: replace it.
      rec.children[':' + foldCase(entry.name)] = entry;
    });
    if (this.enabled) {
      await this.kv.set(entryKey(path), entry, this.ttlMs);
      this.entries.add(pathKey(path));
    }
    await this.changed(path);
  }

  /** Our write removed `path` (and, for a folder, everything below it). */
  async remove(path: string): Promise<void> {
    const segments = splitPath(path);
    const parent = joinPath(segments.slice(0, -1));
    const name = segments[segments.length - 1];
    await this.dropSubtree(path);
    await this.mutate(parent, [path], (rec) => {
      delete rec.children[':' + foldCase(name)];
    });
    if (this.enabled) {
      await this.kv.set(entryKey(path), null, this.ttlMs);
      this.entries.add(pathKey(path));
    }
    await this.changed(path);
  }

  /** Forgets everything about `path` and below, and its place in its parent's listing (state unknown). */
  async invalidate(path: string): Promise<void> {
    await this.forget(path);
    await this.changed(path);
  }

  /** Calls `listener` with each path a write through this cache changed, once the store holds the change. */
  onChange(listener: (path: string) => Promise<void> | void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `invalidate` for a change made elsewhere (another instance): the same forgetting, not reported again. */
  async forget(path: string): Promise<void> {
    this.touch(pathKey(path));
    await this.dropSubtree(path);
    await this.kv.delete(entryKey(path));
    this.entries.delete(pathKey(path));
    const segments = splitPath(path);
    if (segments.length > 0) {
      const parent = joinPath(segments.slice(0, -1));
      this.touch(pathKey(parent));
      await this.kv.delete(listingKey(parent));
      this.listed.delete(pathKey(parent));
    }
  }

  async clear(): Promise<void> {
    this.seq++;
    this.touched.clear();
    for (const k of this.listed) await this.kv.delete(listingKey(k));
    for (const k of this.entries) await this.kv.delete(entryKey(k));
    this.listed.clear();
    this.entries.clear();
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (!this.shared) await this.clear();
    await this.kv.disconnect().catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------------

  private async changed(path: string): Promise<void> {
    for (const listener of this.listeners) await listener(path);
  }

  private touch(key: string): void {
    this.seq++;
    this.touched.set(key, this.seq);
    if (this.touched.size > 10_000) {
      // Forget per-folder history; every fetch begun before now is then treated as overtaken.
      this.touched.clear();
      this.floorSeq = this.seq;
    }
  }

  /** Removes expired records from our bookkeeping (and, by reading them, from a memory store). */
  private async sweep(): Promise<void> {
    for (const k of [...this.listed]) if ((await this.kv.get(listingKey(k))) === undefined) this.listed.delete(k);
    for (const k of [...this.entries]) if ((await this.kv.get(entryKey(k))) === undefined) this.entries.delete(k);
  }

  /** True if a write to `folderKey` or any of its ancestors (a moved/deleted subtree) came after `ticket`. */
  private overtaken(ticket: FetchTicket, folderKeyOrPath: string): boolean {
    if (ticket.seq < this.floorSeq) return true;
    let k = pathKey(folderKeyOrPath);
    while (true) {
      const t = this.touched.get(k);
      if (t !== undefined && t > ticket.seq) return true;
      if (k === '/') return false;
      k = parentKeyOf(k);
    }
  }

  private async dropSubtree(path: string): Promise<void> {
    const root = pathKey(path);
    this.touch(root);
    const under = (k: string): boolean => k === root || k.startsWith(root === '/' ? '/' : root + '/');
    for (const k of [...this.listed]) {
      if (!under(k)) continue;
      await this.kv.delete(listingKey(k));
      this.listed.delete(k);
    }
    for (const k of [...this.entries]) {
      if (!under(k) || k === root) continue;
      await this.kv.delete(entryKey(k));
      this.entries.delete(k);
    }
  }

  /** Read-modify-write of a cached listing (if cached), serialised per folder, keeping its expiry. */
  private async mutate(folder: string, paths: string[], change: (rec: ListingRecord) => void): Promise<void> {
    const key = pathKey(folder);
    this.touch(key);
    for (const p of paths) this.touch(pathKey(p));
    if (!this.enabled) return;
    await this.withLock(key, async () => {
      const raw = (await this.kv.get(listingKey(folder), { raw: true })) as { value?: ListingRecord; expires?: number } | undefined;
      if (!raw?.value) return;
      // Changed in place, not copied: a copy costs as much as the folder is big, and every write in it paid that
      // (1,000 PUTs into one folder spent seconds copying). Nobody holds a record across an await (readers take
      // their snapshot at once), and this runs under the folder's lock.
      const next = raw.value;
      change(next);
      const ttl = raw.expires ? raw.expires - Date.now() : this.ttlMs;
      if (ttl <= 0) {
        await this.kv.delete(listingKey(folder));
        this.listed.delete(key);
        return;
      }
      await this.kv.set(listingKey(folder), next, ttl);
    });
  }

  private async withLock(key: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

/** What keyv keeps per key in an in-process store: the value and its expiry. */
interface StoredRecord {
  value?: ListingRecord | CachedEntry | null;
  expires?: number;
}

/**
 * keyv's in-process store, bounded: an LRU weighing each record by the entries it holds (a listing by its
 * children). keyv 5 uses any object with get/set/delete/clear as its store and keeps the expiry in the record.
 */
function boundedStore(maxEntries: number): KeyvStoreAdapter {
  const lru = new LRUCache<string, StoredRecord>({
    maxSize: Math.max(1, maxEntries),
    sizeCalculation: (rec) => {
      const v = rec.value;
      return v && 'children' in v ? Math.max(1, Object.keys(v.children).length) : 1;
    },
  });
  const store = {
    get: (key: string) => lru.get(key),
    set: (key: string, value: StoredRecord) => {
      // A record larger than the whole bound is not kept (lru-cache refuses it); any older one under that key must go too.
      if (!lru.set(key, value).has(key)) lru.delete(key);
      return true;
    },
    delete: (key: string) => lru.delete(key),
    clear: () => lru.clear(),
    has: (key: string) => lru.has(key),
  };
  return store as unknown as KeyvStoreAdapter;
}

function childOf(rec: ListingRecord, name: string): CachedEntry | undefined {
  const k = ':' + foldCase(name);
  return Object.hasOwn(rec.children, k) ? rec.children[k] : undefined;
}

function listingKey(folder: string): string {
  return 'l:' + (folder.startsWith('/') ? pathKey(folder) : folder);
}

function entryKey(path: string): string {
  return 'e:' + (path.startsWith('/') ? pathKey(path) : path);
}

function parentKeyOf(key: string): string {
  const i = key.lastIndexOf('/');
  return i <= 0 ? '/' : key.slice(0, i);
}
