// What the bad-input specs share: a full stack (emulator → client → storage → WebDAV → server, base path /dav,
// two users) with a few known files and a lock held by the other user; raw-socket requests for what fetch will not
// send (negative Content-Length, NUL and invalid UTF-8 in the request line, slow headers); and the checks every bad
// request must pass — a clear 4xx, nothing changed on the service, no secret, stack trace or local path in the
// answer, and the server still answering.
import bcrypt from 'bcryptjs';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { handleOf } from '../helpers/serve-process.js';
import { basicAuth, startStack, type TestStack } from '../helpers/stack.js';
import { Remote } from '../reliability/support.js';

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

export interface Fixture {
  s: TestStack;
  remote: Remote;
  bob: { name: string; password: string; auth: string };
  /** The lock token bob holds on /dav/docs/locked.txt. */
  bobsLock: string;
  /** The tree as the service holds it after set-up. */
  baseline: string[];
  close(): Promise<void>;
}

export const LOCK_BODY =
  '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>bob</D:owner></D:lockinfo>';

export async function startFixture(): Promise<Fixture> {
  const bobPassword = `bob-${Math.random().toString(36).slice(2)}-pw`;
  const s = await startStack({
    server: { basePath: '/dav', users: [{ name: 'bob', passwordHash: bcrypt.hashSync(bobPassword, 4) }], auth: { maxFailures: 1000 } },
    log: { level: 'debug' },
  });
  const bob = { name: 'bob', password: bobPassword, auth: basicAuth('bob', bobPassword) };
  const ok = async (method: string, path: string, body?: string, auth = s.auth, headers: Record<string, string> = {}) => {
    const res = await fetch(s.url + path, { method, body, headers: { Authorization: auth, ...headers } });
    await res.arrayBuffer();
    expect(res.status, `${method} ${path}`).to.be.within(200, 299);
    return res;
  };
  await ok('MKCOL', 'docs');
  await ok('PUT', 'docs/a.txt', 'alpha');
  await ok('PUT', 'docs/locked.txt', 'held by bob');
  const lock = await ok('LOCK', 'docs/locked.txt', LOCK_BODY, bob.auth, { Timeout: 'Second-3600', 'Content-Type': 'application/xml' });
  const bobsLock = /<([^>]+)>/.exec(lock.headers.get('lock-token') ?? '')?.[1] ?? '';
  expect(bobsLock).to.match(/^(urn:uuid:|opaquelocktoken:)/);
  const remote = new Remote(handleOf(s.emu));
  return { s, remote, bob, bobsLock, baseline: await remote.snapshot(), close: () => s.close() };
}

/** Strings no answer may contain: passwords, the stored tokens, the state folder, stack frames. */
export function secretsOf(f: Fixture): string[] {
  const out = [f.s.user!.password, f.bob.password, f.s.stateDir];
  try {
    const stored = JSON.parse(readFileSync(join(f.s.stateDir, 'emulator-tokens.json'), 'utf8')) as { tokens: { accessToken: string; refreshToken: string } };
    out.push(stored.tokens.accessToken, stored.tokens.refreshToken);
  } catch {
    /* no token file: nothing more to look for */
  }
  return out;
}

export function expectNoLeak(f: Fixture, a: { body: string; headers?: Headers }, what: string): void {
  const text = a.body + (a.headers ? [...a.headers].map(([k, v]) => `${k}: ${v}`).join('\n') : '');
  for (const secret of secretsOf(f)) expect(text.includes(secret), `${what}: the answer leaks a secret or local path`).to.equal(false);
  expect(text, `${what}: a stack trace in the answer`).to.not.match(/\n\s+at .+:\d+:\d+\)?/);
  expect(text, `${what}: a source path in the answer`).to.not.match(/\/(?:dist|lib|node_modules)\/[\w./-]+\.js/);
}

/** Nothing on the service differs from the baseline, and the server answers an ordinary request. */
export async function expectUnchangedAndAlive(f: Fixture, what: string): Promise<void> {
  expect(await f.remote.snapshot(), `${what}: the service's tree changed`).to.deep.equal(f.baseline);
  const res = await fetch(`${f.s.url}docs/`, { method: 'PROPFIND', headers: { Authorization: f.s.auth, Depth: '1' } });
  await res.arrayBuffer();
  expect(res.status, `${what}: the server still answers`).to.equal(207);
}

/** A request through fetch; network errors become status 0. */
export async function send(
  f: Fixture,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string | Buffer; auth?: string } = {},
): Promise<Answer> {
  const url = path.startsWith('/') ? f.s.origin + path : f.s.url + path;
  try {
    const res = await fetch(url, {
      method,
      headers: { Authorization: init.auth ?? f.s.auth, ...init.headers },
      body: init.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } catch {
    return { status: 0, headers: new Headers(), body: '' };
  }
}

/**
 * Raw bytes on a fresh connection; the status of the first answer (0 when the server just closed), its text, and
 * whether the server closed the connection. `pace` sends the bytes one at a time with that gap (slow clients).
 */
export function rawRequest(
  port: number,
  bytes: Buffer | string,
  opts: { waitMs?: number; paceMs?: number } = {},
): Promise<{ status: number; text: string; closed: boolean; ms: number; sent: number; total: number }> {
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let done = false;
    let sent = 0;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(pacer);
      sock.destroy();
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1] ?? 0), text: got, closed, ms: Date.now() - t0, sent, total: data.length });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 5000);
    let pacer: NodeJS.Timeout | undefined;
    sock.on('connect', () => {
      if (!opts.paceMs) {
        sock.write(data);
        sent = data.length;
        return;
      }
      pacer = setInterval(() => {
        if (sent < data.length && sock.writable) sock.write(data.subarray(sent, ++sent));
      }, opts.paceMs);
    });
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
  });
}

/** `Authorization` header line for raw requests. */
export function authLine(f: Fixture): string {
  return `Authorization: ${f.s.auth}\r\n`;
}
