// Shared pieces of the emulator specs: JFS calls with the bearer token, XML parsing, and the allocate + upload
// sequence the way clients send it.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { archivePath, emuFetch, type RunningEmulator } from '../helpers/emulator.js';

export const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, trimValues: true });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Xml = any;

export function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

export class Client {
  constructor(
    readonly emu: RunningEmulator,
    readonly token: string,
  ) {}

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return emuFetch(this.emu, this.token, path, init);
  }

  p(rel = ''): string {
    return archivePath(this.emu, rel);
  }

  /** GET a JFS path and parse it; expects `status`. */
  async xml(path: string, status = 200, init: RequestInit = {}): Promise<Xml> {
    const res = await this.fetch(path, init);
    const text = await res.text();
    expect(res.status, `${init.method ?? 'GET'} ${path}: ${text}`).to.equal(status);
    return parser.parse(text);
  }

  /** POST a JFS verb (`?mkDir=true`, …) and parse the answer. */
  async post(path: string, query: string, status = 200, headers: Record<string, string> = {}): Promise<Xml> {
    const res = await this.fetch(`${path}?${query}`, { method: 'POST', headers });
    const text = await res.text();
    expect(res.status, `POST ${path}?${query}: ${text}`).to.equal(status);
    return text ? parser.parse(text) : undefined;
  }

  async allocate(body: Record<string, unknown>, status = 200): Promise<Xml> {
    const res = await this.fetch('/files/v1/allocate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Xml;
    expect(res.status, JSON.stringify(json)).to.equal(status);
    return json;
  }

  /**
   * POSTs bytes to an upload URL (optionally with a Range header); returns status and JSON. Through node:http,
   * not fetch(): undici silently retries a 421 ("Misdirected Request"), which is the service's corrupt-upload answer.
   */
  async send(uploadUrl: string, data: Buffer, range?: string): Promise<{ status: number; json: Xml }> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(data.length),
      Authorization: `Bearer ${this.token}`,
    };
    if (range) headers.Range = range;
    const u = new URL(uploadUrl);
    const res = await rawRequest(u.origin, 'POST', u.pathname, headers, data);
    return { status: res.status, json: JSON.parse(res.body) as Xml };
  }

  /** Allocate + upload of a whole file at `Archive/<rel>`; returns the upload answer. */
  async upload(rel: string, data: Buffer | string, times: { created?: unknown; modified?: unknown } = {}): Promise<Xml> {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const a = await this.allocate({
      bytes: buf.length,
      md5: md5(buf),
      path: `/jfs/Jotta/Archive/${rel}`,
      created: times.created ?? '2024-01-02T03:04:05Z',
      modified: times.modified ?? '2024-01-02T03:04:05Z',
    });
    if (a.state === 'COMPLETED') return a;
    const r = await this.send(a.upload_url, buf);
    expect(r.status, JSON.stringify(r.json)).to.equal(201);
    return r.json;
  }

  async bytes(rel: string, range?: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
    const res = await this.fetch(`${this.p(rel)}?mode=bin`, range ? { headers: { Range: range } } : {});
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
  }
}

/** A list that fast-xml-parser gives as one object when there is a single element. */
export function list<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** One request through node:http, path sent exactly as given (no URL normalisation). */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
