// lib/webdav over the real stack: emulator → Jottacloud client → storage → webdav → the Express server.
// What only the real layers below can show: times set through PROPPATCH and X-OC-Mtime reach Jottacloud
// (a fresh stack on the same emulator still sees them), quota answers 507, a failed upload answers 5xx and
// leaves nothing, names the service refuses answer 4xx with a reason, and the Windows copy sequence works.
import { expect } from 'chai';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { request, startStack, type TestStack } from '../helpers/stack.js';

const win32 = (mtime: string) =>
  '<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>' +
  '<Z:Win32CreationTime>Mon, 06 Oct 2025 09:00:00 GMT</Z:Win32CreationTime>' +
  `<Z:Win32LastModifiedTime>${mtime}</Z:Win32LastModifiedTime>` +
  '<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>' +
  '</D:prop></D:set></D:propertyupdate>';

const propfind = (props: string) => `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>${props}</D:prop></D:propfind>`;

describe('webdav over the real stack', function () {
  this.timeout(60_000);
  let emu: RunningEmulator;
  let s: TestStack;

  before(async () => {
    emu = await startTestEmulator({ capacityBytes: 2_000_000 });
    s = await startStack({ emulator: emu });
  });
  after(async () => {
    await s?.close();
    await emu?.close();
  });

  it('stores, lists, reads ranges, copies, moves and deletes on Jottacloud', async () => {
    expect((await request(s, 'MKCOL', 'work')).status).to.equal(201);
    const body = Buffer.from('0123456789'.repeat(100));
    expect((await request(s, 'PUT', 'work/a.bin', { body })).status).to.equal(201);
    const list = await request(s, 'PROPFIND', 'work', { headers: { Depth: '1' } });
    expect(list.status).to.equal(207);
    expect(list.body).to.include('<D:getcontentlength>1000</D:getcontentlength>');
    const range = await request(s, 'GET', 'work/a.bin', { headers: { Range: 'bytes=995-' } });
    expect(range.status).to.equal(206);
    expect(range.headers.get('content-range')).to.equal('bytes 995-999/1000');
    expect(range.body).to.equal('56789');
    expect((await request(s, 'COPY', 'work/a.bin', { headers: { Destination: `${s.url}work/b.bin` } })).status).to.equal(201);
    expect((await request(s, 'MOVE', 'work', { headers: { Destination: `${s.url}moved` } })).status).to.equal(201);
    expect((await request(s, 'GET', 'moved/b.bin')).body).to.equal(body.toString());
    expect((await request(s, 'DELETE', 'moved')).status).to.equal(204);
    expect((await request(s, 'PROPFIND', 'moved', { headers: { Depth: '0' } })).status).to.equal(404);
  });

  it('sends Win32 times and X-OC-Mtime to Jottacloud: a new stack on the same account sees them', async () => {
    expect((await request(s, 'PUT', 'times.txt', { body: 'x' })).status).to.equal(201);
    const pp = await request(s, 'PROPPATCH', 'times.txt', { body: win32('Wed, 08 Oct 2025 12:00:00 GMT') });
    expect(pp.status).to.equal(207);
    expect(pp.body).not.to.match(/HTTP\/1.1 [45]/);
    const put = await request(s, 'PUT', 'mtime.txt', { body: 'y', headers: { 'X-OC-Mtime': '1600000000' } });
    expect(put.headers.get('x-oc-mtime')).to.equal('accepted');

    const fresh = await startStack({ emulator: emu });
    try {
      const a = await request(fresh, 'PROPFIND', 'times.txt', { headers: { Depth: '0' }, body: propfind('<D:getlastmodified/><D:creationdate/>') });
      expect(a.body).to.include('<D:getlastmodified>Wed, 08 Oct 2025 12:00:00 GMT</D:getlastmodified>');
      expect(a.body).to.include('<D:creationdate>2025-10-06T09:00:00Z</D:creationdate>');
      const b = await request(fresh, 'PROPFIND', 'mtime.txt', { headers: { Depth: '0' }, body: propfind('<D:getlastmodified/>') });
      expect(b.body).to.include(`<D:getlastmodified>${new Date(1600000000 * 1000).toUTCString()}</D:getlastmodified>`);
    } finally {
      await fresh.close();
    }
  });

  it('reports quota and answers 507 for a file that does not fit', async () => {
    const q = await request(s, 'PROPFIND', '', { headers: { Depth: '0' }, body: propfind('<D:quota-available-bytes/><D:quota-used-bytes/>') });
    const available = Number(/<D:quota-available-bytes>(\d+)</.exec(q.body)?.[1]);
    expect(available).to.be.greaterThan(0).and.at.most(2_000_000);
    const r = await request(s, 'PUT', 'huge.bin', { body: Buffer.alloc(available + 1000) });
    expect(r.status).to.equal(507);
    expect((await request(s, 'GET', 'huge.bin')).status).to.equal(404);
  });

  it('answers a name over 255 characters with a 4xx and a one-line reason, creating nothing', async () => {
    const name = 'x'.repeat(300);
    const r = await request(s, 'PUT', `${name}.txt`, { body: 'x' });
    expect(r.status).to.be.within(400, 499);
    expect(r.body.trim()).to.match(/255/);
    expect(r.body.trim().split('\n')).to.have.length(1);
    const m = await request(s, 'MKCOL', name);
    expect(m.status).to.be.within(400, 499);
    const list = await request(s, 'PROPFIND', '', { headers: { Depth: '1' } });
    expect(list.body).not.to.include('xxxxxxxxxx');
  });

  it('answers 5xx when Jottacloud refuses the upload, and keeps the old content', async () => {
    expect((await request(s, 'PUT', 'keep.txt', { body: 'old' })).status).to.equal(201);
    emu.setFaults('status=500;path=/files/v1/allocate;count=20');
    try {
      const r = await request(s, 'PUT', 'keep.txt', { body: 'new content' });
      expect(r.status).to.be.within(500, 599);
    } finally {
      emu.setFaults(undefined);
    }
    expect((await request(s, 'GET', 'keep.txt')).body).to.equal('old');
  });

  it("replays Windows Explorer's copy: PUT 0 → LOCK → PROPPATCH (If) → PUT data (If) → UNLOCK", async () => {
    const path = 'Report%20Q3.docx';
    expect((await request(s, 'PUT', path, { body: '' })).status).to.equal(201);
    const lock = await request(s, 'LOCK', path, {
      headers: { Timeout: 'Second-3600' },
      body: '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>DESKTOP\\alice</D:owner></D:lockinfo>',
    });
    expect(lock.status).to.equal(200);
    const token = /<([^>]+)>/.exec(lock.headers.get('lock-token') ?? '')?.[1] as string;
    expect((await request(s, 'PROPPATCH', path, { headers: { If: `(<${token}>)` }, body: win32('Thu, 09 Oct 2025 17:54:43 GMT') })).status).to.equal(207);
    expect((await request(s, 'PUT', path, { headers: { If: `(<${token}>)` }, body: 'document body' })).status).to.equal(204);
    expect((await request(s, 'PUT', path, { body: 'intruder' })).status).to.equal(423);
    expect((await request(s, 'UNLOCK', path, { headers: { 'Lock-Token': `<${token}>` } })).status).to.equal(204);
    expect((await request(s, 'GET', path)).body).to.equal('document body');
  });
});
