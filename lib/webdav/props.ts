// Live properties: what PROPFIND reports about an entry, computed from the storage entry and the lock table
// alone (one listing answers a whole Depth 1 PROPFIND), plus the XML for lock discovery. Which live
// properties PROPPATCH may change (the times, which reach Jottacloud) is decided here too.
import mime from 'mime-types';
import { isKnownTime, type Entry, type Quota } from '../storage/types.js';
import type { DavRequest } from './context.js';
import { etagOf } from './context.js';
import { xmlEscape } from './errors.js';
import type { ActiveLock, LockTable } from './locks.js';
import { clark, DAV } from './xml.js';

export const OC = 'http://owncloud.org/ns';
export const MS = 'urn:schemas-microsoft-com:';

/** Returned for `allprop` (RFC 4918 §9.1); vendor extras only when asked for by name. */
export const ALLPROP_LIVE: Array<[string, string]> = [
  [DAV, 'resourcetype'],
  [DAV, 'getcontentlength'],
  [DAV, 'getlastmodified'],
  [DAV, 'creationdate'],
  [DAV, 'getetag'],
  [DAV, 'getcontenttype'],
  [DAV, 'displayname'],
  [DAV, 'supportedlock'],
  [DAV, 'lockdiscovery'],
];

export const QUOTA_PROPS: Array<[string, string]> = [
  [DAV, 'quota-available-bytes'],
  [DAV, 'quota-used-bytes'],
];

const EXTRA_LIVE: Array<[string, string]> = [
  ...QUOTA_PROPS,
  [OC, 'checksums'],
  [MS, 'Win32LastModifiedTime'],
  [MS, 'Win32CreationTime'],
];

const LIVE = new Set([...ALLPROP_LIVE, ...EXTRA_LIVE].map(([ns, l]) => clark(ns, l)));

export function isLiveProperty(ns: string, local: string): boolean {
  return LIVE.has(clark(ns, local));
}

/** Live properties PROPPATCH may set, and which time of the entry each one sets. */
export const SETTABLE_TIMES: Record<string, 'modified' | 'created'> = {
  [clark(DAV, 'getlastmodified')]: 'modified',
  // rclone's owncloud-style fallback: `<d:lastmodified>` with Unix seconds
  [clark(DAV, 'lastmodified')]: 'modified',
  [clark(MS, 'Win32LastModifiedTime')]: 'modified',
  [clark(MS, 'Win32CreationTime')]: 'created',
};

/** Every property name an entry has live (for `propname`). */
export function liveNames(entry: Entry): Array<[string, string]> {
  const names = ALLPROP_LIVE.filter(([, l]) => entry.kind === 'file' || (l !== 'getcontentlength' && l !== 'getcontenttype'));
  const extra = entry.kind === 'folder' ? EXTRA_LIVE.filter(([ns]) => ns === DAV) : EXTRA_LIVE.filter(([ns]) => ns !== DAV);
  return [...names, ...extra].filter(([, l]) => l !== 'getetag' || etagOf(entry) !== undefined);
}

/**
 * An ETag is always quoted, so `xmlEscape`'s nothing-to-escape shortcut never applies to it whole: its quotes are
 * written directly and only the inside is escaped (the same text `xmlEscape(etag)` gives).
 */
function escapeEtag(etag: string): string {
  if (etag.length >= 2 && etag.charCodeAt(0) === 34 && etag.charCodeAt(etag.length - 1) === 34) {
    return `&quot;${xmlEscape(etag.slice(1, -1))}&quot;`;
  }
  return xmlEscape(etag);
}

export function rfc1123(d: Date): string {
  return d.toUTCString();
}

export function rfc3339(d: Date): string {
  // toISOString always ends in `.sssZ`; dropping the milliseconds this way is cheaper than a regex per entry.
  const iso = d.toISOString();
  return iso.slice(0, iso.length - 5) + 'Z';
}

export function contentTypeOf(entry: Entry): string {
  return entry.contentType || mime.lookup(entry.name) || 'application/octet-stream';
}

const SUPPORTED_LOCK =
  '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
  '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>';

export function activeLockXml(lock: ActiveLock, table: LockTable, href: (path: string) => string): string {
  return (
    '<D:activelock>' +
    '<D:locktype><D:write/></D:locktype>' +
    `<D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.depth === '0' ? '0' : 'infinity'}</D:depth>` +
    (lock.ownerXml ? `<D:owner>${lock.ownerXml}</D:owner>` : '') +
    `<D:timeout>Second-${table.remaining(lock)}</D:timeout>` +
    `<D:locktoken><D:href>${xmlEscape(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${xmlEscape(href(lock.root))}</D:href></D:lockroot>` +
    '</D:activelock>'
  );
}

/**
 * The inner XML of live property `{ns}local` for `entry`, or `undefined` when the entry has no such
 * property (reported 404 in its propstat). Synchronous: a Depth 1 PROPFIND calls it for every property of
 * every child, so the one fact that needs the service — the quota, for folders — is fetched once per
 * request by the caller and handed in (`undefined` when it could not be had: the quota properties are then missing).
 */
export function liveValue(ctx: DavRequest, entry: Entry, ns: string, local: string, quota: Quota | undefined): string | undefined {
  const isFolder = entry.kind === 'folder';
  if (ns === DAV) {
    switch (local) {
      case 'resourcetype':
        return isFolder ? '<D:collection/>' : '';
      case 'getcontentlength':
        return isFolder ? undefined : String(entry.size);
      // Jottacloud gives folders no times: leave the property out (clients show nothing) rather than show 1970.
      case 'getlastmodified':
        return isKnownTime(entry.modified) ? rfc1123(entry.modified) : undefined;
      case 'creationdate':
        return isKnownTime(entry.created) ? rfc3339(entry.created) : undefined;
      case 'getetag': {
        const etag = etagOf(entry);
        return etag === undefined ? undefined : escapeEtag(etag);
      }
      case 'getcontenttype':
        return isFolder ? undefined : xmlEscape(contentTypeOf(entry));
      case 'displayname':
        return xmlEscape(entry.name);
      case 'supportedlock':
        return SUPPORTED_LOCK;
      case 'lockdiscovery': {
        const locks = ctx.shared.locks.covering(entry.path);
        return locks.length ? locks.map((l) => activeLockXml(l, ctx.shared.locks, (p) => ctx.href(p, false))).join('') : '';
      }
      case 'quota-available-bytes':
        // RFC 4331 has no "unlimited"; a very large number is what clients handle best
        return isFolder && quota ? String(quota.available ?? Number.MAX_SAFE_INTEGER) : undefined;
      case 'quota-used-bytes':
        return isFolder && quota ? String(quota.used) : undefined;
      default:
        return undefined;
    }
  }
  if (ns === OC && local === 'checksums') {
    return entry.md5 ? `<oc:checksum xmlns:oc="${OC}">MD5:${entry.md5}</oc:checksum>` : undefined;
  }
  if (ns === MS && local === 'Win32LastModifiedTime') return rfc1123(entry.modified);
  if (ns === MS && local === 'Win32CreationTime') return rfc1123(entry.created);
  return undefined;
}

/** True for the live properties whose value needs the account's quota (one storage call per request). */
export function needsQuota(ns: string, local: string): boolean {
  return ns === DAV && (local === 'quota-available-bytes' || local === 'quota-used-bytes');
}

/** Parses a time PROPPATCH sent: RFC 1123 / any Date-parsable text, or Unix seconds (rclone). */
export function parsePropTime(text: string): Date | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return new Date(Math.floor(Number(t)) * 1000);
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
