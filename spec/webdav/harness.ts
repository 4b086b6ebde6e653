// Spec harness for lib/webdav: a bare node:http server on an ephemeral port whose request listener does
// Basic auth for a fixed set of users (the real server's auth lives in lib/server) and calls `handle`,
// plus a small raw HTTP client so specs control every header and see every byte of the answer.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Keyv from 'keyv';
import { createWebdavHandler, type WebdavHandler, type WebdavOptions, type WebdavUser } from '../../lib/webdav/index.js';
import type { StorageProvider } from '../../lib/storage/types.js';

export const USERS: Record<string, { pass: string; readOnly: boolean }> = {
  alice: { pass: 'wonderland', readOnly: false },
  bob: { pass: 'builder', readOnly: false },
  reader: { pass: 'only', readOnly: true },
};

export interface Harness {
  url: string;
  port: number;
  handler: WebdavHandler;
  server: http.Server;
  close(): Promise<void>;
}

export async function startDav(
  storage: StorageProvider,
  options: Partial<WebdavOptions> = {},
  /** Let requests without credentials in as the anonymous (read-only) user instead of answering 401. */
  anonymous = false,
): Promise<Harness> {
  const handler = createWebdavHandler({
    storage,
    lockStore: options.lockStore ?? new Keyv(),
    propertyStore: options.propertyStore ?? new Keyv(),
    ...options,
  });
  const server = http.createServer((req, res) => {
    let user: WebdavUser | null = null;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [name, pass] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      const known = name ? USERS[name] : undefined;
      if (!known || known.pass !== pass) {
        res.statusCode = 401;
        res.setHeader('WWW-Authenticate', 'Basic realm="test"');
        res.end();
        return;
      }
      user = { name: name as string, readOnly: known.readOnly };
    } else if (!anonymous) {
      res.statusCode = 401;
      res.setHeader('WWW-Authenticate', 'Basic realm="test"');
      res.end();
      return;
    }
    handler.handle(req, res, user);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    handler,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await handler.close();
    },
  };
}

export interface DavResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  raw: Buffer;
}

export function basic(user: string): string {
  const u = USERS[user];
  if (!u) throw new Error(`no test user ${user}`);
  return `Basic ${Buffer.from(`${user}:${u.pass}`).toString('base64')}`;
}

export interface RequestSpec {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer | Buffer[];
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  /** Authenticate as this user (default alice); null for anonymous. */
  user?: string | null;
}

/** One request over a fresh connection; resolves with the whole answer. */
export function dav(h: { port: number }, spec: RequestSpec): Promise<DavResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(spec.headers ?? {}) };
    const user = spec.user === undefined ? 'alice' : spec.user;
    if (user) headers.Authorization = basic(user);
    const parts = spec.body === undefined ? [] : Array.isArray(spec.body) ? spec.body : [Buffer.from(spec.body)];
    if (!spec.chunked && spec.body !== undefined) headers['Content-Length'] = parts.reduce((n, p) => n + p.length, 0);
    const req = http.request({ host: '127.0.0.1', port: h.port, method: spec.method, path: spec.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (spec.chunked) req.setHeader('Transfer-Encoding', 'chunked');
    for (const p of parts) req.write(p);
    req.end();
  });
}

/** Text between `<D:tag>` and `</D:tag>` for each occurrence (responses use the D: prefix). */
export function tagValues(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<D:${tag}>([\\s\\S]*?)</D:${tag}>`, 'g');
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) out.push(m[1] as string);
  return out;
}
