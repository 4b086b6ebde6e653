// The account's tree: devices → mountpoints → folders → files with revisions, and the service's semantics on it —
// case-insensitive names that keep the first-created case, trashed entries that stay at their original path
// ("tombstones", each with its own `deleted` time), revision history, content references for deduplication,
// and usage. Every change is handed to a `TreeJournal` as whole node records, so a journal can rebuild the tree.
import { randomBytes, randomUUID } from 'node:crypto';
import { errors } from './errors.js';
import { checkNewName, mimeFor, nameKey } from './names.js';
import { toSeconds } from './times.js';

export type Kind = 'device' | 'mountpoint' | 'folder' | 'file';
export type RevisionState = 'COMPLETED' | 'INCOMPLETE' | 'CORRUPT';

export interface Revision {
  number: number;
  state: RevisionState;
  created: number;
  modified: number;
  updated: number;
  mime: string;
  /** COMPLETED: the size; INCOMPLETE: bytes received so far; CORRUPT: absent. */
  size?: number;
  md5: string;
  /** A pending upload only: its id and the size declared at allocate. */
  uploadId?: string;
  declaredBytes?: number;
}

export interface Node {
  id: string;
  kind: Kind;
  name: string;
  parent: string | null;
  created: number;
  modified?: number;
  /** When it went to trash; absent = live. */
  deleted?: number;
  /** It was the target of a delete (so the Trash view lists it), not just inside a deleted folder. */
  trashRoot?: boolean;
  deviceType?: string;
  current?: Revision;
  latest?: Revision;
  /** Older revisions, newest first. */
  history?: Revision[];
  nextRevision?: number;
  publicURI?: string;
}

export interface TreeJournal {
  write(puts: Node[], deletes: string[]): void;
}

export interface TreeHooks {
  /** No revision refers to this content any more. */
  contentReleased(md5: string): void;
  /** A pending upload's partial bytes are no longer needed. */
  uploadDiscarded(uploadId: string): void;
}

/** Old revisions kept beside the current one (a captured history showed 4 old + current). */
export const KEPT_OLD_REVISIONS = 4;

const BUILTIN_DEVICE = 'Jotta';
const BUILTIN_MOUNTPOINTS = ['Archive', 'Sync', 'Shared'];

interface Children {
  folders: Map<string, Node>;
  files: Map<string, Node>;
}

export class Tree {
  private readonly nodes = new Map<string, Node>();
  private readonly children = new Map<string | null, Children>();
  private readonly content = new Map<string, { size: number; refs: number }>();
  private readonly trashRoots = new Set<string>();
  private usageBytes = 0;
  private touched = new Map<string, Node>();
  private dropped = new Set<string>();
  /** Bumped by every commit; mountpoint/device sizes are cached per version (listing a root must not walk the tree each time). */
  private version = 0;
  private readonly sizeCache = new Map<string, { version: number; size: number }>();

  constructor(
    readonly user: string,
    private readonly journal: TreeJournal | undefined,
    private readonly hooks: TreeHooks,
  ) {}

  // ---------------------------------------------------------------- loading and persistence

  /** Rebuilds the tree from node records (a replayed journal); creates the built-in device when absent. */
  load(records: Iterable<Node>): void {
    for (const n of records) this.nodes.set(n.id, n);
    for (const n of this.nodes.values()) this.index(n);
    for (const n of this.nodes.values()) {
      if (n.deleted !== undefined && n.trashRoot) this.trashRoots.add(n.id);
      if (n.kind === 'file') this.addContentRefs(n, +1);
    }
    this.ensureBuiltins();
    this.commit();
  }

  private ensureBuiltins(): void {
    const now = Date.now();
    let jotta = this.device(BUILTIN_DEVICE);
    if (!jotta) jotta = this.addNode({ kind: 'device', name: BUILTIN_DEVICE, parent: null, created: now, deviceType: 'JOTTA' });
    for (const mp of BUILTIN_MOUNTPOINTS) {
      if (!this.childFolder(jotta, mp)) this.addNode({ kind: 'mountpoint', name: mp, parent: jotta.id, created: now });
    }
  }

  /** Every node, for compaction. */
  allNodes(): IterableIterator<Node> {
    return this.nodes.values();
  }

  /** Content hashes some revision refers to (the blobs to keep). */
  referencedContent(): Set<string> {
    return new Set(this.content.keys());
  }

  /** Upload ids of pending uploads (the partial files to keep). */
  pendingUploads(): Map<string, Node> {
    const out = new Map<string, Node>();
    for (const n of this.nodes.values()) if (n.latest?.uploadId) out.set(n.latest.uploadId, n);
    return out;
  }

  private touch(n: Node): void {
    this.touched.set(n.id, n);
  }

  /** Writes the pending changes as one journal record. Called at the end of every mutation. */
  commit(): void {
    if (this.touched.size === 0 && this.dropped.size === 0) return;
    this.version++;
    const puts = [...this.touched.values()].filter((n) => !this.dropped.has(n.id));
    const dels = [...this.dropped];
    this.touched = new Map();
    this.dropped = new Set();
    this.journal?.write(puts, dels);
  }

  // ---------------------------------------------------------------- indexes

  private kids(id: string | null): Children {
    let c = this.children.get(id);
    if (!c) {
      c = { folders: new Map(), files: new Map() };
      this.children.set(id, c);
    }
    return c;
  }

  private index(n: Node): void {
    const c = this.kids(n.parent);
    (n.kind === 'file' ? c.files : c.folders).set(nameKey(n.name), n);
  }

  private unindex(n: Node): void {
    const c = this.children.get(n.parent);
    c?.[n.kind === 'file' ? 'files' : 'folders'].delete(nameKey(n.name));
  }

  private addNode(fields: Omit<Node, 'id'>): Node {
    const n: Node = { id: randomUUID(), ...fields };
    this.nodes.set(n.id, n);
    this.index(n);
    this.touch(n);
    return n;
  }

  node(id: string | null | undefined): Node | undefined {
    return id ? this.nodes.get(id) : undefined;
  }

  devices(): Node[] {
    return sortByName([...this.kids(null).folders.values()]);
  }

  device(name: string): Node | undefined {
    return this.kids(null).folders.get(nameKey(name));
  }

  childFolder(parent: Node, name: string): Node | undefined {
    return this.children.get(parent.id)?.folders.get(nameKey(name));
  }

  childFile(parent: Node, name: string): Node | undefined {
    return this.children.get(parent.id)?.files.get(nameKey(name));
  }

  /** The entry a path's last segment names: a live file first, then a folder (live or trashed), then a trashed file. */
  child(parent: Node, name: string): Node | undefined {
    const file = this.childFile(parent, name);
    if (file && file.deleted === undefined) return file;
    return this.childFolder(parent, name) ?? file;
  }

  folderChildren(n: Node): Node[] {
    return sortByName([...(this.children.get(n.id)?.folders.values() ?? [])]);
  }

  fileChildren(n: Node): Node[] {
    return sortByName([...(this.children.get(n.id)?.files.values() ?? [])]);
  }

  /** Names from the device down, e.g. `['Jotta', 'Archive', 'a', 'b.txt']`. */
  names(n: Node): string[] {
    const out: string[] = [];
    for (let cur: Node | undefined = n; cur; cur = this.node(cur.parent)) out.push(cur.name);
    return out.reverse();
  }

  /** `/<user>/<device>/<mountpoint>/…` of the node itself. */
  absPath(n: Node): string {
    return '/' + [this.user, ...this.names(n)].join('/');
  }

  /** The parent's absPath (`/<user>` for a device). */
  parentPath(n: Node): string {
    const p = this.node(n.parent);
    return p ? this.absPath(p) : `/${this.user}`;
  }

  mountpointOf(n: Node): Node {
    let cur = n;
    while (cur.kind !== 'mountpoint') {
      const p = this.node(cur.parent);
      if (!p) return cur;
      cur = p;
    }
    return cur;
  }

  isBuiltinDevice(device: Node): boolean {
    return device.kind === 'device' && nameKey(device.name) === nameKey(BUILTIN_DEVICE);
  }

  /** Walks `segments` below `from`; each intermediate segment must be a folder. */
  lookup(from: Node, segments: string[]): Node | undefined {
    let cur: Node | undefined = from;
    for (let i = 0; i < segments.length && cur; i++) {
      cur = i === segments.length - 1 ? this.child(cur, segments[i]) : this.childFolder(cur, segments[i]);
    }
    return cur;
  }

  *descendants(n: Node): Generator<Node> {
    const c = this.children.get(n.id);
    if (!c) return;
    for (const f of c.folders.values()) {
      yield f;
      yield* this.descendants(f);
    }
    yield* c.files.values();
  }

  // ---------------------------------------------------------------- usage and content

  usage(): number {
    return this.usageBytes;
  }

  /** Bytes of live current revisions below a node (a mountpoint's or device's `size`). */
  liveSize(n: Node): number {
    const cached = this.sizeCache.get(n.id);
    if (cached?.version === this.version && this.touched.size === 0) return cached.size;
    let sum = 0;
    for (const d of this.descendants(n)) if (d.kind === 'file' && d.deleted === undefined) sum += d.current?.size ?? 0;
    this.sizeCache.set(n.id, { version: this.version, size: sum });
    return sum;
  }

  hasContent(md5: string, size: number): boolean {
    return this.content.get(md5)?.size === size;
  }

  private addContentRefs(file: Node, sign: 1 | -1): void {
    for (const r of [file.current, ...(file.history ?? [])]) if (r) this.contentRef(r, sign);
  }

  private contentRef(r: Revision, sign: 1 | -1): void {
    if (r.state !== 'COMPLETED' || r.size === undefined) return;
    this.usageBytes += sign * r.size;
    const c = this.content.get(r.md5);
    if (sign > 0) {
      if (c) c.refs++;
      else this.content.set(r.md5, { size: r.size, refs: 1 });
    } else if (c && --c.refs <= 0) {
      this.content.delete(r.md5);
      this.hooks.contentReleased(r.md5);
    }
  }

  // ---------------------------------------------------------------- devices and mountpoints

  createDevice(name: string, type: string): Node {
    checkNewName(name);
    const existing = this.device(name);
    if (existing) return existing;
    const d = this.addNode({ kind: 'device', name, parent: null, created: Date.now(), deviceType: type });
    this.commit();
    return d;
  }

  createMountPoint(device: Node, name: string): { node: Node; created: boolean } {
    const existing = this.childFolder(device, name);
    if (existing) return { node: existing, created: false };
    if (this.isBuiltinDevice(device)) throw errors.accessDenied(`Cannot create mount points on the built-in device ${device.name}`);
    checkNewName(name);
    const mp = this.addNode({ kind: 'mountpoint', name, parent: device.id, created: Date.now() });
    this.commit();
    return { node: mp, created: true };
  }

  // ---------------------------------------------------------------- folders

  /**
   * The folder at `segments` below a mountpoint, creating (or bringing back from trash) every missing one,
   * like `mkdir -p`: the service's mkDir and allocate do that, and mv/cp create a destination's parents.
   */
  ensureFolder(mountpoint: Node, segments: string[]): Node {
    let cur = mountpoint;
    if (cur.deleted !== undefined) this.revive(cur);
    for (const seg of segments) {
      let next = this.childFolder(cur, seg);
      const file = this.childFile(cur, seg);
      if (file && file.deleted === undefined) throw errors.uniqueFile(`${this.absPath(file)} is a file`);
      if (!next) {
        checkNewName(seg);
        next = this.addNode({ kind: 'folder', name: seg, parent: cur.id, created: Date.now() });
        this.changed(next);
      } else if (next.deleted !== undefined) {
        this.revive(next);
      }
      cur = next;
    }
    return cur;
  }

  /** Marks a node and its live descendants as trashed; the node itself shows in the Trash view. */
  trash(n: Node): void {
    const now = toSeconds(Date.now());
    n.deleted = now;
    n.trashRoot = true;
    this.trashRoots.add(n.id);
    this.touch(n);
    for (const d of this.descendants(n)) {
      if (d.deleted === undefined) {
        d.deleted = now;
        d.trashRoot = false;
        this.touch(d);
      }
    }
    this.changed(n);
    this.commit();
  }

  /**
   * Brings a trashed node (and its trashed ancestors) back. A revived folder's own trashed children stay in
   * trash, now each listed there on its own, so the invariant "no live node below a trashed one" holds.
   */
  revive(n: Node): void {
    const chain: Node[] = [];
    for (let cur: Node | undefined = n; cur && cur.deleted !== undefined; cur = this.node(cur.parent)) chain.push(cur);
    for (const c of chain) {
      delete c.deleted;
      c.trashRoot = false;
      this.trashRoots.delete(c.id);
      this.touch(c);
      const kids = this.children.get(c.id);
      for (const k of [...(kids?.folders.values() ?? []), ...(kids?.files.values() ?? [])]) {
        if (k.deleted !== undefined && !k.trashRoot && !chain.includes(k)) {
          k.trashRoot = true;
          this.trashRoots.add(k.id);
          this.touch(k);
        }
      }
    }
  }

  /** Removes a node and everything below it for good. */
  hardDelete(n: Node): void {
    for (const d of [...this.descendants(n)]) this.removeNode(d);
    this.removeNode(n);
    this.changed(n);
    this.commit();
  }

  private removeNode(n: Node): void {
    this.unindex(n);
    this.nodes.delete(n.id);
    this.trashRoots.delete(n.id);
    this.children.delete(n.id);
    this.touched.delete(n.id);
    this.dropped.add(n.id);
    if (n.kind === 'file') {
      this.addContentRefs(n, -1);
      if (n.latest?.uploadId) this.hooks.uploadDiscarded(n.latest.uploadId);
    }
  }

  trashEntries(): Node[] {
    return [...this.trashRoots].map((id) => this.nodes.get(id)).filter((n): n is Node => !!n);
  }

  /** Empties the trash; counts the entries the Trash view listed. */
  purgeTrash(): { folders: number; files: number } {
    let folders = 0;
    let files = 0;
    for (const n of this.trashEntries()) {
      if (!this.nodes.has(n.id)) continue;
      if (n.kind === 'file') files++;
      else folders++;
      for (const d of [...this.descendants(n)]) this.removeNode(d);
      this.removeNode(n);
    }
    this.commit();
    return { folders, files };
  }

  /** Moves a folder to `dstParent/dstName` (mvDir). */
  moveFolder(src: Node, dstParent: Node, dstName: string): Node {
    if (src.kind === 'mountpoint' || src.kind === 'device') throw errors.invalidArgument(`Cannot move ${this.absPath(src)}`);
    for (let p: Node | undefined = dstParent; p; p = this.node(p.parent)) {
      if (p.id === src.id) throw errors.invalidArgument(`Cannot move ${this.absPath(src)} into itself`);
    }
    const existing = this.childFolder(dstParent, dstName);
    if (existing && existing.id !== src.id) {
      // Also for a trashed one: the service's "move onto a previously deleted path fails" (empty the trash to fix).
      throw errors.uniqueFile(`Target directory ${this.absPath(existing)} already exists`);
    }
    const file = this.childFile(dstParent, dstName);
    if (file && file.deleted === undefined) throw errors.uniqueFile(`${this.absPath(file)} is a file`);
    if (!existing) checkNewName(dstName);
    return this.relocate(src, dstParent, dstName);
  }

  /** Puts a node under another parent and/or name (also a case-only rename) and records the change. */
  private relocate(n: Node, parent: Node, name: string): Node {
    const oldParent = this.node(n.parent);
    this.unindex(n);
    n.parent = parent.id;
    n.name = name;
    this.index(n);
    this.touch(n);
    if (oldParent) this.changed(oldParent);
    this.changed(n);
    this.commit();
    return n;
  }

  // ---------------------------------------------------------------- files

  newFile(parent: Node, name: string): Node {
    checkNewName(name);
    const folder = this.childFolder(parent, name);
    if (folder && folder.deleted === undefined) throw errors.uniqueFile(`${this.absPath(folder)} is a folder`);
    return this.addNode({ kind: 'file', name, parent: parent.id, created: Date.now(), history: [], nextRevision: 1 });
  }

  /** Makes `rev` the current revision; the previous one joins the history (at most KEPT_OLD_REVISIONS). */
  private pushRevision(file: Node, rev: Revision): void {
    const history = file.history ?? [];
    if (file.current) history.unshift(file.current);
    while (history.length > KEPT_OLD_REVISIONS) {
      const dropped = history.pop();
      if (dropped) this.contentRef(dropped, -1);
    }
    file.history = history;
    file.current = rev;
    this.contentRef(rev, +1);
    this.touch(file);
  }

  private takeRevisionNumber(file: Node): number {
    const n = file.nextRevision ?? 1;
    file.nextRevision = n + 1;
    return n;
  }

  /** A new COMPLETED revision with known content (dedup, cp, mv over an existing file). */
  addCompletedRevision(file: Node, c: { md5: string; size: number; created: number; modified: number }): void {
    const now = toSeconds(Date.now());
    this.pushRevision(file, {
      number: this.takeRevisionNumber(file),
      state: 'COMPLETED',
      created: c.created,
      modified: c.modified,
      updated: now,
      mime: mimeFor(file.name),
      size: c.size,
      md5: c.md5,
    });
    this.changed(file);
  }

  /** Changes the current revision's times only (cphash on matching content). */
  setTimes(file: Node, created: number, modified: number): void {
    if (!file.current) return;
    file.current.created = created;
    file.current.modified = modified;
    this.touch(file);
    this.commit();
  }

  /** mv: the file goes to `dstParent/dstName`. Onto an existing entry (even a trashed one) it becomes that entry's new revision. */
  moveFile(src: Node, dstParent: Node, dstName: string): Node {
    const existing = this.childFile(dstParent, dstName);
    if (existing && existing.id === src.id) return this.relocate(src, dstParent, dstName);
    if (existing) {
      this.overwriteWith(existing, src);
      const oldParent = this.node(src.parent);
      this.hardDeleteQuiet(src);
      if (oldParent) this.changed(oldParent);
      this.commit();
      return existing;
    }
    const folder = this.childFolder(dstParent, dstName);
    if (folder && folder.deleted === undefined) throw errors.uniqueFile(`${this.absPath(folder)} is a folder`);
    checkNewName(dstName);
    return this.relocate(src, dstParent, dstName);
  }

  /**
   * cp: a copy of the current revision at `dstParent/dstName`. Onto an existing entry it adds a revision and
   * keeps that entry's trashed flag — the service's known bug (rclone #6112): the copy "succeeds" but stays in trash.
   */
  copyFile(src: Node, dstParent: Node, dstName: string): Node {
    const existing = this.childFile(dstParent, dstName);
    if (existing?.id === src.id) return src;
    const target = existing ?? this.newFile(dstParent, dstName);
    this.overwriteWith(target, src);
    this.commit();
    return target;
  }

  private overwriteWith(target: Node, src: Node): void {
    const cur = src.current;
    if (!cur || cur.size === undefined) throw errors.noSuchFile(`Source file ${this.absPath(src)} does not exist`);
    this.addCompletedRevision(target, { md5: cur.md5, size: cur.size, created: cur.created, modified: cur.modified });
  }

  private hardDeleteQuiet(n: Node): void {
    for (const d of [...this.descendants(n)]) this.removeNode(d);
    this.removeNode(n);
  }

  setPublicURI(file: Node, on: boolean): void {
    if (on) file.publicURI ??= randomBytes(16).toString('hex');
    else delete file.publicURI;
    this.touch(file);
    this.commit();
  }

  sharedFiles(): Node[] {
    return [...this.nodes.values()].filter((n) => n.kind === 'file' && n.publicURI);
  }

  allLiveFiles(): Node[] {
    return [...this.nodes.values()].filter((n) => n.kind === 'file' && n.deleted === undefined && n.current);
  }

  // ---------------------------------------------------------------- uploads

  /** Starts a pending upload: a new INCOMPLETE latestRevision (failed attempts consume revision numbers). */
  beginUpload(file: Node, u: { uploadId: string; md5: string; bytes: number; created: number; modified: number }): Revision {
    if (file.latest?.uploadId) this.hooks.uploadDiscarded(file.latest.uploadId);
    const now = toSeconds(Date.now());
    file.latest = {
      number: this.takeRevisionNumber(file),
      state: 'INCOMPLETE',
      created: u.created,
      modified: u.modified,
      updated: now,
      mime: mimeFor(file.name),
      size: 0,
      md5: u.md5,
      uploadId: u.uploadId,
      declaredBytes: u.bytes,
    };
    this.touch(file);
    this.commit();
    return file.latest;
  }

  uploadProgress(file: Node, received: number): void {
    if (!file.latest) return;
    file.latest.size = received;
    file.latest.updated = toSeconds(Date.now());
    this.touch(file);
    this.commit();
  }

  /** The bytes arrived and match: the pending revision becomes current; a trashed file comes back. */
  completeUpload(file: Node): Revision | undefined {
    const latest = file.latest;
    if (!latest) return undefined;
    const rev: Revision = { ...latest, state: 'COMPLETED', size: latest.declaredBytes, updated: toSeconds(Date.now()) };
    delete rev.uploadId;
    delete rev.declaredBytes;
    delete file.latest;
    this.pushRevision(file, rev);
    if (file.deleted !== undefined) this.revive(file);
    this.changed(file);
    this.commit();
    return rev;
  }

  /** MD5 mismatch: the pending revision turns CORRUPT (no size); the current one stays. */
  corruptUpload(file: Node): void {
    if (!file.latest) return;
    file.latest.state = 'CORRUPT';
    delete file.latest.size;
    delete file.latest.uploadId;
    delete file.latest.declaredBytes;
    file.latest.updated = toSeconds(Date.now());
    this.touch(file);
    this.commit();
  }

  /** Brings a trashed file back (cphash on a trashed match), with the given times. */
  restore(file: Node, created: number, modified: number): void {
    this.revive(file);
    if (file.current) {
      file.current.created = created;
      file.current.modified = modified;
    }
    this.changed(file);
    this.commit();
  }

  /** A change below a mountpoint updates the mountpoint's and device's `modified`. */
  private changed(n: Node): void {
    const now = toSeconds(Date.now());
    for (let cur: Node | undefined = n; cur; cur = this.node(cur.parent)) {
      if (cur.kind === 'mountpoint' || cur.kind === 'device') {
        cur.modified = now;
        this.touch(cur);
      }
    }
  }
}

function sortByName(list: Node[]): Node[] {
  return list.sort((a, b) => (nameKey(a.name) < nameKey(b.name) ? -1 : nameKey(a.name) > nameKey(b.name) ? 1 : 0));
}
