// OPTIONS on any path inside the share, existing or not: DAV class 1 and 2, MS-Author-Via, and the methods
// that make sense for what is (or is not) there. Never fails for lack of the resource — davfs2, gvfs and
// Windows decide from this answer whether the share is WebDAV at all.
import type { DavRequest } from '../context.js';

const FILE = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK';
const FOLDER = 'OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK';
const UNMAPPED = 'OPTIONS, PUT, MKCOL, LOCK, PROPFIND';

export async function handleOptions(ctx: DavRequest): Promise<void> {
  const entry = await ctx.stat(ctx.path).catch(() => undefined);
  const allow = entry === undefined ? FILE : entry === null ? UNMAPPED : entry.kind === 'folder' ? FOLDER : FILE;
  const res = ctx.res;
  res.statusCode = 200;
  res.setHeader('DAV', '1, 2');
  res.setHeader('MS-Author-Via', 'DAV');
  res.setHeader('Allow', allow);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Length', 0);
  res.end();
}
