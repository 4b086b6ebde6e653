// Reading JFS XML documents (`<user>`, `<device>`, `<mountPoint>`, `<folder>`, `<file>`) into the typed
// results of `types.ts`, and the two time formats the service uses. The streamed `mode=liststream`
// answer is not here: `liststream.ts` reads it element by element.
//
// Wire facts this file relies on (see the protocol notes and wire samples):
// - Times are `YYYY-MM-DD-THH:MM:SSZ` (a `-` before the `T`, offsets without a colon); newer answers use
//   RFC 3339. An empty element means "never".
// - Name-like elements carry `xml:space="preserve"`; names can start or end with spaces, so no value is trimmed.
// - `deleted` is an attribute holding the deletion time, not a boolean: presence is what counts.
// - A file can carry a good `currentRevision` and a failed `latestRevision` at once; a file whose first
//   upload never completed has only the latter. Listings leave `size` out of failed revisions.
import { XMLParser } from 'fast-xml-parser';
import type { Device, DriveInfo, File, Folder, FolderEntry, MountPoint, Quota, Revision } from './types.js';

// ---------------------------------------------------------------------------------------------------
// Times

const DASH_T = /^(\d{4})-(\d{2})-(\d{2})-?T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Parses the service's dash-T format (`2018-07-05-T15:08:02Z`) and RFC 3339; empty or unreadable → undefined. */
export function parseServiceTime(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const s = value.trim();
  if (s === '') return undefined;
  const m = DASH_T.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  let offset = 'Z';
  if (zone!.toUpperCase() !== 'Z') offset = zone!.includes(':') ? zone! : `${zone!.slice(0, 3)}:${zone!.slice(3)}`;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac ?? ''}${offset}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2018-07-05-T15:08:02Z` (UTC, whole seconds): what the JFS headers `JCreated`/`JModified` expect. */
export function formatJottaTime(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `-T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}Z`
  );
}

/** RFC 3339 in UTC with whole seconds (the service keeps 1-second precision), for the JSON API. */
export function formatRfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------------
// Generic node access

type XmlNode = Record<string, unknown>;

/** Elements that can repeat inside a list element; the document root itself is never an array. */
const REPEATING = new Set(['folder', 'file', 'device', 'mountPoint', 'revision']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Names like `007` or `true` must stay strings.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Numeric character references (`&#x263A;`) are decoded only with this on.
  htmlEntities: true,
  isArray: (name, jpath) => REPEATING.has(name) && String(jpath).includes('.'),
});

/** Parses a JFS document and returns its root element name and node. */
export function parseDocument(xml: string): { root: string; node: XmlNode } {
  const doc = parser.parse(xml) as XmlNode;
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith('?') || key.startsWith('#') || key.startsWith('@_')) continue;
    return { root: key, node: asNode(value) };
  }
  throw new Error('no root element');
}

function asNode(v: unknown): XmlNode {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as XmlNode) : {};
}

/** Text content of a child element (`<x>t</x>` or `<x attr>t</x>`); undefined when absent. */
function text(node: XmlNode, key: string): string | undefined {
  const v = node[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && !Array.isArray(v)) {
    const t = (v as XmlNode)['#text'];
    return typeof t === 'string' ? t : '';
  }
  return undefined;
}

function attr(node: XmlNode, name: string): string | undefined {
  const v = node[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

function int(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : undefined;
}

function bool(s: string | undefined): boolean {
  return s?.trim().toLowerCase() === 'true';
}

function list(node: XmlNode, container: string, item: string): XmlNode[] {
  const c = node[container];
  if (c === undefined || c === null || typeof c !== 'object') return [];
  const items = (c as XmlNode)[item];
  return Array.isArray(items) ? items.map(asNode) : items === undefined ? [] : [asNode(items)];
}

const trimmed = (s: string | undefined) => (s === undefined ? undefined : s.trim() || undefined);

// ---------------------------------------------------------------------------------------------------
// Typed results

function revision(node: XmlNode | undefined): Revision | undefined {
  if (!node) return undefined;
  const md5 = trimmed(text(node, 'md5'));
  return {
    number: int(text(node, 'number')) ?? 0,
    state: trimmed(text(node, 'state')) ?? '',
    created: parseServiceTime(text(node, 'created')),
    modified: parseServiceTime(text(node, 'modified')),
    updated: parseServiceTime(text(node, 'updated')),
    mime: trimmed(text(node, 'mime')),
    size: int(text(node, 'size')),
    md5: md5?.toLowerCase(),
  };
}

function child(node: XmlNode, key: string): XmlNode | undefined {
  const v = node[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as XmlNode) : undefined;
}

export function fileFromNode(node: XmlNode): File {
  const current = revision(child(node, 'currentRevision'));
  const latest = revision(child(node, 'latestRevision'));
  const deletedAttr = attr(node, 'deleted');
  // Only a COMPLETED current revision is a file one can read; a latestRevision alone is an upload
  // that never finished, and a failed latestRevision beside a good current one changes nothing.
  const complete = current !== undefined && current.state === 'COMPLETED';
  return {
    kind: 'file',
    name: attr(node, 'name') ?? text(node, 'name') ?? '',
    uuid: attr(node, 'uuid'),
    parentPath: text(node, 'path') ?? text(node, 'abspath'),
    deletedAt: parseServiceTime(deletedAttr),
    deleted: deletedAttr !== undefined,
    contextType: attr(node, 'contextType'),
    currentRevision: current,
    latestRevision: latest,
    revisions: list(node, 'revisions', 'revision').map((r) => revision(r)!),
    publicUri: trimmed(text(node, 'publicURI')),
    publicSharePath: trimmed(text(node, 'publicSharePath')),
    complete,
    size: complete ? current.size : undefined,
    md5: complete ? current.md5 : undefined,
    modified: complete ? current.modified : undefined,
    created: complete ? current.created : undefined,
    updated: complete ? current.updated : undefined,
  };
}

function folderEntry(node: XmlNode): FolderEntry {
  const deletedAttr = attr(node, 'deleted');
  return {
    kind: 'folder',
    name: attr(node, 'name') ?? text(node, 'name') ?? '',
    deletedAt: parseServiceTime(deletedAttr),
    deleted: deletedAttr !== undefined,
    contextType: attr(node, 'contextType'),
    abspath: text(node, 'abspath'),
  };
}

export function folderFromNode(root: string, node: XmlNode): Folder {
  const deletedAttr = attr(node, 'deleted');
  const metadata = child(node, 'metadata');
  return {
    kind: root === 'mountPoint' ? 'mountPoint' : 'folder',
    name: attr(node, 'name') ?? text(node, 'name') ?? '',
    parentPath: text(node, 'path'),
    abspath: text(node, 'abspath'),
    deletedAt: parseServiceTime(deletedAttr),
    deleted: deletedAttr !== undefined,
    size: int(text(node, 'size')),
    modified: parseServiceTime(text(node, 'modified')),
    folders: list(node, 'folders', 'folder').map(folderEntry),
    files: list(node, 'files', 'file').map(fileFromNode),
    counts: metadata
      ? {
          total: int(attr(metadata, 'total')),
          numFolders: int(attr(metadata, 'num_folders')),
          numFiles: int(attr(metadata, 'num_files')),
        }
      : undefined,
  };
}

export function mountPointFromNode(node: XmlNode): MountPoint {
  const deletedAttr = attr(node, 'deleted');
  return {
    name: text(node, 'name') ?? attr(node, 'name') ?? '',
    size: int(text(node, 'size')),
    modified: parseServiceTime(text(node, 'modified')),
    deletedAt: parseServiceTime(deletedAttr),
    deleted: deletedAttr !== undefined,
    device: trimmed(text(node, 'device')),
    user: trimmed(text(node, 'user')),
  };
}

export function deviceFromNode(node: XmlNode): Device {
  return {
    name: text(node, 'name') ?? '',
    displayName: text(node, 'display_name'),
    type: trimmed(text(node, 'type')),
    sid: trimmed(text(node, 'sid')),
    size: int(text(node, 'size')),
    modified: parseServiceTime(text(node, 'modified')),
    user: trimmed(text(node, 'user')),
    mountPoints: list(node, 'mountPoints', 'mountPoint').map(mountPointFromNode),
  };
}

export function quotaOf(capacity: number | undefined, usage: number): Quota {
  const unlimited = capacity === undefined || capacity < 0;
  return {
    capacity: unlimited ? undefined : capacity,
    usage,
    unlimited,
    free: unlimited ? undefined : Math.max(0, capacity - usage),
    exceeded: !unlimited && usage >= capacity,
  };
}

export function driveInfoFromNode(node: XmlNode): DriveInfo {
  const usage = int(text(node, 'usage')) ?? 0;
  return {
    username: trimmed(text(node, 'username')) ?? '',
    accountType: trimmed(text(node, 'account-type')),
    locked: bool(text(node, 'locked')),
    readLocked: bool(text(node, 'read-locked')),
    writeLocked: bool(text(node, 'write-locked')),
    quotaWriteLocked: bool(text(node, 'quota-write-locked')),
    quota: quotaOf(int(text(node, 'capacity')), usage),
    maxDevices: int(text(node, 'max-devices')),
    devices: list(node, 'devices', 'device').map(deviceFromNode),
  };
}
