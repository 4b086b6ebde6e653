// A test double of the StorageProvider interface for unit-level WebDAV specs: an in-memory tree with the
// contract's semantics (case-insensitive names, typed errors, ranges, declared MD5/size checks, quota,
// whole-second times). It counts calls so specs can see that a PROPFIND costs one listing and that a
// ranged GET asks for the offset. Integration specs use the real provider over the emulator instead.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AlreadyExists,
  Aborted,
  ChecksumMismatch,
  Conflict,
  InvalidName,
  IsAFolder,
  NotAFolder,
  NotFound,
  ParentNotFound,
  QuotaExceeded,
  type DeleteOptions,
  type Entry,
  type OperationOptions,
  type Quota,
  type ReadOptions,
  type StorageProvider,
  type TimesPatch,
  type TransferOptions,
  type WriteOptions,
  type Written,
} from '../../lib/storage/types.js';

interface Node {
  name: string;
  kind: 'file' | 'folder';
  data: Buffer;
  modified: Date;
  created: Date;
  children: Map<string, Node>;
}

const seconds = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

export class MemoryStorage implements StorageProvider {
  root: Node = { name: '', kind: 'folder', data: Buffer.alloc(0), modified: seconds(new Date()), created: seconds(new Date()), children: new Map() };
  capacity: number | null = null;
  /** Calls by method name. */
  calls: Record<string, number> = {};
  reads: ReadOptions[] = [];
  /** Awaited at the start of every write (lets a spec hold writes back to line up concurrent requests). */
  beforeWrite: (() => Promise<void>) | undefined;
  /** When set, the next write fails with this error after consuming the body. */
  failNextWrite: Error | undefined;

  private count(name: string) {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
  }

  private split(path: string): string[] {
    return path.split('/').filter(Boolean);
  }

  private find(path: string): { node: Node; path: string } | undefined {
    let node = this.root;
    const stored: string[] = [];
    for (const seg of this.split(path)) {
      if (node.kind !== 'folder') return undefined;
      const next = node.children.get(seg.toLowerCase());
      if (!next) return undefined;
      node = next;
      stored.push(next.name);
    }
    return { node, path: `/${stored.join('/')}` };
  }

  private parentOf(path: string): { parent: Node; name: string; parentPath: string } {
    const segs = this.split(path);
    const name = segs.pop() as string;
    const parentPath = `/${segs.join('/')}`;
    const p = this.find(parentPath);
    if (!p) throw new ParentNotFound(path);
    if (p.node.kind !== 'folder') throw new ParentNotFound(path);
    if (name.length > 255) throw new InvalidName(path, `names are at most 255 characters on Jottacloud (this one is ${name.length})`);
    if (/[<>"*:?|]/.test(name)) throw new InvalidName(path, 'Jottacloud refuses the characters " * : < > ? |');
    return { parent: p.node, name, parentPath: p.path };
  }

  private entry(node: Node, path: string): Entry {
    const md5 = node.kind === 'file' ? createHash('md5').update(node.data).digest('hex') : undefined;
    return {
      name: node.name,
      path,
      kind: node.kind,
      size: node.kind === 'file' ? node.data.length : 0,
      md5,
      modified: node.modified,
      created: node.created,
      etag: md5 ? `"${md5}-${node.modified.getTime() / 1000}"` : undefined,
    };
  }

  private used(node: Node = this.root): number {
    if (node.kind === 'file') return node.data.length;
    let n = 0;
    for (const c of node.children.values()) n += this.used(c);
    return n;
  }

  async stat(path: string): Promise<Entry> {
    this.count('stat');
    const f = this.find(path);
    if (!f) throw new NotFound(path);
    return this.entry(f.node, f.path);
  }

  async list(path: string): Promise<Entry[]> {
    this.count('list');
    const f = this.find(path);
    if (!f) throw new NotFound(path);
    if (f.node.kind !== 'folder') throw new NotAFolder(path);
    return [...f.node.children.values()].map((c) => this.entry(c, f.path === '/' ? `/${c.name}` : `${f.path}/${c.name}`));
  }

  async openRead(path: string, options: ReadOptions = {}): Promise<Readable> {
    this.count('openRead');
    this.reads.push({ start: options.start, end: options.end });
    const f = this.find(path);
    if (!f) throw new NotFound(path);
    if (f.node.kind !== 'file') throw new IsAFolder(path);
    const start = options.start ?? 0;
    const end = Math.min(options.end ?? f.node.data.length - 1, f.node.data.length - 1);
    return Readable.from([f.node.data.subarray(start, end + 1)]);
  }

  async write(path: string, body: Readable, options: WriteOptions = {}): Promise<Written> {
    this.count('write');
    await this.beforeWrite?.();
    const { parent, name, parentPath } = this.parentOf(path);
    const existing = parent.children.get(name.toLowerCase());
    if (existing?.kind === 'folder') throw new IsAFolder(path);
    const chunks: Buffer[] = [];
    for await (const c of body) {
      if (options.signal?.aborted) throw new Aborted(path);
      chunks.push(Buffer.from(c as Buffer));
    }
    const data = Buffer.concat(chunks);
    if (this.failNextWrite) {
      const err = this.failNextWrite;
      this.failNextWrite = undefined;
      throw err;
    }
    if (options.size !== undefined && options.size !== data.length) {
      throw new ChecksumMismatch(path, `declared ${options.size} bytes, received ${data.length}`);
    }
    if (options.md5 && createHash('md5').update(data).digest('hex') !== options.md5.toLowerCase()) {
      throw new ChecksumMismatch(path, 'the body does not match the declared MD5');
    }
    if (this.capacity !== null && this.used() - (existing?.data.length ?? 0) + data.length > this.capacity) throw new QuotaExceeded(path);
    const now = seconds(new Date());
    const node: Node = {
      name: existing?.name ?? name,
      kind: 'file',
      data,
      modified: options.modified ? seconds(options.modified) : now,
      created: existing?.created ?? (options.created ? seconds(options.created) : now),
      children: new Map(),
    };
    parent.children.set(name.toLowerCase(), node);
    return { entry: this.entry(node, `${parentPath === '/' ? '' : parentPath}/${node.name}`), created: !existing };
  }

  async mkdir(path: string): Promise<Entry> {
    this.count('mkdir');
    const { parent, name, parentPath } = this.parentOf(path);
    const existing = parent.children.get(name.toLowerCase());
    if (existing) throw new AlreadyExists(path);
    const now = seconds(new Date());
    const node: Node = { name, kind: 'folder', data: Buffer.alloc(0), modified: now, created: now, children: new Map() };
    parent.children.set(name.toLowerCase(), node);
    return this.entry(node, `${parentPath === '/' ? '' : parentPath}/${name}`);
  }

  async delete(path: string, _options?: DeleteOptions): Promise<void> {
    this.count('delete');
    const f = this.find(path);
    if (!f || f.path === '/') throw new NotFound(path);
    const { parent, name } = this.parentOf(path);
    parent.children.delete(name.toLowerCase());
  }

  private clone(node: Node): Node {
    return { ...node, children: new Map([...node.children].map(([k, v]) => [k, this.clone(v)])) };
  }

  private async transfer(from: string, to: string, options: TransferOptions, move: boolean): Promise<Written> {
    this.count(move ? 'move' : 'copy');
    const src = this.find(from);
    if (!src) throw new NotFound(from);
    const sameEntry = from.toLowerCase() === to.toLowerCase();
    if (!sameEntry && to.toLowerCase().startsWith(`${from.toLowerCase()}/`)) throw new Conflict(to, 'destination is inside the source');
    const { parent, name, parentPath } = this.parentOf(to);
    const existing = parent.children.get(name.toLowerCase());
    if (existing && !sameEntry && !options.overwrite) throw new AlreadyExists(to);
    const node = move ? src.node : this.clone(src.node);
    if (move) {
      const sp = this.parentOf(from);
      sp.parent.children.delete(sp.name.toLowerCase());
    }
    node.name = name;
    parent.children.set(name.toLowerCase(), node);
    return { entry: this.entry(node, `${parentPath === '/' ? '' : parentPath}/${name}`), created: !existing || sameEntry };
  }

  move(from: string, to: string, options: TransferOptions): Promise<Written> {
    return this.transfer(from, to, options, true);
  }

  copy(from: string, to: string, options: TransferOptions): Promise<Written> {
    return this.transfer(from, to, options, false);
  }

  async setTimes(path: string, times: TimesPatch): Promise<Entry> {
    this.count('setTimes');
    const f = this.find(path);
    if (!f) throw new NotFound(path);
    if (f.node.kind === 'file') {
      if (times.modified) f.node.modified = seconds(times.modified);
      if (times.created) f.node.created = seconds(times.created);
    }
    return this.entry(f.node, f.path);
  }

  async quota(_options?: OperationOptions): Promise<Quota> {
    this.count('quota');
    const used = this.used();
    return { used, available: this.capacity === null ? null : Math.max(0, this.capacity - used), total: this.capacity };
  }

  async close(): Promise<void> {}
}
