// Replayed request sequences of Windows Explorer (Mini-Redirector) and macOS Finder (WebDAVFS), as
// shared/webdav-clients.md records them: mount probe, upload, rename, delete — with the checks each client
// makes on the answers (DAV class 2, quota on the root, un-slashed folders answered directly, Win32
// PROPPATCH answered 207 with a real namespace prefix, chunked PUT stored whole, fast 404s for probes).
import { expect } from 'chai';
import { dav, startDav, tagValues, type Harness } from './harness.js';
import { MemoryStorage } from './memory-storage.js';

const WIN = { 'User-Agent': 'Microsoft-WebDAV-MiniRedir/10.0.19045', translate: 'f' };
const MAC = { 'User-Agent': 'WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (arm64)' };

const lockinfo = (owner: string) =>
  `<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>${owner}</D:href></D:owner></D:lockinfo>`;

describe('webdav: Windows Explorer sequences', function () {
  let storage: MemoryStorage;
  let h: Harness;
  beforeEach(async () => {
    storage = new MemoryStorage();
    storage.capacity = 10_000_000;
    h = await startDav(storage, { basePath: '/dav' });
  });
  afterEach(async () => h.close());

  it('maps the drive: OPTIONS, PROPFIND Depth 0 on the un-slashed share, then Depth 1', async () => {
    await dav(h, { method: 'MKCOL', path: '/dav/Documents' });
    const opt = await dav(h, { method: 'OPTIONS', path: '/dav', headers: WIN });
    expect(opt.status).to.equal(200);
    expect(opt.headers.dav).to.match(/\b1\b.*\b2\b/);
    expect(opt.headers['ms-author-via']).to.equal('DAV');
    for (const m of ['LOCK', 'UNLOCK', 'PROPPATCH', 'MOVE']) expect(opt.headers.allow).to.include(m);
    // Explorer sends an empty PROPFIND body (= allprop) and no trailing slash; it must not be redirected
    const d0 = await dav(h, { method: 'PROPFIND', path: '/dav', headers: { ...WIN, Depth: '0' } });
    expect(d0.status).to.equal(207);
    expect(d0.body).to.include('<D:collection/>');
    const d1 = await dav(h, { method: 'PROPFIND', path: '/dav/Documents', headers: { ...WIN, Depth: '1' } });
    expect(d1.status).to.equal(207);
    expect(tagValues(d1.body, 'href')).to.deep.equal(['/dav/Documents/']);
    // desktop.ini and Thumbs.db probes are plain 404s
    expect((await dav(h, { method: 'PROPFIND', path: '/dav/Documents/desktop.ini', headers: { ...WIN, Depth: '0' } })).status).to.equal(404);
  });

  it('copies a file in: PROPFIND 404 → PUT 0 bytes → LOCK → PROPPATCH Win32 → HEAD → PUT data → PROPPATCH → UNLOCK', async () => {
    const path = '/dav/Report%20Q3.docx';
    expect((await dav(h, { method: 'PROPFIND', path, headers: { ...WIN, Depth: '0' } })).status).to.equal(404);
    expect((await dav(h, { method: 'PUT', path, headers: WIN, body: '' })).status).to.equal(201);
    const lock = await dav(h, { method: 'LOCK', path, headers: { ...WIN, Timeout: 'Second-3600' }, body: lockinfo('DESKTOP\\alice') });
    expect(lock.status).to.equal(200);
    const token = /<([^>]+)>/.exec(lock.headers['lock-token'] as string)?.[1] as string;
    const win32 = (mtime: string) =>
      '<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>' +
      '<Z:Win32CreationTime>Mon, 06 Oct 2025 09:00:00 GMT</Z:Win32CreationTime>' +
      '<Z:Win32LastAccessTime>Thu, 09 Oct 2025 17:54:43 GMT</Z:Win32LastAccessTime>' +
      `<Z:Win32LastModifiedTime>${mtime}</Z:Win32LastModifiedTime>` +
      '<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>' +
      '</D:prop></D:set></D:propertyupdate>';
    const pp1 = await dav(h, { method: 'PROPPATCH', path, headers: { ...WIN, If: `(<${token}>)` }, body: win32('Wed, 08 Oct 2025 12:00:00 GMT') });
    expect(pp1.status).to.equal(207);
    expect(pp1.body).to.match(/<X:Win32LastModifiedTime xmlns:X="urn:schemas-microsoft-com:"\/>/);
    expect(pp1.body).not.to.match(/HTTP\/1.1 [45]/);
    expect((await dav(h, { method: 'HEAD', path, headers: WIN })).status).to.equal(200);
    const content = Buffer.alloc(50_000, 0x41);
    const put = await dav(h, { method: 'PUT', path, headers: { ...WIN, If: `(<${token}>)` }, body: content });
    expect(put.status).to.equal(204);
    const pp2 = await dav(h, { method: 'PROPPATCH', path, headers: { ...WIN, If: `(<${token}>)` }, body: win32('Wed, 08 Oct 2025 12:00:00 GMT') });
    expect(pp2.status).to.equal(207);
    expect((await dav(h, { method: 'UNLOCK', path, headers: { ...WIN, 'Lock-Token': `<${token}>` } })).status).to.equal(204);

    const stored = await storage.stat('/Report Q3.docx');
    expect(stored.size).to.equal(50_000);
    // the Win32 times written after the data PUT are what Jottacloud keeps
    expect(stored.modified.toISOString()).to.equal('2025-10-08T12:00:00.000Z');
    expect(stored.created.toISOString()).to.equal('2025-10-06T09:00:00.000Z');
  });

  it('renames with MOVE (Overwrite: F) and deletes', async () => {
    await dav(h, { method: 'MKCOL', path: '/dav/New%20folder' });
    const mv = await dav(h, {
      method: 'MOVE',
      path: '/dav/New%20folder',
      headers: { ...WIN, Destination: `${h.url}/dav/Projects`, Overwrite: 'F' },
    });
    expect(mv.status).to.equal(201);
    await dav(h, { method: 'PUT', path: '/dav/Projects/a.txt', body: 'a', headers: WIN });
    expect((await dav(h, { method: 'DELETE', path: '/dav/Projects', headers: WIN })).status).to.equal(204);
    expect(storage.root.children.size).to.equal(0);
  });
});

describe('webdav: macOS Finder sequences', function () {
  let storage: MemoryStorage;
  let h: Harness;
  beforeEach(async () => {
    storage = new MemoryStorage();
    storage.capacity = 5_000_000;
    h = await startDav(storage);
  });
  afterEach(async () => h.close());

  it('mounts: OPTIONS, quota PROPFIND on the root, junk probes answered 404', async () => {
    const opt = await dav(h, { method: 'OPTIONS', path: '/', headers: MAC });
    expect(opt.headers.dav).to.equal('1, 2'); // class 2 or Finder mounts read-only
    const quota = await dav(h, {
      method: 'PROPFIND',
      path: '/',
      headers: { ...MAC, Depth: '0' },
      body: '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>',
    });
    expect(quota.status).to.equal(207);
    expect(tagValues(quota.body, 'quota-available-bytes')).to.deep.equal(['5000000']);
    expect(tagValues(quota.body, 'quota-used-bytes')).to.deep.equal(['0']);
    for (const probe of ['/._.', '/.DS_Store', '/mach_kernel', '/.Spotlight-V100', '/Backups.backupdb', '/.metadata_never_index', '/.hidden']) {
      expect((await dav(h, { method: 'PROPFIND', path: probe, headers: { ...MAC, Depth: '0' } })).status, probe).to.equal(404);
    }
  });

  it('copies a file in: LOCK unmapped → chunked PUT with X-Expected-Entity-Length → AppleDouble → UNLOCK', async () => {
    const lock = await dav(h, { method: 'LOCK', path: '/photo.jpg', headers: { ...MAC, Depth: '0', Timeout: 'Second-600' }, body: lockinfo('http://www.apple.com/webdav_fs/') });
    expect(lock.status).to.equal(201);
    const token = /<([^>]+)>/.exec(lock.headers['lock-token'] as string)?.[1] as string;
    const chunks = [Buffer.alloc(32_768, 1), Buffer.alloc(32_768, 2), Buffer.alloc(1000, 3)];
    const put = await dav(h, {
      method: 'PUT',
      path: '/photo.jpg',
      chunked: true,
      body: chunks,
      headers: { ...MAC, 'X-Expected-Entity-Length': 66_536, If: `(<${token}>)` },
    });
    expect(put.status).to.equal(204);
    expect((await dav(h, { method: 'PUT', path: '/._photo.jpg', chunked: true, body: [Buffer.from('AppleDouble')], headers: MAC })).status).to.equal(201);
    expect((await dav(h, { method: 'UNLOCK', path: '/photo.jpg', headers: { ...MAC, 'Lock-Token': `<${token}>` } })).status).to.equal(204);
    const got = await dav(h, { method: 'GET', path: '/photo.jpg', headers: MAC });
    expect(got.raw.equals(Buffer.concat(chunks))).to.equal(true);
    const list = await dav(h, { method: 'PROPFIND', path: '/', headers: { ...MAC, Depth: '1' } });
    const photo = list.body.split('<D:response>').find((x) => x.includes('<D:href>/photo.jpg</D:href>')) as string;
    expect(photo).to.include('<D:getcontentlength>66536</D:getcontentlength>');
    expect(photo).to.include('<D:resourcetype/>');
  });

  it('renames a file and its AppleDouble with MOVE, then deletes both', async () => {
    await dav(h, { method: 'PUT', path: '/a.txt', body: 'a', headers: MAC });
    await dav(h, { method: 'PUT', path: '/._a.txt', body: 'meta', headers: MAC });
    expect((await dav(h, { method: 'MOVE', path: '/a.txt', headers: { ...MAC, Destination: `${h.url}/b.txt`, Overwrite: 'F' } })).status).to.equal(201);
    expect((await dav(h, { method: 'MOVE', path: '/._a.txt', headers: { ...MAC, Destination: `${h.url}/._b.txt`, Overwrite: 'F' } })).status).to.equal(201);
    expect((await dav(h, { method: 'DELETE', path: '/._b.txt', headers: MAC })).status).to.equal(204);
    expect((await dav(h, { method: 'DELETE', path: '/b.txt', headers: MAC })).status).to.equal(204);
    expect(storage.root.children.size).to.equal(0);
  });
});
