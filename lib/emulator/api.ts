// The JSON API (`api.jottacloud.com`): customer info, upload allocation, trash purge — and the upload URL that
// allocate hands out, which takes the bytes (in pieces with `Range`, resumable) and answers JSON.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorCore } from './core.js';
import { errors } from './errors.js';
import type { Faults } from './faults.js';
import { readSmallBody, sendJson } from './http.js';
import { checkNewName, checkReadableName, nameKey } from './names.js';
import { parseClientTime, toSeconds } from './times.js';
import { throttle } from './throttle.js';
import type { Node } from './tree.js';

export const UPLOAD_PREFIX = '/files/v1/upload/';

interface AllocateRequest {
  path?: unknown;
  bytes?: unknown;
  md5?: unknown;
  created?: unknown;
  modified?: unknown;
  conflict_handler?: unknown;
}

/** Stops a body after `limit` bytes and drops the connection: the cut-upload fault. */
async function* cutAfter(source: AsyncIterable<Buffer>, limit: number, cut: () => void): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of source) {
    if (seen + chunk.length >= limit) {
      if (limit > seen) yield chunk.subarray(0, limit - seen);
      cut();
      throw new Error('upload cut by fault injection');
    }
    seen += chunk.length;
    yield chunk;
  }
}

export class ApiRoutes {
  constructor(
    private readonly core: EmulatorCore,
    private readonly faults: Faults,
  ) {}

  private json(res: ServerResponse, status: number, value: unknown): Promise<void> {
    return sendJson(this.core.responder, res, status, value);
  }

  /** Resolves true when the path is one of the API's. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, publicOrigin: string): Promise<boolean> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/account/v1/customer' && method === 'GET') {
      await this.customer(res);
      return true;
    }
    if (path === '/files/v1/allocate' && method === 'POST') {
      await this.allocate(req, res, publicOrigin);
      return true;
    }
    if (path === '/files/v1/purge_trash' && method === 'POST') {
      await this.json(res, 200, this.core.tree.purgeTrash());
      return true;
    }
    if (path.startsWith(UPLOAD_PREFIX) && method === 'POST') {
      await this.upload(req, res, url);
      return true;
    }
    return false;
  }

  private customer(res: ServerResponse): Promise<void> {
    const { tree, opts } = this.core;
    return this.json(res, 200, {
      username: tree.user,
      email: `${tree.user}@emulator.invalid`,
      name: 'Jottadav Emulator',
      country_code: 'NO',
      language_code: 'en',
      customer_group_code: 'JOTTA',
      brand_code: 'JOTTA',
      account_type: opts.capacityBytes < 0 ? 'unlimited' : 'Personal',
      subscription_type: 'SUBSCRIPTION',
      usage: tree.usage(),
      quota: opts.capacityBytes,
      business_usage: 0,
      business_quota: 0,
      write_locked: false,
      read_locked: false,
      locked_cause: null,
      web_hash: '',
      android_hash: '',
      ios_hash: '',
    });
  }

  /** Allocate's path: `/jfs/<device>/<mountpoint>/<path>` (official CLI, rclone) or `<mountpoint>/<path>` on Jotta (akeamc/jotta). */
  private locate(raw: string): { mountpoint: Node; parentSegs: string[]; name: string } {
    const segs = raw.split('/').filter((s) => s !== '');
    for (const s of segs) checkReadableName(s);
    const full = segs[0] === 'jfs';
    const deviceName = full ? segs[1] : 'Jotta';
    const rest = full ? segs.slice(2) : segs;
    if (!deviceName || rest.length < 2) throw errors.invalidArgument(`Invalid path ${raw}`);
    const device = this.core.tree.device(deviceName);
    if (!device || device.deleted !== undefined) throw errors.noSuchDevice(`Device /${this.core.tree.user}/${deviceName}`);
    let mountpoint = this.core.tree.childFolder(device, rest[0]);
    if (!mountpoint && !this.core.tree.isBuiltinDevice(device)) mountpoint = this.core.tree.createMountPoint(device, rest[0]).node;
    if (!mountpoint) throw errors.noSuchMountPoint();
    if (this.core.tree.isBuiltinDevice(device) && ['shared', 'trash', 'links', 'latest'].includes(nameKey(mountpoint.name))) {
      throw errors.accessDenied(`${this.core.tree.absPath(mountpoint)} is read-only`);
    }
    return { mountpoint, parentSegs: rest.slice(1, -1), name: rest[rest.length - 1] };
  }

  private async allocate(req: IncomingMessage, res: ServerResponse, publicOrigin: string) {
    let body: AllocateRequest;
    try {
      body = JSON.parse((await readSmallBody(req)).toString('utf8')) as AllocateRequest;
    } catch {
      throw errors.invalidArgument('Invalid JSON body');
    }
    if (typeof body !== 'object' || body === null) throw errors.invalidArgument('Invalid JSON body');
    const { path, bytes } = body;
    const md5 = typeof body.md5 === 'string' ? body.md5.toLowerCase() : '';
    if (typeof path !== 'string' || path === '') throw errors.invalidArgument('Missing path');
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) throw errors.invalidArgument('Invalid bytes');
    if (!/^[0-9a-f]{32}$/.test(md5)) throw errors.invalidArgument('Invalid md5');
    const handler = body.conflict_handler ?? 'CREATE_NEW_REVISION';
    if (handler !== 'CREATE_NEW_REVISION' && handler !== 'REJECT_CONFLICTS') {
      throw errors.invalidArgument(`Invalid conflict_handler ${String(handler)}`);
    }
    const now = toSeconds(Date.now());
    const modified = parseClientTime(body.modified) ?? now;
    const created = parseClientTime(body.created) ?? modified;

    const { tree } = this.core;
    const loc = this.locate(path);
    checkNewName(loc.name);
    if (this.core.overQuota(bytes)) throw errors.overQuota();
    const parent = tree.ensureFolder(loc.mountpoint, loc.parentSegs);
    let file = tree.childFile(parent, loc.name);
    if (handler === 'REJECT_CONFLICTS' && file && file.deleted === undefined && file.current) {
      throw errors.uniqueFile(`File ${tree.absPath(file)} already exists`);
    }
    file ??= tree.newFile(parent, loc.name);

    const answer = (state: string, uploadId: string, resumePos: number) => ({
      name: file.name,
      path: tree.absPath(file),
      state,
      upload_id: uploadId,
      upload_url: uploadId ? `${uploadOrigin(publicOrigin)}${UPLOAD_PREFIX}${uploadId}` : '',
      bytes,
      resume_pos: resumePos,
    });

    // Deduplication: content the account already holds (and the empty file) needs no upload.
    if (bytes === 0 || tree.hasContent(md5, bytes)) {
      tree.addCompletedRevision(file, { md5, size: bytes, created, modified });
      if (file.deleted !== undefined) tree.revive(file);
      tree.commit();
      return this.json(res, 200, answer('COMPLETED', '', bytes));
    }
    const latest = file.latest;
    if (latest?.state === 'INCOMPLETE' && latest.uploadId && latest.md5 === md5 && latest.declaredBytes === bytes) {
      // Resume: same path, content and size — the bytes that arrived earlier are kept.
      const pos = await this.core.blobs.partialSize(latest.uploadId);
      this.core.uploads.set(latest.uploadId, file.id);
      tree.commit();
      return this.json(res, 200, answer('INCOMPLETE', latest.uploadId, pos));
    }
    const uploadId = randomBytes(18).toString('base64url');
    tree.beginUpload(file, { uploadId, md5, bytes, created, modified });
    this.core.uploads.set(uploadId, file.id);
    return this.json(res, 200, answer('INCOMPLETE', uploadId, 0));
  }

  private async upload(req: IncomingMessage, res: ServerResponse, url: URL) {
    const uploadId = url.pathname.slice(UPLOAD_PREFIX.length);
    const file = this.core.uploadFile(uploadId);
    const latest = file?.latest;
    if (!file || !latest || latest.declaredBytes === undefined) {
      throw errors.noSuchFile(`Upload ${uploadId.slice(0, 8)}… does not exist or has finished`);
    }
    if (this.core.uploadsInFlight.has(uploadId)) throw errors.uniqueFile('Another request is uploading to this upload id');
    const declared = latest.declaredBytes;
    const { blobs, tree } = this.core;
    const received = await blobs.partialSize(uploadId);
    let start = 0;
    const range = req.headers.range;
    if (range) {
      // Lenient about the end: clients send `<start>-<size-1>`, `<start>-<size>` or `<start>-`; the body length decides.
      const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
      if (!m) throw errors.rangeNotSatisfiable(`Invalid range ${range}`);
      start = Number(m[1]);
    }
    if (start > received) throw errors.rangeNotSatisfiable(`Range starts at ${start}, but only ${received} bytes have arrived`);
    if (this.core.overQuota(declared)) throw errors.overQuota();

    this.core.uploadsInFlight.add(uploadId);
    let result;
    try {
      let body: AsyncIterable<Buffer> = throttle(req as AsyncIterable<Buffer>, this.core.opts.bandwidth);
      const cut = this.faults.cutAfter(req.method ?? 'POST', url.pathname, declared);
      if (cut !== undefined) body = cutAfter(body, cut, () => req.socket.destroy());
      result = await blobs.append(uploadId, start, body);
    } finally {
      this.core.uploadsInFlight.delete(uploadId);
    }
    if (file.latest?.uploadId !== uploadId || !tree.node(file.id)) {
      // A newer allocate replaced this upload, or the file was deleted meanwhile: these bytes have no home.
      await blobs.discard(uploadId);
      if (!result.ended) return void res.destroy();
      throw errors.noSuchFile(`Upload ${uploadId.slice(0, 8)}… was replaced or its file deleted`);
    }
    tree.uploadProgress(file, result.size);
    if (!result.ended) {
      res.destroy(); // the connection is gone; the bytes stay for a resume
      return;
    }
    if (result.size < declared) {
      throw errors.incompleteUpload(`Incomplete upload: ${result.size} of ${declared} bytes received`);
    }
    const md5 = await blobs.partialMd5(uploadId);
    if (result.size > declared || md5 !== latest.md5) {
      tree.corruptUpload(file);
      this.core.uploads.delete(uploadId);
      await blobs.discard(uploadId);
      throw errors.corruptUpload(`Checksum mismatch: expected ${latest.md5}, got ${md5} (${result.size} bytes)`);
    }
    // The blob is in place before the journal says COMPLETED, so a crash in between only leaves an unreferenced blob.
    await blobs.commit(uploadId, md5);
    this.core.uploads.delete(uploadId);
    const rev = tree.completeUpload(file);
    return this.json(res, 201, {
      path: tree.absPath(file),
      content_id: md5,
      bytes: rev?.size ?? declared,
      md5,
      modified: rev?.modified ?? Date.now(),
    });
  }
}

/** Where the upload URL points: the service's upload host when the request came through the proxy, else this server. */
function uploadOrigin(publicOrigin: string): string {
  return publicOrigin.replace(/^https:\/\/api\./, 'https://up.');
}
