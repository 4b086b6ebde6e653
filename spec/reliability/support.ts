// What the reliability specs share: the emulator's own view of the account (a separate login, never jottadav's
// cache) to check that every acknowledged upload is there with the right bytes and MD5; a ledger of what the
// WebDAV client was told; a recording proxy between jottadav and the emulator (to see the Range of a resumed
// upload and the bytes it carried); and small WebDAV request helpers over fetch.
import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmulatorHandle } from '../helpers/serve-process.js';

/** Totals for the report, printed once after every suite has run (a root hook: this module loads once). */
export const counts = { faultsInjected: 0, uploadsVerified: 0, fuzzCases: 0 };
after(() => {
  console.log(`reliability totals: ${counts.faultsInjected} faults injected, ${counts.uploadsVerified} uploads verified, ${counts.fuzzCases} bad-input cases run`);
});

export function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** Deterministic bytes for a test file: distinct per (seed, size), so a mixed-up body shows. */
export function content(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, trimValues: true });

function list<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** One file as the service holds it. */
export interface RemoteFile {
  /** Relative to the mountpoint, e.g. `d/a.txt`. */
  path: string;
  name: string;
  deleted: boolean;
  /** md5/size of the current COMPLETED revision; undefined when the file never completed. */
  md5?: string;
  size?: number;
  /** State of a newer, unfinished revision (INCOMPLETE/CORRUPT), if any. */
  pending?: string;
}

interface XmlRevision {
  state?: string;
  md5?: string;
  size?: string;
}
interface XmlFile {
  '@name': string;
  '@deleted'?: string;
  currentRevision?: XmlRevision;
  latestRevision?: XmlRevision;
}
/** An element with attributes (`xml:space="preserve"`) parses as an object holding its text. */
type XmlText = string | { '#text'?: string };
function xmlText(v: XmlText | undefined): string {
  return typeof v === 'object' ? (v['#text'] ?? '') : (v ?? '');
}

interface XmlFolder {
  '@name': string;
  '@deleted'?: string;
  path: XmlText;
  files?: { file?: XmlFile | XmlFile[] };
}

/**
 * The emulator's Archive mountpoint seen through its own JFS API with a login of its own — independent of
 * jottadav's tokens and cache. Clear the faults before using it: they apply to every client.
 */
export class Remote {
  private token?: string;
  constructor(readonly emu: EmulatorHandle) {}

  private get root(): string {
    return `/${this.emu.user}/Jotta/Archive`;
  }

  private async login(): Promise<string> {
    const lt = JSON.parse(Buffer.from(await this.emu.mintLoginToken(), 'base64url').toString('utf8')) as { username: string; realm: string; auth_token: string };
    const res = await fetch(`${this.emu.url}/auth/realms/${lt.realm || 'jottacloud'}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'jottacli', grant_type: 'password', username: lt.username, password: lt.auth_token, scope: 'openid offline_access' }).toString(),
    });
    if (res.status !== 200) throw new Error(`verification login failed: HTTP ${res.status}`);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  /** GET a JFS path below the mountpoint (segments encoded); one fresh login after a 401 (tokens may have been expired). */
  async get(rel: string, query = ''): Promise<Response> {
    const path = `/jfs${this.root}/${rel.split('/').filter(Boolean).map(encodeURIComponent).join('/')}${query}`;
    for (let attempt = 0; ; attempt++) {
      this.token ??= await this.login();
      const res = await fetch(this.emu.url + path, { headers: { Authorization: `Bearer ${this.token}` } });
      if (res.status !== 401 || attempt > 0) return res;
      await res.arrayBuffer();
      this.token = undefined;
    }
  }

  private async folderList(): Promise<XmlFolder[]> {
    const res = await this.get('', '?mode=list');
    const text = await res.text();
    if (res.status !== 200) throw new Error(`mode=list: HTTP ${res.status} ${text}`);
    const doc = parser.parse(text) as { filedirlist?: { folders?: { folder?: XmlFolder | XmlFolder[] } } };
    return list(doc.filedirlist?.folders?.folder);
  }

  private relative(folder: XmlFolder): string {
    return `${xmlText(folder.path)}/${folder['@name']}`.slice(this.root.length).replace(/^\/+/, '');
  }

  /** The whole tree as sorted lines (`folder/`, `file md5 size`, trashed entries marked): equal snapshots = nothing changed. */
  async snapshot(): Promise<string[]> {
    const lines: string[] = [];
    for (const folder of await this.folderList()) {
      const dir = this.relative(folder);
      if (dir) lines.push(`${dir}/${folder['@deleted'] !== undefined ? ' (trashed)' : ''}`);
      for (const f of list(folder.files?.file)) {
        const rev = f.currentRevision;
        lines.push(`${dir ? `${dir}/` : ''}${f['@name']} ${rev?.state ?? '-'} ${rev?.md5 ?? '-'} ${rev?.size ?? '-'} ${f.latestRevision?.state ?? ''}${f['@deleted'] !== undefined ? ' (trashed)' : ''}`);
      }
    }
    return lines.sort();
  }

  /** Every file below the mountpoint (trashed and unfinished ones included), by relative path. */
  async files(): Promise<Map<string, RemoteFile>> {
    const out = new Map<string, RemoteFile>();
    for (const folder of await this.folderList()) {
      const dir = this.relative(folder);
      for (const f of list(folder.files?.file)) {
        const path = dir ? `${dir}/${f['@name']}` : f['@name'];
        const cur = f.currentRevision?.state === 'COMPLETED' ? f.currentRevision : undefined;
        out.set(path, {
          path,
          name: f['@name'],
          deleted: f['@deleted'] !== undefined || folder['@deleted'] !== undefined,
          md5: cur?.md5,
          size: cur?.size === undefined ? undefined : Number(cur.size),
          pending: f.latestRevision?.state,
        });
      }
    }
    return out;
  }

  /** The current bytes of a file (mode=bin). */
  async bytes(rel: string): Promise<Buffer> {
    const res = await this.get(rel, '?mode=bin');
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`mode=bin ${rel}: HTTP ${res.status} ${body.toString('utf8')}`);
    return body;
  }
}

/** Our hidden temporary names (replace-mode uploads, swap backups, case renames). */
export const HIDDEN_NAME = /(^|\/)\.jottadav~/;

/**
 * What the WebDAV client was told, per path: the content of the last upload answered 201/204, and the bodies of
 * later uploads that failed (their outcome at the service may be unknown when the connection broke after the
 * commit). `verify` checks the service against it.
 */
export class Ledger {
  readonly acked = new Map<string, Buffer>();
  /** Failed uploads since the last acknowledged one, per path. */
  readonly failedSince = new Map<string, Buffer[]>();
  verified = 0;
  failures = 0;

  record(path: string, body: Buffer, status: number): void {
    if (status === 201 || status === 204) {
      this.acked.set(path, body);
      this.failedSince.delete(path);
    } else {
      expect(status, `upload of ${path} failed with a clear status`).to.be.within(400, 599);
      this.failures++;
      this.failedSince.set(path, [...(this.failedSince.get(path) ?? []), body]);
    }
  }

  /**
   * Every acknowledged upload is on the service with its bytes and MD5, live and complete. A path whose later
   * upload failed holds the acknowledged content — or, where `uncertain` allows it (the failure came after the
   * service may have committed), one of the failed bodies, whole. No hidden temporary name is left anywhere.
   */
  async verify(remote: Remote, opts: { uncertain?: boolean; readBytes?: boolean } = {}): Promise<void> {
    const files = await remote.files();
    const hidden = [...files.values()].filter((f) => HIDDEN_NAME.test(f.path) && !f.deleted);
    expect(hidden.map((f) => f.path), 'hidden temporary files left on the service').to.deep.equal([]);
    for (const [path, body] of this.acked) {
      const f = files.get(path);
      expect(f, `${path} is on the service`).to.not.equal(undefined);
      expect(f!.deleted, `${path} is live`).to.equal(false);
      const allowed = [body, ...(opts.uncertain ? (this.failedSince.get(path) ?? []) : [])];
      const match = allowed.find((b) => md5(b) === f!.md5 && b.length === f!.size);
      expect(match, `${path}: the service holds the acknowledged content (md5 ${md5(body)}, ${body.length} bytes), not md5 ${f!.md5} (${f!.size} bytes)`).to.not.equal(undefined);
      if (opts.readBytes !== false) {
        const got = await remote.bytes(path);
        expect(md5(got), `${path}: bytes served match the MD5`).to.equal(f!.md5);
      }
      this.verified++;
    }
    for (const path of this.failedSince.keys()) {
      if (this.acked.has(path)) continue;
      // Never acknowledged: if anything is there it must be one of the bodies sent, whole (or nothing at all).
      const f = files.get(path);
      if (!f || f.md5 === undefined || f.deleted) continue;
      const bodies = this.failedSince.get(path)!;
      expect(
        bodies.some((b) => md5(b) === f.md5 && b.length === f.size),
        `${path}: what the service holds is one of the bodies sent, whole`,
      ).to.equal(true);
    }
  }
}

/** One exchange seen by the recording proxy. */
export interface Seen {
  method: string;
  path: string;
  range?: string;
  /** Request body bytes that reached the proxy. */
  bytes: number;
  status?: number;
}

/**
 * A plain HTTP proxy in front of the emulator (jottadav's endpoints point at it), recording each request's method,
 * path, Range and body size. The emulator hands out upload URLs on the host the client used, so uploads pass here
 * too. When the emulator drops a connection, the proxy drops the client's.
 */
export async function startRecordingProxy(target: string): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const to = new URL(target);
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const entry: Seen = { method: req.method ?? 'GET', path: req.url ?? '/', range: req.headers.range, bytes: 0 };
    seen.push(entry);
    req.on('data', (c: Buffer) => (entry.bytes += c.length));
    const up = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: req.headers.host } },
      (upRes) => {
        entry.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', () => {
      req.socket.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A WebDAV request to jottadav (`path` relative to the share URL). Network errors answer status 0. */
export async function dav(
  base: { url: string; auth: string },
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Buffer | string; signal?: AbortSignal } = {},
): Promise<{ status: number; body: Buffer; headers: Headers }> {
  try {
    const res = await fetch(base.url + path, {
      method,
      headers: { Authorization: base.auth, ...init.headers },
      body: init.body,
      signal: init.signal ?? AbortSignal.timeout(120_000),
      redirect: 'manual',
    });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
  } catch {
    return { status: 0, body: Buffer.alloc(0), headers: new Headers() };
  }
}

/** PUT through jottadav, recorded in the ledger (a broken connection counts as a failure the client saw). */
export async function put(base: { url: string; auth: string }, ledger: Ledger, path: string, body: Buffer): Promise<number> {
  const res = await dav(base, 'PUT', encodePath(path), { body });
  ledger.record(path, body, res.status === 0 ? 599 : res.status);
  return res.status;
}

/** GET through jottadav. */
export async function getBytes(base: { url: string; auth: string }, path: string): Promise<{ status: number; body: Buffer }> {
  return dav(base, 'GET', encodePath(path));
}

export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Names in a PROPFIND Depth: infinity/1 answer (decoded hrefs). */
export function hrefs(xml: string): string[] {
  return [...xml.matchAll(/<(?:[A-Za-z]+:)?href>([^<]*)<\/(?:[A-Za-z]+:)?href>/g)].map((m) => decodeURIComponent(m[1]));
}

/** Every href below `path` (a folder, ending in `/`), walking Depth: 1 PROPFINDs (Depth: infinity is refused). */
export async function walk(base: { url: string; auth: string }, path = ''): Promise<string[]> {
  const res = await dav(base, 'PROPFIND', path, { headers: { Depth: '1' } });
  expect(res.status, `PROPFIND ${path || '/'}`).to.equal(207);
  const self = new URL(base.url + path).pathname;
  const out: string[] = [];
  for (const href of hrefs(res.body.toString('utf8'))) {
    const p = href.startsWith('http') ? new URL(href).pathname : href;
    if (p === self || decodeURIComponent(self) === p) continue;
    out.push(p);
    if (p.endsWith('/')) out.push(...(await walk(base, encodePath(p.slice(new URL(base.url).pathname.length)))));
  }
  return out;
}

/** A PUT whose body is sent in two halves: `started` once the first is out, `finish()` sends the rest. */
export function slowPut(s: { url: string; auth: string }, path: string, body: Buffer): { started: Promise<void>; finish(): void; done: Promise<number> } {
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => (finish = resolve));
  let started!: () => void;
  const startedP = new Promise<void>((resolve) => (started = resolve));
  const half = Math.floor(body.length / 2);
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(body.subarray(0, half));
      started();
      await gate;
      controller.enqueue(body.subarray(half));
      controller.close();
    },
  });
  const done = fetch(s.url + path.split('/').map(encodeURIComponent).join('/'), {
    method: 'PUT',
    headers: { Authorization: s.auth },
    body: stream,
    duplex: 'half',
  } as RequestInit)
    .then(async (res) => {
      await res.arrayBuffer();
      return res.status;
    })
    .catch(() => 0);
  return { started: startedP, finish, done };
}

export async function waitUntil(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
