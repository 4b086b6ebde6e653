// The JFS routes (`jfs.jottacloud.com/jfs/<user>/<device>/<mountpoint>/<path…>`): reads (listing, file detail,
// bytes with Range, liststream, mode=list, share links, the Trash/Links/Latest views) and the POST verbs
// (mkDir, mv, mvDir, cp, dl, rm, dlDir, rmDir, cphash; device and mountpoint creation). Answers are XML.
//
// Decisions where the notes leave room (documented in README.md):
// - mkDir creates missing parents (JaFS saw nested paths created in one call; rclone sends one mkDir per level only
//   for the parent of a copy/move target), and brings a trashed folder on the path back.
// - mv/cp/mvDir create the destination's missing parents (JaFS).
// - mvDir onto an existing folder — live or trashed — fails with 409 UniqueFileException (the "move onto a previously
//   deleted path fails; emptying the trash helps" behaviour); mv/cp onto a trashed file land as a new revision of that
//   entry, which stays trashed (rclone #6112).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorCore } from './core.js';
import { errors } from './errors.js';
import { discardBody, readSmallBody, sendEmpty, sendStream, sendXml, writeHead } from './http.js';
import { checkReadableName, nameKey } from './names.js';
import { parseClientTime, rfc3339Millis, toSeconds } from './times.js';
import type { Node } from './tree.js';
import { deviceDoc, fileDirListDoc, fileDoc, folderDoc, newMountPointDoc, searchDoc, trashDoc, userDoc } from './views.js';
import { escapeXml, XML_DECLARATION } from './xml.js';

/** Query keys that name a POST command, in the order they are looked for. */
export const JFS_VERBS = ['mkDir', 'mvDir', 'mv', 'cp', 'dlDir', 'rmDir', 'dl', 'rm', 'cphash'] as const;

/** Mountpoints of the built-in device that are views, not storage. */
const VIEWS = new Set(['trash', 'links', 'latest']);
const READ_ONLY = new Set(['shared', ...VIEWS]);

function decodeSegments(raw: string): string[] {
  return raw
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw errors.invalidArgument('Bad request');
      }
    });
}

interface Located {
  device: Node;
  mountpoint: Node;
  /** Segments below the mountpoint. */
  rest: string[];
}

export class JfsRoutes {
  constructor(private readonly core: EmulatorCore) {}

  private get tree() {
    return this.core.tree;
  }

  private xml(res: ServerResponse, status: number, body: string): Promise<void> {
    return sendXml(this.core.responder, res, status, body);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, user: string): Promise<void> {
    // The raw path: URL parsing would resolve `.`/`..` segments, which the service refuses instead.
    const rawPath = (req.url ?? '/').split('?')[0];
    const segs = decodeSegments(rawPath.slice('/jfs/'.length));
    const method = req.method ?? 'GET';
    if (segs.length === 0 || nameKey(segs[0]) !== nameKey(user)) {
      throw errors.accessDenied(`Access is denied to /${segs[0] ?? ''}`);
    }
    for (const s of segs) checkReadableName(s);
    const q = url.searchParams;
    const verb = method === 'POST' ? JFS_VERBS.find((v) => q.has(v)) : undefined;

    if (segs.length === 1) {
      if (method !== 'GET') throw errors.noCommand();
      return this.xml(res, 200, userDoc(this.core.view));
    }

    const device = this.tree.device(segs[1]);
    if (segs.length === 2) return this.deviceRoute(req, res, q, segs[1], device);
    if (!device || device.deleted !== undefined) throw errors.noSuchDevice(`Device /${user}/${segs[1]}`);

    const mpKey = nameKey(segs[2]);
    if (this.tree.isBuiltinDevice(device) && VIEWS.has(mpKey)) {
      // Views are virtual: their entries cannot be addressed by any verb (aeroftp measured 404s for mv/mvDir on
      // Trash/<name>, and the no-command 500 for `?restore=true`).
      const where = '/' + [user, ...segs.slice(1)].join('/');
      if (method === 'POST') {
        if (!verb) throw errors.noCommand();
        if (verb.endsWith('Dir')) throw errors.noSuchPath(`Source directory ${where} does not exist`);
        throw errors.noSuchFile(`Source file ${where} does not exist`);
      }
      if (segs.length > 3) throw errors.noSuchPath(`Directory ${where}`);
      return this.view(res, mpKey, q);
    }
    let mountpoint = this.tree.childFolder(device, segs[2]);
    if (segs.length === 3 && method === 'POST' && !verb) {
      const { node, created } = this.tree.createMountPoint(device, segs[2]);
      return this.xml(res, created ? 201 : 200, newMountPointDoc(this.core.view, node));
    }
    if (!mountpoint && verb === 'mkDir' && !this.tree.isBuiltinDevice(device)) {
      // Below a not-yet-existing custom mountpoint mkDir creates it too (Duplicati relies on that).
      mountpoint = this.tree.createMountPoint(device, segs[2]).node;
    }
    if (!mountpoint) throw errors.noSuchMountPoint();
    const at: Located = { device, mountpoint, rest: segs.slice(3) };
    if (method === 'GET' || method === 'HEAD') return this.read(res, req, q, at);
    if (method !== 'POST') throw errors.noCommand();
    if (verb && READ_ONLY.has(nameKey(mountpoint.name)) && this.tree.isBuiltinDevice(device)) {
      throw errors.accessDenied(`${this.tree.absPath(mountpoint)} is read-only`);
    }
    switch (verb) {
      case 'mkDir':
        return this.mkDir(res, at);
      case 'mv':
      case 'cp':
        return this.moveOrCopyFile(res, at, verb, q.get(verb) ?? '');
      case 'mvDir':
        return this.moveFolder(res, at, q.get('mvDir') ?? '');
      case 'dl':
        return this.trashFile(res, at);
      case 'dlDir':
        return this.trashFolder(res, at);
      case 'rm':
        return this.removeFile(res, at);
      case 'rmDir':
        return this.removeFolder(res, at);
      case 'cphash':
        return this.cphash(req, res, at);
      default:
        throw errors.noCommand();
    }
  }

  private abs(at: Located): string {
    return [this.tree.absPath(at.mountpoint), ...at.rest].join('/');
  }

  private target(at: Located): Node | undefined {
    return at.rest.length ? this.tree.lookup(at.mountpoint, at.rest) : at.mountpoint;
  }

  // ------------------------------------------------------------------ devices

  private async deviceRoute(req: IncomingMessage, res: ServerResponse, q: URLSearchParams, name: string, device: Node | undefined) {
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      if (!device || device.deleted !== undefined) throw errors.noSuchDevice(`Device /${this.tree.user}/${name}`);
      return this.xml(res, 200, deviceDoc(this.core.view, device));
    }
    if (method !== 'POST') throw errors.noCommand();
    if (q.has('rm')) {
      if (!device) throw errors.noSuchDevice(`Device /${this.tree.user}/${name}`);
      if (this.tree.isBuiltinDevice(device)) throw errors.accessDenied(`Cannot delete the built-in device ${device.name}`);
      this.tree.hardDelete(device);
      return this.xml(res, 200, userDoc(this.core.view));
    }
    // The type comes as query or as form field (jottalib, Android client).
    let type = q.get('type') ?? undefined;
    if (!type) {
      const form = new URLSearchParams((await readSmallBody(req).catch(() => Buffer.alloc(0))).toString('utf8'));
      type = form.get('type') ?? undefined;
    }
    // JaFS saw 201 "even if it already exists".
    const created = this.tree.createDevice(name, (type ?? 'WORKSTATION').toUpperCase());
    return this.xml(res, 201, deviceDoc(this.core.view, created));
  }

  // ------------------------------------------------------------------ reads

  private async view(res: ServerResponse, which: string, q: URLSearchParams) {
    if (which === 'trash') return this.xml(res, 200, trashDoc(this.core.view));
    if (which === 'links') {
      const shared = this.tree.sharedFiles();
      return this.xml(res, 200, searchDoc(this.core.view, shared, shared.length));
    }
    const all = this.tree.allLiveFiles().sort((a, b) => (b.current?.updated ?? 0) - (a.current?.updated ?? 0));
    const max = Math.max(10, Number(q.get('max') ?? 10) || 10);
    return this.xml(res, 200, searchDoc(this.core.view, all.slice(0, max), all.length, { first: 0, max }));
  }

  private async read(res: ServerResponse, req: IncomingMessage, q: URLSearchParams, at: Located) {
    const node = this.target(at);
    const mode = q.get('mode');
    const missing = () => errors.noSuchPath(`Directory ${this.abs(at)}`);
    switch (mode) {
      case 'bin':
        if (!node || node.kind !== 'file' || !node.current) throw errors.noSuchFile(`File ${this.abs(at)}`);
        return this.download(req, res, node);
      case 'liststream':
        if (!node || node.kind === 'file' || node.deleted !== undefined) throw missing();
        return this.listStream(res, node);
      case 'list':
        if (!node || node.kind === 'file' || node.deleted !== undefined) throw missing();
        return this.xml(res, 200, fileDirListDoc(this.core.view, node));
      case 'enableShare':
      case 'disableShare':
        if (!node || node.kind !== 'file' || node.deleted !== undefined) throw errors.noSuchFile(`File ${this.abs(at)}`);
        this.tree.setPublicURI(node, mode === 'enableShare');
        return this.xml(res, 200, fileDoc(this.core.view, node));
      case null:
        if (!node) throw missing();
        // A trashed entry is still readable at its original path, marked `deleted`.
        return this.xml(res, 200, node.kind === 'file' ? fileDoc(this.core.view, node) : folderDoc(this.core.view, node));
      default:
        throw errors.invalidArgument(`Unknown mode ${mode}`);
    }
  }

  private async download(req: IncomingMessage, res: ServerResponse, file: Node) {
    const rev = file.current;
    if (!rev || rev.size === undefined) throw errors.noSuchFile(`File ${this.tree.absPath(file)}`);
    const size = rev.size;
    const headers: Record<string, string | number> = {
      'Content-Type': rev.mime,
      'Accept-Ranges': 'bytes',
      ETag: `"${rev.md5}"`,
      'Last-Modified': new Date(rev.modified).toUTCString(),
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range && size > 0) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!m || (m[1] === '' && m[2] === '')) throw errors.rangeNotSatisfiable(`Invalid range ${range}`);
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
        if (Number(m[2] || size - 1) < start || start >= size) {
          throw errors.rangeNotSatisfiable(`Range ${range} not satisfiable for size ${size}`);
        }
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = Math.max(0, end - start + 1);
    if (req.method === 'HEAD') {
      writeHead(res, status, headers);
      res.end();
      return;
    }
    return sendStream(this.core.responder, res, status, headers, this.core.blobs.read(rev.md5, start, end));
  }

  /**
   * `mode=liststream`: the live subtree, streamed. Each folder comes before its files (a client counts a folder the
   * first time it sees its path), paths start at `/<mountpoint>/…`, and the closing `<stats>` counts what was sent.
   */
  private async listStream(res: ServerResponse, root: Node) {
    const tree = this.tree;
    const mp = tree.mountpointOf(root);
    const mpDepth = tree.names(mp).length - 1;
    const rel = (n: Node) => '/' + tree.names(n).slice(mpDepth).join('/');
    const tree2 = tree;
    async function* lines(): AsyncGenerator<Buffer> {
      let folders = 0;
      let files = 0;
      let buf = XML_DECLARATION + '<stream>\n';
      const stack: Node[] = [root];
      while (stack.length) {
        const d = stack.pop() as Node;
        const p = escapeXml(rel(d));
        buf += `<folder><path>${p}</path></folder>\n`;
        folders++;
        for (const f of tree2.fileChildren(d)) {
          const r = f.current;
          if (f.deleted !== undefined || !r || r.size === undefined) continue;
          buf +=
            `<file><path>${p}</path><filename>${escapeXml(f.name)}</filename><uuid>${f.id}</uuid>` +
            `<md5>${r.md5}</md5><size>${r.size}</size><modified>${rfc3339Millis(r.modified)}</modified>` +
            `<created>${rfc3339Millis(r.created)}</created><updated>${rfc3339Millis(r.updated)}</updated></file>\n`;
          files++;
        }
        const subs = tree2.folderChildren(d).filter((s) => s.deleted === undefined);
        for (let i = subs.length - 1; i >= 0; i--) stack.push(subs[i]);
        if (buf.length > 32_768) {
          yield Buffer.from(buf, 'utf8');
          buf = '';
        }
      }
      buf += `<stats><folders>${folders}</folders><files>${files}</files></stats>\n</stream>\n`;
      yield Buffer.from(buf, 'utf8');
    }
    return sendStream(this.core.responder, res, 200, { 'Content-Type': 'application/xml; charset=UTF-8' }, lines());
  }

  // ------------------------------------------------------------------ writes

  private async mkDir(res: ServerResponse, at: Located) {
    const folder = this.tree.ensureFolder(at.mountpoint, at.rest);
    this.tree.commit();
    return this.xml(res, 200, folderDoc(this.core.view, folder, false));
  }

  /** A destination as the verbs take it: `/<user>/<device>/<mountpoint>/<path…>` (a leading `/jfs` is tolerated). */
  private destination(raw: string): { mountpoint: Node; parentSegs: string[]; name: string } {
    let segs = raw.split('/').filter((s) => s !== '');
    if (segs[0] === 'jfs' && nameKey(segs[1] ?? '') === nameKey(this.tree.user)) segs = segs.slice(1);
    if (segs.length < 4 || nameKey(segs[0]) !== nameKey(this.tree.user)) {
      throw errors.invalidArgument(`Invalid destination path ${raw}`);
    }
    for (const s of segs) checkReadableName(s);
    const device = this.tree.device(segs[1]);
    if (!device || device.deleted !== undefined) throw errors.noSuchDevice(`Device /${segs[0]}/${segs[1]}`);
    const mountpoint = this.tree.childFolder(device, segs[2]);
    if (!mountpoint) throw errors.noSuchMountPoint();
    if (this.tree.isBuiltinDevice(device) && READ_ONLY.has(nameKey(mountpoint.name))) {
      throw errors.accessDenied(`${this.tree.absPath(mountpoint)} is read-only`);
    }
    return { mountpoint, parentSegs: segs.slice(3, -1), name: segs[segs.length - 1] };
  }

  private async moveOrCopyFile(res: ServerResponse, at: Located, verb: 'mv' | 'cp', rawDst: string) {
    const src = this.target(at);
    if (!src || src.kind !== 'file' || src.deleted !== undefined || (verb === 'cp' && !src.current)) {
      // Also what a retried mv answers after the first one went through (rclone #4295).
      throw errors.noSuchFile(`Source file ${this.abs(at)} does not exist`);
    }
    const dst = this.destination(rawDst);
    const parent = this.tree.ensureFolder(dst.mountpoint, dst.parentSegs);
    const result = verb === 'mv' ? this.tree.moveFile(src, parent, dst.name) : this.tree.copyFile(src, parent, dst.name);
    return this.xml(res, 200, fileDoc(this.core.view, result));
  }

  private async moveFolder(res: ServerResponse, at: Located, rawDst: string) {
    const src = this.target(at);
    if (!src || src.kind === 'file' || src.deleted !== undefined || at.rest.length === 0) {
      throw errors.noSuchPath(`Source directory ${this.abs(at)} does not exist`);
    }
    const dst = this.destination(rawDst);
    const parent = this.tree.ensureFolder(dst.mountpoint, dst.parentSegs);
    const moved = this.tree.moveFolder(src, parent, dst.name);
    return this.xml(res, 200, folderDoc(this.core.view, moved));
  }

  private async trashFile(res: ServerResponse, at: Located) {
    const node = this.target(at);
    // A trash delete of a path that does not exist succeeds; of one already in trash it answers 404 (rclone #2655).
    if (!node) return sendEmpty(res, 200);
    if (node.deleted !== undefined) throw errors.noSuchFile(`File ${this.abs(at)} does not exist`);
    if (node.kind !== 'file') return this.trashFolder(res, at);
    this.tree.trash(node);
    return this.xml(res, 200, fileDoc(this.core.view, node));
  }

  private async trashFolder(res: ServerResponse, at: Located) {
    const node = this.target(at);
    if (!node || node.kind === 'file' || node.deleted !== undefined) throw errors.noSuchPath(`Directory ${this.abs(at)}`);
    if (node.kind === 'mountpoint' && this.tree.isBuiltinDevice(at.device)) {
      throw errors.accessDenied(`Cannot delete the built-in mount point ${this.tree.absPath(node)}`);
    }
    this.tree.trash(node);
    return this.xml(res, 200, folderDoc(this.core.view, node));
  }

  private async removeFile(res: ServerResponse, at: Located) {
    const node = this.target(at);
    if (node?.kind === 'mountpoint' && !this.tree.isBuiltinDevice(at.device)) {
      this.tree.hardDelete(node);
      return this.xml(res, 200, deviceDoc(this.core.view, at.device));
    }
    // `rm` is for files: on a folder it answers 404, as on a missing path.
    if (!node || node.kind !== 'file') throw errors.noSuchFile(`File ${this.abs(at)} does not exist`);
    this.tree.hardDelete(node);
    return sendEmpty(res, 200);
  }

  private async removeFolder(res: ServerResponse, at: Located) {
    const node = this.target(at);
    // The only verb that reaches a trashed folder: a hard delete on its original path.
    if (!node || node.kind !== 'folder') throw errors.noSuchPath(`Directory ${this.abs(at)}`);
    const doc = folderDoc(this.core.view, node);
    this.tree.hardDelete(node);
    return this.xml(res, 200, doc);
  }

  /**
   * cphash — "make this path hold this content": same content here → only the times change; the same file in
   * trash → restored; content known elsewhere in the account → built by deduplication; otherwise 404 (upload needed).
   */
  private async cphash(req: IncomingMessage, res: ServerResponse, at: Located) {
    await discardBody(req).catch(() => undefined);
    const md5 = String(req.headers['jmd5'] ?? (req.url?.match(/cphash=([0-9a-fA-F]{32})/)?.[1] ?? '')).toLowerCase();
    const sizeText = String(req.headers['jsize'] ?? '');
    if (!/^[0-9a-f]{32}$/.test(md5)) throw errors.invalidArgument('Upload without md5 no longer supported. Use header JMd5.');
    if (!/^\d+$/.test(sizeText)) throw errors.invalidArgument('Missing or invalid header JSize');
    const size = Number(sizeText);
    const now = toSeconds(Date.now());
    const modified = parseClientTime(req.headers['jmodified']) ?? now;
    const created = parseClientTime(req.headers['jcreated']) ?? modified;
    if (at.rest.length === 0) throw errors.noSuchFile(`File ${this.abs(at)} does not exist`);
    const node = this.target(at);
    const file = node?.kind === 'file' ? node : undefined;
    const cur = file?.current;
    if (file && cur && cur.md5 === md5 && cur.size === size) {
      if (file.deleted !== undefined) this.tree.restore(file, created, modified);
      else this.tree.setTimes(file, created, modified);
      return this.xml(res, 200, fileDoc(this.core.view, file));
    }
    if (!(size === 0 || this.tree.hasContent(md5, size))) throw errors.noSuchFile(`File ${this.abs(at)} does not exist`);
    const parent = this.tree.ensureFolder(at.mountpoint, at.rest.slice(0, -1));
    const target = file ?? this.tree.newFile(parent, at.rest[at.rest.length - 1]);
    this.tree.addCompletedRevision(target, { md5, size, created, modified });
    if (target.deleted !== undefined) this.tree.revive(target);
    this.tree.commit();
    return this.xml(res, 200, fileDoc(this.core.view, target));
  }
}
