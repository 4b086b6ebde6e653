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
import { SaxesParser } from 'saxes';
import type { Device, DriveInfo, File, Folder, FolderEntry, MountPoint, Quota, Revision } from './types.js';

// ---------------------------------------------------------------------------------------------------
// Times

const DASH_T = /^(\d{4})-(\d{2})-(\d{2})-?T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Parses the service's dash-T format (`2018-07-05-T15:08:02Z`) and RFC 3339; empty or unreadable → undefined. */
export function parseServiceTime(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const fast = plainDashT(value);
  if (fast !== undefined) return new Date(fast);
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

/**
 * Epoch ms of the exact form every listing entry carries three times (`2018-07-05-T15:08:02Z`), read digit by
 * digit: building an ISO string and parsing it again was a tenth of a cold listing's CPU. Anything else
 * (offsets, fractions, RFC 3339, spaces, out-of-range fields) → undefined, for the general parser.
 */
function plainDashT(s: string): number | undefined {
  if (s.length !== 21 || s.charCodeAt(10) !== 45 || s.charCodeAt(11) !== 84 || s.charCodeAt(20) !== 90) return undefined;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(14) !== 58 || s.charCodeAt(17) !== 58) return undefined;
  const num = (i: number, n: number): number => {
    let v = 0;
    for (let k = i; k < i + n; k++) {
      const c = s.charCodeAt(k) - 48;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  };
  const y = num(0, 4);
  const mo = num(5, 2);
  const d = num(8, 2);
  const h = num(12, 2);
  const mi = num(15, 2);
  const sec = num(18, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, sec);
  // 31 February and the like: leave them to the general parser, which decides as before.
  return new Date(ms).getUTCDate() === d && y >= 100 ? ms : undefined;
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
// Reading a document
//
// A SAX parser (saxes) feeds a minimal element tree: one small object per element, children in document
// order, the text of leaves. A 10,000-entry folder listing used to go through fast-xml-parser, whose
// generic object building (path matching, per-node arrays, tag-name maps) took most of a cold listing's
// CPU and left much garbage; this tree is the least the typed readers below need, and is dropped as soon
// as they have read it.

/** One element: its attributes, its text (leaves only: whitespace between child elements is dropped) and children. */
export interface XmlNode {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  text: string;
  kids: XmlNode[] | undefined;
}

/** Parses a JFS document and returns its root element name and node. Throws on XML that is not well-formed. */
export function parseDocument(xml: string): { root: string; node: XmlNode } {
  const parser = new SaxesParser({ xmlns: false, position: false });
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  let failure: Error | undefined;
  parser.on('opentag', (tag) => {
    const node: XmlNode = { name: tag.name, attrs: tag.attributes as Record<string, string>, text: '', kids: undefined };
    const parent = stack[stack.length - 1];
    if (parent) {
      if (parent.kids) parent.kids.push(node);
      else parent.kids = [node];
    } else root ??= node;
    stack.push(node);
  });
  const onText = (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    const node = stack.pop();
    // Only a leaf's text means anything here; the indentation between children is not kept.
    if (node?.kids) node.text = '';
  });
  parser.on('error', (e) => {
    failure ??= e;
  });
  parser.write(xml);
  if (!failure) parser.close();
  if (failure) throw failure;
  if (!root) throw new Error('no root element');
  return { root: root.name, node: root };
}

function childNode(node: XmlNode, key: string): XmlNode | undefined {
  const kids = node.kids;
  if (kids) for (let i = 0; i < kids.length; i++) if (kids[i]!.name === key) return kids[i];
  return undefined;
}

/** Text content of a child element (`<x>t</x>` or `<x attr>t</x>`); undefined when absent. */
function text(node: XmlNode, key: string): string | undefined {
  return childNode(node, key)?.text;
}

function attr(node: XmlNode, name: string): string | undefined {
  return Object.hasOwn(node.attrs, name) ? node.attrs[name] : undefined;
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
  const kids = childNode(node, container)?.kids;
  return kids ? kids.filter((k) => k.name === item) : [];
}

const trimmed = (s: string | undefined) => (s === undefined ? undefined : s.trim() || undefined);

/**
 * A copy of `s` that owns its characters. The parser's strings are V8 slices of the whole answer; a name or
 * MD5 kept in the metadata cache would otherwise keep the entire listing text (megabytes) alive. Joining
 * makes V8 build a fresh flat string, and the slice of it only keeps that. Short strings are copies already.
 */
function own(s: string): string;
function own(s: string | undefined): string | undefined;
function own(s: string | undefined): string | undefined {
  return s === undefined || s.length < 13 ? s : (' ' + s).slice(1);
}

/** The few distinct MIME types and states of a listing, shared instead of kept once per entry. */
const interned = new Map<string, string>();
function intern(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  let v = interned.get(s);
  if (v === undefined) {
    v = own(s);
    if (interned.size < 1000) interned.set(v, v);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------
// Typed results

function revision(node: XmlNode | undefined): Revision | undefined {
  if (!node) return undefined;
  const md5 = trimmed(text(node, 'md5'));
  return {
    number: int(text(node, 'number')) ?? 0,
    state: intern(trimmed(text(node, 'state'))) ?? '',
    created: parseServiceTime(text(node, 'created')),
    modified: parseServiceTime(text(node, 'modified')),
    updated: parseServiceTime(text(node, 'updated')),
    mime: intern(trimmed(text(node, 'mime'))),
    size: int(text(node, 'size')),
    md5: own(md5?.toLowerCase()),
  };
}

const child = childNode;

export function fileFromNode(node: XmlNode): File {
  const current = revision(child(node, 'currentRevision'));
  const latest = revision(child(node, 'latestRevision'));
  const deletedAttr = attr(node, 'deleted');
  // Only a COMPLETED current revision is a file one can read; a latestRevision alone is an upload
  // that never finished, and a failed latestRevision beside a good current one changes nothing.
  const complete = current !== undefined && current.state === 'COMPLETED';
  return {
    kind: 'file',
    name: own(attr(node, 'name') ?? text(node, 'name') ?? ''),
    uuid: own(attr(node, 'uuid')),
    parentPath: own(text(node, 'path') ?? text(node, 'abspath')),
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
    name: own(attr(node, 'name') ?? text(node, 'name') ?? ''),
    deletedAt: parseServiceTime(deletedAttr),
    deleted: deletedAttr !== undefined,
    contextType: intern(attr(node, 'contextType')),
    abspath: own(text(node, 'abspath')),
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
