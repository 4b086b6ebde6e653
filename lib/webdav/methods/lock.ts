// LOCK and UNLOCK (RFC 4918 §9.10, §9.11): exclusive and shared write locks, Depth 0 or infinity, the
// client's Timeout honoured up to a maximum, refresh by an empty LOCK carrying the token in `If:`, and
// LOCK of an unmapped URL creating an empty file (201), which is how Windows and davfs2 start a new file.
import { Readable } from 'node:stream';
import { readBody } from '../body.js';
import type { DavRequest } from '../context.js';
import { DavError, xmlEscape } from '../errors.js';
import type { ActiveLock, LockDepth, LockScope } from '../locks.js';
import { activeLockXml } from '../props.js';
import { childElements, DAV, findChild, parseXml, serialiseContent, XML_HEADER } from '../xml.js';
import { isMacMetadata } from './put.js';

/**
 * The first acceptable value of a `Timeout:` header (`Second-N`, `Infinite`), clamped to the maximum. Unknown
 * entries beside a good one are skipped (RFC 4918 lets a client list alternatives); a header with no usable entry at
 * all is a client error (400) rather than a lock granted for a time the client never asked for.
 */
export function parseTimeout(header: string | undefined, limits: { default: number; max: number }): number {
  if (!header?.trim()) return limits.default;
  for (const part of header.split(',')) {
    const t = part.trim();
    if (/^infinite$/i.test(t)) return limits.max;
    const m = /^second-(\d+)$/i.exec(t);
    if (m) return Math.max(1, Math.min(limits.max, Number(m[1])));
  }
  throw new DavError(400, 'the Timeout header must be Second-N or Infinite');
}

function lockAnswer(ctx: DavRequest, lock: ActiveLock, status: number): void {
  const body =
    `${XML_HEADER}<D:prop xmlns:D="DAV:"><D:lockdiscovery>` +
    activeLockXml(lock, ctx.shared.locks, (p) => ctx.href(p, false)) +
    '</D:lockdiscovery></D:prop>\n';
  ctx.res.statusCode = status;
  ctx.res.setHeader('Lock-Token', `<${lock.token}>`);
  ctx.res.setHeader('Content-Type', 'application/xml; charset=utf-8');
  ctx.res.setHeader('Content-Length', Buffer.byteLength(body));
  ctx.res.end(body);
}

export async function handleLock(ctx: DavRequest): Promise<void> {
  ctx.assertMayWrite();
  const body = await readBody(ctx.req);
  const locks = ctx.shared.locks;
  const timeout = parseTimeout(ctx.header('timeout'), ctx.shared.lockTimeout);

  if (!body.trim()) {
    // refresh: the token must be in the If header and its lock must cover this resource
    if (!ctx.ifHeader()) throw new DavError(400, 'a LOCK refresh needs the lock token in an If header');
    const tokens = ctx.tokens();
    const lock = locks.covering(ctx.path).find((l) => tokens.has(l.token));
    if (!lock) throw new DavError(412, 'no lock with the submitted token covers this resource', 'lock-token-matches-request-uri');
    const refreshed = await locks.refresh(lock.token, timeout);
    if (!refreshed) throw new DavError(412, 'the lock expired');
    lockAnswer(ctx, refreshed, 200);
    return;
  }

  const info = parseXml(body);
  if (info.ns !== DAV || info.local !== 'lockinfo') throw new DavError(400, 'the LOCK body must be a DAV:lockinfo element');
  const scopeEl = findChild(info, DAV, 'lockscope');
  const scopeName = scopeEl ? childElements(scopeEl).find((e) => e.ns === DAV)?.local : undefined;
  if (scopeName !== 'exclusive' && scopeName !== 'shared') throw new DavError(400, 'lockscope must be exclusive or shared');
  const typeEl = findChild(info, DAV, 'locktype');
  if (!typeEl || !findChild(typeEl, DAV, 'write')) throw new DavError(400, 'only write locks exist');
  const ownerEl = findChild(info, DAV, 'owner');
  const ownerXml = ownerEl ? serialiseContent(ownerEl) : '';
  const depthHeader = ctx.header('depth')?.trim().toLowerCase();
  if (depthHeader !== undefined && depthHeader !== '0' && depthHeader !== 'infinity') throw new DavError(400, 'LOCK takes Depth: 0 or infinity');
  const depth: LockDepth = depthHeader === '0' ? '0' : 'infinity';
  const scope = scopeName as LockScope;

  const existing = await ctx.stat(ctx.path);
  await ctx.checkIfHeader();
  // checked again right before the lock is recorded: the empty-file write below awaits, and two clients
  // locking the same new URL at once must not both get an exclusive lock
  const refuseConflicts = () => {
    const conflicting = [...locks.covering(ctx.path), ...(depth === 'infinity' ? locks.within(ctx.path) : [])].filter(
      (l) => l.scope === 'exclusive' || scope === 'exclusive',
    );
    if (!conflicting.length) return;
    const roots = [...new Set(conflicting.map((l) => l.root))];
    throw new DavError(
      423,
      `${ctx.path} is already locked`,
      'no-conflicting-lock',
      roots.map((r) => `<D:href>${xmlEscape(ctx.href(r, false))}</D:href>`).join(''),
    );
  };
  refuseConflicts();
  let status = 200;
  if (!existing) {
    if (ctx.path === '/') throw new DavError(409, 'the share root is missing');
    ctx.assertUnlocked(ctx.path, { members: true });
    if (!(ctx.shared.ignoreMacMetadata && isMacMetadata(ctx.path))) {
      await ctx.storage.write(ctx.path, Readable.from([], { objectMode: false }), { signal: ctx.signal, size: 0 });
      ctx.forget(ctx.path);
    }
    status = 201;
  }
  refuseConflicts();
  const lock = await locks.create({ root: ctx.path, depth, scope, ownerXml, principal: ctx.user?.name ?? '', timeoutSec: timeout });
  lockAnswer(ctx, lock, status);
}

export async function handleUnlock(ctx: DavRequest): Promise<void> {
  ctx.assertMayWrite();
  const raw = ctx.header('lock-token')?.trim();
  // RFC 4918 wants the token in angle brackets; Node's webdav client sends it bare, so accept both
  const m = raw ? /^<([^<>\s]+)>$|^([^<>\s]+)$/.exec(raw) : null;
  if (!m) throw new DavError(400, 'UNLOCK needs a Lock-Token header: <opaquelocktoken:…>');
  const token = (m[1] ?? m[2]) as string;
  const lock = ctx.shared.locks.covering(ctx.path).find((l) => l.token === token);
  if (!lock) throw new DavError(409, 'no lock with this token covers this resource', 'lock-token-matches-request-uri');
  if (lock.principal !== (ctx.user?.name ?? '')) throw new DavError(403, 'the lock belongs to another user');
  await ctx.shared.locks.remove(token);
  ctx.res.statusCode = 204;
  ctx.res.end();
}
