// Locks over HTTP: exclusive and shared, depth, If-header enforcement, lock discovery with the owner echoed
// verbatim, timeouts (with an injected clock), refresh, UNLOCK, LOCK on an unmapped URL, and locks that
// survive a restart through a keyv-file store.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import Keyv from 'keyv';
import { KeyvFile } from 'keyv-file';
import { dav, startDav, tagValues, type Harness } from './harness.js';
import { MemoryStorage } from './memory-storage.js';

const lockBody = (scope: 'exclusive' | 'shared', owner = '<D:href>mailto:alice@example.com</D:href>') =>
  `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope>` +
  `<D:locktype><D:write/></D:locktype><D:owner>${owner}</D:owner></D:lockinfo>`;

async function lock(h: Harness, path: string, opts: { scope?: 'exclusive' | 'shared'; depth?: string; timeout?: string; user?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.depth) headers.Depth = opts.depth;
  if (opts.timeout) headers.Timeout = opts.timeout;
  const r = await dav(h, { method: 'LOCK', path, body: lockBody(opts.scope ?? 'exclusive'), headers, user: opts.user });
  const token = /<([^>]+)>/.exec((r.headers['lock-token'] as string | undefined) ?? '')?.[1];
  return { r, token: token as string };
}

describe('webdav: locks', function () {
  let storage: MemoryStorage;
  let h: Harness;
  let clock: number;

  beforeEach(async () => {
    storage = new MemoryStorage();
    clock = Date.UTC(2026, 0, 1);
    h = await startDav(storage, { now: () => clock });
    await dav(h, { method: 'PUT', path: '/doc.txt', body: 'v1' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('grants an exclusive lock with a token and reports it in lockdiscovery, owner verbatim', async () => {
    const { r, token } = await lock(h, '/doc.txt', { depth: '0', timeout: 'Second-600' });
    expect(r.status).to.equal(200);
    expect(token).to.match(/^opaquelocktoken:[0-9a-f-]{36}$/);
    expect(r.body).to.include('<D:owner><href xmlns="DAV:">mailto:alice@example.com</href></D:owner>');
    expect(r.body).to.include('<D:timeout>Second-600</D:timeout>');
    expect(r.body).to.include('<D:depth>0</D:depth>');
    const pf = await dav(h, {
      method: 'PROPFIND',
      path: '/doc.txt',
      headers: { Depth: '0' },
      body: '<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>',
    });
    expect(tagValues(pf.body, 'locktoken')[0]).to.include(token);
    expect(pf.body).to.include('<D:lockroot><D:href>/doc.txt</D:href></D:lockroot>');
  });

  it('refuses writes without the token (423) and allows them with it; reads are never blocked', async () => {
    const { token } = await lock(h, '/doc.txt');
    for (const [method, extra] of [
      ['PUT', {}],
      ['DELETE', {}],
      ['MOVE', { Destination: `${h.url}/moved.txt` }],
      ['PROPPATCH', {}],
    ] as const) {
      const body =
        method === 'PUT' ? 'v2' : method === 'PROPPATCH' ? '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x">1</x:a></D:prop></D:set></D:propertyupdate>' : undefined;
      const r = await dav(h, { method, path: '/doc.txt', headers: extra, body });
      expect(r.status, method).to.equal(423);
      expect(r.body).to.include('lock-token-submitted');
    }
    expect((await dav(h, { method: 'COPY', path: '/doc.txt', headers: { Destination: `${h.url}/copy.txt` } })).status).to.equal(201);
    await dav(h, { method: 'PUT', path: '/other.txt', body: 'o' });
    expect((await dav(h, { method: 'COPY', path: '/other.txt', headers: { Destination: `${h.url}/doc.txt` } })).status).to.equal(423);
    expect((await dav(h, { method: 'GET', path: '/doc.txt' })).status).to.equal(200);
    expect((await dav(h, { method: 'PUT', path: '/doc.txt', body: 'v2', headers: { If: `(<${token}>)` } })).status).to.equal(204);
    // another user holding the token string is still not the owner
    expect((await dav(h, { method: 'PUT', path: '/doc.txt', body: 'v3', user: 'bob', headers: { If: `(<${token}>)` } })).status).to.equal(423);
    // the copy did not take the lock along
    expect((await dav(h, { method: 'PUT', path: '/copy.txt', body: 'c' })).status).to.equal(204);
  });

  it('evaluates If headers: no-lock, Not, entity tags, tagged lists; malformed → 400', async () => {
    const { token } = await lock(h, '/doc.txt');
    const etag = (await dav(h, { method: 'HEAD', path: '/doc.txt' })).headers.etag as string;
    const putIf = (If: string) => dav(h, { method: 'PUT', path: '/doc.txt', body: 'x', headers: { If } });
    expect((await putIf(`(<DAV:no-lock> [${etag}])`)).status).to.equal(412);
    expect((await putIf(`(<${token}x>) (Not <DAV:no-lock>)`)).status).to.equal(423);
    expect((await putIf(`(<${token}> ["bogus"]) (Not <DAV:no-lock> ["bogus"])`)).status).to.equal(412);
    expect((await putIf(`(<${token}>) (Not <DAV:no-lock>)`)).status).to.equal(204);
    const etag2 = (await dav(h, { method: 'HEAD', path: '/doc.txt' })).headers.etag as string;
    expect((await putIf(`<${h.url}/doc.txt> (<${token}> [${etag2}])`)).status).to.equal(204);
    for (const bad of ['(', '(<a>', 'garbage', '([unquoted])', '<http://x/>']) {
      expect((await putIf(bad)).status, bad).to.equal(400);
    }
    expect((await dav(h, { method: 'PUT', path: '/free.txt', body: 'x', headers: { If: '(<DAV:no-lock>)' } })).status).to.equal(412);
  });

  it('lets shared locks coexist and refuses an exclusive lock over them', async () => {
    const a = await lock(h, '/doc.txt', { scope: 'shared' });
    const b = await lock(h, '/doc.txt', { scope: 'shared', user: 'bob' });
    expect(a.r.status).to.equal(200);
    expect(b.r.status).to.equal(200);
    expect(a.r.body).to.include('<D:shared/>');
    const c = await lock(h, '/doc.txt', { scope: 'exclusive' });
    expect(c.r.status).to.equal(423);
    expect(c.r.body).to.include('no-conflicting-lock');
    const pf = await dav(h, { method: 'PROPFIND', path: '/doc.txt', headers: { Depth: '0' } });
    expect(tagValues(pf.body, 'activelock')).to.have.length(2);
  });

  it('a depth-infinity lock on a folder protects new and existing members', async () => {
    await dav(h, { method: 'MKCOL', path: '/coll' });
    const { token, r } = await lock(h, '/coll/', { depth: 'infinity' });
    expect(r.status).to.equal(200);
    expect((await dav(h, { method: 'PUT', path: '/coll/new.txt', body: 'x' })).status).to.equal(423);
    expect((await dav(h, { method: 'PUT', path: '/coll/new.txt', body: 'x', headers: { If: `<${h.url}/coll/> (<${token}>)` } })).status).to.equal(201);
    expect((await dav(h, { method: 'PUT', path: '/coll/new.txt', body: 'y' })).status).to.equal(423);
    // refresh through a member (indirect refresh)
    const refresh = await dav(h, { method: 'LOCK', path: '/coll/new.txt', headers: { If: `(<${token}>)`, Timeout: 'Second-100' } });
    expect(refresh.status).to.equal(200);
    expect(refresh.body).to.include('<D:timeout>Second-100</D:timeout>');
    expect((await dav(h, { method: 'DELETE', path: '/coll' })).status).to.equal(423);
    expect((await dav(h, { method: 'DELETE', path: '/coll', headers: { If: `(<${token}>)` } })).status).to.equal(204);
  });

  it('honours the timeout: an expired lock no longer blocks or shows', async () => {
    const { r } = await lock(h, '/doc.txt', { timeout: 'Second-60' });
    expect(r.body).to.include('Second-60');
    clock += 30_000;
    expect((await dav(h, { method: 'PUT', path: '/doc.txt', body: 'x' })).status).to.equal(423);
    clock += 31_000;
    expect((await dav(h, { method: 'PUT', path: '/doc.txt', body: 'x' })).status).to.equal(204);
    const pf = await dav(h, { method: 'PROPFIND', path: '/doc.txt', headers: { Depth: '0' } });
    expect(pf.body).not.to.include('<D:activelock>');
  });

  it('clamps Infinite to the maximum and refreshes with an empty LOCK carrying the token', async () => {
    const { token } = await lock(h, '/doc.txt', { timeout: 'Infinite, Second-4100000000' });
    const pf = await dav(h, { method: 'PROPFIND', path: '/doc.txt', headers: { Depth: '0' } });
    expect(pf.body).to.include(`<D:timeout>Second-${7 * 24 * 3600}</D:timeout>`);
    expect((await dav(h, { method: 'LOCK', path: '/doc.txt', headers: { If: '(<opaquelocktoken:nope>)' } })).status).to.equal(412);
    expect((await dav(h, { method: 'LOCK', path: '/doc.txt' })).status).to.equal(400);
    const ok = await dav(h, { method: 'LOCK', path: '/doc.txt', headers: { If: `(<${token}>)`, Timeout: 'Second-30' } });
    expect(ok.status).to.equal(200);
    expect(ok.body).to.include('Second-30');
  });

  it('UNLOCK: 400 without a token, 409 for a token that does not cover the resource, 403 for another user, 204 for the owner', async () => {
    const { token } = await lock(h, '/doc.txt');
    expect((await dav(h, { method: 'UNLOCK', path: '/doc.txt' })).status).to.equal(400);
    expect((await dav(h, { method: 'UNLOCK', path: '/doc.txt', headers: { 'Lock-Token': '<opaquelocktoken:foobar>' } })).status).to.equal(409);
    expect((await dav(h, { method: 'UNLOCK', path: '/doc.txt', headers: { 'Lock-Token': `<${token}>` }, user: 'bob' })).status).to.equal(403);
    expect((await dav(h, { method: 'UNLOCK', path: '/doc.txt', headers: { 'Lock-Token': `<${token}>` } })).status).to.equal(204);
    expect((await dav(h, { method: 'PUT', path: '/doc.txt', body: 'free' })).status).to.equal(204);
  });

  it('LOCK on an unmapped URL creates an empty file (201); without a parent it is 409', async () => {
    const { r } = await lock(h, '/new.docx');
    expect(r.status).to.equal(201);
    const g = await dav(h, { method: 'GET', path: '/new.docx' });
    expect(g.status).to.equal(200);
    expect(g.raw.length).to.equal(0);
    expect((await lock(h, '/missing/new.docx')).r.status).to.equal(409);
  });

  it('grants only one of two concurrent exclusive LOCKs on the same new URL', async () => {
    // hold both empty-file writes until both requests got that far, so both passed the first conflict check
    let arrived = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    storage.beforeWrite = async () => {
      if (++arrived === 2) release();
      await gate;
    };
    const [a, b] = await Promise.all([lock(h, '/race.txt'), lock(h, '/race.txt', { user: 'bob' })]);
    storage.beforeWrite = undefined;
    expect([a.r.status, b.r.status].sort()).to.deep.equal([201, 423]);
  });

  it('answers 400 to a lockinfo that is not one', async () => {
    const r = await dav(h, { method: 'LOCK', path: '/doc.txt', body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:weird/></D:lockscope></D:lockinfo>' });
    expect(r.status).to.equal(400);
  });
});

describe('webdav: locks and dead properties survive a restart', function () {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jottadav-locks-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const stores = () => ({
    lockStore: new Keyv({ store: new KeyvFile({ filename: join(dir, 'locks.json'), writeDelay: 5 }) }),
    propertyStore: new Keyv({ store: new KeyvFile({ filename: join(dir, 'props.json'), writeDelay: 5 }) }),
  });

  it('keeps a lock and its token, and a dead property, across a new handler on the same stores', async () => {
    const storage = new MemoryStorage();
    const first = await startDav(storage, stores());
    await dav(first, { method: 'PUT', path: '/keep.txt', body: 'x' });
    const { token } = await lock(first, '/keep.txt');
    await dav(first, {
      method: 'PROPPATCH',
      path: '/keep.txt',
      headers: { If: `(<${token}>)` },
      body: '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:tag xmlns:x="urn:x">kept</x:tag></D:prop></D:set></D:propertyupdate>',
    });
    await first.close();

    const second = await startDav(storage, stores());
    try {
      expect((await dav(second, { method: 'PUT', path: '/keep.txt', body: 'y' })).status).to.equal(423);
      const pf = await dav(second, { method: 'PROPFIND', path: '/keep.txt', headers: { Depth: '0' } });
      expect(pf.body).to.include(token);
      expect(pf.body).to.include('>kept</X:tag>');
      expect((await dav(second, { method: 'UNLOCK', path: '/keep.txt', headers: { 'Lock-Token': `<${token}>` } })).status).to.equal(204);
      expect((await dav(second, { method: 'PUT', path: '/keep.txt', body: 'y' })).status).to.equal(204);
    } finally {
      await second.close();
    }
  });
});
