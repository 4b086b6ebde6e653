// The WebDAV protocol surface of lib/webdav over real HTTP, against the in-memory storage double:
// discovery, PROPFIND/PROPPATCH, GET with ranges and conditionals, PUT, MKCOL/DELETE/COPY/MOVE, names and
// paths, read-only users.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import Keyv from 'keyv';
import { BackendError } from '../../lib/storage/types.js';
import { dav, startDav, tagValues, type Harness } from './harness.js';
import { MemoryStorage } from './memory-storage.js';

const propfindBody = (props: string) =>
  `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>${props}</D:prop></D:propfind>`;

describe('webdav: protocol', function () {
  let storage: MemoryStorage;
  let h: Harness;

  beforeEach(async () => {
    storage = new MemoryStorage();
    h = await startDav(storage, { basePath: '/dav' });
  });
  afterEach(async () => {
    await h.close();
  });

  const put = (path: string, body: string | Buffer, headers: Record<string, string | number> = {}) =>
    dav(h, { method: 'PUT', path, body, headers });

  describe('discovery', () => {
    it('answers OPTIONS on existing and missing paths with DAV 1, 2 and MS-Author-Via', async () => {
      for (const path of ['/dav/', '/dav', '/dav/nothing/here']) {
        const r = await dav(h, { method: 'OPTIONS', path });
        expect(r.status, path).to.equal(200);
        expect(r.headers.dav).to.equal('1, 2');
        expect(r.headers['ms-author-via']).to.equal('DAV');
        expect(r.headers.allow).to.include('PROPFIND');
      }
      const missing = await dav(h, { method: 'OPTIONS', path: '/dav/nothing' });
      expect(missing.headers.allow).to.include('MKCOL');
    });

    it('answers OPTIONS * and carries the DAV header on refusals too', async () => {
      const star = await dav(h, { method: 'OPTIONS', path: '*' });
      expect(star.status).to.equal(200);
      expect(star.headers.dav).to.equal('1, 2');
      const refused = await dav(h, { method: 'PROPFIND', path: '/dav/%ZZ' });
      expect(refused.status).to.equal(400);
      expect(refused.headers.dav).to.equal('1, 2');
    });

    it('does not send permissive CORS headers', async () => {
      const r = await dav(h, { method: 'OPTIONS', path: '/dav/' });
      expect(r.headers['access-control-allow-origin']).to.equal(undefined);
    });

    it('answers 404 for paths outside the base path', async () => {
      const r = await dav(h, { method: 'PROPFIND', path: '/elsewhere', headers: { Depth: '0' } });
      expect(r.status).to.equal(404);
    });
  });

  describe('PROPFIND', () => {
    beforeEach(async () => {
      await dav(h, { method: 'MKCOL', path: '/dav/docs' });
      await put('/dav/docs/a.txt', 'hello');
      await put('/dav/docs/b%20c.pdf', 'pdf!');
      await dav(h, { method: 'MKCOL', path: '/dav/docs/sub' });
    });

    it('lists a folder with Depth 1 from one listing, with all the live properties', async () => {
      const before = { ...storage.calls };
      const r = await dav(h, { method: 'PROPFIND', path: '/dav/docs', headers: { Depth: '1' } });
      expect(r.status).to.equal(207);
      expect(r.headers['content-type']).to.match(/^application\/xml/);
      const hrefs = tagValues(r.body, 'href');
      expect(hrefs).to.have.members(['/dav/docs/', '/dav/docs/a.txt', '/dav/docs/b%20c.pdf', '/dav/docs/sub/']);
      expect((storage.calls.list ?? 0) - (before.list ?? 0)).to.equal(1);
      // one stat for the folder (the library's type lookup and ours share the request memo)
      expect((storage.calls.stat ?? 0) - (before.stat ?? 0)).to.equal(1);
      const md5 = createHash('md5').update('hello').digest('hex');
      const a = r.body.split('<D:response>').find((x) => x.includes('/dav/docs/a.txt')) as string;
      expect(a).to.include('<D:getcontentlength>5</D:getcontentlength>');
      expect(a).to.include('<D:resourcetype/>');
      expect(a).to.match(/<D:getlastmodified>\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT<\/D:getlastmodified>/);
      expect(a).to.match(/<D:creationdate>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z<\/D:creationdate>/);
      expect(a).to.include(`<D:getetag>&quot;${md5}`);
      expect(a).to.include('<D:getcontenttype>text/plain</D:getcontenttype>');
      expect(a).to.include('<D:supportedlock><D:lockentry>');
      const sub = r.body.split('<D:response>').find((x) => x.includes('/dav/docs/sub/')) as string;
      expect(sub).to.include('<D:resourcetype><D:collection/></D:resourcetype>');
    });

    it('answers Depth 0 for one resource and treats a missing Depth as 1', async () => {
      const d0 = await dav(h, { method: 'PROPFIND', path: '/dav/docs', headers: { Depth: '0' } });
      expect(tagValues(d0.body, 'href')).to.deep.equal(['/dav/docs/']);
      const none = await dav(h, { method: 'PROPFIND', path: '/dav/docs' });
      expect(tagValues(none.body, 'href')).to.have.length(4);
    });

    it('refuses Depth infinity with 403 propfind-finite-depth, and other depths with 400', async () => {
      const r = await dav(h, { method: 'PROPFIND', path: '/dav/', headers: { Depth: 'infinity' } });
      expect(r.status).to.equal(403);
      expect(r.body).to.include('<D:propfind-finite-depth>');
      expect((await dav(h, { method: 'PROPFIND', path: '/dav/', headers: { Depth: '2' } })).status).to.equal(400);
    });

    it('reports RFC 4331 quota on folders and oc:checksums on files when asked', async () => {
      storage.capacity = 1000;
      const quotaCalls = storage.calls.quota ?? 0;
      const r = await dav(h, {
        method: 'PROPFIND',
        path: '/dav/docs',
        headers: { Depth: '1' },
        body: propfindBody('<D:quota-available-bytes/><D:quota-used-bytes/><oc:checksums xmlns:oc="http://owncloud.org/ns"/>'),
      });
      const root = r.body.split('<D:response>').find((x) => x.includes('<D:href>/dav/docs/</D:href>')) as string;
      expect(root).to.include('<D:quota-available-bytes>991</D:quota-available-bytes>');
      expect(root).to.include('<D:quota-used-bytes>9</D:quota-used-bytes>');
      const a = r.body.split('<D:response>').find((x) => x.includes('a.txt')) as string;
      expect(a).to.include(`MD5:${createHash('md5').update('hello').digest('hex')}`);
      // quota is one storage call for the whole answer
      expect(storage.calls.quota).to.equal(quotaCalls + 1);
    });

    it('puts unknown properties in a 404 propstat', async () => {
      const r = await dav(h, { method: 'PROPFIND', path: '/dav/docs/a.txt', headers: { Depth: '0' }, body: propfindBody('<x:nope xmlns:x="urn:x"/>') });
      expect(r.body).to.match(/<X:nope xmlns:X="urn:x"\/><\/D:prop><D:status>HTTP\/1.1 404/);
    });

    it('answers propname with names only', async () => {
      const r = await dav(h, {
        method: 'PROPFIND',
        path: '/dav/docs/a.txt',
        headers: { Depth: '0' },
        body: '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>',
      });
      expect(r.body).to.include('<D:getcontentlength/>');
      expect(r.body).not.to.include('<D:getcontentlength>5');
    });

    it('answers 400 to bad XML and to an empty-prefix namespace declaration', async () => {
      expect((await dav(h, { method: 'PROPFIND', path: '/dav/', headers: { Depth: '0' }, body: '<foo>' })).status).to.equal(400);
      const bad = '<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>';
      expect((await dav(h, { method: 'PROPFIND', path: '/dav/', headers: { Depth: '0' }, body: bad })).status).to.equal(400);
    });

    it('answers 404 for a missing resource', async () => {
      expect((await dav(h, { method: 'PROPFIND', path: '/dav/none', headers: { Depth: '0' } })).status).to.equal(404);
    });
  });

  describe('PROPPATCH', () => {
    beforeEach(async () => {
      await put('/dav/f.txt', 'data');
    });

    it('sets Win32 times and getlastmodified on the stored file and keeps other properties', async () => {
      const body =
        '<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>' +
        '<Z:Win32CreationTime>Thu, 09 Oct 2025 17:54:43 GMT</Z:Win32CreationTime>' +
        '<Z:Win32LastAccessTime>Thu, 09 Oct 2025 17:54:43 GMT</Z:Win32LastAccessTime>' +
        '<Z:Win32LastModifiedTime>Fri, 10 Oct 2025 08:00:01 GMT</Z:Win32LastModifiedTime>' +
        '<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>' +
        '</D:prop></D:set></D:propertyupdate>';
      const r = await dav(h, { method: 'PROPPATCH', path: '/dav/f.txt', body });
      expect(r.status).to.equal(207);
      expect(r.body).not.to.match(/HTTP\/1.1 (4|5)\d\d/);
      expect(r.body).to.include('xmlns:X="urn:schemas-microsoft-com:"');
      const entry = await storage.stat('/f.txt');
      expect(entry.modified.toISOString()).to.equal('2025-10-10T08:00:01.000Z');
      expect(entry.created.toISOString()).to.equal('2025-10-09T17:54:43.000Z');
      const got = await dav(h, {
        method: 'PROPFIND',
        path: '/dav/f.txt',
        headers: { Depth: '0' },
        body: propfindBody('<Z:Win32FileAttributes xmlns:Z="urn:schemas-microsoft-com:"/><D:getlastmodified/>'),
      });
      expect(got.body).to.include('00000020</X:Win32FileAttributes>');
      expect(got.body).to.include('<D:getlastmodified>Fri, 10 Oct 2025 08:00:01 GMT</D:getlastmodified>');

      const plain = '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>Mon, 01 Jan 2024 00:00:00 GMT</D:getlastmodified></D:prop></D:set></D:propertyupdate>';
      expect((await dav(h, { method: 'PROPPATCH', path: '/dav/f.txt', body: plain })).status).to.equal(207);
      expect((await storage.stat('/f.txt')).modified.toISOString()).to.equal('2024-01-01T00:00:00.000Z');
    });

    it("accepts rclone's DAV:lastmodified in Unix seconds", async () => {
      const body = '<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:lastmodified>1700000000</d:lastmodified></d:prop></d:set></d:propertyupdate>';
      expect((await dav(h, { method: 'PROPPATCH', path: '/dav/f.txt', body })).status).to.equal(207);
      expect((await storage.stat('/f.txt')).modified.getTime()).to.equal(1700000000 * 1000);
    });

    it('is atomic: a protected property fails the request with 403 and 424 for the rest, storing nothing', async () => {
      const body =
        '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x">1</x:a><D:getetag>"x"</D:getetag></D:prop></D:set></D:propertyupdate>';
      const r = await dav(h, { method: 'PROPPATCH', path: '/dav/f.txt', body });
      expect(r.status).to.equal(207);
      expect(r.body).to.match(/<D:getetag\/><\/D:prop><D:status>HTTP\/1.1 403/);
      expect(r.body).to.match(/<X:a xmlns:X="urn:x"\/><\/D:prop><D:status>HTTP\/1.1 424/);
      const got = await dav(h, { method: 'PROPFIND', path: '/dav/f.txt', headers: { Depth: '0' }, body: propfindBody('<x:a xmlns:x="urn:x"/>') });
      expect(got.body).to.include('404');
    });

    it('does not lose either of two concurrent PROPPATCHes of one file', async () => {
      // a property store whose reads wait until both requests have read, so both work from the same list
      const inner = new Map<string, unknown>();
      let reads = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const store = {
        async get(key: string) {
          if (key.includes('webdav-props:') && ++reads === 2) release();
          if (key.includes('webdav-props:') && reads <= 2) await Promise.race([gate, new Promise((r) => setTimeout(r, 200))]);
          return inner.get(key);
        },
        async set(key: string, value: unknown) {
          inner.set(key, value);
          return true;
        },
        async delete(key: string) {
          return inner.delete(key);
        },
        async clear() {
          inner.clear();
        },
        on() {
          return this;
        },
      };
      const h2 = await startDav(storage, { propertyStore: new Keyv({ store }) });
      try {
        await dav(h2, { method: 'PROPPATCH', path: '/f.txt', body: '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:seed xmlns:x="urn:x">0</x:seed></D:prop></D:set></D:propertyupdate>' });
        reads = 0;
        const patch = (name: string) =>
          dav(h2, { method: 'PROPPATCH', path: '/f.txt', body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:${name} xmlns:x="urn:x">1</x:${name}></D:prop></D:set></D:propertyupdate>` });
        await Promise.all([patch('one'), patch('two')]);
        const got = await dav(h2, { method: 'PROPFIND', path: '/f.txt', headers: { Depth: '0' }, body: propfindBody('<x:one xmlns:x="urn:x"/><x:two xmlns:x="urn:x"/>') });
        expect(got.body).to.include('>1</X:one>');
        expect(got.body).to.include('>1</X:two>');
      } finally {
        await h2.close();
      }
    });

    it('stores XML-valued dead properties and returns them well-formed', async () => {
      const body =
        "<propertyupdate xmlns='DAV:'><set><prop><t:v xmlns:t='urn:t'><foo xmlns='http://bar'>x &amp; y</foo></t:v></prop></set></propertyupdate>";
      expect((await dav(h, { method: 'PROPPATCH', path: '/dav/f.txt', body })).status).to.equal(207);
      const got = await dav(h, { method: 'PROPFIND', path: '/dav/f.txt', headers: { Depth: '0' }, body: propfindBody('<t:v xmlns:t="urn:t"/>') });
      expect(got.body).to.include('<X:v xmlns:X="urn:t"><foo xmlns="http://bar">x &amp; y</foo></X:v>');
    });

    it('moves dead properties with the resource and removes them with it', async () => {
      const set = '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:k xmlns:x="urn:x">v</x:k></D:prop></D:set></D:propertyupdate>';
      await dav(h, { method: 'PROPPATCH', path: '/dav/f.txt', body: set });
      await dav(h, { method: 'MOVE', path: '/dav/f.txt', headers: { Destination: `${h.url}/dav/g.txt` } });
      const q = propfindBody('<x:k xmlns:x="urn:x"/>');
      const got = await dav(h, { method: 'PROPFIND', path: '/dav/g.txt', headers: { Depth: '0' }, body: q });
      expect(got.body).to.include('>v</X:k>');
      await dav(h, { method: 'DELETE', path: '/dav/g.txt' });
      await put('/dav/g.txt', 'again');
      const fresh = await dav(h, { method: 'PROPFIND', path: '/dav/g.txt', headers: { Depth: '0' }, body: q });
      expect(fresh.body).not.to.include('>v</X:k>');
    });
  });

  describe('GET and HEAD', () => {
    const content = Buffer.from('0123456789abcdefghij');
    beforeEach(async () => {
      await put('/dav/file.bin', content);
    });

    it('serves the whole file with validators', async () => {
      const r = await dav(h, { method: 'GET', path: '/dav/file.bin' });
      expect(r.status).to.equal(200);
      expect(r.raw.equals(content)).to.equal(true);
      expect(r.headers.etag).to.match(/^"[0-9a-f]{32}/);
      expect(r.headers['last-modified']).to.match(/GMT$/);
      expect(r.headers['accept-ranges']).to.equal('bytes');
      const head = await dav(h, { method: 'HEAD', path: '/dav/file.bin' });
      expect(head.status).to.equal(200);
      expect(head.headers['content-length']).to.equal('20');
      expect(head.raw.length).to.equal(0);
    });

    it('passes a single range to storage as an offset and answers 206 with the total', async () => {
      storage.reads = [];
      const r = await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { Range: 'bytes=15-' } });
      expect(r.status).to.equal(206);
      expect(r.headers['content-range']).to.equal('bytes 15-19/20');
      expect(r.body).to.equal('fghij');
      expect(storage.reads).to.deep.equal([{ start: 15, end: 19 }]);
      const zero = await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { Range: 'bytes=0-' } });
      expect(zero.status).to.equal(206);
      const suffix = await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { Range: 'bytes=-3' } });
      expect(suffix.body).to.equal('hij');
    });

    it('answers several ranges as multipart/byteranges, each read from its offset', async () => {
      storage.reads = [];
      const r = await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { Range: 'bytes=0-1,10-12' } });
      expect(r.status).to.equal(206);
      const boundary = /boundary=(\S+)/.exec(r.headers['content-type'] as string)?.[1];
      expect(boundary).to.be.a('string');
      expect(r.body).to.include('Content-Range: bytes 0-1/20\r\n\r\n01\r\n');
      expect(r.body).to.include('Content-Range: bytes 10-12/20\r\n\r\nabc\r\n');
      expect(r.body.endsWith(`--${boundary}--\r\n`)).to.equal(true);
      expect(Number(r.headers['content-length'])).to.equal(r.raw.length);
      expect(storage.reads).to.deep.equal([
        { start: 0, end: 1 },
        { start: 10, end: 12 },
      ]);
    });

    it('answers 416 with the total for an unsatisfiable range', async () => {
      const r = await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { Range: 'bytes=50-60' } });
      expect(r.status).to.equal(416);
      expect(r.headers['content-range']).to.equal('bytes */20');
    });

    it('ignores the range when If-Range does not match', async () => {
      const r = await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { Range: 'bytes=0-1', 'If-Range': '"other"' } });
      expect(r.status).to.equal(200);
      expect(r.raw.length).to.equal(20);
    });

    it('answers conditionals: 304 for If-None-Match/If-Modified-Since, 412 for If-Match', async () => {
      const first = await dav(h, { method: 'GET', path: '/dav/file.bin' });
      const etag = first.headers.etag as string;
      expect((await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { 'If-None-Match': etag } })).status).to.equal(304);
      expect((await dav(h, { method: 'HEAD', path: '/dav/file.bin', headers: { 'If-None-Match': `W/${etag}` } })).status).to.equal(304);
      const lm = first.headers['last-modified'] as string;
      expect((await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { 'If-Modified-Since': lm } })).status).to.equal(304);
      expect((await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { 'If-Match': '"nope"' } })).status).to.equal(412);
      expect((await dav(h, { method: 'GET', path: '/dav/file.bin', headers: { 'If-Match': etag } })).status).to.equal(200);
    });

    it('answers 404 for a missing file', async () => {
      expect((await dav(h, { method: 'GET', path: '/dav/missing' })).status).to.equal(404);
    });
  });

  describe('PUT', () => {
    it('creates (201) then overwrites (204), returning the ETag', async () => {
      const a = await put('/dav/n.txt', 'one');
      expect(a.status).to.equal(201);
      expect(a.headers.etag).to.match(/^"/);
      const b = await put('/dav/n.txt', 'two');
      expect(b.status).to.equal(204);
      expect((await dav(h, { method: 'GET', path: '/dav/n.txt' })).body).to.equal('two');
    });

    it('accepts a chunked body with X-Expected-Entity-Length (Finder)', async () => {
      const r = await dav(h, {
        method: 'PUT',
        path: '/dav/finder.bin',
        chunked: true,
        body: [Buffer.from('abc'), Buffer.from('defg')],
        headers: { 'X-Expected-Entity-Length': 7 },
      });
      expect(r.status).to.equal(201);
      expect((await dav(h, { method: 'GET', path: '/dav/finder.bin' })).body).to.equal('abcdefg');
    });

    it('refuses a body shorter than announced and keeps nothing', async () => {
      const r = await dav(h, { method: 'PUT', path: '/dav/short.bin', chunked: true, body: [], headers: { 'X-Expected-Entity-Length': 7 } });
      expect(r.status).to.equal(400);
      expect((await dav(h, { method: 'GET', path: '/dav/short.bin' })).status).to.equal(404);
    });

    it('checks Content-MD5 and OC-Checksum', async () => {
      const good = createHash('md5').update('abc').digest();
      expect((await put('/dav/m1', 'abc', { 'Content-MD5': good.toString('base64') })).status).to.equal(201);
      expect((await put('/dav/m2', 'abd', { 'Content-MD5': good.toString('base64') })).status).to.equal(400);
      expect((await put('/dav/m3', 'abc', { 'OC-Checksum': `SHA1:0000 MD5:${good.toString('hex')}` })).status).to.equal(201);
      expect((await put('/dav/m4', 'xyz', { 'OC-Checksum': `MD5:${good.toString('hex')}` })).status).to.equal(400);
      expect((await dav(h, { method: 'GET', path: '/dav/m4' })).status).to.equal(404);
    });

    it('sets the mtime from X-OC-Mtime and says so', async () => {
      const r = await put('/dav/t.txt', 'x', { 'X-OC-Mtime': '1600000000' });
      expect(r.headers['x-oc-mtime']).to.equal('accepted');
      expect((await storage.stat('/t.txt')).modified.getTime()).to.equal(1600000000 * 1000);
    });

    it('answers 507 when the account is full, before reading the body', async () => {
      storage.capacity = 10;
      const r = await put('/dav/big.bin', Buffer.alloc(64));
      expect(r.status).to.equal(507);
      expect((await dav(h, { method: 'GET', path: '/dav/big.bin' })).status).to.equal(404);
    });

    it('answers 5xx when storage fails after taking the body (webdav-server #115)', async () => {
      storage.failNextWrite = new BackendError('/fail.bin', 'upload refused');
      const r = await put('/dav/fail.bin', 'data');
      expect(r.status).to.equal(502);
      expect(r.body).to.include('upload refused');
    });

    it('answers 409 without a parent and 405 on a folder', async () => {
      expect((await put('/dav/no/parent.txt', 'x')).status).to.equal(409);
      await dav(h, { method: 'MKCOL', path: '/dav/folder' });
      expect((await put('/dav/folder', 'x')).status).to.equal(405);
    });

    it('honours If-None-Match: * and If-Match', async () => {
      await put('/dav/c.txt', 'x');
      expect((await put('/dav/c.txt', 'y', { 'If-None-Match': '*' })).status).to.equal(412);
      expect((await put('/dav/c.txt', 'y', { 'If-Match': '"stale"' })).status).to.equal(412);
      expect((await put('/dav/d.txt', 'y', { 'If-None-Match': '*' })).status).to.equal(201);
    });
  });

  describe('names and paths', () => {
    it('answers a name over 255 characters with 400 and a one-line reason, creating nothing', async () => {
      const long = 'n'.repeat(300);
      const r = await put(`/dav/${long}`, 'x');
      expect(r.status).to.equal(400);
      expect(r.body.trim().split('\n')).to.have.length(1);
      expect(r.body).to.include('255');
      expect((await dav(h, { method: 'MKCOL', path: `/dav/${long}` })).status).to.equal(400);
      expect(storage.root.children.size).to.equal(0);
    });

    it('never lets .. or encoded separators escape the root', async () => {
      for (const path of ['/dav/../etc/passwd', '/dav/a/%2e%2e/%2e%2e/x', '/dav/a%2Fb', '/dav/a%5Cb', '/dav/%ZZ', '/dav/a#frag']) {
        const r = await dav(h, { method: 'PUT', path, body: 'x' });
        expect(r.status, path).to.equal(400);
      }
      expect(storage.root.children.size).to.equal(0);
    });

    it('serves /dir and /dir/ alike, never redirecting', async () => {
      await dav(h, { method: 'MKCOL', path: '/dav/dir' });
      for (const path of ['/dav/dir', '/dav/dir/']) {
        const r = await dav(h, { method: 'PROPFIND', path, headers: { Depth: '0' } });
        expect(r.status, path).to.equal(207);
        expect(tagValues(r.body, 'href')).to.deep.equal(['/dav/dir/']);
        if (!path.endsWith('/')) expect(r.headers['content-location']).to.equal('/dav/dir/');
      }
      const g = await dav(h, { method: 'GET', path: '/dav/dir' });
      expect(g.status).to.equal(200);
    });

    it('decodes percent-encoded and non-ASCII names once', async () => {
      const r = await put('/dav/%C3%A6%C3%B8%C3%A5%20100%25.txt', 'x');
      expect(r.status).to.equal(201);
      expect(storage.root.children.has('æøå 100%.txt')).to.equal(true);
      const list = await dav(h, { method: 'PROPFIND', path: '/dav/', headers: { Depth: '1' } });
      expect(tagValues(list.body, 'href')).to.include('/dav/%C3%A6%C3%B8%C3%A5%20100%25.txt');
    });
  });

  describe('MKCOL, DELETE, COPY, MOVE', () => {
    it('MKCOL: 201, 405 when it exists, 409 without parent, 415 with a body', async () => {
      expect((await dav(h, { method: 'MKCOL', path: '/dav/m' })).status).to.equal(201);
      expect((await dav(h, { method: 'MKCOL', path: '/dav/m' })).status).to.equal(405);
      expect((await dav(h, { method: 'MKCOL', path: '/dav/x/y' })).status).to.equal(409);
      expect((await dav(h, { method: 'MKCOL', path: '/dav/b', body: '<foo/>' })).status).to.equal(415);
      expect((await dav(h, { method: 'MKCOL', path: '/dav/c', chunked: true, body: [Buffer.from('junk')] })).status).to.equal(415);
    });

    it('DELETE: 204, then 404', async () => {
      await dav(h, { method: 'MKCOL', path: '/dav/d' });
      await put('/dav/d/f', 'x');
      expect((await dav(h, { method: 'DELETE', path: '/dav/d' })).status).to.equal(204);
      expect((await dav(h, { method: 'DELETE', path: '/dav/d' })).status).to.equal(404);
    });

    it('COPY and MOVE are server-side calls with Overwrite semantics', async () => {
      await put('/dav/src.txt', 'S');
      await put('/dav/dst.txt', 'D');
      const before = { ...storage.calls };
      const dest = { Destination: `${h.url}/dav/dst.txt` };
      expect((await dav(h, { method: 'COPY', path: '/dav/src.txt', headers: { ...dest, Overwrite: 'F' } })).status).to.equal(412);
      expect((await dav(h, { method: 'COPY', path: '/dav/src.txt', headers: dest })).status).to.equal(204);
      expect((await dav(h, { method: 'COPY', path: '/dav/src.txt', headers: { Destination: '/dav/new.txt' } })).status).to.equal(201);
      expect((await dav(h, { method: 'MOVE', path: '/dav/new.txt', headers: { Destination: `${h.url}/dav/moved.txt` } })).status).to.equal(201);
      // no download + re-upload happened
      expect(storage.calls.openRead ?? 0).to.equal(before.openRead ?? 0);
      expect(storage.calls.write).to.equal(before.write);
      expect((await dav(h, { method: 'GET', path: '/dav/dst.txt' })).body).to.equal('S');
      expect((await dav(h, { method: 'GET', path: '/dav/moved.txt' })).body).to.equal('S');
      expect((await dav(h, { method: 'GET', path: '/dav/new.txt' })).status).to.equal(404);
    });

    it('moves a folder in one storage call, and copies Depth 0 without members', async () => {
      await dav(h, { method: 'MKCOL', path: '/dav/tree' });
      await put('/dav/tree/a', '1');
      const moves = storage.calls.move ?? 0;
      expect((await dav(h, { method: 'MOVE', path: '/dav/tree/', headers: { Destination: `${h.url}/dav/tree2/` } })).status).to.equal(201);
      expect(storage.calls.move).to.equal(moves + 1);
      expect((await dav(h, { method: 'GET', path: '/dav/tree2/a' })).body).to.equal('1');
      expect((await dav(h, { method: 'COPY', path: '/dav/tree2', headers: { Destination: `${h.url}/dav/shallow`, Depth: '0' } })).status).to.equal(201);
      const list = await dav(h, { method: 'PROPFIND', path: '/dav/shallow', headers: { Depth: '1' } });
      expect(tagValues(list.body, 'href')).to.deep.equal(['/dav/shallow/']);
    });

    it('refuses a destination on another host (502), the same path (403), into itself (409), and a missing parent (409)', async () => {
      await dav(h, { method: 'MKCOL', path: '/dav/p' });
      expect((await dav(h, { method: 'MOVE', path: '/dav/p', headers: { Destination: 'http://elsewhere.example/dav/q' } })).status).to.equal(502);
      expect((await dav(h, { method: 'MOVE', path: '/dav/p', headers: { Destination: `${h.url}/dav/p` } })).status).to.equal(403);
      expect((await dav(h, { method: 'MOVE', path: '/dav/p', headers: { Destination: `${h.url}/dav/p/q` } })).status).to.equal(409);
      expect((await dav(h, { method: 'COPY', path: '/dav/p', headers: { Destination: `${h.url}/dav/none/q` } })).status).to.equal(409);
      expect((await dav(h, { method: 'MOVE', path: '/dav/p' })).status).to.equal(400);
    });

    it('renames when only the case changes', async () => {
      await put('/dav/case.txt', 'x');
      expect((await dav(h, { method: 'MOVE', path: '/dav/case.txt', headers: { Destination: `${h.url}/dav/CASE.txt` } })).status).to.be.oneOf([201, 204]);
      expect([...storage.root.children.values()].map((n) => n.name)).to.deep.equal(['CASE.txt']);
    });
  });

  describe('read-only users', () => {
    it('answers 403 to every write method and lets reads through', async () => {
      await put('/dav/r.txt', 'x');
      for (const method of ['PUT', 'DELETE', 'MKCOL', 'PROPPATCH', 'LOCK', 'UNLOCK', 'COPY', 'MOVE']) {
        const r = await dav(h, { method, path: '/dav/r.txt', user: 'reader', headers: { Destination: `${h.url}/dav/r2.txt` }, body: '' });
        expect(r.status, method).to.equal(403);
      }
      expect((await dav(h, { method: 'GET', path: '/dav/r.txt', user: 'reader' })).status).to.equal(200);
      expect((await dav(h, { method: 'PROPFIND', path: '/dav/', user: 'reader', headers: { Depth: '1' } })).status).to.equal(207);
    });
  });
});

describe('webdav: macOS metadata option', function () {
  it('stores ._* and .DS_Store by default, and keeps them out of storage when asked', async () => {
    for (const ignore of [false, true]) {
      const storage = new MemoryStorage();
      const h = await startDav(storage, { ignoreMacMetadata: ignore });
      try {
        expect((await dav(h, { method: 'PUT', path: '/._photo.jpg', body: 'fork' })).status).to.equal(201);
        expect((await dav(h, { method: 'PUT', path: '/.DS_Store', body: 'ds' })).status).to.equal(201);
        expect((await dav(h, { method: 'PUT', path: '/photo.jpg', body: 'img' })).status).to.equal(201);
        const names = [...storage.root.children.values()].map((n) => n.name).sort();
        expect(names).to.deep.equal(ignore ? ['photo.jpg'] : ['.DS_Store', '._photo.jpg', 'photo.jpg']);
        expect((await dav(h, { method: 'GET', path: '/._photo.jpg' })).status).to.equal(ignore ? 404 : 200);
      } finally {
        await h.close();
      }
    }
  });
});
