// PUT: the request stream goes to storage as it arrives (chunked bodies and Finder's
// `X-Expected-Entity-Length` included), and the answer (201/204 with the new ETag) is sent only after
// storage says the content is committed on Jottacloud; any failure is a 4xx/5xx and the old content stays.
// This replaces webdav-server's PUT, which answers when its write stream finishes and cannot fail after
// that (webdav-server issue #115), and which dies on a malformed If header.
//
// A stored PUT's answer says where its time went in a `Server-Timing` header (W3C Server Timing), in ms:
// `pre` (checks before the body: stat, If headers, quota), `check` (waiting for an earlier write to the same
// path, the parent's listing), `spool` (without a client MD5: receiving the body to memory/disk while hashing;
// `hash` is the part of it spent on the MD5), `allocate`, `upload` (with a client MD5 this includes receiving
// the body, which streams through), `commit`, and `total`. Durations only — nothing about the content or the
// account — and a few clock reads per request; the benchmark reads it to show where a PUT's time goes.
import type { DavRequest } from '../context.js';
import { etagOf } from '../context.js';
import { DavError } from '../errors.js';
import { baseName } from '../paths.js';
import { rfc1123 } from '../props.js';
import { matchesAny } from './get.js';

/** Finder's AppleDouble (`._name`) and folder settings files. */
export function isMacMetadata(path: string): boolean {
  const name = baseName(path);
  return name.startsWith('._') || name === '.DS_Store';
}

export async function handlePut(ctx: DavRequest): Promise<void> {
  const started = performance.now();
  ctx.assertMayWrite();
  if (ctx.path === '/') throw new DavError(405, 'the share root is a folder');
  if (ctx.header('content-range') !== undefined) throw new DavError(400, 'partial PUT (Content-Range) is not supported');
  const existing = await ctx.stat(ctx.path, { forChange: true });
  if (existing?.kind === 'folder') throw new DavError(405, `${ctx.path} is a folder`);
  await ctx.checkIfHeader();
  ctx.assertUnlocked(ctx.path, { members: !existing });
  const etag = etagOf(existing);
  const ifMatch = ctx.header('if-match');
  if (ifMatch !== undefined && !matchesAny(ifMatch, etag, false, !!existing)) throw new DavError(412, 'If-Match does not match the current ETag');
  const ifNoneMatch = ctx.header('if-none-match');
  if (ifNoneMatch !== undefined && matchesAny(ifNoneMatch, etag, false, !!existing)) throw new DavError(412, 'the file already exists (If-None-Match)');

  const size = declaredSize(ctx);
  const md5 = declaredMd5(ctx);
  const modified = declaredMtime(ctx);

  if (ctx.shared.ignoreMacMetadata && isMacMetadata(ctx.path)) {
    // kept out of Jottacloud on purpose: swallow the body and let Finder believe it was stored
    ctx.req.resume();
    await new Promise<void>((resolve) => (ctx.req.readableEnded ? resolve() : ctx.req.once('end', resolve).once('error', () => resolve())));
    ctx.res.statusCode = existing ? 204 : 201;
    ctx.res.setHeader('Content-Length', 0);
    ctx.res.end();
    return;
  }

  if (size !== undefined && size > 0) {
    // Advisory (the service refuses what does not fit, answered as 507 too): a figure past its time will do
    // rather than a round trip before every PUT once it expires.
    const quota = await ctx.storage.quota({ signal: ctx.signal, stale: true });
    if (quota.available !== null && size > quota.available) {
      ctx.res.setHeader('Connection', 'close'); // don't make the client send a body we will not store
      throw new DavError(507, `the Jottacloud account has ${quota.available} bytes free, this file needs ${size}`);
    }
  }

  const pre = performance.now() - started;
  const written = await ctx.storage.write(ctx.path, ctx.req, { signal: ctx.signal, size, md5, modified });
  ctx.forget(ctx.path);
  const res = ctx.res;
  res.statusCode = written.created ? 201 : 204;
  const newEtag = etagOf(written.entry);
  if (newEtag) res.setHeader('ETag', newEtag);
  res.setHeader('Last-Modified', rfc1123(written.entry.modified));
  if (modified) res.setHeader('X-OC-Mtime', 'accepted');
  const phases = [{ name: 'pre', ms: pre }, ...(written.timings ?? []), { name: 'total', ms: performance.now() - started }];
  res.setHeader('Server-Timing', phases.map((p) => `${p.name};dur=${p.ms.toFixed(1)}`).join(', '));
  res.setHeader('Content-Length', 0);
  res.end();
}

/** `X-OC-Mtime` (Unix seconds; ownCloud clients and rclone send it on PUT, COPY and MOVE). */
export function declaredMtime(ctx: DavRequest): Date | undefined {
  const mtime = ctx.header('x-oc-mtime')?.trim();
  return mtime !== undefined && /^\d+(\.\d+)?$/.test(mtime) ? new Date(Math.floor(Number(mtime)) * 1000) : undefined;
}

/** Content-Length, or Finder's X-Expected-Entity-Length for a chunked body. */
function declaredSize(ctx: DavRequest): number | undefined {
  const chunked = ctx.header('transfer-encoding') !== undefined;
  const raw = chunked ? ctx.header('x-expected-entity-length') : (ctx.header('content-length') ?? ctx.header('x-expected-entity-length'));
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new DavError(400, 'the declared body length is not a number');
  return n;
}

/** `Content-MD5` (base64, RFC 1864) or `OC-Checksum: MD5:<hex>`, as lower-case hex. */
function declaredMd5(ctx: DavRequest): string | undefined {
  const oc = ctx.header('oc-checksum');
  if (oc) {
    const m = /(?:^|\s)MD5:([0-9a-f]{32})(?:\s|$)/i.exec(oc);
    if (m) return (m[1] as string).toLowerCase();
  }
  const contentMd5 = ctx.header('content-md5');
  if (contentMd5) {
    const trimmed = contentMd5.trim();
    if (/^[0-9a-f]{32}$/i.test(trimmed)) return trimmed.toLowerCase();
    const buf = Buffer.from(trimmed, 'base64');
    if (buf.length !== 16) throw new DavError(400, 'Content-MD5 is not a base64 MD5 digest');
    return buf.toString('hex');
  }
  return undefined;
}
