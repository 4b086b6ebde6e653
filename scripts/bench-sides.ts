// What a workload can do to a target, in a file manager's words (list a folder, read, write, rename, delete), and
// the two ways it is done: over WebDAV (the same requests for jottadav and both rclone modes) and directly on the
// service's own API (the limit: one listing GET, a `mode=bin` download, allocate + upload, `mv`, `dl`).
import type http from 'node:http';
import { type Answer, bodyStream, expectStatus, request } from './bench-http.js';

export interface Listing {
  /** Entries in the folder, not counting the folder itself. */
  entries: number;
  /** Names of its subfolders. */
  folders: string[];
}

export interface ReadOptions {
  /** Inclusive byte range. */
  range?: [number, number];
  hash?: boolean;
}

export interface WriteOptions {
  /** Send the body's MD5 (WebDAV: `OC-Checksum` and `Content-MD5`); the API always needs it. */
  md5?: string;
}

export interface Side {
  name: string;
  list(path: string): Promise<Listing>;
  read(path: string, opts?: ReadOptions): Promise<Answer & { md5?: string }>;
  write(path: string, size: number, seed: string, opts?: WriteOptions): Promise<Answer>;
  mkdir(path: string): Promise<void>;
  move(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>' +
  '<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:displayname/><D:getcontenttype/>' +
  '</D:prop></D:propfind>';

/** Parses a multistatus with regular expressions: cheap, and the same cost for every server. */
export function parseMultistatus(xml: string, selfPath: string): Listing {
  const responses = xml.split(/<(?:[A-Za-z][\w.-]*:)?response[\s>]/).slice(1);
  const self = '/' + encodePath(selfPath);
  let entries = 0;
  const folders: string[] = [];
  for (const r of responses) {
    const href = /<(?:[A-Za-z][\w.-]*:)?href>([^<]*)</.exec(r)?.[1] ?? '';
    const path = new URL(href, 'http://x').pathname.replace(/\/+$/, '');
    if (path === self.replace(/\/+$/, '')) continue;
    entries++;
    if (/<(?:[A-Za-z][\w.-]*:)?collection[\s/>]/.test(r)) folders.push(decodeURIComponent(path.split('/').pop() ?? ''));
  }
  return { entries, folders };
}

export class DavSide implements Side {
  /** `base`: the share's URL ending in `/`. */
  constructor(
    readonly name: string,
    private readonly base: string,
    private readonly auth: string,
    private readonly agent: http.Agent,
  ) {}

  private url(path: string): string {
    return this.base + encodePath(path);
  }

  private headers(extra: Record<string, string | number> = {}): Record<string, string | number> {
    return { Authorization: this.auth, ...extra };
  }

  async list(path: string): Promise<Listing> {
    const a = await expectStatus([207], 'PROPFIND', this.url(path) + (path ? '/' : ''), {
      agent: this.agent,
      headers: this.headers({ Depth: '1', 'Content-Type': 'application/xml; charset=utf-8' }),
      body: PROPFIND_BODY,
    });
    return parseMultistatus(a.body.toString('utf8'), path);
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Answer & { md5?: string }> {
    const headers = this.headers(opts.range ? { Range: `bytes=${opts.range[0]}-${opts.range[1]}` } : {});
    const a = await request('GET', this.url(path), { agent: this.agent, headers, hash: opts.hash });
    const want = opts.range ? 206 : 200;
    if (a.status !== want) throw new Error(`${this.name}: GET ${path} answered ${a.status}, expected ${want}`);
    return a;
  }

  async write(path: string, size: number, seed: string, opts: WriteOptions = {}): Promise<Answer> {
    const headers = this.headers({ 'Content-Length': size, 'Content-Type': 'application/octet-stream' });
    if (opts.md5) {
      headers['OC-Checksum'] = `MD5:${opts.md5}`;
      headers['Content-MD5'] = Buffer.from(opts.md5, 'hex').toString('base64');
    }
    return expectStatus([200, 201, 204], 'PUT', this.url(path), { agent: this.agent, headers, body: () => bodyStream(size, seed) });
  }

  async mkdir(path: string): Promise<void> {
    await expectStatus([201], 'MKCOL', this.url(path), { agent: this.agent, headers: this.headers() });
  }

  async move(from: string, to: string): Promise<void> {
    await expectStatus([201, 204], 'MOVE', this.url(from), {
      agent: this.agent,
      headers: this.headers({ Destination: this.url(to), Overwrite: 'T' }),
    });
  }

  async remove(path: string): Promise<void> {
    await expectStatus([200, 204], 'DELETE', this.url(path), { agent: this.agent, headers: this.headers() });
  }
}

/** Hosts of the service: plain origin of the emulator, or the real names (reached through the MITM proxy). */
export interface ServiceHosts {
  jfs: string;
  api: string;
}

/** The service's own API, as a client that already knows the MD5 of what it uploads would use it. */
export class DirectSide implements Side {
  /** Requests this client sent, so a measurement can leave out the harness's own polling. */
  calls = 0;

  constructor(
    readonly name: string,
    private readonly hosts: ServiceHosts,
    private readonly user: string,
    private readonly token: () => Promise<string>,
    agent: http.Agent,
    ca?: string,
  ) {
    // Every request of this client goes through the same agent (and trusts the proxy's CA when there is one).
    this.net = { agent, ...(ca ? { ca } : {}) };
  }

  private readonly net: { agent: http.Agent; ca?: string };

  private jfs(path: string): string {
    const rest = encodePath(path);
    return `${this.hosts.jfs}/jfs/${encodeURIComponent(this.user)}/Jotta/Archive${rest ? '/' + rest : ''}`;
  }

  private async headers(extra: Record<string, string | number> = {}): Promise<Record<string, string | number>> {
    this.calls++;
    return { Authorization: `Bearer ${await this.token()}`, ...extra };
  }

  async list(path: string): Promise<Listing> {
    const a = await expectStatus([200], 'GET', this.jfs(path), { ...this.net, headers: await this.headers() });
    return parseFolderXml(a.body.toString('utf8'));
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Answer & { md5?: string }> {
    const headers = await this.headers(opts.range ? { Range: `bytes=${opts.range[0]}-${opts.range[1]}` } : {});
    const a = await request('GET', this.jfs(path) + '?mode=bin', { ...this.net, headers, hash: opts.hash });
    const want = opts.range ? 206 : 200;
    if (a.status !== want) throw new Error(`${this.name}: GET ${path}?mode=bin answered ${a.status}, expected ${want}`);
    return a;
  }

  /** Allocate, then upload the body to the URL the service gives back (skipped when it already has the content). */
  async write(path: string, size: number, seed: string, opts: WriteOptions = {}): Promise<Answer> {
    if (!opts.md5) throw new Error('the service needs the MD5 before an upload');
    const started = performance.now();
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const alloc = await expectStatus([200], 'POST', `${this.hosts.api}/files/v1/allocate`, {
      ...this.net,
      headers: await this.headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ bytes: size, md5: opts.md5, path: `/jfs/Jotta/Archive/${path.replace(/^\/+/, '')}`, created: now, modified: now }),
    });
    const answer = JSON.parse(alloc.body.toString('utf8')) as { state: string; upload_url: string; resume_pos: number };
    if (answer.state === 'COMPLETED') return { ...alloc, totalMs: performance.now() - started };
    const up = await expectStatus([200, 201], 'POST', answer.upload_url, {
      ...this.net,
      headers: await this.headers({ 'Content-Type': 'application/octet-stream', 'Content-Length': size }),
      body: () => bodyStream(size, seed),
    });
    return { ...up, totalMs: performance.now() - started };
  }

  async mkdir(path: string): Promise<void> {
    await expectStatus([200, 201], 'POST', this.jfs(path) + '?mkDir=true', { ...this.net, headers: await this.headers() });
  }

  async move(from: string, to: string): Promise<void> {
    const target = `/${this.user}/Jotta/Archive/${to.replace(/^\/+/, '')}`;
    await expectStatus([200], 'POST', `${this.jfs(from)}?mv=${encodeURIComponent(target)}`, { ...this.net, headers: await this.headers() });
  }

  async remove(path: string): Promise<void> {
    await expectStatus([200], 'POST', this.jfs(path) + '?dl=true', { ...this.net, headers: await this.headers() });
  }

  /** Hard delete of a folder and all in it (not a measured operation: clean-up between workloads). */
  async destroyFolder(path: string): Promise<void> {
    await expectStatus([200, 404], 'POST', this.jfs(path) + '?rmDir=true', { ...this.net, headers: await this.headers() });
  }

  /** Hard delete of a file, so its bytes leave the emulator's memory. */
  async destroyFile(path: string): Promise<void> {
    await expectStatus([200, 404], 'POST', this.jfs(path) + '?rm=true', { ...this.net, headers: await this.headers() });
  }

  /** Size, MD5 and state of a file's newest revision, or undefined when it is not there (yet). */
  async fileState(path: string): Promise<{ size?: number; md5?: string; state?: string; deleted: boolean } | undefined> {
    const a = await request('GET', this.jfs(path), { ...this.net, headers: await this.headers(), keep: true });
    if (a.status === 404) return undefined;
    if (a.status !== 200) throw new Error(`${this.name}: GET ${path} answered ${a.status}`);
    const xml = a.body.toString('utf8');
    const rev = /<(currentRevision|latestRevision)>([\s\S]*?)<\/\1>/.exec(xml)?.[2] ?? '';
    const size = /<size>(\d+)<\/size>/.exec(rev)?.[1];
    return {
      size: size === undefined ? undefined : Number(size),
      md5: /<md5>([0-9a-f]{32})<\/md5>/.exec(rev)?.[1],
      state: /<state>(\w+)<\/state>/.exec(rev)?.[1],
      deleted: /^<file[^>]*\sdeleted="/m.test(xml.replace(/^<\?xml[^>]*>\s*/, '')),
    };
  }

  /** Names of the live files in a folder whose newest revision is complete (for "is it stored yet?"). */
  async completedFiles(path: string): Promise<Map<string, number>> {
    const a = await request('GET', this.jfs(path), { ...this.net, headers: await this.headers(), keep: true });
    const out = new Map<string, number>();
    if (a.status === 404) return out;
    if (a.status !== 200) throw new Error(`${this.name}: GET ${path} answered ${a.status}`);
    for (const m of a.body.toString('utf8').matchAll(/<file name="([^"]*)"([^>]*)>([\s\S]*?)<\/file>/g)) {
      if (m[2].includes('deleted=')) continue;
      const cur = /<currentRevision>[\s\S]*?<state>COMPLETED<\/state>[\s\S]*?<size>(\d+)<\/size>/.exec(m[3]);
      if (cur) out.set(unescapeXml(m[1]), Number(cur[1]));
    }
    return out;
  }
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] as string);
}

/** Folder XML of the JFS API: subfolders as `<folder name=…/>` under `<folders>`, files as `<file name=…>`; trashed ones skipped. */
export function parseFolderXml(xml: string): Listing {
  const folders: string[] = [];
  let entries = 0;
  const foldersPart = /<folders>([\s\S]*?)<\/folders>/.exec(xml)?.[1] ?? '';
  for (const m of foldersPart.matchAll(/<folder name="([^"]*)"([^>]*)>/g)) {
    if (m[2].includes('deleted=')) continue;
    folders.push(unescapeXml(m[1]));
    entries++;
  }
  const filesPart = /<files>([\s\S]*)<\/files>/.exec(xml)?.[1] ?? '';
  for (const m of filesPart.matchAll(/<file name="[^"]*"([^>]*)>/g)) if (!m[1].includes('deleted=')) entries++;
  return { entries, folders };
}
