// Uploading a file: `POST api/files/v1/allocate` with size, MD5 and times, then the bytes to the
// `upload_url` it returns — from `resume_pos`, with an exact Content-Length (and a Range when resuming).
//
// The upload POST is the one call that is never simply repeated: its body is a stream. Instead, after a
// cut connection, a 420 (`IncompleteUploadOpenApiException`: the bytes so far are kept), a transient
// status or a 401, the loop allocates again — the service answers with the advanced `resume_pos` — and
// sends only the rest, from a fresh body stream the caller opens at that offset. Bounded by `maxAttempts`.
// Allocate answering `COMPLETED` means the service already has these bytes: nothing is sent — and nothing
// compared the caller's bytes with the MD5 either (the caller's job when that matters, see `transferred`).
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { rebaseUrl } from './endpoints.js';
import {
  CorruptUploadError,
  IncompleteUploadError,
  JottacloudError,
  UnexpectedResponseError,
  errorFromResponse,
  parseErrorBody,
  type ErrorContext,
} from './errors.js';
import { allocatePath, displayPath, type Location } from './paths.js';
import { QUOTA_STATUS, RETRYABLE_STATUS } from './retry.js';
import { formatRfc3339 } from './xml.js';
import type { JottacloudClient } from './client.js';
import type { AllocateRequestWire, AllocateResponseWire, ConflictHandler, UploadResponseWire, UploadResult } from './types.js';

/** Opens the file's bytes starting at `offset` (each call a fresh stream). */
export type BodySource = (offset: number) => Readable | Buffer | Promise<Readable | Buffer>;

export interface UploadOptions {
  /** Exact size in bytes. */
  size: number;
  /** MD5 of the whole file, hex (the service needs it before the first byte). */
  md5: string;
  created?: Date;
  modified?: Date;
  /**
   * The bytes: a Buffer; a function opening a stream at an offset (resumable); or a single Readable,
   * which can only be sent once — a cut upload then fails instead of resuming.
   */
  body: Buffer | BodySource | Readable;
  conflictHandler?: ConflictHandler;
  /** Upload POSTs at most (default: as many tries as the pacer gives any call, 1 + maxRetries). */
  maxAttempts?: number;
  signal?: AbortSignal;
  /** Told about every allocate answer (e.g. to watch `resume_pos`). */
  onAllocate?: (answer: AllocateResponseWire) => void;
  /**
   * Only an allocate, for content the account already holds (putting a file's previous content back as a
   * new revision, which deduplication does without bytes): any answer but COMPLETED fails, nothing is sent
   * and `body` is not read.
   */
  heldOnly?: boolean;
}

export async function uploadFile(client: JottacloudClient, loc: Location, options: UploadOptions): Promise<UploadResult> {
  const ctx: ErrorContext = { operation: 'upload', path: displayPath(loc) };
  const pacer = client.pacer;
  const md5 = options.md5.toLowerCase();
  const maxAttempts = options.maxAttempts ?? pacer.maxRetries + 1;
  const resumedFrom: number[] = [];
  let singleStreamUsed = false;
  let lastError: JottacloudError | undefined;
  if (options.heldOnly) {
    const alloc = await allocate(client, loc, options, md5, ctx);
    options.onAllocate?.(alloc);
    if (alloc.state === 'COMPLETED') return { transferred: false, bytes: options.size, md5, attempts: 0, resumedFrom };
    throw new JottacloudError(`the service no longer holds content with MD5 ${md5} (${options.size} bytes)`, { ...ctx, status: 200 });
  }
  if (Buffer.isBuffer(options.body) && options.body.length !== options.size) {
    throw new JottacloudError(`the body has ${options.body.length} bytes, not ${options.size}`, { ...ctx, status: 0 });
  }

  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const alloc = await allocate(client, loc, options, md5, ctx);
    options.onAllocate?.(alloc);
    if (alloc.state === 'COMPLETED') {
      // Deduplicated, or the bytes of an earlier (cut) attempt had in fact all arrived.
      return { transferred: attempt > 0, bytes: options.size, md5, attempts: attempt, resumedFrom };
    }
    const offset = clampOffset(alloc.resume_pos, options.size);
    if (attempt > 0) resumedFrom.push(offset);

    if (options.body instanceof Readable) {
      // A plain stream cannot be rewound: it serves exactly one attempt.
      if (singleStreamUsed) throw lastError ?? new IncompleteUploadError('upload cut and the body cannot be re-read', { ...ctx, status: 0 });
      singleStreamUsed = true;
    }
    const remaining = options.size - offset;
    const guard = { problem: undefined as string | undefined };
    const body = await openBody(options.body, offset, remaining, guard);
    const token = await pacer.token();
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(remaining),
    };
    if (offset > 0) headers.Range = `bytes=${offset}-${options.size - 1}`;

    let status: number;
    let text: string;
    let retryAfter: string | undefined;
    try {
      const res = await pacer.send(
        {
          ...ctx,
          method: 'POST',
          url: rebaseUrl(alloc.upload_url, client.endpoints),
          host: 'upload',
          headers,
          data: body,
          signal: options.signal,
          // No attempt after this one: a connection the service drops on arrival would fail the whole upload.
          once: options.body instanceof Readable || attempt === maxAttempts - 1,
        },
        token,
        attempt,
      );
      status = res.status;
      text = typeof res.data === 'string' ? res.data : '';
      retryAfter = res.headers['retry-after'];
    } catch (e) {
      // Our own body broke the Content-Length promise: resuming would only repeat that.
      if (guard.problem) throw new JottacloudError(guard.problem, { ...ctx, status: 0 });
      if (!(e instanceof JottacloudError) || !e.transient) throw e;
      // The connection broke mid-body: the service kept what arrived; allocate tells how much.
      lastError = e;
      await pacer.sleep(pacer.backoff(attempt + 1), { ...ctx, signal: options.signal });
      continue;
    } finally {
      if (body instanceof Readable && !body.destroyed) body.destroy();
    }

    if (status >= 200 && status < 300) return finished(text, options.size, md5, attempt + 1, resumedFrom, ctx);

    const errBody = parseErrorBody(text);
    if (status === 401) {
      // The next round's pacer.token() hands out the renewed token.
      await pacer.renew(token, ctx);
      lastError = errorFromResponse(status, errBody, ctx);
      continue;
    }
    if (status === 420 || errBody.exception === 'IncompleteUploadOpenApiException') {
      // The piece did not finish the file; the service kept it. Resume straight away.
      lastError = errorFromResponse(420, errBody, ctx);
      continue;
    }
    let quotaExceeded = false;
    if (status === QUOTA_STATUS) quotaExceeded = await pacer.quotaExceeded();
    const error = errorFromResponse(status, errBody, ctx, { quotaExceeded });
    error.attempts = attempt + 1;
    if (RETRYABLE_STATUS.has(status) || (status === QUOTA_STATUS && !quotaExceeded)) {
      lastError = error;
      await pacer.sleep(pacer.backoff(attempt + 1, retryAfter), { ...ctx, signal: options.signal });
      continue;
    }
    // 421 (the bytes do not match the MD5), 4xx: a definite answer, repeating would not change it.
    throw error;
  }
  const error = lastError ?? new IncompleteUploadError('upload did not complete', { ...ctx, status: 0 });
  error.attempts = maxAttempts;
  throw error;
}

async function allocate(
  client: JottacloudClient,
  loc: Location,
  options: UploadOptions,
  md5: string,
  ctx: ErrorContext,
): Promise<AllocateResponseWire> {
  const request: AllocateRequestWire = {
    bytes: options.size,
    md5,
    path: allocatePath(loc),
    ...(options.created ? { created: formatRfc3339(options.created) } : {}),
    ...(options.modified ? { modified: formatRfc3339(options.modified) } : {}),
    ...(options.conflictHandler ? { conflict_handler: options.conflictHandler } : {}),
  };
  // Allocate is safe to repeat: the same path, size and MD5 always name the same upload.
  const res = await client.pacer.call({
    ...ctx,
    operation: 'allocate',
    method: 'POST',
    url: `${client.endpoints.api}files/v1/allocate`,
    host: 'api',
    headers: { 'Content-Type': 'application/json' },
    data: JSON.stringify(request),
    signal: options.signal,
  });
  let answer: AllocateResponseWire;
  try {
    answer = JSON.parse(res.data) as AllocateResponseWire;
  } catch {
    throw new UnexpectedResponseError('unreadable allocate answer', { ...ctx, status: res.status });
  }
  if (answer.state !== 'COMPLETED' && typeof answer.upload_url !== 'string') {
    throw new UnexpectedResponseError('allocate answer has no upload_url', { ...ctx, status: res.status });
  }
  return answer;
}

function clampOffset(resumePos: unknown, size: number): number {
  const n = typeof resumePos === 'number' ? resumePos : Number(resumePos ?? 0);
  if (!Number.isFinite(n) || n < 0) return 0;
  return Math.min(Math.floor(n), size);
}

function finished(
  text: string,
  size: number,
  md5: string,
  attempts: number,
  resumedFrom: number[],
  ctx: ErrorContext,
): UploadResult {
  let r: Partial<UploadResponseWire>;
  try {
    r = JSON.parse(text || '{}') as Partial<UploadResponseWire>;
  } catch {
    throw new UnexpectedResponseError('unreadable upload answer', { ...ctx, status: 200 });
  }
  // The answer repeats what the service stored; a different MD5 or size means the file is not what we sent.
  if (r.md5 !== undefined && r.md5.toLowerCase() !== md5) {
    throw new CorruptUploadError(`the service stored MD5 ${r.md5}, expected ${md5}`, { ...ctx, status: 200 });
  }
  if (r.bytes !== undefined && Number(r.bytes) !== size) {
    throw new CorruptUploadError(`the service stored ${r.bytes} bytes, expected ${size}`, { ...ctx, status: 200 });
  }
  const modified = typeof r.modified === 'number' ? new Date(r.modified) : undefined;
  return { transferred: true, bytes: size, md5, contentId: r.content_id, modified, attempts, resumedFrom };
}

async function openBody(
  source: UploadOptions['body'],
  offset: number,
  length: number,
  guard: { problem?: string },
): Promise<Readable | Buffer> {
  if (Buffer.isBuffer(source)) return source.subarray(offset);
  const stream = source instanceof Readable ? source : await source(offset);
  if (Buffer.isBuffer(stream)) {
    if (stream.length !== length) throw new Error(`body opened at ${offset} has ${stream.length} bytes, expected ${length}`);
    return stream;
  }
  // A single stream asked to start past bytes the service already has skips them itself.
  const skip = source instanceof Readable ? offset : 0;
  const out = exactLength(skip, length, guard);
  pipeline(stream, out, () => {
    // Errors surface through `out` (pipeline destroys it with them); nothing else to do here.
  });
  return out;
}

/**
 * Drops the first `skip` bytes, then passes exactly `length` bytes: the request promised that many in
 * Content-Length, and a body that is shorter or longer would otherwise leave the service waiting or
 * reading garbage. A mismatch fails the stream (and so the request) and is recorded in `guard`.
 */
function exactLength(skip: number, length: number, guard: { problem?: string }): Transform {
  let toSkip = skip;
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      let data = chunk;
      if (toSkip > 0) {
        const n = Math.min(toSkip, data.length);
        toSkip -= n;
        data = data.subarray(n);
      }
      passed += data.length;
      if (passed > length) {
        guard.problem = `the body has more bytes than the ${length} announced`;
        return done(new Error(guard.problem));
      }
      done(null, data);
    },
    flush(done: TransformCallback) {
      if (passed < length) {
        guard.problem = `the body ended after ${passed} of ${length} bytes`;
        return done(new Error(guard.problem));
      }
      done();
    },
  });
}
