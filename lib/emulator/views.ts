// The JFS XML documents, shaped exactly like the wire samples (`research/jottacloud-wire-samples.md`): the user,
// device, mountpoint/folder listings, file details, the Trash view, search results (Links/Latest) and mode=list.
import { dashT } from './times.js';
import type { Node, Revision, Tree } from './tree.js';
import { mstyleFor } from './names.js';
import { type Attrs, document, el, parent, preserved, type XmlNode } from './xml.js';

export interface ViewContext {
  tree: Tree;
  /** The `host` attribute / error hostname, e.g. `dn-094`. */
  host: string;
  capacity: number;
}

function rootAttrs(ctx: ViewContext, extra?: Attrs): Attrs {
  return { ...extra, time: dashT(Date.now()), host: ctx.host };
}

const deletedAttr = (n: Node): string | undefined => (n.deleted === undefined ? undefined : dashT(n.deleted));

function metadata(attrs: Attrs): XmlNode {
  return { name: 'metadata', attrs: { first: '', max: '', ...attrs }, selfClose: true };
}

/**
 * Child order as the samples: number, state, created, modified, mime, mstyle, size, md5, updated.
 * `inListing`: an INCOMPLETE revision shows no size; `bare` (mode=list): a CORRUPT one shows no md5 either (JaFS).
 */
function revision(tag: string, r: Revision, inListing: boolean, bare = false): XmlNode {
  const kids = [
    el('number', r.number),
    el('state', r.state),
    el('created', dashT(r.created)),
    el('modified', dashT(r.modified)),
    el('mime', r.mime),
    el('mstyle', mstyleFor(r.mime)),
  ];
  // A CORRUPT revision has no size; an INCOMPLETE one shows its bytes-so-far only in the file's own detail.
  const showSize = r.size !== undefined && (r.state === 'COMPLETED' || (r.state === 'INCOMPLETE' && !inListing));
  if (showSize) kids.push(el('size', r.size as number));
  if (!(bare && r.state === 'CORRUPT')) kids.push(el('md5', r.md5));
  kids.push(el('updated', dashT(r.updated)));
  return parent(tag, kids);
}

function revisions(file: Node, inListing: boolean, bare = false): XmlNode[] {
  const out: XmlNode[] = [];
  if (file.current) out.push(revision('currentRevision', file.current, inListing, bare));
  if (file.latest) out.push(revision('latestRevision', file.latest, inListing, bare));
  return out;
}

/** A file inside a folder listing; a trashed one also carries `<abspath>` (the folder) as in the samples. */
function listedFile(ctx: ViewContext, f: Node): XmlNode {
  const kids: XmlNode[] = [];
  if (f.deleted !== undefined) kids.push(preserved('abspath', ctx.tree.parentPath(f)));
  kids.push(...revisions(f, true));
  return parent('file', kids, { name: f.name, uuid: f.id, deleted: deletedAttr(f) });
}

function listedFolder(ctx: ViewContext, d: Node): XmlNode {
  if (d.deleted === undefined) return { name: 'folder', attrs: { name: d.name }, selfClose: true };
  return parent('folder', [preserved('abspath', ctx.tree.parentPath(d))], { name: d.name, deleted: deletedAttr(d) });
}

function childLists(ctx: ViewContext, n: Node): { kids: XmlNode[]; folders: number; files: number } {
  const folders = ctx.tree.folderChildren(n);
  const files = ctx.tree.fileChildren(n);
  const kids: XmlNode[] = [];
  if (folders.length) kids.push(parent('folders', folders.map((d) => listedFolder(ctx, d))));
  if (files.length) kids.push(parent('files', files.map((f) => listedFile(ctx, f))));
  return { kids, folders: folders.length, files: files.length };
}

/** `GET <folder>` / `GET <mountpoint>`: one level. `withMetadata` false for mkDir answers (JaFS saw none there). */
export function folderDoc(ctx: ViewContext, n: Node, withMetadata = true): string {
  const { tree } = ctx;
  const lists = childLists(ctx, n);
  const meta = withMetadata
    ? [metadata({ total: lists.folders + lists.files, num_folders: lists.folders, num_files: lists.files })]
    : [];
  if (n.kind === 'mountpoint') {
    const device = tree.node(n.parent) as Node;
    return document(
      parent(
        'mountPoint',
        [
          preserved('name', n.name),
          preserved('path', tree.parentPath(n)),
          preserved('abspath', tree.parentPath(n)),
          el('size', tree.liveSize(n)),
          el('modified', n.modified === undefined ? '' : dashT(n.modified)),
          el('device', device.name),
          el('user', tree.user),
          ...lists.kids,
          ...meta,
        ],
        rootAttrs(ctx, { deleted: deletedAttr(n) }),
      ),
    );
  }
  return document(
    parent(
      'folder',
      [preserved('path', tree.parentPath(n)), preserved('abspath', tree.parentPath(n)), ...lists.kids, ...meta],
      rootAttrs(ctx, { name: n.name, deleted: deletedAttr(n) }),
    ),
  );
}

/** `GET <file>`: the detail with older revisions (newest first) and the public link when shared. */
export function fileDoc(ctx: ViewContext, f: Node): string {
  const kids: XmlNode[] = [preserved('path', ctx.tree.parentPath(f)), preserved('abspath', ctx.tree.parentPath(f))];
  if (f.publicURI) kids.push(el('publicURI', f.publicURI));
  kids.push(...revisions(f, false));
  if (f.history?.length) kids.push(parent('revisions', f.history.map((r) => revision('revision', r, false))));
  return document(parent('file', kids, rootAttrs(ctx, { name: f.name, uuid: f.id, deleted: deletedAttr(f) })));
}

function deviceEntry(ctx: ViewContext, d: Node): XmlNode[] {
  return [
    preserved('name', d.name),
    preserved('display_name', d.name),
    el('type', d.deviceType ?? 'WORKSTATION'),
    el('sid', d.id),
    el('size', ctx.tree.liveSize(d)),
    el('modified', d.modified === undefined ? '' : dashT(d.modified)),
  ];
}

export function userDoc(ctx: ViewContext): string {
  const { tree } = ctx;
  return document(
    parent(
      'user',
      [
        el('username', tree.user),
        el('account-type', ctx.capacity < 0 ? 'unlimited' : 'Personal'),
        el('locked', 'false'),
        el('capacity', ctx.capacity),
        el('max-devices', -1),
        el('max-mobile-devices', -1),
        el('usage', tree.usage()),
        el('read-locked', 'false'),
        el('write-locked', 'false'),
        el('quota-write-locked', 'false'),
        el('enable-sync', 'true'),
        el('enable-foldershare', 'true'),
        parent('devices', tree.devices().filter((d) => d.deleted === undefined).map((d) => parent('device', deviceEntry(ctx, d)))),
      ],
      rootAttrs(ctx),
    ),
  );
}

export function deviceDoc(ctx: ViewContext, d: Node): string {
  const mps = ctx.tree.folderChildren(d).filter((m) => m.deleted === undefined);
  const kids = [...deviceEntry(ctx, d), el('user', ctx.tree.user)];
  // A device without mountpoints has no <mountPoints> element at all (jottalib bug #26).
  if (mps.length) {
    kids.push(
      parent(
        'mountPoints',
        mps.map((m) =>
          parent('mountPoint', [
            preserved('name', m.name),
            el('size', ctx.tree.liveSize(m)),
            el('modified', m.modified === undefined ? '' : dashT(m.modified)),
          ]),
        ),
      ),
    );
  }
  kids.push(metadata({ total: mps.length, num_mountpoints: mps.length }));
  return document(parent('device', kids, rootAttrs(ctx)));
}

/** A newly created mountpoint (no listing, as in MountPointCreatePostResponse.xml). */
export function newMountPointDoc(ctx: ViewContext, m: Node): string {
  const device = ctx.tree.node(m.parent) as Node;
  return document(
    parent(
      'mountPoint',
      [
        preserved('name', m.name),
        preserved('path', ctx.tree.parentPath(m)),
        preserved('abspath', ctx.tree.parentPath(m)),
        el('size', ctx.tree.liveSize(m)),
        el('modified', m.modified === undefined ? '' : dashT(m.modified)),
        el('device', device.name),
        el('user', ctx.tree.user),
      ],
      rootAttrs(ctx),
    ),
  );
}

/** `GET jfs/<user>/Jotta/Trash`: account-wide and flat; only what was deleted as such (not the contents of a deleted folder). */
export function trashDoc(ctx: ViewContext): string {
  const { tree } = ctx;
  const entries = tree.trashEntries().sort((a, b) => (b.deleted ?? 0) - (a.deleted ?? 0));
  const folders = entries.filter((n) => n.kind !== 'file');
  const files = entries.filter((n) => n.kind === 'file');
  const kids: XmlNode[] = [
    preserved('name', 'Trash'),
    preserved('path', `/${tree.user}/Jotta`),
    preserved('abspath', `/${tree.user}/Jotta`),
    el('size', ''),
    el('modified', ''),
    el('device', 'Jotta'),
    el('user', tree.user),
  ];
  const trashAttrs = (n: Node): Attrs => ({ name: n.name, uuid: n.kind === 'file' ? n.id : undefined, deleted: deletedAttr(n), contextType: 'TRASH' });
  if (folders.length) {
    kids.push(parent('folders', folders.map((d) => parent('folder', [preserved('abspath', tree.parentPath(d))], trashAttrs(d)))));
  }
  if (files.length) {
    kids.push(
      parent(
        'files',
        files.map((f) =>
          parent('file', [preserved('abspath', tree.parentPath(f)), ...revisions(f, true)], trashAttrs(f)),
        ),
      ),
    );
  }
  kids.push(metadata({ total: entries.length, num_folders: folders.length, num_files: files.length }));
  return document(parent('mountPoint', kids, rootAttrs(ctx)));
}

/** `<searchresult>`: Links (shared files) and Latest (recently updated). `total` counts all, even when `max` cut the list. */
export function searchDoc(ctx: ViewContext, files: Node[], total: number, paging: { first?: number; max?: number } = {}): string {
  const list = files.map((f) => {
    const kids = [preserved('path', ctx.tree.parentPath(f)), preserved('abspath', ctx.tree.parentPath(f))];
    if (f.publicURI) kids.push(el('publicURI', f.publicURI));
    kids.push(...revisions(f, true));
    return parent('file', kids, { name: f.name, uuid: f.id, deleted: deletedAttr(f) });
  });
  return document(
    parent(
      'searchresult',
      [
        parent('files', list),
        metadata({ first: paging.first ?? '', max: paging.max ?? '', total, num_files: total }),
      ],
      rootAttrs(ctx),
    ),
  );
}

/** `mode=list`: every live folder of the subtree (the root first), flat, each with its files. */
export function fileDirListDoc(ctx: ViewContext, root: Node): string {
  const { tree } = ctx;
  const folders: XmlNode[] = [];
  const visit = (d: Node) => {
    const files = tree.fileChildren(d).filter((f) => f.deleted === undefined);
    const kids = [preserved('path', tree.parentPath(d)), preserved('abspath', tree.parentPath(d))];
    if (files.length) kids.push(parent('files', files.map((f) => parent('file', revisions(f, true, true), { name: f.name, uuid: f.id }))));
    folders.push(parent('folder', kids, { name: d.name }));
    for (const sub of tree.folderChildren(d)) if (sub.deleted === undefined) visit(sub);
  };
  visit(root);
  return document(parent('filedirlist', [parent('folders', folders)], rootAttrs(ctx)));
}
