// Entries: which of the service's listing entries a user sees, and how they look. Trashed entries and
// files without a completed revision (an upload that never finished, or only a CORRUPT one) are not
// files; a file whose newest upload failed is shown with its last good revision. Our own temporary
// names (replace-mode uploads, backups during a swap, case renames) are hidden too.
import { randomBytes } from 'node:crypto';
import type { File, FolderEntry } from '../jottacloud/index.js';
import type { CachedEntry } from './cache.js';
import { decodeName, maxNameLength, type NameEncoding } from './names.js';
import { UNKNOWN_TIME, type Entry } from './types.js';

/** What a hidden name is for: an upload beside its target, the old file during a swap, a case-only rename. */
export type HiddenKind = 'tmp' | 'old' | 'ren';

const HIDDEN = /^\.jottadav~(tmp|old|ren)~([0-9a-f]{8})~(.*)$/su;

/**
 * A hidden sibling name for `stored` (the target's stored name): `.jottadav~old~1a2b3c4d~report.pdf`. The
 * target's name is kept (cut to fit 255 characters) so a leftover can be matched with its file later.
 */
export function hiddenName(kind: HiddenKind, stored: string): string {
  const prefix = `.jottadav~${kind}~${randomBytes(4).toString('hex')}~`;
  return prefix + [...stored].slice(0, maxNameLength - prefix.length).join('');
}

/** For one of our hidden names: its kind and the target name it carries (undefined if it was cut). */
export function parseHidden(stored: string): { kind: HiddenKind; target?: string } | undefined {
  const m = HIDDEN.exec(stored);
  if (!m) return undefined;
  const fits = [...stored].length < maxNameLength;
  return { kind: m[1] as HiddenKind, target: fits ? m[3] : undefined };
}

export function isHidden(stored: string): boolean {
  return HIDDEN.test(stored);
}

/** A file as the user may see it: live, with a completed current revision. */
export function isVisibleFile(f: File): boolean {
  return !f.deleted && f.complete && !isHidden(f.name);
}

export function isVisibleFolder(f: FolderEntry | { name: string; deleted: boolean }): boolean {
  return !f.deleted && !isHidden(f.name);
}

export { UNKNOWN_TIME } from './types.js';

export function fileEntry(f: File, encoding: NameEncoding): CachedEntry {
  const modified = f.modified?.getTime() ?? UNKNOWN_TIME;
  return {
    name: decodeName(f.name, encoding),
    stored: f.name,
    kind: 'file',
    size: f.size ?? 0,
    md5: f.md5,
    modified,
    created: f.created?.getTime() ?? modified,
    contentType: f.currentRevision?.mime,
    revision: f.currentRevision?.number,
  };
}

export function folderEntry(name: string, encoding: NameEncoding, modified?: Date): CachedEntry {
  const t = modified?.getTime() ?? UNKNOWN_TIME;
  return { name: decodeName(name, encoding), stored: name, kind: 'folder', size: 0, modified: t, created: t };
}

/** The public shape of a cached entry at `path`. */
export function toEntry(c: CachedEntry, path: string, extra: Partial<Entry> = {}): Entry {
  const entry: Entry = {
    name: c.name,
    path,
    kind: c.kind,
    size: c.kind === 'file' ? c.size : 0,
    modified: new Date(c.modified),
    created: new Date(c.created),
    ...extra,
  };
  if (c.md5) entry.md5 = c.md5;
  if (c.contentType) entry.contentType = c.contentType;
  if (c.kind === 'file') entry.etag = `"${c.md5 ?? 'x'}-${c.size.toString(16)}-${Math.floor(c.modified / 1000).toString(16)}"`;
  return entry;
}
