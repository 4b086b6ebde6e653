// The webdav-server FileSystem over lib/storage: each hook is one storage call (or a lookup in the
// request's memo of storage answers), turned into the library's callback style and error values. The
// library consults it for every request before our method handlers run (it computes `Allow` from the
// resource type), and any code using webdav-server's resource API gets Jottacloud semantics through it:
// writes commit in the write stream's final step, so a failed upload fails the stream (issue #115).
import { PassThrough, Writable, type Readable } from 'node:stream';
import webdavServer from 'webdav-server';
import type { v2 as V2 } from 'webdav-server';
import type { Entry, StorageProvider } from '../storage/types.js';
import { isStorageError } from '../storage/types.js';
import { etagOf, type DavRequest } from './context.js';

const { v2 } = webdavServer;
type Path = V2.Path;
type ReturnCallback<T> = (error?: Error, data?: T) => void;
type SimpleCallback = (error?: Error) => void;

/** Maps a storage failure to the library's error values (which its commands map to statuses). */
function libraryError(err: unknown): Error {
  if (isStorageError(err)) {
    switch (err.code) {
      case 'NOT_FOUND':
        return v2.Errors.ResourceNotFound;
      case 'PARENT_NOT_FOUND':
        return v2.Errors.IntermediateResourceMissing;
      case 'ALREADY_EXISTS':
        return v2.Errors.ResourceAlreadyExists;
      case 'QUOTA_EXCEEDED':
        return v2.Errors.InsufficientStorage;
      case 'READ_ONLY':
      case 'INVALID_NAME':
        return v2.Errors.Forbidden;
      case 'NOT_A_FOLDER':
      case 'IS_A_FOLDER':
      case 'CONFLICT':
        return v2.Errors.WrongParentTypeForCreation;
      default:
        return err;
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

function storagePath(path: Path): string {
  const s = path.toString(false);
  return s === '' ? '/' : s.startsWith('/') ? s.replace(/\/+$/, '') || '/' : `/${s}`;
}

export class JottaFileSystem extends v2.FileSystem {
  private readonly locks = new v2.LocalLockManager();
  private readonly properties = new v2.LocalPropertyManager();

  constructor(
    private readonly storage: StorageProvider,
    /** Finds this handler's per-request state for a library context (for the memo of storage answers). */
    private readonly requestOf: (ctx: V2.RequestContext) => DavRequest | undefined,
  ) {
    super(new v2.VirtualSerializer());
  }

  private entry(path: Path, ctx: V2.RequestContext, callback: ReturnCallback<Entry>): void {
    const p = storagePath(path);
    const request = this.requestOf(ctx);
    const lookup: Promise<Entry | null> = request
      ? request.stat(p)
      : this.storage.stat(p).catch((err: unknown) => {
          if (isStorageError(err) && err.code === 'NOT_FOUND') return null;
          throw err;
        });
    lookup.then(
      (e) => (e ? callback(undefined, e) : callback(v2.Errors.ResourceNotFound)),
      (err: unknown) => callback(libraryError(err)),
    );
  }

  protected override _fastExistCheck(ctx: V2.RequestContext, path: Path, callback: (exists: boolean) => void): void {
    this.entry(path, ctx, (e) => callback(!e));
  }

  protected override _type(path: Path, info: V2.TypeInfo, callback: ReturnCallback<V2.ResourceType>): void {
    if (path.isRoot()) return callback(undefined, v2.ResourceType.Directory);
    this.entry(path, info.context, (e, entry) =>
      e ? callback(e) : callback(undefined, entry?.kind === 'folder' ? v2.ResourceType.Directory : v2.ResourceType.File),
    );
  }

  protected override _size(path: Path, info: V2.SizeInfo, callback: ReturnCallback<number>): void {
    this.entry(path, info.context, (e, entry) => callback(e, entry?.size));
  }

  protected override _lastModifiedDate(path: Path, info: V2.LastModifiedDateInfo, callback: ReturnCallback<number>): void {
    this.entry(path, info.context, (e, entry) => callback(e, entry?.modified.getTime()));
  }

  protected override _creationDate(path: Path, info: V2.CreationDateInfo, callback: ReturnCallback<number>): void {
    this.entry(path, info.context, (e, entry) => callback(e, entry?.created.getTime()));
  }

  protected override _etag(path: Path, info: V2.ETagInfo, callback: ReturnCallback<string>): void {
    this.entry(path, info.context, (e, entry) => callback(e, etagOf(entry)));
  }

  protected override _mimeType(path: Path, info: V2.MimeTypeInfo, callback: ReturnCallback<string>): void {
    this.entry(path, info.context, (e, entry) => callback(e, entry?.contentType ?? 'application/octet-stream'));
  }

  protected override _displayName(path: Path, info: V2.DisplayNameInfo, callback: ReturnCallback<string>): void {
    this.entry(path, info.context, (e, entry) => callback(e, entry?.name));
  }

  protected override _readDir(path: Path, info: V2.ReadDirInfo, callback: ReturnCallback<string[] | Path[]>): void {
    this.storage.list(storagePath(path)).then(
      (children) => {
        this.requestOf(info.context)?.remember(children);
        callback(undefined, children.map((c) => c.name));
      },
      (err: unknown) => callback(libraryError(err)),
    );
  }

  protected override _openReadStream(path: Path, _info: V2.OpenReadStreamInfo, callback: ReturnCallback<Readable>): void {
    this.storage.openRead(storagePath(path)).then(
      (stream) => callback(undefined, stream),
      (err: unknown) => callback(libraryError(err)),
    );
  }

  /**
   * The returned stream hands its bytes to storage.write as they come; its final step waits until storage
   * has committed the file, and fails the stream if it could not (so the writer sees the error).
   */
  protected override _openWriteStream(path: Path, info: V2.OpenWriteStreamInfo, callback: ReturnCallback<Writable>): void {
    const body = new PassThrough();
    const size = info.estimatedSize > 0 ? info.estimatedSize : undefined;
    const committed = this.storage.write(storagePath(path), body, { size });
    committed.catch(() => undefined); // observed in final(); never an unhandled rejection
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (!body.write(chunk)) body.once('drain', () => done());
        else done();
      },
      final(done) {
        body.end();
        committed.then(
          () => done(),
          (err: unknown) => done(libraryError(err)),
        );
      },
      destroy(err, done) {
        body.destroy(err ?? undefined);
        done(err);
      },
    });
    callback(undefined, sink);
  }

  protected override _create(path: Path, info: V2.CreateInfo, callback: SimpleCallback): void {
    const p = storagePath(path);
    const made = info.type.isDirectory
      ? this.storage.mkdir(p)
      : this.storage.write(p, new PassThrough().end() as unknown as Readable, { size: 0 });
    made.then(
      () => callback(),
      (err: unknown) => callback(libraryError(err)),
    );
  }

  protected override _delete(path: Path, _info: V2.DeleteInfo, callback: SimpleCallback): void {
    this.storage.delete(storagePath(path)).then(
      () => callback(),
      (err: unknown) => callback(libraryError(err)),
    );
  }

  protected override _move(from: Path, to: Path, info: V2.MoveInfo, callback: ReturnCallback<boolean>): void {
    this.storage.move(storagePath(from), storagePath(to), { overwrite: info.overwrite }).then(
      (w) => callback(undefined, !w.created),
      (err: unknown) => callback(libraryError(err)),
    );
  }

  protected override _copy(from: Path, to: Path, info: V2.CopyInfo, callback: ReturnCallback<boolean>): void {
    this.storage.copy(storagePath(from), storagePath(to), { overwrite: info.overwrite }).then(
      (w) => callback(undefined, !w.created),
      (err: unknown) => callback(libraryError(err)),
    );
  }

  // Required by the library; our LOCK/UNLOCK/PROPPATCH handlers keep locks and dead properties in keyv
  // (lib/webdav/locks.ts, deadprops.ts), so these in-memory managers only serve library-internal callers.
  protected override _lockManager(_path: Path, _info: V2.LockManagerInfo, callback: ReturnCallback<V2.ILockManager>): void {
    callback(undefined, this.locks);
  }

  protected override _propertyManager(_path: Path, _info: V2.PropertyManagerInfo, callback: ReturnCallback<V2.IPropertyManager>): void {
    callback(undefined, this.properties);
  }
}
