// GET and HEAD of files: validators (ETag, Last-Modified), conditional requests (RFC 9110 §13: If-Match,
// If-Unmodified-Since → 412; If-None-Match, If-Modified-Since → 304) and byte ranges (RFC 9110 §14:
// single → 206, several → multipart/byteranges, unsatisfiable → 416). Every range is read from storage
// starting at its offset — seeking to the end of a large video never downloads what comes before it —
// which is why this replaces webdav-server's GET (it reads from byte 0 and drops bytes).
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import rangeParser from 'range-parser';
import type { Entry } from '../../storage/types.js';
import type { DavRequest } from '../context.js';
import { etagOf } from '../context.js';
import { DavError } from '../errors.js';
import { contentTypeOf, rfc1123 } from '../props.js';
import { bodyBytesSeen } from '../../util/gc.js';

/** Renders a folder for GET (the server's browser page); without it a folder GET lists names as text. */
export type FolderRenderer = (ctx: DavRequest, folder: Entry) => Promise<void>;

export async function handleGet(ctx: DavRequest, renderFolder?: FolderRenderer): Promise<void> {
  const entry = await ctx.stat(ctx.path);
  if (!entry) throw new DavError(404, `${ctx.path}: no such file or folder`);
  await ctx.checkIfHeader();
  if (entry.kind === 'folder') {
    if (renderFolder) return renderFolder(ctx, entry);
    return plainFolderListing(ctx, entry);
  }
  const { res } = ctx;
  const etag = etagOf(entry);
  res.setHeader('Accept-Ranges', 'bytes');
  if (etag) res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', rfc1123(entry.modified));
  if (!checkPreconditions(ctx, entry, etag)) return;

  const type = contentTypeOf(entry);
  const ranges = wantedRanges(ctx, entry, etag);
  if (ranges === 'unsatisfiable') {
    res.statusCode = 416;
    res.setHeader('Content-Range', `bytes */${entry.size}`);
    res.setHeader('Content-Length', 0);
    res.end();
    return;
  }
  if (!ranges) {
    res.statusCode = 200;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', entry.size);
    if (ctx.method === 'HEAD') return void res.end();
    const body = await ctx.storage.openRead(entry.path, { signal: ctx.signal });
    await sendBody(body, res, true);
    return;
  }
  res.statusCode = 206;
  if (ranges.length === 1) {
    const r = ranges[0] as rangeParser.Range;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Range', `bytes ${r.start}-${r.end}/${entry.size}`);
    res.setHeader('Content-Length', r.end - r.start + 1);
    if (ctx.method === 'HEAD') return void res.end();
    const body = await ctx.storage.openRead(entry.path, { start: r.start, end: r.end, signal: ctx.signal });
    await sendBody(body, res, true);
    return;
  }
  // multipart/byteranges: the parts are read one after another, each from its own offset
  const boundary = randomBytes(12).toString('hex');
  const heads = ranges.map(
    (r, i) =>
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${entry.size}\r\n\r\n`,
  );
  const tail = `\r\n--${boundary}--\r\n`;
  const length = heads.reduce((n, h, i) => n + Buffer.byteLength(h) + (ranges[i] as rangeParser.Range).end - (ranges[i] as rangeParser.Range).start + 1, 0) + Buffer.byteLength(tail);
  res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
  res.setHeader('Content-Length', length);
  if (ctx.method === 'HEAD') return void res.end();
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as rangeParser.Range;
    res.write(heads[i]);
    const part = await ctx.storage.openRead(entry.path, { start: r.start, end: r.end, signal: ctx.signal });
    await sendBody(part, res, false);
  }
  res.end(tail);
}

/**
 * Copies a body into the answer (like `pipeline`: an error on either side destroys both and rejects), writing what
 * arrived during one turn of the event loop as one corked batch, i.e. one writev. The TLS layer below hands a
 * download over one 16 KiB record per call and Node's own per-write cork only spans that call, so piping wrote
 * (and the client had to read) every record on its own: ~65,000 write syscalls per GiB, the largest single cost
 * of a GET in the server's CPU profile.
 */
export function sendBody(body: Readable, res: ServerResponse, end: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let batch: Buffer[] = [];
    let scheduled = false;
    let ended = false;
    let settled = false;
    type Listener = Parameters<NodeJS.EventEmitter['on']>[1];
    const listening: [NodeJS.EventEmitter, string, Listener][] = [];
    const listen = (on: NodeJS.EventEmitter, event: string, fn: Listener) => {
      on.on(event, fn);
      listening.push([on, event, fn]);
    };
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      for (const [on, event, fn] of listening) on.off(event, fn);
      if (err) {
        body.destroy();
        res.destroy();
        reject(err);
      } else resolve();
    };
    const flush = () => {
      scheduled = false;
      if (settled) return;
      const chunks = batch;
      batch = [];
      let ok = true;
      if (chunks.length === 1) ok = res.write(chunks[0]);
      else if (chunks.length > 1) {
        res.cork();
        for (const c of chunks) ok = res.write(c);
        res.uncork();
      }
      if (ended) {
        if (!end) return settle();
        res.end(() => settle());
      } else if (!ok) body.pause();
    };
    const onData = (chunk: Buffer) => {
      bodyBytesSeen(chunk.length);
      batch.push(chunk);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
    const onEnd = () => {
      ended = true;
      if (!scheduled) flush();
    };
    const onDrain = () => {
      if (!settled && !ended) body.resume();
    };
    const onError = (err: Error) => settle(err);
    const onClose = () => {
      if (!res.writableFinished) settle(Object.assign(new Error('the client went away before the end of the answer'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    listen(body, 'error', onError);
    listen(body, 'end', onEnd);
    listen(res, 'error', onError);
    listen(res, 'drain', onDrain);
    listen(res, 'close', onClose);
    listen(body, 'data', onData); // last: this starts the flow
  });
}

/** Applies If-Match / If-Unmodified-Since / If-None-Match / If-Modified-Since; false when answered. */
function checkPreconditions(ctx: DavRequest, entry: Entry, etag: string | undefined): boolean {
  const ifMatch = ctx.header('if-match');
  if (ifMatch !== undefined && !matchesAny(ifMatch, etag, false)) throw new DavError(412, 'If-Match does not match the current ETag');
  const ifUnmodified = ctx.header('if-unmodified-since');
  if (ifMatch === undefined && ifUnmodified !== undefined) {
    const since = Date.parse(ifUnmodified);
    if (!Number.isNaN(since) && Math.floor(entry.modified.getTime() / 1000) > Math.floor(since / 1000)) {
      throw new DavError(412, 'the file was modified since If-Unmodified-Since');
    }
  }
  const ifNoneMatch = ctx.header('if-none-match');
  if (ifNoneMatch !== undefined) {
    if (matchesAny(ifNoneMatch, etag, true)) return notModified(ctx);
  } else {
    const ifModified = ctx.header('if-modified-since');
    if (ifModified !== undefined) {
      const since = Date.parse(ifModified);
      if (!Number.isNaN(since) && Math.floor(entry.modified.getTime() / 1000) <= Math.floor(since / 1000)) return notModified(ctx);
    }
  }
  return true;
}

function notModified(ctx: DavRequest): false {
  ctx.res.statusCode = 304;
  ctx.res.end();
  return false;
}

/** RFC 9110 §8.8.3.2: strong comparison for If-Match, weak for If-None-Match. */
export function matchesAny(header: string, etag: string | undefined, weak: boolean, exists = true): boolean {
  if (header.trim() === '*') return exists;
  if (!etag) return false;
  const opaque = (t: string) => (weak ? t.replace(/^W\//, '') : t);
  return header
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .some((t) => (weak || !t.startsWith('W/')) && opaque(t) === opaque(etag));
}

/** The ranges to send, null for the whole file, or 'unsatisfiable'. */
function wantedRanges(ctx: DavRequest, entry: Entry, etag: string | undefined): rangeParser.Ranges | null | 'unsatisfiable' {
  const header = ctx.header('range');
  if (!header || entry.size === 0) return null;
  const ifRange = ctx.header('if-range');
  if (ifRange !== undefined) {
    const trimmed = ifRange.trim();
    if (trimmed.startsWith('"') || trimmed.startsWith('W/')) {
      if (!etag || trimmed !== etag) return null;
    } else {
      const since = Date.parse(trimmed);
      if (Number.isNaN(since) || Math.floor(entry.modified.getTime() / 1000) !== Math.floor(since / 1000)) return null;
    }
  }
  const parsed = rangeParser(entry.size, header, { combine: true });
  if (parsed === -1) return 'unsatisfiable';
  if (parsed === -2 || parsed.type !== 'bytes') return null; // malformed: ignore the header (RFC 9110 §14.2)
  return parsed;
}

async function plainFolderListing(ctx: DavRequest, folder: Entry): Promise<void> {
  const children = await ctx.storage.list(folder.path, { signal: ctx.signal });
  const body = children
    .map((c) => (c.kind === 'folder' ? `${c.name}/` : c.name))
    .sort()
    .join('\n');
  ctx.res.statusCode = 200;
  ctx.res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  ctx.res.setHeader('Content-Length', Buffer.byteLength(body ? `${body}\n` : ''));
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body ? `${body}\n` : '');
}
