// What the metadata cache saves, counted at the client's onRequest hook: a folder listing costs one
// request cold and none warm, a stat of a listed folder's child costs none, and our own writes are
// visible at once without a stale read — plus the root modes and the trash view.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import type { JottacloudStorage } from '../../lib/storage/provider.js';
import { NotFound, ReadOnly } from '../../lib/storage/types.js';
import { body, readAll, startHarness, type Harness } from './harness.js';

describe('storage/listing and cache', function () {
  this.timeout(60_000);

  describe('a 1,000-entry folder', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness();
      await h.client.mkdir('big');
      const names = Array.from({ length: 1000 }, (_, i) => `file-${String(i).padStart(4, '0')}.txt`);
      for (let i = 0; i < names.length; i += 25) {
        await Promise.all(
          names.slice(i, i + 25).map((n) => {
            const data = Buffer.from(n);
            return h.client.upload(['big', n], { size: data.length, md5: createHash('md5').update(data).digest('hex'), body: data });
          }),
        );
      }
    });
    after(() => h.close());

    it('costs one request cold, none warm, and none for stats of its children', async () => {
      const s = h.storage;
      h.resetCount();
      const cold = await s.list('/big');
      expect(cold).to.have.length(1000);
      const coldRequests = h.requests.length;
      h.resetCount();
      const warm = await s.list('/big');
      expect(warm).to.have.length(1000);
      const warmRequests = h.requests.length;
      h.resetCount();
      for (const e of warm.slice(0, 100)) expect((await s.stat(e.path)).size).to.equal(e.size);
      await s.stat('/big/FILE-0007.TXT');
      expect(await s.stat('/big/missing').catch((e: Error) => e)).to.be.instanceOf(NotFound);
      const statRequests = h.requests.length;
      console.log(`      listing 1,000 entries: ${coldRequests} request(s) cold, ${warmRequests} warm; 101 stats + 1 miss: ${statRequests}`);
      expect(coldRequests).to.equal(1);
      expect(warmRequests).to.equal(0);
      expect(statRequests).to.equal(0);
    });

    it('holds at most storage.cacheMaxEntries entries: a listing pushed out is listed again', async () => {
      // The default bound keeps /big beside the root's listing; a bound of 1,000 entries cannot hold both.
      for (const [max, expected] of [[undefined, 0], [1000, 1]] as const) {
        const s = await h.openStorage(max === undefined ? {} : { cacheMaxEntries: max });
        await s.list('/big');
        await s.list('/');
        h.resetCount();
        expect(await s.list('/big')).to.have.length.greaterThan(990);
        expect(h.requests.filter((r) => r.method === 'GET'), `cacheMaxEntries ${max ?? 'default'}`).to.have.length(expected);
      }
    });

    it('shows our own write in the cached listing at once, without listing again', async () => {
      const s = h.storage;
      await s.list('/big');
      await s.write('/big/new.txt', body('n'));
      await s.delete('/big/file-0000.txt');
      h.resetCount();
      const names = (await s.list('/big')).map((e) => e.name);
      expect(names).to.include('new.txt');
      expect(names).not.to.include('file-0000.txt');
      expect(h.requests.filter((r) => r.method === 'GET')).to.have.length(0);
    });
  });

  describe('no stale read after our own write', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await startHarness();
    });
    afterEach(() => h.close());

    it('stat, list and read see every change at once', async () => {
      const s = h.storage;
      await s.mkdir('/w');
      await s.list('/w');
      for (let i = 0; i < 5; i++) {
        await s.write('/w/f', body(`v${i}`));
        expect(await readAll(s, '/w/f')).to.equal(`v${i}`);
        expect((await s.stat('/w/f')).size).to.equal(2);
      }
      await s.move('/w/f', '/w/g', { overwrite: false });
      expect((await s.list('/w')).map((e) => e.name)).to.deep.equal(['g']);
      expect(await s.stat('/w/f').catch((e: Error) => e)).to.be.instanceOf(NotFound);
      await s.mkdir('/w/sub');
      await s.list('/w/sub');
      await s.move('/w/g', '/w/sub/g', { overwrite: false });
      expect((await s.list('/w/sub')).map((e) => e.name)).to.deep.equal(['g']);
      await s.delete('/w/sub');
      expect(await s.list('/w/sub').catch((e: Error) => e)).to.be.instanceOf(NotFound);
      expect(await s.stat('/w/sub/g').catch((e: Error) => e)).to.be.instanceOf(NotFound);
      await s.mkdir('/w/sub');
      expect(await s.list('/w/sub')).to.deep.equal([]);
    });

    it('a change made by another client shows after the TTL, not before (the documented contract)', async () => {
      const s = await h.openStorage({ cacheTtlSec: 0.2 });
      await s.mkdir('/t');
      await s.list('/t');
      await h.client.upload(['t', 'other.txt'], { size: 1, md5: createHash('md5').update('o').digest('hex'), body: Buffer.from('o') });
      expect(await s.list('/t')).to.have.length(0);
      await new Promise((r) => setTimeout(r, 300));
      expect((await s.list('/t')).map((e) => e.name)).to.deep.equal(['other.txt']);
    });
  });

  describe('roots', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness();
      await h.storage.write('/in-archive.txt', body('a'));
      await h.client.createDevice('Laptop');
      await h.client.createMountPoint('Docs', 'Laptop');
    });
    after(() => h.close());

    it('mountpoint mode (default): / is Jotta/Archive', async () => {
      expect((await h.storage.list('/')).map((e) => e.name)).to.deep.equal(['in-archive.txt']);
    });

    it('device mode: the mountpoints are the top-level folders; views are read-only', async () => {
      const s = await h.openStorage({ root: { mode: 'device' } });
      const top = await s.list('/');
      expect(top.map((e) => e.name)).to.include.members(['Archive', 'Sync']);
      expect(await readAll(s, '/Archive/in-archive.txt')).to.equal('a');
      expect((await s.stat('/archive')).path).to.equal('/Archive');
      await s.write('/Sync/s.txt', body('s'));
      expect(await readAll(s, '/Sync/s.txt')).to.equal('s');
      expect(await s.mkdir('/NewMountpoint').catch((e: Error) => e)).to.be.instanceOf(ReadOnly); // not on the built-in device
      expect(await s.delete('/Archive').catch((e: Error) => e)).to.be.instanceOf(ReadOnly);
    });

    it('device mode on a backup device: new top-level folders are new mountpoints', async () => {
      const s = await h.openStorage({ root: { mode: 'device', device: 'Laptop' } });
      expect((await s.list('/')).map((e) => e.name)).to.deep.equal(['Docs']);
      await s.mkdir('/Pictures');
      await s.write('/Pictures/p.jpg', body('p'));
      expect((await s.list('/')).map((e) => e.name).sort()).to.deep.equal(['Docs', 'Pictures']);
      expect((await h.client.deviceInfo('Laptop')).mountPoints.map((m) => m.name).sort()).to.deep.equal(['Docs', 'Pictures']);
    });

    it('all mode: devices, then mountpoints, then the tree', async () => {
      const s = await h.openStorage({ root: { mode: 'all' } });
      expect((await s.list('/')).map((e) => e.name).sort()).to.deep.equal(['Jotta', 'Laptop']);
      expect((await s.list('/Laptop')).map((e) => e.name)).to.include('Docs');
      expect(await readAll(s, '/Jotta/Archive/in-archive.txt')).to.equal('a');
      expect(await s.write('/Jotta/x', body('x')).catch((e: Error) => e)).to.be.instanceOf(ReadOnly);
      expect((await s.stat('/Jotta')).readOnly).to.equal(true);
    });
  });

  describe('the trash view', () => {
    let h: Harness;
    let s: JottacloudStorage;
    beforeEach(async () => {
      h = await startHarness({ trashView: '/.Trash' });
      s = h.storage;
    });
    afterEach(() => h.close());

    it('is off by default', async () => {
      const plain = await h.openStorage({});
      expect((await plain.list('/')).map((e) => e.name)).not.to.include('.Trash');
    });

    it('lists the trash read-only, and moving a file out of it restores it', async () => {
      await s.mkdir('/d');
      await s.write('/d/gone.txt', body('precious'));
      await s.delete('/d/gone.txt');
      expect((await s.list('/')).map((e) => e.name)).to.deep.equal(['d', '.Trash']);
      const trash = await s.list('/.Trash');
      expect(trash.map((e) => e.name)).to.deep.equal(['gone.txt']);
      expect(trash[0].readOnly).to.equal(true);
      expect(trash[0].deleted).to.be.instanceOf(Date);
      expect(await s.write('/.Trash/x', body('x')).catch((e: Error) => e)).to.be.instanceOf(ReadOnly);
      expect(await s.delete('/.Trash/gone.txt').catch((e: Error) => e)).to.be.instanceOf(ReadOnly);
      await s.move('/.Trash/gone.txt', '/d/gone.txt', { overwrite: false });
      expect(await readAll(s, '/d/gone.txt')).to.equal('precious');
      expect(await s.list('/.Trash')).to.deep.equal([]);
      const fresh = await h.openStorage({});
      expect(await readAll(fresh, '/d/gone.txt')).to.equal('precious');
    });

    it('restores a trashed folder with its contents, also to another place', async () => {
      await s.mkdir('/album');
      await s.mkdir('/album/2024');
      await s.write('/album/2024/p1.jpg', body('p1'));
      await s.write('/album/cover.jpg', body('c'));
      await s.delete('/album');
      expect((await s.list('/.Trash/album')).map((e) => e.name).sort()).to.deep.equal(['2024', 'cover.jpg']);
      expect((await s.stat('/.Trash/album/2024/p1.jpg')).size).to.equal(2);
      await s.move('/.Trash/album', '/restored', { overwrite: false });
      expect(await readAll(s, '/restored/2024/p1.jpg')).to.equal('p1');
      expect(await readAll(s, '/restored/cover.jpg')).to.equal('c');
    });
  });
});
