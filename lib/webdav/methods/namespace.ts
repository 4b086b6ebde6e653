// The namespace operations: MKCOL, DELETE, COPY and MOVE (RFC 4918 §9.3, §9.6, §9.8, §9.9). All of them are
// one storage call — copies and moves happen on Jottacloud, never by download and re-upload, and a folder
// moves in one call. Dead properties follow (copy/move) or go (delete); locks never follow (RFC 4918 §7.5).
import type { DavRequest } from '../context.js';
import { etagOf } from '../context.js';
import { announcesBody, readBody } from '../body.js';
import { DavError } from '../errors.js';
import { decodeDestination, isWithin, pathKey } from '../paths.js';
import { declaredMtime, isMacMetadata } from './put.js';

export async function handleMkcol(ctx: DavRequest): Promise<void> {
  ctx.assertMayWrite();
  if (announcesBody(ctx.req)) {
    const body = await readBody(ctx.req, 64 * 1024);
    if (body.length) throw new DavError(415, 'MKCOL with a request body is not supported');
  }
  const existing = await ctx.stat(ctx.path, { forChange: true });
  if (existing) throw new DavError(405, `${ctx.path} already exists`);
  await ctx.checkIfHeader();
  ctx.assertUnlocked(ctx.path, { members: true });
  await ctx.storage.mkdir(ctx.path, { signal: ctx.signal });
  ctx.forget(ctx.path);
  ctx.res.statusCode = 201;
  ctx.res.setHeader('Content-Length', 0);
  ctx.res.end();
}

export async function handleDelete(ctx: DavRequest): Promise<void> {
  ctx.assertMayWrite();
  if (ctx.path === '/') throw new DavError(403, 'the share root cannot be deleted');
  const existing = await ctx.stat(ctx.path, { forChange: true });
  if (!existing) {
    if (ctx.shared.ignoreMacMetadata && isMacMetadata(ctx.path)) return noContent(ctx);
    throw new DavError(404, `${ctx.path}: no such file or folder`);
  }
  const depth = ctx.header('depth');
  if (existing.kind === 'folder' && depth !== undefined && depth.trim().toLowerCase() !== 'infinity') {
    throw new DavError(400, 'DELETE of a folder must have Depth: infinity');
  }
  await ctx.checkIfHeader();
  ctx.assertUnlocked(ctx.path, { deep: true, members: true });
  const etag = etagOf(existing);
  const ifMatch = ctx.header('if-match');
  if (ifMatch !== undefined && ifMatch.trim() !== '*' && (!etag || !ifMatch.split(',').some((t) => t.trim() === etag))) {
    throw new DavError(412, 'If-Match does not match the current ETag');
  }
  await ctx.storage.delete(existing.path, { signal: ctx.signal });
  ctx.forget(ctx.path);
  await ctx.shared.props.removeWithin(existing.path);
  await ctx.shared.locks.removeWithin(existing.path);
  noContent(ctx);
}

function noContent(ctx: DavRequest): void {
  ctx.res.statusCode = 204;
  ctx.res.end();
}

export async function handleCopyMove(ctx: DavRequest): Promise<void> {
  const isMove = ctx.method === 'MOVE';
  const destination = decodeDestination(ctx.header('destination'), ctx.header('host'), ctx.shared.basePath);
  ctx.assertMayWrite();
  const overwriteHeader = (ctx.header('overwrite') ?? 'T').trim().toUpperCase();
  if (overwriteHeader !== 'T' && overwriteHeader !== 'F') throw new DavError(400, 'Overwrite must be T or F');
  const overwrite = overwriteHeader === 'T';
  const depthHeader = ctx.header('depth')?.trim().toLowerCase();
  if (depthHeader !== undefined && depthHeader !== 'infinity' && (isMove || depthHeader !== '0')) {
    throw new DavError(400, isMove ? 'MOVE must have Depth: infinity' : 'COPY takes Depth: 0 or infinity');
  }
  const shallow = depthHeader === '0';

  const source = await ctx.stat(ctx.path, { forChange: isMove });
  if (!source) throw new DavError(404, `${ctx.path}: no such file or folder`);
  if (ctx.path === '/') throw new DavError(403, `the share root cannot be ${isMove ? 'moved' : 'copied'}`);
  if (destination === '/') throw new DavError(403, 'the share root cannot be replaced');
  if (destination === ctx.path) throw new DavError(403, 'source and destination are the same');
  const caseOnlyRename = isMove && pathKey(destination) === pathKey(ctx.path);
  if (!caseOnlyRename && source.kind === 'folder' && isWithin(destination, ctx.path)) {
    throw new DavError(409, 'a folder cannot be copied or moved into itself');
  }
  await ctx.checkIfHeader();
  if (isMove) ctx.assertUnlocked(ctx.path, { deep: true, members: true });
  const target = caseOnlyRename ? null : await ctx.stat(destination, { forChange: true });
  if (target && !overwrite) throw new DavError(412, `${destination} already exists and Overwrite is F`);
  ctx.assertUnlocked(destination, { deep: !!target, members: true });

  const modified = declaredMtime(ctx);

  let created: boolean;
  let destPath: string;
  if (!isMove && shallow && source.kind === 'folder') {
    // Depth 0 copy of a folder: the folder and its properties, none of its members
    if (target) await ctx.storage.delete(target.path, { signal: ctx.signal });
    const made = await ctx.storage.mkdir(destination, { signal: ctx.signal });
    created = !target;
    destPath = made.path;
  } else {
    const opts = { overwrite, signal: ctx.signal };
    const written = isMove ? await ctx.storage.move(source.path, destination, opts) : await ctx.storage.copy(source.path, destination, opts);
    created = written.created;
    destPath = written.entry.path;
  }
  ctx.forget(ctx.path);
  ctx.forget(destination);
  if (isMove) {
    await ctx.shared.props.move(source.path, destPath);
    await ctx.shared.locks.removeWithin(source.path);
  } else {
    await ctx.shared.props.copy(source.path, destPath, !shallow);
  }
  if (modified && source.kind === 'file') {
    await ctx.storage.setTimes(destPath, { modified }, { signal: ctx.signal });
    ctx.res.setHeader('X-OC-Mtime', 'accepted');
  }
  ctx.res.statusCode = created ? 201 : 204;
  ctx.res.setHeader('Content-Length', 0);
  ctx.res.end();
}
