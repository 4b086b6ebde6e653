// Allocate and upload over HTTP: the answer's exact fields, path forms, times as RFC 3339 or epoch ms, dedup
// (COMPLETED), pieces with Range → 420 and resume, MD5 mismatch → 421 (old revision stays), conflict handling,
// revisions kept, quota (460), and downloads with Range (206/416).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { withEmulator } from '../helpers/emulator.js';
import { Client, list, md5 } from './support.js';

describe('emulator: allocate and upload', () => {
  const ctx = withEmulator({ capacityBytes: 200_000 });
  const c = () => new Client(ctx.emu, ctx.token);
  const u = () => ctx.emu.user;

  it('answers allocate with exactly name, path, state, upload_id, upload_url, bytes, resume_pos', async () => {
    const data = Buffer.from('fresh bytes');
    const a = await c().allocate({ bytes: data.length, md5: md5(data), path: '/jfs/Jotta/Archive/up/fresh.txt', created: '2023-03-03T03:03:03Z', modified: '2023-04-04T04:04:04Z' });
    expect(Object.keys(a)).to.deep.equal(['name', 'path', 'state', 'upload_id', 'upload_url', 'bytes', 'resume_pos']);
    expect(a.name).to.equal('fresh.txt');
    expect(a.state).to.equal('INCOMPLETE');
    expect(a.resume_pos).to.equal(0);
    expect(a.upload_url).to.equal(`${ctx.emu.url}/files/v1/upload/${a.upload_id}`);
    const r = await c().send(a.upload_url, data);
    expect(r.status).to.equal(201);
    expect(Object.keys(r.json)).to.deep.equal(['path', 'content_id', 'bytes', 'md5', 'modified']);
    expect(r.json.md5).to.equal(md5(data));
    expect(r.json.bytes).to.equal(data.length);
    expect(r.json.modified).to.equal(Date.parse('2023-04-04T04:04:04Z'));
    const f = (await c().xml(c().p('up/fresh.txt'))).file;
    expect(f.currentRevision.created).to.equal('2023-03-03-T03:03:03Z');
    expect(f.currentRevision.modified).to.equal('2023-04-04-T04:04:04Z');
  });

  it('accepts the mountpoint-relative path form and epoch-millisecond times', async () => {
    const data = Buffer.from('ak style');
    const a = await c().allocate({ bytes: data.length, md5: md5(data), path: 'Archive/up/ak.txt', created: 1_600_000_000_000, modified: 1_600_000_001_000, conflict_handler: 'CREATE_NEW_REVISION' });
    expect(a.path).to.equal(`/${u()}/Jotta/Archive/up/ak.txt`);
    await c().send(a.upload_url, data, `bytes=0-${data.length}`); // akeamc/jotta's end = size: be lenient
    const f = (await c().xml(c().p('up/ak.txt'))).file;
    expect(f.currentRevision.modified).to.equal('2020-09-13-T12:26:41Z');
  });

  it('hands out the upload host when the request came through the MITM proxy', async () => {
    const res = await c().fetch('/files/v1/allocate', {
      method: 'POST',
      headers: { 'X-Forwarded-Host': 'api.jottacloud.com' },
      body: JSON.stringify({ bytes: 3, md5: md5('pxy'), path: '/jfs/Jotta/Archive/up/p.txt' }),
    });
    const a = (await res.json()) as { upload_url: string; upload_id: string };
    expect(a.upload_url).to.equal(`https://up.jottacloud.com/files/v1/upload/${a.upload_id}`);
  });

  it('deduplicates: content the account holds already answers COMPLETED and the file exists at once', async () => {
    await c().upload('dd/one.bin', 'same content');
    const a = await c().allocate({ bytes: 12, md5: md5('same content'), path: '/jfs/Jotta/Archive/dd/two.bin' });
    expect(a.state).to.equal('COMPLETED');
    expect(a.resume_pos).to.equal(12);
    expect((await c().bytes('dd/two.bin')).body.toString()).to.equal('same content');
  });

  it('takes pieces with Range: an unfinished piece answers 420 and the next allocate resumes at the advanced position', async () => {
    const data = randomBytes(10_000);
    const alloc = { bytes: data.length, md5: md5(data), path: '/jfs/Jotta/Archive/up/pieces.bin' };
    const a = await c().allocate(alloc);
    const first = await c().send(a.upload_url, data.subarray(0, 4000), `bytes=0-${data.length - 1}`);
    expect(first.status).to.equal(420);
    expect(first.json.error_id).to.equal('IncompleteUploadOpenApiException');
    expect(Object.keys(first.json)).to.deep.equal(['code', 'message', 'cause', 'error_id', 'x-id']);

    const listing = (await c().xml(c().p('up'))).folder;
    const pending = list(listing.files.file).find((f: { '@name': string }) => f['@name'] === 'pieces.bin');
    expect(pending.latestRevision.state).to.equal('INCOMPLETE');
    expect(pending.latestRevision.size, 'no size in listings').to.equal(undefined);
    expect(pending.currentRevision).to.equal(undefined);
    const detail = (await c().xml(c().p('up/pieces.bin'))).file;
    expect(detail.latestRevision.size, 'bytes so far in the detail').to.equal('4000');

    const again = await c().allocate(alloc);
    expect(again.upload_id).to.equal(a.upload_id);
    expect(again.resume_pos).to.equal(4000);
    const rest = await c().send(again.upload_url, data.subarray(4000), `bytes=4000-${data.length - 1}`);
    expect(rest.status).to.equal(201);
    const got = await c().bytes('up/pieces.bin');
    expect(md5(got.body)).to.equal(md5(data));
    const done = (await c().xml(c().p('up/pieces.bin'))).file;
    expect(done.latestRevision).to.equal(undefined);
    expect(done.currentRevision.state).to.equal('COMPLETED');
  });

  it('answers 421 CorruptUploadOpenApiException on an MD5 mismatch; the previous revision stays current', async () => {
    await c().upload('up/c.txt', 'good version');
    const a = await c().allocate({ bytes: 11, md5: md5('declared!!!'), path: '/jfs/Jotta/Archive/up/c.txt' });
    const r = await c().send(a.upload_url, Buffer.from('other bytes'));
    expect(r.status).to.equal(421);
    expect(r.json.error_id).to.equal('CorruptUploadOpenApiException');
    expect((await c().bytes('up/c.txt')).body.toString()).to.equal('good version');
    const f = list((await c().xml(c().p('up'))).folder.files.file).find((x: { '@name': string }) => x['@name'] === 'c.txt');
    expect(f.currentRevision.md5).to.equal(md5('good version'));
    expect(f.latestRevision.state).to.equal('CORRUPT');
    expect(f.latestRevision.size).to.equal(undefined);
    expect(f.latestRevision.md5).to.equal(md5('declared!!!'));
    expect(Number(f.latestRevision.number)).to.be.greaterThan(Number(f.currentRevision.number));
  });

  it('REJECT_CONFLICTS refuses an existing file with UniqueFileException', async () => {
    await c().upload('up/exists.txt', 'here');
    const res = await c().fetch('/files/v1/allocate', {
      method: 'POST',
      body: JSON.stringify({ bytes: 5, md5: md5('other'), path: '/jfs/Jotta/Archive/up/exists.txt', conflict_handler: 'REJECT_CONFLICTS' }),
    });
    expect(res.status).to.equal(409);
    expect(((await res.json()) as { error_id: string }).error_id).to.equal('UniqueFileException');
  });

  it('keeps 4 old revisions beside the current one, newest first', async () => {
    for (let i = 1; i <= 6; i++) await c().upload('up/versions.txt', `version ${i}`);
    const f = (await c().xml(c().p('up/versions.txt'))).file;
    expect(f.currentRevision.number).to.equal('6');
    expect(list(f.revisions.revision).map((r: { number: string }) => r.number)).to.deep.equal(['5', '4', '3', '2']);
  });

  it('answers 404 to an upload whose file was deleted while the bytes were coming', async () => {
    const data = randomBytes(100_000);
    const a = await c().allocate({ bytes: data.length, md5: md5(data), path: '/jfs/Jotta/Archive/up/vanishing.bin' });
    const u = new URL(a.upload_url);
    const answer = new Promise<number>((resolve, reject) => {
      const req = request(
        { host: u.hostname, port: u.port, method: 'POST', path: u.pathname, headers: { Authorization: `Bearer ${ctx.token}`, 'Content-Length': data.length } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(data.subarray(0, 50_000), () => {
        void c()
          .post(c().p('up/vanishing.bin'), 'rm=true')
          .then(() => req.end(data.subarray(50_000)));
      });
    });
    expect(await answer).to.equal(404);
    expect((await c().fetch(c().p('up/vanishing.bin'))).status).to.equal(404);
  });

  it('creates missing parent folders on allocate (rclone sends no mkDir before an upload)', async () => {
    await c().upload('deep/er/and/deeper/f.txt', 'deep');
    expect((await c().xml(c().p('deep/er/and'))).folder['@name']).to.equal('and');
  });

  it('serves ranges: 206 with Content-Range, open and suffix ranges, 416 with the XML error when unsatisfiable', async () => {
    await c().upload('rg/r.txt', '0123456789');
    const mid = await c().bytes('rg/r.txt', 'bytes=2-5');
    expect(mid.status).to.equal(206);
    expect(mid.body.toString()).to.equal('2345');
    expect(mid.headers.get('content-range')).to.equal('bytes 2-5/10');
    expect((await c().bytes('rg/r.txt', 'bytes=7-')).body.toString()).to.equal('789');
    expect((await c().bytes('rg/r.txt', 'bytes=-3')).body.toString()).to.equal('789');
    const whole = await c().bytes('rg/r.txt');
    expect(whole.status).to.equal(200);
    expect(whole.body.toString()).to.equal('0123456789');
    for (const bad of ['bytes=10-2', 'bytes=10-', 'bytes=20-30']) {
      const r = await c().bytes('rg/r.txt', bad);
      expect(r.status, bad).to.equal(416);
      expect(r.body.toString()).to.include('RequestedRangeNotSatisfiedException');
    }
  });

  it('counts old revisions and trash in usage until purged, and answers 460 when an upload would pass the quota', async () => {
    const before = Number((await c().xml(`/jfs/${u()}`)).user.usage);
    const big = randomBytes(60_000);
    await c().upload('q/big.bin', big);
    await c().post(c().p('q/big.bin'), 'dl=true');
    const withTrash = Number((await c().xml(`/jfs/${u()}`)).user.usage);
    expect(withTrash).to.equal(before + 60_000);
    const more = randomBytes(150_000);
    const res = await c().fetch('/files/v1/allocate', { method: 'POST', body: JSON.stringify({ bytes: more.length, md5: md5(more), path: '/jfs/Jotta/Archive/q/more.bin' }) });
    expect(res.status).to.equal(460);
    await c().fetch('/files/v1/purge_trash', { method: 'POST' });
    expect(Number((await c().xml(`/jfs/${u()}`)).user.usage)).to.equal(before);
    await c().upload('q/more.bin', more);
  });
});
