// Dead properties (RFC 4918 §4): whatever a client PROPPATCHes that is not one of our live properties
// (Win32FileAttributes from Explorer, litmus's test properties, …) is kept in a keyv store, one key per
// resource, and follows the resource through MOVE and COPY and away with DELETE. Jottacloud itself has
// nowhere to keep them. An index of the keys that have properties lets a folder move find its descendants
// without asking the store to enumerate (most keyv stores cannot). With a store shared by several instances
// the index is re-read per request (`sync`) and changes run under the shared guard, like the lock table's.
import type Keyv from 'keyv';
import type { SharedStateGuard } from './locks.js';
import { pathKey } from './paths.js';

export interface DeadProp {
  ns: string;
  local: string;
  /** The value as XML content (escaped text or serialised elements). */
  xml: string;
}

const INDEX_KEY = 'webdav-props-index';
const keyFor = (k: string) => `webdav-props:${k}`;

export class DeadPropertyStore {
  private index = new Set<string>();
  private loaded: Promise<void> | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Keyv,
    /** Given when other instances share the store. */
    private readonly guard?: SharedStateGuard,
  ) {}

  /** With a shared store: re-reads the index, which other instances may have changed. */
  async sync(): Promise<void> {
    if (!this.guard) return;
    await this.writes;
    const saved = (await this.store.get(INDEX_KEY)) as string[] | undefined;
    this.index = new Set((saved ?? []).filter((k) => typeof k === 'string'));
  }

  private async change(apply: () => Promise<void>): Promise<void> {
    if (!this.guard) return apply();
    return this.guard.exclusive(async () => {
      await this.sync();
      await apply();
    });
  }

  /**
   * Runs `work` alone for this resource: two PROPPATCHes of one file each read, change and write its
   * property list, and must not overwrite each other's changes.
   */
  exclusive<T>(path: string, work: () => Promise<T>): Promise<T> {
    const k = pathKey(path);
    const previous = this.queues.get(k) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.catch(() => undefined);
    this.queues.set(k, settled);
    void settled.then(() => {
      if (this.queues.get(k) === settled) this.queues.delete(k);
    });
    return run;
  }

  ready(): Promise<void> {
    this.loaded ??= (async () => {
      const saved = (await this.store.get(INDEX_KEY)) as string[] | undefined;
      for (const k of saved ?? []) if (typeof k === 'string') this.index.add(k);
    })();
    return this.loaded;
  }

  /**
   * False when `path` certainly has no dead properties (no store read needed). A Depth 1 PROPFIND asks this for
   * every listed child: with no properties anywhere it costs nothing per entry, not a key and an await each.
   */
  mayHave(path: string): boolean {
    return this.index.size > 0 && this.index.has(pathKey(path));
  }

  async get(path: string): Promise<DeadProp[]> {
    const k = pathKey(path);
    if (!this.index.has(k)) return [];
    return ((await this.store.get(keyFor(k))) as DeadProp[] | undefined) ?? [];
  }

  async set(path: string, props: DeadProp[]): Promise<void> {
    await this.change(() => this.setNow(path, props));
  }

  private async setNow(path: string, props: DeadProp[]): Promise<void> {
    const k = pathKey(path);
    if (props.length) {
      await this.store.set(keyFor(k), props);
      if (!this.index.has(k)) {
        this.index.add(k);
        await this.saveIndex();
      }
    } else if (this.index.has(k)) {
      await this.store.delete(keyFor(k));
      this.index.delete(k);
      await this.saveIndex();
    }
  }

  /** Keys at or below `path` that carry properties. */
  private keysWithin(path: string): string[] {
    const k = pathKey(path);
    const prefix = k === '/' ? '/' : `${k}/`;
    return [...this.index].filter((x) => x === k || x.startsWith(prefix));
  }

  async move(from: string, to: string): Promise<void> {
    await this.change(() => this.transfer(from, to, true, true));
  }

  async copy(from: string, to: string, deep: boolean): Promise<void> {
    await this.change(() => this.transfer(from, to, deep, false));
  }

  private async transfer(from: string, to: string, deep: boolean, removeSource: boolean): Promise<void> {
    if (pathKey(from) === pathKey(to)) return; // a case-only rename: same resource, same key
    // whatever the destination had is replaced, as the resource at the destination is
    await this.removeWithinNow(to);
    const fromKey = pathKey(from);
    const toKey = pathKey(to);
    const keys = deep ? this.keysWithin(from) : this.index.has(fromKey) ? [fromKey] : [];
    for (const k of keys) {
      const props = ((await this.store.get(keyFor(k))) as DeadProp[] | undefined) ?? [];
      const target = toKey + k.slice(fromKey.length);
      if (props.length) {
        await this.store.set(keyFor(target), props);
        this.index.add(target);
      }
      if (removeSource) {
        await this.store.delete(keyFor(k));
        this.index.delete(k);
      }
    }
    if (keys.length) await this.saveIndex();
  }

  async removeWithin(path: string): Promise<void> {
    await this.change(() => this.removeWithinNow(path));
  }

  private async removeWithinNow(path: string): Promise<void> {
    const keys = this.keysWithin(path);
    if (!keys.length) return;
    for (const k of keys) {
      await this.store.delete(keyFor(k));
      this.index.delete(k);
    }
    await this.saveIndex();
  }

  // Chained like the lock table's writes: an older index snapshot never overwrites a newer one.
  private saveIndex(): Promise<void> {
    const snapshot = [...this.index];
    const write = this.writes.then(() => this.store.set(INDEX_KEY, snapshot));
    this.writes = write.catch(() => undefined);
    return write.then(() => undefined);
  }

  async flush(): Promise<void> {
    await this.writes;
  }
}
