// How many requests reach Jottacloud per write, counted by the emulator over real HTTP through the whole stack:
// a PUT into a folder already listed is allocate + upload and nothing else; MOVE, COPY, DELETE and MKCOL are their
// one JFS call; a folder not yet listed costs one listing, shared by concurrent writes into it. Answering from the
// cache and from the service's own answers must not change what clients see: a second server with a cold cache on
// the same account reports the same ETags and times, and a folder another client made is still writable.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { startStack, type TestStack } from '../helpers/stack.js';

describe('webdav: backend requests per write', function () {
  this.timeout(60_000);
  let emu: RunningEmulator;
  let s: TestStack;
  /** A second server on the same account with its own (cold) cache: what the service itself holds. */
  let fresh: TestStack;

  before(async () => {
    emu = await startTestEmulator();
    s = await startStack({ emulator: emu });
    fresh = await startStack({ emulator: emu });
  });
  after(async () => {
    await s?.close();
    await fresh?.close();
    await emu?.close();
  });

  async function dav(stack: TestStack, method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
    const res = await fetch(stack.url + path, { method, body: init.body, headers: { authorization: stack.auth, ...init.headers } });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** The backend requests `fn` caused, by route (e.g. `GET jfs`, `POST jfs mv`). */
  async function counted(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    emu.resetStats();
    await fn();
    return emu.stats().routes;
  }

  async function put(path: string, body: string, headers: Record<string, string> = {}): Promise<number> {
    const r = await dav(s, 'PUT', path, { body, headers });
    return r.status;
  }

  /** getetag and getlastmodified of one resource, as `stack` reports them (PROPFIND depth 0). */
  async function props(stack: TestStack, path: string): Promise<{ etag?: string; modified?: string }> {
    const r = await dav(stack, 'PROPFIND', path, { headers: { depth: '0' } });
    expect(r.status, `PROPFIND ${path}`).to.equal(207);
    return {
      etag: /<D:getetag>([^<]*)<\/D:getetag>/.exec(r.text)?.[1],
      modified: /<D:getlastmodified>([^<]*)<\/D:getlastmodified>/.exec(r.text)?.[1],
    };
  }

  const md5 = (text: string) => createHash('md5').update(text).digest('base64');

  it('PUT into a folder already listed: allocate + upload only, new file, new revision and another case alike', async () => {
    expect((await dav(s, 'MKCOL', 'listed')).status).to.equal(201);
    expect((await dav(s, 'PROPFIND', 'listed/', { headers: { depth: '1' } })).status).to.equal(207);
    await put('warm-quota.txt', 'x'); // the quota check is cached for a while; keep it out of the counts below

    const routes = { 'POST /files/v1/allocate': 1, 'POST upload': 1 };
    let status = 0;
    expect(await counted(async () => (status = await put('listed/a.txt', 'first')))).to.deep.equal(routes);
    expect(status).to.equal(201);
    expect(await counted(async () => (status = await put('listed/a.txt', 'second', { 'content-md5': md5('second') })))).to.deep.equal(routes);
    expect(status).to.equal(204);
    expect(await counted(async () => (status = await put('listed/A.TXT', 'third')))).to.deep.equal(routes);
    expect(status).to.equal(204);

    const listing = await dav(s, 'PROPFIND', 'listed/', { headers: { depth: '1' } });
    expect(listing.text).to.include('/listed/a.txt<').and.not.include('A.TXT');
    expect((await dav(s, 'GET', 'listed/a.txt')).text).to.equal('third');
  });

  it('the answer to a PUT, MOVE and COPY shows what the service holds (a cold server reports the same ETag and time)', async () => {
    const put1 = await dav(s, 'PUT', 'listed/timed.txt', { body: 'with a time', headers: { 'x-oc-mtime': '1500000000' } });
    expect(put1.status).to.equal(201);
    const ours = await props(s, 'listed/timed.txt');
    expect(ours.etag).to.equal(put1.headers.get('etag')?.replaceAll('"', '&quot;'));
    expect(ours.modified).to.equal(new Date(1_500_000_000_000).toUTCString());
    expect(await props(fresh, 'listed/timed.txt')).to.deep.equal(ours);

    expect((await dav(s, 'MOVE', 'listed/timed.txt', { headers: { destination: `${s.url}listed/moved.txt` } })).status).to.equal(201);
    expect((await dav(s, 'COPY', 'listed/moved.txt', { headers: { destination: `${s.url}listed/copied.txt` } })).status).to.equal(201);
    for (const path of ['listed/moved.txt', 'listed/copied.txt']) {
      const mine = await props(s, path);
      expect(mine.etag, path).to.be.a('string');
      expect(await props(fresh, path), path).to.deep.equal(mine);
    }
    expect((await dav(s, 'PROPFIND', 'listed/timed.txt', { headers: { depth: '0' } })).status).to.equal(404);
  });

  it('MOVE, COPY, DELETE and MKCOL in listed folders: their one JFS call each', async () => {
    expect((await dav(s, 'MKCOL', 'other')).status).to.equal(201);
    expect((await dav(s, 'PROPFIND', 'other/', { headers: { depth: '1' } })).status).to.equal(207);
    await put('listed/m.txt', 'to move');

    let status = 0;
    const move = () => dav(s, 'MOVE', 'listed/m.txt', { headers: { destination: `${s.url}other/m.txt` } }).then((r) => (status = r.status));
    expect(await counted(move)).to.deep.equal({ 'POST jfs mv': 1 });
    expect(status).to.equal(201);
    const copy = () => dav(s, 'COPY', 'other/m.txt', { headers: { destination: `${s.url}listed/m.txt` } }).then((r) => (status = r.status));
    expect(await counted(copy)).to.deep.equal({ 'POST jfs cp': 1 });
    expect(status).to.equal(201);
    const overwrite = () => dav(s, 'MOVE', 'other/m.txt', { headers: { destination: `${s.url}listed/m.txt` } }).then((r) => (status = r.status));
    expect(await counted(overwrite)).to.deep.equal({ 'POST jfs mv': 1 });
    expect(status).to.equal(204);
    expect(await counted(() => dav(s, 'DELETE', 'listed/m.txt').then((r) => (status = r.status)))).to.deep.equal({ 'POST jfs dl': 1 });
    expect(status).to.equal(204);
    expect(await counted(() => dav(s, 'MKCOL', 'other/sub').then((r) => (status = r.status)))).to.deep.equal({ 'POST jfs mkDir': 1 });
    expect(status).to.equal(201);

    expect((await dav(fresh, 'PROPFIND', 'listed/m.txt', { headers: { depth: '0' } })).status).to.equal(404);
    expect((await dav(fresh, 'PROPFIND', 'other/m.txt', { headers: { depth: '0' } })).status).to.equal(404);
    expect((await dav(fresh, 'PROPFIND', 'other/sub', { headers: { depth: '0' } })).status).to.equal(207);
  });

  it('a folder not listed yet: one listing, shared by eight PUTs at once, then none', async () => {
    expect((await dav(s, 'MKCOL', 'cold')).status).to.equal(201);
    const statuses: number[] = [];
    const routes = await counted(() => Promise.all(Array.from({ length: 8 }, (_, i) => put(`cold/f${i}.txt`, `file ${i}`).then((st) => statuses.push(st)))));
    expect(statuses).to.deep.equal(Array(8).fill(201));
    expect(routes).to.deep.equal({ 'GET jfs': 1, 'POST /files/v1/allocate': 8, 'POST upload': 8 });
    expect(await counted(() => put('cold/f8.txt', 'one more'))).to.deep.equal({ 'POST /files/v1/allocate': 1, 'POST upload': 1 });

    const listing = await dav(fresh, 'PROPFIND', 'cold/', { headers: { depth: '1' } });
    expect(listing.text.match(/<D:response>/g)).to.have.length(10);
  });

  it('a MOVE into a folder not listed yet costs that one listing more', async () => {
    expect((await dav(s, 'MKCOL', 'unlisted')).status).to.equal(201);
    await put('listed/n.txt', 'to move');
    const move = () => dav(s, 'MOVE', 'listed/n.txt', { headers: { destination: `${s.url}unlisted/n.txt` } });
    expect(await counted(move)).to.deep.equal({ 'GET jfs': 1, 'POST jfs mv': 1 });
    expect((await dav(fresh, 'GET', 'unlisted/n.txt')).text).to.equal('to move');
  });

  it('a PUT answer says where its time went (Server-Timing): spooling and its hash without a client MD5, never with one', async () => {
    const phases = (header: string | null) =>
      (header ?? '').split(', ').map((p) => {
        const m = /^([a-z]+);dur=(\d+\.\d)$/.exec(p);
        expect(m, `Server-Timing part ${p}`).to.not.equal(null);
        return m![1];
      });
    expect((await dav(s, 'MKCOL', 'timing')).status).to.equal(201);
    const plain = await dav(s, 'PUT', 'timing/a.txt', { body: 'no MD5 declared' });
    expect(plain.status).to.equal(201);
    expect(phases(plain.headers.get('server-timing'))).to.deep.equal(['pre', 'check', 'spool', 'hash', 'allocate', 'upload', 'commit', 'total']);
    const declared = await dav(s, 'PUT', 'timing/a.txt', { body: 'MD5 declared', headers: { 'content-md5': md5('MD5 declared') } });
    expect(declared.status).to.equal(204);
    expect(phases(declared.headers.get('server-timing'))).to.deep.equal(['pre', 'check', 'allocate', 'upload', 'commit', 'total']);
    // content already held by the service: allocate completes it, no upload phase beyond the answer
    const again = await dav(s, 'PUT', 'timing/b.txt', { body: 'MD5 declared', headers: { 'content-md5': md5('MD5 declared') } });
    expect(again.status).to.equal(201);
    expect(phases(again.headers.get('server-timing'))).to.include.members(['allocate', 'commit', 'total']);
  });

  it('a folder another client made after its parent was listed can still be written into', async () => {
    expect((await dav(s, 'PROPFIND', '', { headers: { depth: '1' } })).status).to.equal(207);
    expect((await dav(fresh, 'MKCOL', 'theirs')).status).to.equal(201);
    expect(await put('theirs/x.txt', 'mine')).to.equal(201);
    expect((await dav(fresh, 'GET', 'theirs/x.txt')).text).to.equal('mine');
    // and a folder that truly is not there is still refused
    expect(await put('nowhere/x.txt', 'lost')).to.equal(409);
  });
});
