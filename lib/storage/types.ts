// The storage contract the WebDAV layer programs against: what an entry looks like, what a provider can do,
// and one typed error per way an operation can fail. Paths here are always the user's own names,
// `/`-separated, starting at `/` (the root of whatever `storage.root` exposes); mapping them to what
// Jottacloud can store, case folding, trash and versions are the provider's business, never the caller's.
import type { Readable } from 'node:stream';

export type EntryKind = 'file' | 'folder';

export interface Entry {
  /** The last path segment as the user sees it (unmapped); for the root, `''`. */
  name: string;
  /**
   * The full user path (`/a/b.txt`, root `/`), in the **stored** case: after a case-insensitive lookup of
   * `/A/B.TXT` this is the name the service keeps, so callers can report the canonical href.
   */
  path: string;
  kind: EntryKind;
  /** Bytes of the current revision; 0 for folders. */
  size: number;
  /** Lower-case hex MD5 of the current revision (files only). */
  md5?: string;
  /** Modification time, 1 s precision (Jottacloud keeps whole seconds); the epoch when unknown (see `isKnownTime`). */
  modified: Date;
  /** Creation time (btime); for folders and virtual entries the best the service knows, else `modified`. */
  created: Date;
  /** A strong validator that changes whenever content or modification time changes (quoted, ready for the header). */
  etag?: string;
  /** MIME type as the service derives it; absent when the listing did not carry it. */
  contentType?: string;
  /** True for entries the caller may read but not change (Latest/Links/Shared/Trash, the trash view, device roots). */
  readOnly?: boolean;
  /** Only in the trash view: when the entry was trashed. */
  deleted?: Date;
}

/** Folders carry no times in Jottacloud's listings; their times are then the epoch, which stands for "unknown". */
export const UNKNOWN_TIME = 0;

/** False for a time the service did not give (an `Entry` time equal to the epoch). */
export function isKnownTime(time: Date): boolean {
  return time.getTime() !== UNKNOWN_TIME;
}

export interface OperationOptions {
  /** Aborts the operation (client went away); the provider cleans up and rejects with `Aborted`. */
  signal?: AbortSignal;
}

export interface StatOptions extends OperationOptions {
  /**
   * The caller is about to change `path` (PUT, MKCOL, DELETE, the ends of a COPY/MOVE): answer from the parent
   * folder's listing — cached, else fetched once and cached — instead of a request for this one path. The change
   * needs that listing anyway (the parent must exist; the existing name's case; 201 or 204), and every later
   * change in the same folder is then answered without a request.
   */
  forChange?: boolean;
}

export interface ReadOptions extends OperationOptions {
  /** First byte to return (inclusive, 0-based). */
  start?: number;
  /** Last byte to return (inclusive), as in an HTTP Range; clamped to the file's last byte. */
  end?: number;
}

export interface QuotaOptions extends OperationOptions {
  /**
   * An answer past its time is good enough (it is refreshed in the background): for advisory checks such as
   * a PUT's "will it fit?", where the service itself still refuses an upload that does not.
   */
  stale?: boolean;
}

export interface WriteOptions extends OperationOptions {
  /**
   * The body's MD5 as the client declared it (`Content-MD5` base64 or `OC-Checksum: MD5:<hex>` — both
   * accepted, hex or base64). With it the body goes straight to the upload without spooling; if the bytes do
   * not match, the write fails with `ChecksumMismatch` and the previous content stays current.
   */
  md5?: string;
  /** Body length when the client declared it; verified against the bytes actually received. */
  size?: number;
  /** Modification time to store (e.g. `X-OC-Mtime`); default now. Rounded down to whole seconds. */
  modified?: Date;
  /** Creation time for a new file; for an existing file the stored one is kept unless given here. */
  created?: Date;
}

export interface TransferOptions extends OperationOptions {
  /** Replace an existing destination (WebDAV `Overwrite: T`); without it an existing destination fails `AlreadyExists`. */
  overwrite: boolean;
}

export interface DeleteOptions extends OperationOptions {
  /** Overrides the configured `storage.delete` for this call. */
  mode?: DeleteMode;
}

export type DeleteMode = 'trash' | 'hard';
export type VersionsMode = 'keep' | 'replace';

/** Result of an operation that may create or replace an entry (PUT/MOVE/COPY answer 201 vs 204 on it). */
export interface Written {
  entry: Entry;
  /** True when nothing existed at the target before (case-insensitively). */
  created: boolean;
  /** File writes: where the time went, phase by phase in order (a PUT answer shows it as `Server-Timing`). */
  timings?: PhaseTiming[];
}

/** One phase of an operation: a short token name (`spool`, `allocate`, …) and its milliseconds. */
export interface PhaseTiming {
  name: string;
  ms: number;
}

export interface Quota {
  /** Bytes in use, trash included (the service counts it until purged). */
  used: number;
  /** Bytes still free; `null` when the plan is unlimited. */
  available: number | null;
  /** The plan's capacity; `null` when unlimited. */
  total: number | null;
}

export interface TimesPatch {
  modified?: Date;
  created?: Date;
}

export interface StorageProvider {
  /** The entry at `path` (case-insensitive); `NotFound` if absent, trashed or never completed. */
  stat(path: string, options?: StatOptions): Promise<Entry>;
  /** The children of the folder at `path`, in no particular order; `NotFound`, or `NotAFolder` for a file. */
  list(path: string, options?: OperationOptions): Promise<Entry[]>;
  /**
   * The bytes of the file's current revision, optionally a range. Resolves once the service has answered,
   * so `NotFound`/`IsAFolder` arrive before the caller commits to a status code.
   */
  openRead(path: string, options?: ReadOptions): Promise<Readable>;
  /**
   * Stores `body` at `path`, creating the file or writing a new revision (or, with `versions: replace`, swapping
   * the old one out only after the new content is complete). The promise resolves after the content is
   * committed; on any failure the previous content is still current. Missing parent → `ParentNotFound`;
   * a folder at `path` → `IsAFolder`. A failure found before the upload (parent, name, folder) leaves
   * `body` unread: the caller drains or closes it.
   */
  write(path: string, body: Readable, options?: WriteOptions): Promise<Written>;
  /** Creates one folder. Existing entry → `AlreadyExists`; missing parent → `ParentNotFound`. */
  mkdir(path: string, options?: OperationOptions): Promise<Entry>;
  /** Deletes a file or a folder with its contents (to trash unless configured/asked otherwise). `NotFound` if absent. */
  delete(path: string, options?: DeleteOptions): Promise<void>;
  /**
   * Moves/renames a file or folder. A rename that changes only the case works. Out of the trash view it restores.
   * Destination inside source → `Conflict`; missing destination parent → `ParentNotFound`.
   */
  move(from: string, to: string, options: TransferOptions): Promise<Written>;
  /** Server-side copy of a file or (recursively) a folder. */
  copy(from: string, to: string, options: TransferOptions): Promise<Written>;
  /** Changes a file's times without re-uploading (Jottacloud's cphash). Folders keep no settable times: returns the entry unchanged. */
  setTimes(path: string, times: TimesPatch, options?: OperationOptions): Promise<Entry>;
  /** Account quota, cached briefly. */
  quota(options?: QuotaOptions): Promise<Quota>;
  /** Releases timers, caches and spool files. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Errors: one class per failure kind. The WebDAV layer maps `code` to a status in one table; messages carry
// the user's path and never a token.

export type StorageErrorCode =
  | 'NOT_FOUND'
  | 'PARENT_NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'NOT_A_FOLDER'
  | 'IS_A_FOLDER'
  | 'INVALID_NAME'
  | 'QUOTA_EXCEEDED'
  | 'READ_ONLY'
  | 'CONFLICT'
  | 'CHECKSUM_MISMATCH'
  | 'ABORTED'
  | 'TRANSIENT'
  | 'LOGIN_REQUIRED'
  | 'BACKEND';

export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
  /** The user path the failure is about. */
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

/** Nothing (live) at the path. WebDAV: 404. */
export class NotFound extends StorageError {
  readonly code = 'NOT_FOUND';
  override name = 'NotFound';
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, `${path}: no such file or folder`, options);
  }
}

/** The target's parent folder is missing. WebDAV: 409 for PUT/MKCOL/MOVE/COPY. */
export class ParentNotFound extends StorageError {
  readonly code = 'PARENT_NOT_FOUND';
  override name = 'ParentNotFound';
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, `${path}: the parent folder does not exist`, options);
  }
}

/** Something already exists at the target (case-insensitively). WebDAV: 405 for MKCOL, 412 for Overwrite: F. */
export class AlreadyExists extends StorageError {
  readonly code = 'ALREADY_EXISTS';
  override name = 'AlreadyExists';
  /** The existing entry's stored path (its case may differ from the request). */
  readonly existing?: string;
  constructor(path: string, existing?: string, options?: { cause?: unknown }) {
    super(path, existing && existing !== path ? `${path}: already exists as ${existing}` : `${path}: already exists`, options);
    this.existing = existing;
  }
}

/** A folder operation on a file (list, or a path segment that is a file). WebDAV: 409 or 405. */
export class NotAFolder extends StorageError {
  readonly code = 'NOT_A_FOLDER';
  override name = 'NotAFolder';
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, `${path}: is a file, not a folder`, options);
  }
}

/** A file operation on a folder (read, write). WebDAV: 405 for PUT, GET of a folder is the adapter's choice. */
export class IsAFolder extends StorageError {
  readonly code = 'IS_A_FOLDER';
  override name = 'IsAFolder';
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, `${path}: is a folder`, options);
  }
}

/** A name the service cannot store even after mapping (too long, or refused by the service). WebDAV: 400. */
export class InvalidName extends StorageError {
  readonly code = 'INVALID_NAME';
  override name = 'InvalidName';
  /** One line saying why, e.g. "names are at most 255 characters on Jottacloud (this one is 300)". */
  readonly reason: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(path, `${path}: invalid name: ${reason}`, options);
    this.reason = reason;
  }
}

/** The account is full. WebDAV: 507. */
export class QuotaExceeded extends StorageError {
  readonly code = 'QUOTA_EXCEEDED';
  override name = 'QuotaExceeded';
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, `${path}: the Jottacloud account is out of storage space`, options);
  }
}

/** The path is in a read-only area (Latest, Links, Shared, Trash, the trash view, device roots). WebDAV: 403. */
export class ReadOnly extends StorageError {
  readonly code = 'READ_ONLY';
  override name = 'ReadOnly';
  constructor(path: string, what = 'is read-only', options?: { cause?: unknown }) {
    super(path, `${path}: ${what}`, options);
  }
}

/** The operation contradicts the tree's state (move a folder into itself, source and target are one entry…). WebDAV: 409 (or 403). */
export class Conflict extends StorageError {
  readonly code = 'CONFLICT';
  override name = 'Conflict';
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(path, `${path}: ${reason}`, options);
  }
}

/** The received bytes do not match the declared MD5 or size; nothing was changed. WebDAV: 400. */
export class ChecksumMismatch extends StorageError {
  readonly code = 'CHECKSUM_MISMATCH';
  override name = 'ChecksumMismatch';
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, `${path}: ${detail}; the previous content is unchanged`, options);
  }
}

/** The caller aborted (signal), e.g. the WebDAV client disconnected mid-upload. Nothing was changed. */
export class Aborted extends StorageError {
  readonly code = 'ABORTED';
  override name = 'Aborted';
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, `${path}: aborted`, options);
  }
}

/** The service is unavailable or overloaded after retries; try again later. WebDAV: 503. */
export class Transient extends StorageError {
  readonly code = 'TRANSIENT';
  override name = 'Transient';
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, `${path}: Jottacloud is temporarily unavailable (${detail})`, options);
  }
}

/** The stored login no longer works (refresh token dead); the operator must log in again. WebDAV: 503. */
export class LoginRequired extends StorageError {
  readonly code = 'LOGIN_REQUIRED';
  override name = 'LoginRequired';
  constructor(path: string, options?: { cause?: unknown }) {
    super(path, `${path}: the Jottacloud login has expired; run 'jottadav login' again`, options);
  }
}

/** Any other failure from the service, with its message (tokens redacted). WebDAV: 502. */
export class BackendError extends StorageError {
  readonly code = 'BACKEND';
  override name = 'BackendError';
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, `${path}: ${detail}`, options);
  }
}

export function isStorageError(err: unknown): err is StorageError {
  return err instanceof StorageError;
}
