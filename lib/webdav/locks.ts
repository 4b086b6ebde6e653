// WebDAV locks (RFC 4918 §6, §7): the table of active locks, which locks cover or lie within a path, and
// their persistence in a keyv store so a restart keeps them (a Windows or Finder client holding a lock
// across our restart must still be able to write and unlock). Timeouts are honoured: an expired lock is
// gone for every question asked of the table. Several instances may share the store (Redis): then the table
// is re-read at the start of each request (`sync`) and every change is made under the shared guard on the
// table as it is in the store, so no instance overwrites another's locks with its older copy.
import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { isWithin, pathKey } from './paths.js';

export type LockScope = 'exclusive' | 'shared';
export type LockDepth = '0' | 'infinity';

export interface ActiveLock {
  /** `opaquelocktoken:<uuid>` */
  token: string;
  /** The lock root as the client named it (storage path). */
  root: string;
  depth: LockDepth;
  scope: LockScope;
  /** The client's `<D:owner>` content, verbatim XML (litmus and Office compare it). */
  ownerXml: string;
  /** The authenticated user who took the lock (`''` for none). */
  principal: string;
  timeoutSec: number;
  /** Epoch milliseconds. */
  expiresAt: number;
}

const STORE_KEY = 'webdav-locks';

/** One instance at a time, across every instance sharing a store (a Redis lock); nested calls run at once. */
export interface SharedStateGuard {
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

export class LockTable {
  private locks = new Map<string, ActiveLock>();
  private loaded: Promise<void> | undefined;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Keyv,
    private readonly now: () => number = Date.now,
    /** Given when other instances share the store. */
    private readonly guard?: SharedStateGuard,
  ) {}

  /** With a shared store: re-reads the table, which other instances may have changed. Otherwise nothing to do. */
  async sync(): Promise<void> {
    if (!this.guard) return;
    await this.writes;
    const saved = (await this.store.get(STORE_KEY)) as ActiveLock[] | undefined;
    const next = new Map<string, ActiveLock>();
    for (const lock of saved ?? []) if (lock && typeof lock.token === 'string') next.set(lock.token, lock);
    this.locks = next;
  }

  /** Applies a change and saves the table; with a shared store, under the guard and on the stored table. */
  private async change<T>(apply: () => T, save: (result: T) => boolean = () => true): Promise<T> {
    const run = async () => {
      const result = apply();
      if (save(result)) await this.persist();
      return result;
    };
    if (!this.guard) return run();
    return this.guard.exclusive(async () => {
      await this.sync();
      return run();
    });
  }

  /** Reads the persisted table once; every public method awaits it. */
  ready(): Promise<void> {
    this.loaded ??= (async () => {
      const saved = (await this.store.get(STORE_KEY)) as ActiveLock[] | undefined;
      for (const lock of saved ?? []) if (lock && typeof lock.token === 'string') this.locks.set(lock.token, lock);
    })();
    return this.loaded;
  }

  private live(): ActiveLock[] {
    const now = this.now();
    const out: ActiveLock[] = [];
    for (const lock of this.locks.values()) {
      if (lock.expiresAt > now) out.push(lock);
      else this.locks.delete(lock.token);
    }
    return out;
  }

  /** Locks that apply to `path`: rooted at it, or at an ancestor with depth infinity. */
  covering(path: string): ActiveLock[] {
    // asked for every entry of an allprop listing: with no locks at all, no path key is worth computing
    if (this.locks.size === 0) return [];
    const key = pathKey(path);
    return this.live().filter((l) => pathKey(l.root) === key || (l.depth === 'infinity' && isWithin(path, l.root)));
  }

  /** Locks rooted at `path` or anywhere below it. */
  within(path: string): ActiveLock[] {
    return this.live().filter((l) => isWithin(l.root, path));
  }

  /** Locks rooted exactly at `path`. */
  rootedAt(path: string): ActiveLock[] {
    const key = pathKey(path);
    return this.live().filter((l) => pathKey(l.root) === key);
  }

  byToken(token: string): ActiveLock | undefined {
    return this.live().find((l) => l.token === token);
  }

  async create(fields: Omit<ActiveLock, 'token' | 'expiresAt'>): Promise<ActiveLock> {
    return this.change(() => {
      const lock: ActiveLock = { ...fields, token: `opaquelocktoken:${randomUUID()}`, expiresAt: this.now() + fields.timeoutSec * 1000 };
      this.locks.set(lock.token, lock);
      return lock;
    });
  }

  async refresh(token: string, timeoutSec: number): Promise<ActiveLock | undefined> {
    return this.change(
      () => {
        const lock = this.byToken(token);
        if (!lock) return undefined;
        lock.timeoutSec = timeoutSec;
        lock.expiresAt = this.now() + timeoutSec * 1000;
        return lock;
      },
      (lock) => lock !== undefined,
    );
  }

  async remove(token: string): Promise<boolean> {
    return this.change(
      () => this.locks.delete(token),
      (had) => had,
    );
  }

  /** Drops every lock rooted at or below `path` (the resources are gone or moved away). */
  async removeWithin(path: string): Promise<void> {
    await this.change(
      () => {
        const doomed = this.within(path);
        for (const l of doomed) this.locks.delete(l.token);
        return doomed.length;
      },
      (n) => n > 0,
    );
  }

  /** Seconds left before the lock expires (at least 0). */
  remaining(lock: ActiveLock): number {
    return Math.max(0, Math.ceil((lock.expiresAt - this.now()) / 1000));
  }

  // Writes are chained so an older snapshot can never land after a newer one.
  private persist(): Promise<void> {
    const snapshot = this.live();
    const write = this.writes.then(() => this.store.set(STORE_KEY, snapshot));
    this.writes = write.catch(() => undefined);
    return write.then(() => undefined);
  }

  /** Waits for pending writes (used on close). */
  async flush(): Promise<void> {
    await this.writes;
  }
}
