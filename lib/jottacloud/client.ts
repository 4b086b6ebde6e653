// JottacloudClient: every call of the service this project makes, each one through the pacer
// (`retry.ts`), with paths built by `paths.ts`, answers read by `xml.ts` / `liststream.ts`, and failures
// typed by `errors.ts`. Uploads (allocate + resumable POST) live in `upload.ts`.
//
// Paths: every path argument is a `PathArg` (see paths.ts) — a `/`-joined string or an array of
// already-mapped name segments, below the client's default device and mountpoint unless a
// `{ device, mountpoint, path }` location says otherwise. Mapping characters the service cannot store
// is the storage layer's job; this client sends names as given.
import type { AxiosInstance } from 'axios';
import { PassThrough, type Readable } from 'node:stream';
import { createHttpClient } from './http.js';
import type { Endpoints } from './endpoints.js';
import type { AccessTokenSource } from './token-source.js';
import {
  AbortedError,
  JottacloudError,
  NotFoundError,
  UnexpectedResponseError,
  WrongKindError,
  networkError,
  type ErrorContext,
} from './errors.js';
import {
  displayPath,
  encodeSegment,
  jfsAccountPath,
  jfsUrlPath,
  locationArg,
  moveTarget,
  queryString,
  resolveLocation,
  type Location,
  type PathArg,
} from './paths.js';
import { Pacer, type PacedResponse, type RequestInfo, type RetryOptions } from './retry.js';
import { parseListStream } from './liststream.js';
import {
  deviceFromNode,
  driveInfoFromNode,
  fileFromNode,
  folderFromNode,
  formatJottaTime,
  mountPointFromNode,
  parseDocument,
  type ListingEntries,
  type XmlNode,
} from './xml.js';
import { uploadFile, type UploadOptions } from './upload.js';
import type {
  CustomerInfo,
  CustomerWire,
  Device,
  DriveInfo,
  File,
  Folder,
  ListStreamEntry,
  ListStreamStats,
  MountPoint,
  PurgeTrashWire,
  Quota,
  ShareInfo,
  TrashPurgeResult,
  UploadResult,
} from './types.js';

export interface JottacloudClientOptions {
  endpoints: Endpoints;
  tokens: AccessTokenSource;
  /** The JFS user name; learnt once from `account/v1/customer` when not given. */
  username?: string;
  /** Default device (`Jotta`). */
  device?: string;
  /** Default mountpoint (`Archive`). */
  mountpoint?: string;
  /** Shared transport; one with keep-alive is made when not given. */
  http?: AxiosInstance;
  retry?: RetryOptions;
  /** Told about every HTTP exchange (for metrics); must not throw. */
  onRequest?: (info: RequestInfo) => void;
}

/** A byte range: `end` inclusive, open-ended when omitted. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface DownloadOptions {
  /** A range, or a `Range` header value passed through as is (`bytes=0-99`). */
  range?: ByteRange | string;
  signal?: AbortSignal;
}

export interface Download {
  /** The bytes. Destroy it to stop early; the connection is released. Errors are typed JottacloudErrors. */
  stream: Readable;
  /** 200 (whole file) or 206 (range). */
  status: number;
  contentLength?: number;
  /** `bytes a-b/total` when a range was served. */
  contentRange?: string;
  /** Whole file size, from Content-Range (206) or Content-Length (200). */
  totalSize?: number;
  contentType?: string;
}

/** Headers of `cphash`: the content the path should end up with. */
export interface ContentMatch {
  size: number;
  md5: string;
  created?: Date;
  modified: Date;
}

/** Built-in device and mountpoint used when a call names none. */
export const DEFAULT_DEVICE = 'Jotta';
export const DEFAULT_MOUNTPOINT = 'Archive';

export class JottacloudClient {
  readonly endpoints: Endpoints;
  readonly device: string;
  readonly mountpoint: string;
  /** @internal shared with upload.ts */
  readonly pacer: Pacer;
  private userName?: string;
  private userLookup?: Promise<string>;

  constructor(options: JottacloudClientOptions) {
    this.endpoints = options.endpoints;
    this.device = options.device ?? DEFAULT_DEVICE;
    this.mountpoint = options.mountpoint ?? DEFAULT_MOUNTPOINT;
    this.userName = options.username;
    this.pacer = new Pacer({
      http: options.http ?? createHttpClient({ userAgent: 'jottadav' }),
      tokens: options.tokens,
      retry: options.retry,
      onRequest: options.onRequest,
      // Quirk: 460 is the service's "quota exceeded", but it is also seen under heavy load. Only when the
      // account is really full (usage ≥ capacity) is it reported as such; otherwise it is retried.
      isQuotaExceeded: async () => (await this.quota()).exceeded,
    });
  }

  /** Resolves a path argument against the default device and mountpoint. */
  locate(p: PathArg): Location {
    return resolveLocation(p, { device: this.device, mountpoint: this.mountpoint });
  }

  // -------------------------------------------------------------------------------------------------
  // Account

  /** The JFS user name (configured, or asked once from the customer endpoint). */
  async username(): Promise<string> {
    if (this.userName !== undefined) return this.userName;
    this.userLookup ??= this.customerInfo().then(
      (c) => {
        if (!c.username) throw new UnexpectedResponseError('customer info has no username', { operation: 'customer', status: 200 });
        this.userName = c.username;
        return c.username;
      },
      (e: unknown) => {
        // A failed lookup is not remembered: the next call asks again.
        this.userLookup = undefined;
        throw e;
      },
    );
    return this.userLookup;
  }

  /** `GET account/v1/customer`. */
  async customerInfo(): Promise<CustomerInfo> {
    const res = await this.pacer.call({
      operation: 'customer',
      method: 'GET',
      url: `${this.endpoints.api}account/v1/customer`,
      host: 'api',
    });
    const c = parseJson<CustomerWire>(res.data, { operation: 'customer' });
    return {
      username: c.username,
      email: c.email,
      name: c.name,
      countryCode: c.country_code,
      languageCode: c.language_code,
      brandCode: c.brand_code,
      accountType: c.account_type,
      subscriptionType: c.subscription_type,
      usage: c.usage,
      quota: c.quota,
      writeLocked: c.write_locked === true,
      readLocked: c.read_locked === true,
    };
  }

  /** `GET jfs/<user>`: account flags, quota and devices. */
  async driveInfo(): Promise<DriveInfo> {
    const user = await this.username();
    const { root, node } = await this.jfsXml({
      operation: 'drive info',
      method: 'GET',
      url: this.endpoints.jfs + jfsAccountPath(user),
    });
    expectRoot(root, ['user'], { operation: 'drive info' });
    return driveInfoFromNode(node);
  }

  /** Capacity and usage (from `GET jfs/<user>`, the service's quota source). */
  async quota(): Promise<Quota> {
    return (await this.driveInfo()).quota;
  }

  /** `GET jfs/<user>/<device>`: a device with its mountpoints. */
  async deviceInfo(device = this.device): Promise<Device> {
    const user = await this.username();
    const ctx = { operation: 'device info', path: `/${device}` };
    const { root, node } = await this.jfsXml({ ...ctx, method: 'GET', url: this.endpoints.jfs + jfsAccountPath(user, device) });
    expectRoot(root, ['device'], ctx);
    return deviceFromNode(node);
  }

  /** `POST jfs/<user>/<device>?type=…`: a new (backup) device. */
  async createDevice(name: string, type = 'WORKSTATION'): Promise<Device> {
    const user = await this.username();
    const ctx = { operation: 'create device', path: `/${name}` };
    const { root, node } = await this.jfsXml({
      ...ctx,
      method: 'POST',
      url: this.endpoints.jfs + jfsAccountPath(user, name) + queryString({ type }),
    });
    expectRoot(root, ['device'], ctx);
    return deviceFromNode(node);
  }

  /** `POST jfs/<user>/<device>/<name>`: a new mountpoint (the built-in device refuses). */
  async createMountPoint(name: string, device = this.device): Promise<MountPoint> {
    const user = await this.username();
    const ctx = { operation: 'create mountpoint', path: `/${device}/${name}` };
    const { root, node } = await this.jfsXml({
      ...ctx,
      method: 'POST',
      url: `${this.endpoints.jfs}${jfsAccountPath(user, device)}/${encodeSegment(name)}`,
    });
    expectRoot(root, ['mountPoint'], ctx);
    return mountPointFromNode(node);
  }

  // -------------------------------------------------------------------------------------------------
  // Reading the tree

  /**
   * One level of a folder (or a mountpoint root). Trashed entries and never-completed files are
   * included as the service lists them (`deleted`, `complete`); hiding them is the caller's choice.
   */
  async list(p: PathArg): Promise<Folder> {
    const item = await this.metadata(p, 'list');
    if (item.kind === 'file') {
      throw new WrongKindError('is a file, not a folder', { operation: 'list', path: displayPath(this.locate(p)), status: 200 });
    }
    return item;
  }

  /** What the path is: a file (with its revisions) or a folder listing. NotFoundError when missing. */
  async metadata(p: PathArg, operation = 'metadata'): Promise<File | Folder> {
    const loc = this.locate(p);
    const ctx = { operation, path: displayPath(loc) };
    const { root, node, listing } = await this.jfsXml({ ...ctx, method: 'GET', url: await this.jfsUrl(loc) });
    if (root === 'file') return fileFromNode(node);
    expectRoot(root, ['folder', 'mountPoint'], ctx);
    return folderFromNode(root, node, listing);
  }

  /** A file's metadata; WrongKindError for a folder. */
  async fileInfo(p: PathArg): Promise<File> {
    const item = await this.metadata(p, 'file info');
    if (item.kind !== 'file') {
      throw new WrongKindError('is a folder, not a file', { operation: 'file info', path: displayPath(this.locate(p)), status: 200 });
    }
    return item;
  }

  /**
   * The whole subtree below a folder (`mode=liststream`), entry by entry, the folder itself first with
   * `segments: []`. The generator's return value is the service's stats, already checked against what was
   * read. Connection problems before the first byte are retried; a break mid-answer is a NetworkError
   * (entries already handed out cannot be taken back — list again).
   */
  async *listStream(p: PathArg, options: { signal?: AbortSignal } = {}): AsyncGenerator<ListStreamEntry, ListStreamStats, undefined> {
    const loc = this.locate(p);
    const ctx = { operation: 'liststream', path: displayPath(loc) };
    const res = await this.pacer.call<Readable>({
      ...ctx,
      method: 'GET',
      url: (await this.jfsUrl(loc)) + queryString({ mode: 'liststream' }),
      host: 'jfs',
      responseType: 'stream',
      signal: options.signal,
    });
    return yield* parseListStream(res.data, { ...ctx, rootDepth: 1 + loc.segments.length });
  }

  /** The whole account's trash, flat (`GET jfs/<user>/Jotta/Trash`); entries carry `contextType` TRASH and the original parent. */
  async listTrash(): Promise<Folder> {
    const user = await this.username();
    const ctx = { operation: 'list trash', path: `/${DEFAULT_DEVICE}/Trash` };
    const { root, node, listing } = await this.jfsXml({
      ...ctx,
      method: 'GET',
      url: `${this.endpoints.jfs}${jfsAccountPath(user, DEFAULT_DEVICE)}/Trash`,
    });
    expectRoot(root, ['mountPoint', 'folder'], ctx);
    return folderFromNode(root, node, listing);
  }

  /** The bytes of a file's current revision (`mode=bin`), optionally a range. */
  async download(p: PathArg, options: DownloadOptions = {}): Promise<Download> {
    const loc = this.locate(p);
    const ctx = { operation: 'download', path: displayPath(loc) };
    const headers: Record<string, string> = {};
    if (options.range !== undefined) {
      headers.Range =
        typeof options.range === 'string'
          ? options.range
          : `bytes=${options.range.start}-${options.range.end === undefined ? '' : options.range.end}`;
    }
    const res = await this.pacer.call<Readable>({
      ...ctx,
      method: 'GET',
      url: (await this.jfsUrl(loc)) + queryString({ mode: 'bin' }),
      host: 'jfs',
      headers,
      responseType: 'stream',
      signal: options.signal,
    });
    const contentLength = toInt(res.headers['content-length']);
    const contentRange = res.headers['content-range'];
    const total = contentRange ? toInt(/\/(\d+)\s*$/.exec(contentRange)?.[1]) : res.status === 200 ? contentLength : undefined;
    return {
      stream: guardBody(res.data, ctx, options.signal),
      status: res.status,
      contentLength,
      contentRange,
      totalSize: total,
      contentType: res.headers['content-type'],
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Changing the tree

  /**
   * `POST <folder>?mkDir=true`. The service answers 200 also when the folder exists. With `parents`,
   * every missing ancestor is created first, one level at a time.
   */
  async mkdir(p: PathArg, options: { parents?: boolean } = {}): Promise<Folder> {
    const loc = this.locate(p);
    if (options.parents) {
      for (let i = 1; i < loc.segments.length; i++) {
        await this.mkdirOne({ ...loc, segments: loc.segments.slice(0, i) });
      }
    }
    return this.mkdirOne(loc);
  }

  private async mkdirOne(loc: Location): Promise<Folder> {
    const ctx = { operation: 'mkdir', path: displayPath(loc) };
    const { root, node, listing } = await this.jfsXml({ ...ctx, method: 'POST', url: (await this.jfsUrl(loc)) + queryString({ mkDir: 'true' }) });
    expectRoot(root, ['folder', 'mountPoint'], ctx);
    return folderFromNode(root, node, listing);
  }

  /** Moves or renames a file (`mv`); the service creates missing parents of the target. */
  async move(from: PathArg, to: PathArg): Promise<File> {
    const src = this.locate(from);
    const dst = this.locate(to);
    const ctx = { operation: 'move', path: displayPath(src) };
    const target = moveTarget(await this.username(), dst);
    try {
      const { root, node } = await this.jfsXml({ ...ctx, method: 'POST', url: (await this.jfsUrl(src)) + queryString({ mv: target }) });
      expectRoot(root, ['file'], ctx);
      return fileFromNode(node);
    } catch (e) {
      const there = await this.movedAfterAll(e, dst);
      if (there?.kind === 'file') return there;
      throw e;
    }
  }

  /** Moves or renames a folder with its contents (`mvDir`; the source URL needs a trailing slash). */
  async moveFolder(from: PathArg, to: PathArg): Promise<Folder> {
    const src = this.locate(from);
    const dst = this.locate(to);
    const ctx = { operation: 'move folder', path: displayPath(src) };
    const target = moveTarget(await this.username(), dst);
    try {
      const { root, node, listing } = await this.jfsXml({
        ...ctx,
        method: 'POST',
        // Quirk: without the trailing slash on the source the service does not treat it as a folder move.
        url: (await this.jfsUrl(src)) + '/' + queryString({ mvDir: target }),
      });
      expectRoot(root, ['folder', 'mountPoint'], ctx);
      return folderFromNode(root, node, listing);
    } catch (e) {
      const there = await this.movedAfterAll(e, dst);
      if (there && there.kind !== 'file') return there;
      throw e;
    }
  }

  /**
   * Quirk (protocol notes; rclone issues #2655, #4295): a `mv`/`mvDir` repeated after a lost answer finds
   * its source gone — because the first attempt did move it — and answers 404 "source does not exist".
   * After such a retried 404, the destination (live, not in trash) is what the move produced.
   */
  private async movedAfterAll(e: unknown, dst: Location): Promise<File | Folder | undefined> {
    if (!(e instanceof NotFoundError) || e.attempts <= 1) return undefined;
    const there = await this.metadata(locationArg(dst)).catch(() => undefined);
    return there && !there.deleted ? there : undefined;
  }

  /** Server-side copy of a file (`cp`). The copy may come back flagged `deleted` when the target path is in trash (see the protocol notes); check `deleted`. */
  async copy(from: PathArg, to: PathArg): Promise<File> {
    const src = this.locate(from);
    const dst = this.locate(to);
    const ctx = { operation: 'copy', path: displayPath(src) };
    const target = moveTarget(await this.username(), dst);
    const { root, node } = await this.jfsXml({ ...ctx, method: 'POST', url: (await this.jfsUrl(src)) + queryString({ cp: target }) });
    expectRoot(root, ['file'], ctx);
    return fileFromNode(node);
  }

  /** Moves a file to trash (`dl`; kept 30 days). */
  trashFile(p: PathArg): Promise<void> {
    return this.remove(p, 'trash file', 'dl');
  }

  /** Deletes a file for good (`rm`). NotFoundError when missing. */
  deleteFile(p: PathArg): Promise<void> {
    return this.remove(p, 'delete file', 'rm');
  }

  /** Moves a folder and its contents to trash (`dlDir`). */
  trashFolder(p: PathArg): Promise<void> {
    return this.remove(p, 'trash folder', 'dlDir');
  }

  /** Deletes a folder and its contents for good (`rmDir`); also works on a trashed folder's original path. */
  deleteFolder(p: PathArg): Promise<void> {
    return this.remove(p, 'delete folder', 'rmDir');
  }

  private async remove(p: PathArg, operation: string, verb: 'dl' | 'rm' | 'dlDir' | 'rmDir'): Promise<void> {
    const loc = this.locate(p);
    const ctx = { operation, path: displayPath(loc) };
    try {
      await this.pacer.call({ ...ctx, method: 'POST', url: (await this.jfsUrl(loc)) + queryString({ [verb]: 'true' }), host: 'jfs' });
    } catch (e) {
      // A delete repeated after a lost answer finds nothing to delete (the service answers 404 for an
      // already-deleted file): when the first attempt evidently went through, that is success.
      if (e instanceof NotFoundError && e.attempts > 1) {
        const left = await this.metadata(locationArg(loc)).catch((err: unknown) => (err instanceof NotFoundError ? undefined : Promise.reject(err)));
        if (left === undefined || left.deleted) return;
      }
      throw e;
    }
  }

  /**
   * `cphash`: "make this path hold the content with this size and MD5, with these times". If the path
   * already has it, only the times change (setting a modtime without re-upload); if the service can
   * build it by deduplication it does; a matching file in trash is restored. Returns the resulting file,
   * or `undefined` when the service does not have the content (404: an upload is needed).
   */
  async cphash(p: PathArg, match: ContentMatch): Promise<File | undefined> {
    const loc = this.locate(p);
    const ctx = { operation: 'cphash', path: displayPath(loc) };
    try {
      const { root, node } = await this.jfsXml({
        ...ctx,
        method: 'POST',
        url: (await this.jfsUrl(loc)) + queryString({ cphash: 'true' }),
        headers: {
          JSize: String(match.size),
          JMd5: match.md5.toLowerCase(),
          JCreated: formatJottaTime(match.created ?? match.modified),
          JModified: formatJottaTime(match.modified),
          'Content-Length': '0',
        },
      });
      expectRoot(root, ['file'], ctx);
      return fileFromNode(node);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /** Public link on (`mode=enableShare`). */
  enableShare(p: PathArg): Promise<ShareInfo> {
    return this.share(p, 'enableShare');
  }

  /** Public link off (`mode=disableShare`). */
  disableShare(p: PathArg): Promise<ShareInfo> {
    return this.share(p, 'disableShare');
  }

  private async share(p: PathArg, mode: 'enableShare' | 'disableShare'): Promise<ShareInfo> {
    const loc = this.locate(p);
    const ctx = { operation: mode === 'enableShare' ? 'enable share' : 'disable share', path: displayPath(loc) };
    const { root, node } = await this.jfsXml({ ...ctx, method: 'GET', url: (await this.jfsUrl(loc)) + queryString({ mode }) });
    expectRoot(root, ['file'], ctx);
    const file = fileFromNode(node);
    if (mode === 'enableShare' && !file.publicUri) {
      throw new UnexpectedResponseError('the service gave no public link', { ...ctx, status: 200 });
    }
    const user = await this.username();
    return {
      file,
      publicUri: file.publicUri,
      publicSharePath: file.publicSharePath,
      directLink: file.publicUri ? `${this.endpoints.www}opin/io/downloadPublic/${encodeSegment(user)}/${encodeSegment(file.publicUri)}` : undefined,
      webLink: file.publicSharePath ? this.endpoints.www + file.publicSharePath.replace(/^\/+/, '') : undefined,
    };
  }

  /** Empties the trash (`POST api/files/v1/purge_trash`). */
  async purgeTrash(): Promise<TrashPurgeResult> {
    const res = await this.pacer.call({ operation: 'purge trash', method: 'POST', url: `${this.endpoints.api}files/v1/purge_trash`, host: 'api' });
    const r = parseJson<Partial<PurgeTrashWire>>(res.data || '{}', { operation: 'purge trash' });
    return { folders: r.folders ?? 0, files: r.files ?? 0 };
  }

  /**
   * Allocate + upload, resuming after cuts; see `upload.ts`. The answer has no service times: read
   * `fileInfo` afterwards for created/updated (the service keeps `modified` as sent, to the second).
   */
  async upload(p: PathArg, options: UploadOptions): Promise<UploadResult> {
    const loc = this.locate(p);
    return uploadFile(this, loc, options);
  }

  // -------------------------------------------------------------------------------------------------
  // Plumbing

  /** Absolute JFS URL of a location. */
  async jfsUrl(loc: Location): Promise<string> {
    return this.endpoints.jfs + jfsUrlPath(await this.username(), loc);
  }

  /** A JFS call answered with an XML document. */
  private async jfsXml(
    spec: ErrorContext & { method: 'GET' | 'POST'; url: string; headers?: Record<string, string> },
  ): Promise<{ root: string; node: XmlNode; listing: ListingEntries; response: PacedResponse }> {
    const response = await this.pacer.call({ ...spec, host: 'jfs' });
    try {
      const { root, node, listing } = parseDocument(response.data, { listing: true });
      return { root, node, listing, response };
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new UnexpectedResponseError(`unreadable XML answer: ${why}`, { ...spec, status: response.status });
    }
  }
}

function expectRoot(root: string, expected: string[], ctx: ErrorContext): void {
  if (!expected.includes(root)) {
    throw new UnexpectedResponseError(`expected <${expected.join('> or <')}>, got <${root}>`, { ...ctx, status: 200 });
  }
}

export function parseJson<T>(text: string, ctx: ErrorContext): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UnexpectedResponseError('unreadable JSON answer', { ...ctx, status: 200 });
  }
}

function toInt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Hands the response body out behind a PassThrough, so that (a) whatever error the socket or the HTTP
 * library raises mid-body reaches the consumer as a typed JottacloudError (never an object that holds
 * the request headers), and (b) destroying the returned stream destroys the response and frees the socket.
 */
export function guardBody(source: Readable, ctx: ErrorContext, signal?: AbortSignal): Readable {
  // 1 MiB in flight (not the default 16 KiB): the service's connection keeps flowing while the client's socket
  // drains, instead of the two taking turns one TLS record at a time (GET 1 GiB ~360 -> ~530 MiB/s through the proxy).
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const fail = (e: unknown) => {
    if (out.destroyed) return;
    if (signal?.aborted) out.destroy(new AbortedError('aborted', { ...ctx, status: 0 }));
    else out.destroy(e instanceof JottacloudError ? e : networkError(e, ctx));
  };
  source.on('error', fail);
  source.on('close', () => {
    if (!source.readableEnded) fail(new Error('connection closed before the end of the body'));
  });
  // Aborting must stop the body even when the HTTP library has already handed it over.
  const onAbort = () => fail(new Error('aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  out.on('close', () => {
    signal?.removeEventListener('abort', onAbort);
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

