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
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return undefined;
  // 31 February and the like: leave them to the general parser, which decides as before.
  if (d > daysInMonth(y, mo)) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, sec);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days of month `mo` (1-12) of year `y` in the Gregorian calendar (what Date uses), without making a Date. */
function daysInMonth(y: number, mo: number): number {
  if (mo !== 2) return DAYS_IN_MONTH[mo - 1]!;
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
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
// A small scanner made for these answers feeds a minimal element tree: one small object per element, children
// in document order, the text of leaves. JFS documents are plain XML — elements, attributes, the five named
// entities and character references, now and then a comment, CDATA section or the XML declaration — and a
// 10,000-entry folder listing is some 5 MB of it: a general SAX parser checking every character one call at a
// time took about 90 ms for that, a third of a cold listing's own CPU; jumping from `<` to `>` with indexOf takes
// a fraction. Still refused as unreadable: unbalanced or mismatched tags, unquoted or duplicate attributes,
// unknown entities, `<` in an attribute value, text or a second element outside the root, and any DOCTYPE
// (no answer of the service has one, and none is needed to read these documents).

/** One element: its attributes, its text (leaves only: whitespace between child elements is dropped) and children. */
export interface XmlNode {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  text: string;
  kids: XmlNode[] | undefined;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Resolves entity and character references in `raw` (text or an attribute value). */
function decodeEntities(raw: string): string {
  let out = '';
  let from = 0;
  for (let amp = raw.indexOf('&'); amp !== -1; amp = raw.indexOf('&', from)) {
    const semi = raw.indexOf(';', amp + 1);
    if (semi === -1 || semi - amp > 12) throw new Error(`unterminated entity reference at "${raw.slice(amp, amp + 12)}"`);
    const ref = raw.slice(amp + 1, semi);
    let value: string | undefined;
    if (ref.charCodeAt(0) === 35 /* # */) {
      const hex = ref.charCodeAt(1) === 120; /* x */
      const digits = ref.slice(hex ? 2 : 1);
      const cp = digits !== '' && (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits) ? parseInt(digits, hex ? 16 : 10) : NaN;
      if (!(cp > 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) throw new Error(`bad character reference &${ref};`);
      value = String.fromCodePoint(cp);
    } else if (Object.hasOwn(NAMED_ENTITIES, ref)) value = NAMED_ENTITIES[ref];
    if (value === undefined) throw new Error(`unknown entity &${ref};`);
    out += raw.slice(from, amp) + value;
    from = semi + 1;
  }
  return from === 0 ? raw : out + raw.slice(from);
}

/** Text as XML reads it: line ends are `\n` (a CR or CRLF in the document becomes one), references resolved. */
function textValue(raw: string): string {
  const t = raw.indexOf('\r') === -1 ? raw : raw.replace(/\r\n?/g, '\n');
  return t.indexOf('&') === -1 ? t : decodeEntities(t);
}

/** An attribute value as XML reads it: tabs and line ends become spaces, references resolved. */
function attrValue(raw: string): string {
  if (raw.indexOf('<') !== -1) throw new Error('"<" in an attribute value');
  const t = /[\t\n\r]/.test(raw) ? raw.replace(/\r\n|[\t\n\r]/g, ' ') : raw;
  return t.indexOf('&') === -1 ? t : decodeEntities(t);
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 9 || c === 13;

/** The attributes of every element that has none (most of a listing's): one shared, frozen object. */
const NO_ATTRS: Readonly<Record<string, string>> = Object.freeze({});

/** True when a start tag begins at `lt` (a `<` followed by a name, not `/`, `!` or `?`). */
function startsElement(xml: string, lt: number): boolean {
  const c = xml.charCodeAt(lt + 1);
  return lt < xml.length && c !== 47 && c !== 33 && c !== 63;
}

/** True when `xml[from, close)` is `name` followed by nothing but white space. */
function closes(xml: string, from: number, close: number, name: string): boolean {
  if (close - from < name.length || !xml.startsWith(name, from)) return false;
  for (let i = from + name.length; i < close; i++) if (!isSpace(xml.charCodeAt(i))) return false;
  return true;
}

/**
 * The element name at `xml[from, to)`, as one string per distinct name of the document: a listing has a dozen
 * names repeated for each of its thousands of entries, and slicing each anew was 11 strings per file.
 */
function elementName(names: string[], xml: string, from: number, to: number): string {
  const len = to - from;
  for (let k = 0; k < names.length; k++) {
    const known = names[k]!;
    if (known.length === len && xml.startsWith(known, from)) return known;
  }
  const name = xml.slice(from, to);
  if (names.length < 64) names.push(name);
  return name;
}

/**
 * The entries of a folder listing, typed as each one closes (`parseDocument` with `listing: true`): the `<file>`
 * and `<folder>` elements of the root's first `<files>` and `<folders>`. Each entry's elements are then garbage
 * as soon as it is read, instead of a tree of the whole listing (a dozen objects per file) living until the
 * last entry is parsed. Measured on a 10,000-entry listing: GC time per listing about halved (17.5 -> 9.5 ms),
 * parse and typing 61 -> 50 ms.
 */
export interface ListingEntries {
  files: File[];
  folders: FolderEntry[];
}

/**
 * Parses a JFS document and returns its root element name and node. Throws on XML that is not well-formed.
 * With `listing: true` the root's first `<files>` and `<folders>` are read into `listing` (typed entries, in
 * document order) instead of into the tree: their `<file>`/`<folder>` children are not kids of the container.
 */
export function parseDocument(xml: string): { root: string; node: XmlNode };
export function parseDocument(xml: string, options: { listing: true }): { root: string; node: XmlNode; listing: ListingEntries };
export function parseDocument(xml: string, options: { listing?: boolean } = {}): { root: string; node: XmlNode; listing?: ListingEntries } {
  const stack: XmlNode[] = [];
  const names: string[] = [];
  let root: XmlNode | undefined;
  const listing: ListingEntries | undefined = options.listing ? { files: [], folders: [] } : undefined;
  // The containers read into `listing` (the root's first `<files>` and `<folders>`), and the entry element being
  // read inside one (kept out of the tree; typed and dropped when it closes).
  let filesNode: XmlNode | undefined;
  let foldersNode: XmlNode | undefined;
  let entry: XmlNode | undefined;
  const takeEntry = (node: XmlNode) => {
    if (node.name === 'file') listing!.files.push(fileFromNode(node));
    else listing!.folders.push(folderEntry(node));
    entry = undefined;
  };
  const n = xml.length;
  let pos = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (why: string): never => {
    throw new Error(`${why} (at character ${pos})`);
  };
  while (pos < n) {
    const lt = xml.indexOf('<', pos);
    const textEnd = lt === -1 ? n : lt;
    if (textEnd > pos) {
      const top = stack[stack.length - 1];
      if (top) {
        // Text only matters in a leaf; the indentation around child elements is not kept — nor read when a
        // child's start tag follows it (the element is no leaf then: its text is dropped when it closes).
        if (top.kids === undefined && !startsElement(xml, textEnd)) top.text += textValue(xml.slice(pos, textEnd));
      } else {
        for (let i = pos; i < textEnd; i++) if (!isSpace(xml.charCodeAt(i))) fail('text outside the root element');
      }
    }
    if (lt === -1) break;
    pos = lt + 1;
    const c = xml.charCodeAt(pos);
    if (c === 63 /* ? */) {
      // the XML declaration or a processing instruction
      const close = xml.indexOf('?>', pos + 1);
      if (close === -1) fail('unterminated processing instruction');
      pos = close + 2;
    } else if (c === 33 /* ! */) {
      if (xml.startsWith('--', pos + 1)) {
        const close = xml.indexOf('-->', pos + 3);
        if (close === -1) fail('unterminated comment');
        pos = close + 3;
      } else if (xml.startsWith('[CDATA[', pos + 1)) {
        const close = xml.indexOf(']]>', pos + 8);
        if (close === -1) fail('unterminated CDATA section');
        const top = stack[stack.length - 1];
        if (!top) fail('CDATA outside the root element');
        else if (top.kids === undefined) top.text += xml.slice(pos + 8, close);
        pos = close + 3;
      } else fail('a DOCTYPE or other markup declaration is not expected');
    } else if (c === 47 /* / */) {
      const close = xml.indexOf('>', pos + 1);
      if (close === -1) fail('unterminated closing tag');
      const node = stack.pop();
      // Compared in place: a string per closing tag was a tenth of what reading a listing allocates.
      if (!node || !closes(xml, pos + 1, close, node.name)) fail(`closing tag </${xml.slice(pos + 1, close).trimEnd()}> does not match <${node?.name ?? ''}>`);
      else if (node.kids) node.text = '';
      if (node !== undefined && node === entry) takeEntry(node);
      pos = close + 1;
    } else {
      // a start tag: the name ends at white space, `/` or `>`
      let i = pos;
      for (; i < n; i++) {
        const k = xml.charCodeAt(i);
        if (k === 62 || k === 47 || isSpace(k)) break;
      }
      if (i === pos || i >= n) fail('bad start tag');
      const name = elementName(names, xml, pos, i);
      let attrs: Record<string, string> | undefined;
      let selfClosing = false;
      for (;;) {
        while (i < n && isSpace(xml.charCodeAt(i))) i++;
        const k = xml.charCodeAt(i);
        if (k === 62 /* > */) {
          i++;
          break;
        }
        if (k === 47 /* / */ && xml.charCodeAt(i + 1) === 62) {
          selfClosing = true;
          i += 2;
          break;
        }
        const eq = xml.indexOf('=', i);
        if (eq === -1) fail('attribute without a value');
        const attrName = xml.slice(i, eq).trimEnd();
        // (a plain object holds the attributes: `__proto__` is the one name that must not become a key of it)
        if (attrName === '' || attrName === '__proto__' || /[\s<>/"']/.test(attrName)) fail('bad attribute name');
        let q = eq + 1;
        while (q < n && isSpace(xml.charCodeAt(q))) q++;
        const quote = xml.charCodeAt(q);
        if (quote !== 34 && quote !== 39) fail('unquoted attribute value');
        const end = xml.indexOf(quote === 34 ? '"' : "'", q + 1);
        if (end === -1) fail('unterminated attribute value');
        attrs ??= {};
        if (Object.hasOwn(attrs, attrName)) fail(`duplicate attribute ${attrName}`);
        attrs[attrName] = attrValue(xml.slice(q + 1, end));
        i = end + 1;
        const after = xml.charCodeAt(i);
        if (!(after === 62 || after === 47 || isSpace(after))) fail('no white space between attributes');
      }
      const node: XmlNode = { name, attrs: attrs ?? NO_ATTRS, text: '', kids: undefined };
      const parent = stack[stack.length - 1];
      if (parent !== undefined && ((parent === filesNode && name === 'file') || (parent === foldersNode && name === 'folder'))) {
        // an entry of the listing: read on its own (see ListingEntries)
        entry = node;
      } else if (parent) {
        if (parent.kids) parent.kids.push(node);
        else parent.kids = [node];
        if (listing && parent === root) {
          if (name === 'files') filesNode ??= node;
          else if (name === 'folders') foldersNode ??= node;
        }
      } else if (root) fail('a second root element');
      else root = node;
      if (!selfClosing) stack.push(node);
      else if (node === entry) takeEntry(node);
      pos = i;
    }
  }
  if (stack.length) throw new Error(`unclosed element <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new Error('no root element');
  return listing ? { root: root.name, node: root, listing } : { root: root.name, node: root };
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

/** The children of `<currentRevision>`/`<latestRevision>` that a Revision is made of. */
type RevisionField = 'number' | 'state' | 'created' | 'modified' | 'updated' | 'mime' | 'size' | 'md5';
const REVISION_FIELDS: ReadonlySet<string> = new Set<RevisionField>(['number', 'state', 'created', 'modified', 'updated', 'mime', 'size', 'md5']);

function revision(node: XmlNode | undefined): Revision | undefined {
  if (!node) return undefined;
  // One pass over the children instead of one search per field: a listing reads this for every file.
  const f: Partial<Record<RevisionField, string>> = {};
  const kids = node.kids;
  if (kids) {
    for (let i = 0; i < kids.length; i++) {
      const k = kids[i]!;
      if (REVISION_FIELDS.has(k.name)) f[k.name as RevisionField] ??= k.text;
    }
  }
  return {
    number: int(f.number) ?? 0,
    state: intern(trimmed(f.state)) ?? '',
    created: parseServiceTime(f.created),
    modified: parseServiceTime(f.modified),
    updated: parseServiceTime(f.updated),
    mime: intern(trimmed(f.mime)),
    size: int(f.size),
    md5: own(trimmed(f.md5)?.toLowerCase()),
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

/** A folder document; `listing`: its entries as `parseDocument` read them with `listing: true`. */
export function folderFromNode(root: string, node: XmlNode, listing?: ListingEntries): Folder {
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
    folders: listing ? listing.folders : list(node, 'folders', 'folder').map(folderEntry),
    files: listing ? listing.files : list(node, 'files', 'file').map(fileFromNode),
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
