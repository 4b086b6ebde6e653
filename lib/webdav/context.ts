// One request's view of the world: who asks, for which path, a per-request memo of storage answers (so the
// many questions one method asks about one resource cost one storage call), and the checks every write
// shares: read-only users, `If:` headers, lock tokens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Entry, StorageProvider } from '../storage/types.js';
import { isStorageError } from '../storage/types.js';
import type { DeadPropertyStore } from './deadprops.js';
import { DavError, xmlEscape } from './errors.js';
import { evaluateIf, parseIfHeader, submittedTokens, type IfList, type ResourceState } from './ifheader.js';
import type { LockTable, ActiveLock } from './locks.js';
import { decodeRequestPath, hrefFor, parentOf, pathKey } from './paths.js';

export interface WebdavUser {
  name: string;
  readOnly: boolean;
}

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', message: string, meta?: Record<string, unknown>) => void;

/** What every handler shares for the lifetime of the WebDAV handler. */
export interface DavShared {
  storage: StorageProvider;
  basePath: string;
  locks: LockTable;
  props: DeadPropertyStore;
  ignoreMacMetadata: boolean;
  /** Default and maximum lock timeout in seconds. */
  lockTimeout: { default: number; max: number };
  log: LogFn;
}

/** Methods that change the resource at their own path. */
const CHANGES_OWN_PATH = new Set(['PUT', 'MKCOL', 'DELETE', 'MOVE']);

export class DavRequest {
  readonly method: string;
  readonly path: string;
  readonly trailingSlash: boolean;
  /** Aborted when the client goes away before the answer is complete. */
  readonly signal: AbortSignal;
  private readonly statMemo = new Map<string, Promise<Entry | null>>();
  private ifLists: IfList[] | null | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly user: WebdavUser | null,
    readonly shared: DavShared,
    path: string,
    trailingSlash: boolean,
  ) {
    this.method = (req.method ?? 'GET').toUpperCase();
    this.path = path;
    this.trailingSlash = trailingSlash;
    const controller = new AbortController();
    this.signal = controller.signal;
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
  }

  get storage(): StorageProvider {
    return this.shared.storage;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  href(path: string, isFolder: boolean): string {
    return hrefFor(path, isFolder, this.shared.basePath);
  }

  /**
   * The entry at `path`, or null when nothing is there; memoised for this request. `forChange`: the request is
   * about to change `path`, so storage answers from the parent folder's listing (see `StatOptions`); the default
   * says so for the path of a PUT, MKCOL, DELETE or MOVE, since webdav-server asks about it before the handler does.
   */
  stat(path: string, options: { forChange?: boolean } = {}): Promise<Entry | null> {
    const key = pathKey(path);
    let p = this.statMemo.get(key);
    if (!p) {
      const forChange = options.forChange ?? (CHANGES_OWN_PATH.has(this.method) && key === pathKey(this.path));
      p = this.storage.stat(path, { signal: this.signal, forChange }).catch((err: unknown) => {
        if (isStorageError(err) && (err.code === 'NOT_FOUND' || err.code === 'NOT_A_FOLDER')) return null;
        throw err;
      });
      this.statMemo.set(key, p);
    }
    return p;
  }

  /** Seeds the memo with entries already known (a listing's children). */
  remember(entries: Entry[]): void {
    for (const e of entries) this.statMemo.set(pathKey(e.path), Promise.resolve(e));
  }

  /** Forgets memoised answers at `path` and below (after this request changed them). */
  forget(path: string): void {
    const k = pathKey(path);
    for (const key of [...this.statMemo.keys()]) if (key === k || key.startsWith(k === '/' ? '/' : `${k}/`)) this.statMemo.delete(key);
  }

  /** Refuses any change for read-only and anonymous users. */
  assertMayWrite(): void {
    if (!this.user || this.user.readOnly) throw new DavError(403, 'this user may only read');
  }

  /** The parsed `If:` header, or null when there is none. */
  ifHeader(): IfList[] | null {
    if (this.ifLists === undefined) {
      const raw = this.header('if');
      this.ifLists = raw === undefined || raw.trim() === '' ? null : parseIfHeader(raw);
    }
    return this.ifLists;
  }

  /** Lock tokens this request submitted (in its `If:` header). */
  tokens(): Set<string> {
    const lists = this.ifHeader();
    return lists ? submittedTokens(lists) : new Set();
  }

  /** Evaluates the `If:` header (RFC 4918 §10.4); false → 412. */
  async checkIfHeader(): Promise<void> {
    const lists = this.ifHeader();
    if (!lists) return;
    const ok = await evaluateIf(lists, (resource) => this.resourceState(resource));
    if (!ok) throw new DavError(412, 'the If header condition is not met');
  }

  private async resourceState(resource: string | undefined): Promise<ResourceState> {
    let path = this.path;
    if (resource !== undefined) {
      let decoded: { path: string } | null = null;
      try {
        const url = new URL(resource, `http://${this.header('host') ?? 'localhost'}`);
        decoded = decodeRequestPath(url.pathname, this.shared.basePath);
      } catch {
        decoded = null;
      }
      if (!decoded) return { lockTokens: [] };
      path = decoded.path;
    }
    const entry = await this.stat(path);
    return { etag: etagOf(entry), lockTokens: this.shared.locks.covering(path).map((l) => l.token) };
  }

  /**
   * Refuses to change `path` while a lock whose token was not submitted protects it (423). `deep` also
   * checks locks below (DELETE/MOVE of a folder); `members` also checks the parent collection, whose
   * membership changes when something is created or removed in it.
   */
  assertUnlocked(path: string, opts: { deep?: boolean; members?: boolean } = {}): void {
    const tokens = this.tokens();
    const principal = this.user?.name ?? '';
    const blocking: ActiveLock[] = [];
    const consider = (locks: ActiveLock[]) => {
      for (const l of locks) if (!(tokens.has(l.token) && l.principal === principal)) blocking.push(l);
    };
    consider(this.shared.locks.covering(path));
    if (opts.deep) consider(this.shared.locks.within(path));
    if (opts.members && path !== '/') consider(this.shared.locks.covering(parentOf(path)));
    if (blocking.length) {
      const roots = [...new Set(blocking.map((l) => l.root))];
      throw new DavError(
        423,
        `${path} is locked`,
        'lock-token-submitted',
        roots.map((r) => `<D:href>${xmlEscape(this.href(r, false))}</D:href>`).join(''),
      );
    }
  }
}

/** The ETag to show for an entry: the provider's own validator, else one from the MD5. */
export function etagOf(entry: Entry | null | undefined): string | undefined {
  if (!entry) return undefined;
  if (entry.etag) return entry.etag;
  if (entry.md5) return `"${entry.md5}"`;
  return undefined;
}
