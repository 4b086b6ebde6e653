// Every call of JottacloudClient over real HTTP against the emulator: account and devices, listing,
// metadata, ranged downloads, mkdir/move/copy/delete, cphash, shares, trash, uploads — and how each
// failure comes back as a typed error carrying the path, status and exception name.
import { expect } from 'chai';
import { Readable } from 'node:stream';
import {
  BadRequestError,
  CorruptUploadError,
  ForbiddenNameError,
  JottacloudError,
  NotFoundError,
  RangeNotSatisfiableError,
  AbortedError,
  WrongKindError,
  type File,
  type Folder,
  type JottacloudClient,
} from '../../lib/jottacloud/index.js';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { bytes, makeClient, md5Hex, readAll } from './client-helpers.js';

const T0 = new Date('2021-03-04T05:06:07Z');
const T1 = new Date('2022-08-09T10:11:12Z');

async function put(client: JottacloudClient, path: string | string[], data: Buffer, when = T0): Promise<void> {
  await client.upload(path, { size: data.length, md5: md5Hex(data), body: data, created: when, modified: when });
}

async function expectRejects<E extends Error>(p: Promise<unknown>, type: new (...a: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(type);
    return e as E;
  }
  throw new Error(`expected a ${type.name}`);
}

describe('JottacloudClient against the emulator', () => {
  let emu: RunningEmulator;
  let client: JottacloudClient;

  before(async () => {
    emu = await startTestEmulator();
    client = makeClient(emu).client;
  });
  after(async () => {
    await emu?.close();
  });

  describe('account', () => {
    it('learns the JFS user name from account/v1/customer, once', async () => {
      const t = makeClient(emu);
      const [a, b] = await Promise.all([t.client.username(), t.client.username()]);
      expect(a).to.equal(emu.user);
      expect(b).to.equal(emu.user);
      await t.client.list('');
      expect(t.requests.filter((r) => r.operation === 'customer')).to.have.length(1);
    });

    it('uses a configured user name without asking', async () => {
      const t = makeClient(emu, { username: emu.user });
      await t.client.list('');
      expect(t.requests.map((r) => r.operation)).to.deep.equal(['list']);
    });

    it('reads customer info and drive info with quota and devices', async () => {
      const c = await client.customerInfo();
      expect(c.username).to.equal(emu.user);
      expect(c.writeLocked).to.equal(false);
      const d = await client.driveInfo();
      expect(d.username).to.equal(emu.user);
      expect(d.quota.unlimited).to.equal(false);
      expect(d.quota.capacity).to.equal(5 * 1024 ** 4);
      expect(d.quota.usage).to.be.a('number');
      expect(d.devices.map((x) => x.name)).to.include('Jotta');
    });

    it('reads a device with its mountpoints, creates a device and a mountpoint on it', async () => {
      const jotta = await client.deviceInfo();
      expect(jotta.type).to.equal('JOTTA');
      expect(jotta.mountPoints.map((m) => m.name)).to.include.members(['Archive', 'Sync']);

      const dev = await client.createDevice('Laptop 1');
      expect(dev.name).to.equal('Laptop 1');
      const mp = await client.createMountPoint('Docs + more', 'Laptop 1');
      expect(mp.name).to.equal('Docs + more');
      const again = await client.deviceInfo('Laptop 1');
      expect(again.type).to.equal('WORKSTATION');
      expect(again.mountPoints.map((m) => m.name)).to.deep.equal(['Docs + more']);

      // Files live on other devices too, through a location argument.
      const where = { device: 'Laptop 1', mountpoint: 'Docs + more', path: 'sub/a.txt' };
      const data = Buffer.from('on the laptop');
      await client.upload(where, { size: data.length, md5: md5Hex(data), body: data });
      expect(await readAll((await client.download(where)).stream)).to.deep.equal(data);
      const drive = await client.driveInfo();
      expect(drive.devices.map((x) => x.name)).to.include('Laptop 1');
    });
  });

  describe('folders and metadata', () => {
    it('makes folders (with parents), lists one level, and reads folder and file metadata', async () => {
      const made = await client.mkdir('meta/a/b', { parents: true });
      expect(made.name).to.equal('b');
      await put(client, 'meta/a/f.txt', Buffer.from('hello'));
      const root = await client.list('');
      expect(root.kind).to.equal('mountPoint');
      expect(root.name).to.equal('Archive');
      expect(root.folders.map((f) => f.name)).to.include('meta');

      const a = await client.list('meta/a');
      expect(a.kind).to.equal('folder');
      expect(a.folders.map((f) => f.name)).to.deep.equal(['b']);
      expect(a.files.map((f) => f.name)).to.deep.equal(['f.txt']);
      const f = a.files[0]!;
      expect(f).to.include({ complete: true, deleted: false, size: 5, md5: md5Hex('hello') });
      expect(f.modified?.toISOString()).to.equal(T0.toISOString());

      const detail = (await client.metadata(['meta', 'a', 'f.txt'])) as File;
      expect(detail.kind).to.equal('file');
      expect(detail.currentRevision?.state).to.equal('COMPLETED');
      expect(detail.created?.toISOString()).to.equal(T0.toISOString());
      expect(detail.updated).to.be.instanceOf(Date);
      expect((await client.metadata('meta/a')).kind).to.equal('folder');
      expect((await client.fileInfo('meta/a/f.txt')).size).to.equal(5);

      // mkDir of an existing folder is fine (the service answers 200).
      expect((await client.mkdir('meta/a')).name).to.equal('a');
    });

    it('answers typed errors for missing paths and the wrong kind, with the path and exception', async () => {
      const e = await expectRejects(client.metadata('meta/nope.txt'), NotFoundError);
      expect(e.status).to.equal(404);
      expect(e.path).to.equal('/Jotta/Archive/meta/nope.txt');
      expect(e.exception).to.match(/^NoSuch\w+Exception$/);
      expect(e.message).to.contain('/Jotta/Archive/meta/nope.txt');
      await expectRejects(client.list('meta/a/f.txt'), WrongKindError);
      await expectRejects(client.fileInfo('meta/a'), WrongKindError);
      const mp = await expectRejects(client.list({ mountpoint: 'NoSuchMountpoint', path: '' }), NotFoundError);
      expect(mp.exception).to.equal('NoSuchMountPointException');
    });

    it('refuses names the service cannot store with ForbiddenNameError', async () => {
      const long = await expectRejects(client.mkdir(['x'.repeat(256)]), ForbiddenNameError);
      expect(long.status).to.equal(400);
      expect(long.exception).to.equal('InvalidArgumentException');
      await expectRejects(client.mkdir(['a:b']), ForbiddenNameError);
      await expectRejects(client.mkdir(['what?']), ForbiddenNameError);
      // 255 characters are fine.
      expect((await client.mkdir(['y'.repeat(255)])).name).to.have.length(255);
    });

    it('reports the service refusing a %XX name as a bad request (rclone #9153; the storage layer maps %)', async () => {
      await expectRejects(client.mkdir(['100%25 sure']), BadRequestError);
    });
  });

  describe('names that need encoding', () => {
    const names = ['with space', 'ø æ å ☺ 日本', 'a+b', 'hash#tag', 'semi;colon', ' leading space', "it's (1) [x] {y} & @=$,!~"];
    for (const name of names) {
      it(`round-trips ${JSON.stringify(name)} through upload, list, metadata, download, move and delete`, async () => {
        const data = Buffer.from(`content of ${name}`);
        await client.mkdir(['enc', name], { parents: true });
        await put(client, ['enc', name, name], data);
        const listing = await client.list(['enc', name]);
        expect(listing.name).to.equal(name);
        expect(listing.files.map((f) => f.name)).to.deep.equal([name]);
        expect((await client.fileInfo(['enc', name, name])).md5).to.equal(md5Hex(data));
        expect(await readAll((await client.download(['enc', name, name])).stream)).to.deep.equal(data);
        const moved = await client.move(['enc', name, name], ['enc', name, `${name} 2`]);
        expect(moved.name).to.equal(`${name} 2`);
        const folder = await client.moveFolder(['enc', name], ['enc', `${name} dir`]);
        expect(folder.name).to.equal(`${name} dir`);
        const copied = await client.copy(['enc', `${name} dir`, `${name} 2`], ['enc', `${name} dir`, name]);
        expect(copied.name).to.equal(name);
        await client.deleteFolder(['enc', `${name} dir`]);
        await expectRejects(client.metadata(['enc', `${name} dir`, name]), NotFoundError);
      });
    }
  });

  describe('downloads', () => {
    const data = bytes(200_000, 7);
    before(async () => {
      await put(client, 'dl/blob.bin', data);
    });

    it('downloads the whole file and byte ranges (206 with Content-Range)', async () => {
      const whole = await client.download('dl/blob.bin');
      expect(whole.status).to.equal(200);
      expect(whole.totalSize).to.equal(data.length);
      expect(md5Hex(await readAll(whole.stream))).to.equal(md5Hex(data));

      const part = await client.download('dl/blob.bin', { range: { start: 1000, end: 1999 } });
      expect(part.status).to.equal(206);
      expect(part.contentRange).to.equal(`bytes 1000-1999/${data.length}`);
      expect(part.totalSize).to.equal(data.length);
      expect(await readAll(part.stream)).to.deep.equal(data.subarray(1000, 2000));

      const tail = await client.download('dl/blob.bin', { range: 'bytes=199990-' });
      expect(await readAll(tail.stream)).to.deep.equal(data.subarray(199_990));
    });

    it('answers RangeNotSatisfiableError for a range past the end, NotFoundError for a missing file', async () => {
      const e = await expectRejects(client.download('dl/blob.bin', { range: { start: 500_000 } }), RangeNotSatisfiableError);
      expect(e.status).to.equal(416);
      await expectRejects(client.download('dl/missing.bin'), NotFoundError);
    });

    it('stops cleanly when the consumer destroys the stream early, and the client keeps working', async () => {
      const d = await client.download('dl/blob.bin');
      const first = await new Promise<Buffer>((resolve) => d.stream.once('data', resolve));
      expect(first.length).to.be.greaterThan(0);
      const closed = new Promise<void>((resolve) => d.stream.once('close', resolve));
      let errored: unknown;
      d.stream.on('error', (e) => (errored = e));
      d.stream.destroy();
      await closed;
      expect(errored).to.equal(undefined);
      const again = await client.download('dl/blob.bin', { range: { start: 0, end: 9 } });
      expect(await readAll(again.stream)).to.deep.equal(data.subarray(0, 10));
    });

    it('honours an AbortSignal before and during the body', async () => {
      const before = new AbortController();
      before.abort();
      await expectRejects(client.download('dl/blob.bin', { signal: before.signal }), AbortedError);

      const during = new AbortController();
      const d = await client.download('dl/blob.bin', { signal: during.signal });
      const failed = new Promise<unknown>((resolve) => d.stream.once('error', resolve));
      d.stream.pause();
      during.abort();
      const e = await failed;
      expect(e).to.be.instanceOf(AbortedError);
      expect((e as AbortedError).path).to.equal('/Jotta/Archive/dl/blob.bin');
    });
  });

  describe('changing the tree', () => {
    it('moves and renames files and folders, creating missing target parents', async () => {
      await put(client, 'mv/src/a.txt', Buffer.from('a'));
      await put(client, 'mv/src/inner/b.txt', Buffer.from('b'));
      const moved = await client.move('mv/src/a.txt', 'mv/elsewhere/deep/a2.txt');
      expect(moved.name).to.equal('a2.txt');
      expect(moved.complete).to.equal(true);
      await expectRejects(client.metadata('mv/src/a.txt'), NotFoundError);
      expect((await client.fileInfo('mv/elsewhere/deep/a2.txt')).md5).to.equal(md5Hex('a'));

      const folder = await client.moveFolder('mv/src', 'mv/dst');
      expect(folder.name).to.equal('dst');
      expect((await client.fileInfo('mv/dst/inner/b.txt')).size).to.equal(1);
      await expectRejects(client.metadata('mv/src'), NotFoundError);
      await expectRejects(client.move('mv/none.txt', 'mv/x.txt'), NotFoundError);
    });

    it('moves a file to another mountpoint', async () => {
      await put(client, 'xmp/a.txt', Buffer.from('cross'));
      await client.move('xmp/a.txt', { mountpoint: 'Sync', path: 'from-archive/a.txt' });
      expect((await client.fileInfo({ mountpoint: 'Sync', path: 'from-archive/a.txt' })).size).to.equal(5);
    });

    it('copies a file server-side', async () => {
      await put(client, 'cp/a.txt', Buffer.from('copy me'), T1);
      const copy = await client.copy('cp/a.txt', 'cp/b.txt');
      expect(copy.name).to.equal('b.txt');
      expect(copy.md5).to.equal(md5Hex('copy me'));
      expect((await client.fileInfo('cp/a.txt')).complete).to.equal(true);
      expect(await readAll((await client.download('cp/b.txt')).stream)).to.deep.equal(Buffer.from('copy me'));
    });

    it('trashes files (listed with a deleted timestamp) and hard-deletes them', async () => {
      await put(client, 'del/t.txt', Buffer.from('trash me'));
      await put(client, 'del/h.txt', Buffer.from('delete me'));
      await client.trashFile('del/t.txt');
      const listing = await client.list('del');
      const t = listing.files.find((f) => f.name === 't.txt');
      expect(t?.deleted).to.equal(true);
      expect(t?.deletedAt).to.be.instanceOf(Date);
      expect(listing.files.find((f) => f.name === 'h.txt')?.deleted).to.equal(false);

      await client.deleteFile('del/h.txt');
      expect((await client.list('del')).files.map((f) => f.name)).to.deep.equal(['t.txt']);
      const e = await expectRejects(client.deleteFile('del/h.txt'), NotFoundError);
      expect(e.path).to.equal('/Jotta/Archive/del/h.txt');
    });

    it('trashes and hard-deletes folders with their contents', async () => {
      await put(client, 'deldir/a/x.txt', Buffer.from('x'));
      await put(client, 'deldir/b/y.txt', Buffer.from('y'));
      await client.trashFolder('deldir/a');
      const listing = await client.list('deldir');
      expect(listing.folders.find((f) => f.name === 'a')?.deleted).to.equal(true);
      await client.deleteFolder('deldir/b');
      expect((await client.list('deldir')).folders.map((f) => f.name)).to.deep.equal(['a']);
      // A trashed folder can still be hard-deleted on its original path.
      await client.deleteFolder('deldir/a');
      expect((await client.list('deldir')).folders).to.deep.equal([]);
    });

    it('lists the trash flat, with the original parent, and purges it', async () => {
      await put(client, 'tr/one/a.txt', Buffer.from('trash a'));
      await put(client, 'tr/two/a.txt', Buffer.from('trash b'));
      await client.trashFile('tr/one/a.txt');
      await client.trashFile('tr/two/a.txt');
      await client.trashFolder('tr/two');
      const trash = await client.listTrash();
      expect(trash.name).to.equal('Trash');
      const entries = trash.files.filter((f) => f.name === 'a.txt');
      expect(entries).to.have.length.greaterThanOrEqual(1);
      for (const f of [...trash.files, ...trash.folders]) {
        expect(f.deleted).to.equal(true);
        expect(f.contextType).to.equal('TRASH');
      }
      expect(entries.some((f) => f.parentPath === `/${emu.user}/Jotta/Archive/tr/one`)).to.equal(true);
      expect(trash.folders.some((f) => f.name === 'two' && f.abspath === `/${emu.user}/Jotta/Archive/tr`)).to.equal(true);

      const purged = await client.purgeTrash();
      expect(purged.files + purged.folders).to.be.greaterThan(0);
      const after = await client.listTrash();
      expect(after.files).to.deep.equal([]);
      expect(after.folders).to.deep.equal([]);
    });
  });

  describe('cphash', () => {
    it('sets the times of existing content without an upload', async () => {
      const data = Buffer.from('cphash content');
      await put(client, 'ch/a.txt', data, T0);
      const f = await client.cphash('ch/a.txt', { size: data.length, md5: md5Hex(data), created: T0, modified: T1 });
      expect(f?.modified?.toISOString()).to.equal(T1.toISOString());
      expect((await client.fileInfo('ch/a.txt')).modified?.toISOString()).to.equal(T1.toISOString());
    });

    it('restores a matching file from trash', async () => {
      const data = Buffer.from('restore me from trash');
      await put(client, 'ch/r.txt', data);
      await client.trashFile('ch/r.txt');
      expect((await client.fileInfo('ch/r.txt')).deleted).to.equal(true);
      const f = await client.cphash('ch/r.txt', { size: data.length, md5: md5Hex(data), modified: T0 });
      expect(f?.deleted).to.equal(false);
      expect((await client.fileInfo('ch/r.txt')).deleted).to.equal(false);
    });

    it('answers undefined when the service does not have the content', async () => {
      const f = await client.cphash('ch/none.txt', { size: 3, md5: md5Hex('zzz-never-uploaded'), modified: T0 });
      expect(f).to.equal(undefined);
    });
  });

  describe('share links', () => {
    it('enables and disables a public link', async () => {
      await put(client, 'share/a.txt', Buffer.from('public'));
      const on = await client.enableShare('share/a.txt');
      expect(on.publicUri).to.match(/^[0-9a-f]{32}$/);
      expect(on.directLink).to.equal(`${emu.url}/opin/io/downloadPublic/${emu.user}/${on.publicUri}`);
      expect((await client.fileInfo('share/a.txt')).publicUri).to.equal(on.publicUri);
      const off = await client.disableShare('share/a.txt');
      expect(off.publicUri).to.equal(undefined);
      expect((await client.fileInfo('share/a.txt')).publicUri).to.equal(undefined);
      await expectRejects(client.enableShare('share/missing.txt'), NotFoundError);
    });
  });

  describe('uploads', () => {
    it('uploads from a resumable body source and reads back the same bytes', async () => {
      const data = bytes(300_000, 3);
      const r = await client.upload('up/src.bin', {
        size: data.length,
        md5: md5Hex(data),
        body: (offset) => Readable.from([data.subarray(offset, offset + 100_000), data.subarray(offset + 100_000)]),
        modified: T1,
      });
      expect(r).to.include({ transferred: true, bytes: data.length, md5: md5Hex(data), attempts: 1 });
      expect(r.resumedFrom).to.deep.equal([]);
      const f = await client.fileInfo('up/src.bin');
      expect(f).to.include({ size: data.length, md5: md5Hex(data) });
      expect(f.modified?.toISOString()).to.equal(T1.toISOString());
      expect(md5Hex(await readAll((await client.download('up/src.bin')).stream))).to.equal(md5Hex(data));
    });

    it('uploads from a single Readable', async () => {
      const data = bytes(50_000, 4);
      await client.upload('up/stream.bin', { size: data.length, md5: md5Hex(data), body: Readable.from([data]) });
      expect((await client.fileInfo('up/stream.bin')).md5).to.equal(md5Hex(data));
    });

    it('sends nothing when allocate says COMPLETED (content the account already has)', async () => {
      const data = bytes(10_000, 5);
      await put(client, 'up/first.bin', data);
      let opened = 0;
      const r = await client.upload('up/second.bin', {
        size: data.length,
        md5: md5Hex(data),
        body: () => {
          opened++;
          return data;
        },
      });
      expect(r.transferred).to.equal(false);
      expect(r.attempts).to.equal(0);
      expect(opened).to.equal(0);
      expect((await client.fileInfo('up/second.bin')).md5).to.equal(md5Hex(data));
    });

    it('uploads an empty file', async () => {
      await put(client, 'up/empty.txt', Buffer.alloc(0));
      expect((await client.fileInfo('up/empty.txt')).size).to.equal(0);
    });

    it('a new upload over an existing file makes a new revision', async () => {
      await put(client, 'up/rev.txt', Buffer.from('one'));
      await put(client, 'up/rev.txt', Buffer.from('two!'));
      const f = await client.fileInfo('up/rev.txt');
      expect(f.size).to.equal(4);
      expect(f.revisions.length).to.be.greaterThanOrEqual(1);
      expect(f.revisions[0]?.md5).to.equal(md5Hex('one'));
    });

    it('answers CorruptUploadError (421) when the bytes do not match the MD5, keeping the old revision', async () => {
      await put(client, 'up/corrupt.txt', Buffer.from('good'));
      const bad = Buffer.from('evil');
      const e = await expectRejects(
        client.upload('up/corrupt.txt', { size: 4, md5: md5Hex('lies'), body: bad }),
        CorruptUploadError,
      );
      expect(e.status).to.equal(421);
      expect(e.exception).to.equal('CorruptUploadOpenApiException');
      expect(e.path).to.equal('/Jotta/Archive/up/corrupt.txt');
      const f = await client.fileInfo('up/corrupt.txt');
      expect(f.md5).to.equal(md5Hex('good'));
      expect(f.latestRevision?.state).to.equal('CORRUPT');
      expect(await readAll((await client.download('up/corrupt.txt')).stream)).to.deep.equal(Buffer.from('good'));
    });

    it('refuses a body that is shorter than the size it promised, without sending a wrong Content-Length', async () => {
      const e = await expectRejects(
        client.upload('up/short.bin', { size: 100, md5: md5Hex(bytes(100)), body: () => Readable.from([bytes(60)]) }),
        JottacloudError,
      );
      expect(e.message).to.contain('60 of 100');
      await expectRejects(client.upload('up/short2.bin', { size: 100, md5: md5Hex(bytes(100)), body: bytes(99) }), JottacloudError);
    });
  });

  describe('listing with liststream', () => {
    it('streams the subtree, folders before their files, and checks the stats', async () => {
      await put(client, 'ls/a.txt', Buffer.from('1'));
      await put(client, 'ls/sub/b.txt', Buffer.from('22'));
      await put(client, 'ls/sub/deeper/c d+e#f.txt', Buffer.from('333'));
      await client.mkdir('ls/empty');
      await put(client, 'ls/gone.txt', Buffer.from('4444'));
      await client.trashFile('ls/gone.txt');
      const it = client.listStream('ls');
      const entries = [];
      let r = await it.next();
      while (!r.done) {
        entries.push(r.value);
        r = await it.next();
      }
      const stats = r.value;
      const paths = entries.map((e) => `${e.kind}:${e.segments.join('/')}`);
      expect(paths).to.include.members(['folder:', 'file:a.txt', 'folder:sub', 'file:sub/b.txt', 'folder:sub/deeper', 'file:sub/deeper/c d+e#f.txt', 'folder:empty']);
      expect(paths).not.to.include('file:gone.txt');
      expect(stats).to.deep.equal({ folders: 4, files: 3 });
      const c = entries.find((e) => e.kind === 'file' && e.name === 'c d+e#f.txt');
      expect(c).to.include({ size: 3, md5: md5Hex('333'), path: '/Archive/ls/sub/deeper' });
      if (c?.kind === 'file') expect(c.modified?.toISOString()).to.equal(T0.toISOString());
      expect(paths.indexOf('folder:sub')).to.be.lessThan(paths.indexOf('file:sub/b.txt'));
    });

    it('answers NotFoundError for a missing folder', async () => {
      const it = client.listStream('ls/none');
      await expectRejects(it.next(), NotFoundError);
    });

    it('lists a whole mountpoint from its root', async () => {
      await put(client, 'ls-root/x/y.txt', Buffer.from('y'));
      const seen: string[] = [];
      for await (const e of client.listStream('')) seen.push(`${e.kind}:${e.segments.join('/')}`);
      expect(seen[0]).to.equal('folder:');
      expect(seen).to.include.members(['folder:ls-root', 'folder:ls-root/x', 'file:ls-root/x/y.txt']);
    });
  });

  describe('folder listings keep what clients must filter', () => {
    it('shows an incomplete upload as a file with only a latestRevision (not complete)', async () => {
      const data = bytes(20_000, 9);
      const src = new Readable({ read() {} });
      src.push(data.subarray(0, 5000));
      const up = client.upload('inc/part.bin', { size: data.length, md5: md5Hex(data), body: src, maxAttempts: 1 });
      setTimeout(() => src.destroy(new Error('source went away')), 50);
      await up.catch(() => undefined);
      const listing: Folder = await client.list('inc');
      const f = listing.files.find((x) => x.name === 'part.bin');
      expect(f, 'the partial file is listed').to.not.equal(undefined);
      expect(f!.complete).to.equal(false);
      expect(f!.currentRevision).to.equal(undefined);
      expect(f!.latestRevision?.state).to.equal('INCOMPLETE');
    });
  });
});
