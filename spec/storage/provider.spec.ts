// The provider against a real emulator: files and folders, names, case, delete modes, hidden entries,
// times, quota, and what the cache saves (request counts).
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { JottacloudStorage } from '../../lib/storage/provider.js';
import {
  AlreadyExists,
  ChecksumMismatch,
  Conflict,
  InvalidName,
  IsAFolder,
  NotAFolder,
  NotFound,
  ParentNotFound,
  QuotaExceeded,
  ReadOnly,
} from '../../lib/storage/types.js';
import { body, md5, readAll, rejects, startHarness, type Harness } from './harness.js';


describe('storage/provider', function () {
  this.timeout(20_000);
  let h: Harness;
  let s: JottacloudStorage;
  beforeEach(async () => {
    h = await startHarness();
    s = h.storage;
  });
  afterEach(() => h.close());

  describe('files and folders', () => {
    it('writes, stats, lists and reads a file', async () => {
      await s.mkdir('/docs');
      const w = await s.write('/docs/a.txt', body('hello'), { modified: new Date('2024-05-06T07:08:09.750Z') });
      expect(w.created).to.equal(true);
      expect(w.entry).to.include({ name: 'a.txt', path: '/docs/a.txt', kind: 'file', size: 5, md5: md5('hello') });
      expect(w.entry.modified.toISOString()).to.equal('2024-05-06T07:08:09.000Z');
      const st = await s.stat('/docs/a.txt');
      expect(st.size).to.equal(5);
      expect(st.etag).to.be.a('string');
      expect((await s.list('/docs')).map((e) => e.name)).to.deep.equal(['a.txt']);
      expect(await readAll(s, '/docs/a.txt')).to.equal('hello');
      expect((await s.stat('/docs')).kind).to.equal('folder');
      expect((await s.stat('/')).kind).to.equal('folder');
    });

    it('reads byte ranges', async () => {
      await s.write('/r.txt', body('0123456789'));
      expect((await buffer(await s.openRead('/r.txt', { start: 2, end: 5 }))).toString()).to.equal('2345');
      expect((await buffer(await s.openRead('/r.txt', { start: 7 }))).toString()).to.equal('789');
      expect((await buffer(await s.openRead('/r.txt', { start: 8, end: 100 }))).toString()).to.equal('89');
      expect((await buffer(await s.openRead('/r.txt', { start: 10 }))).length).to.equal(0);
    });

    it('overwrites a file (a new revision) and reports it as not created', async () => {
      await s.write('/f.txt', body('one'));
      const w = await s.write('/f.txt', body('two!'));
      expect(w.created).to.equal(false);
      expect(await readAll(s, '/f.txt')).to.equal('two!');
      const info = await h.client.fileInfo('f.txt');
      expect(info.revisions.length).to.equal(1); // keep: the old revision stays on the service
    });

    it('handles the empty file', async () => {
      const w = await s.write('/empty', body(''));
      expect(w.entry.size).to.equal(0);
      expect(await readAll(s, '/empty')).to.equal('');
    });

    it('refuses what a disk would refuse, with typed errors', async () => {
      await s.write('/file', body('x'));
      await s.mkdir('/dir');
      expect(await rejects(s.write('/missing/a', body('x')))).to.be.instanceOf(ParentNotFound);
      expect(await rejects(s.write('/file/a', body('x')))).to.be.instanceOf(ParentNotFound);
      expect(await rejects(s.write('/dir', body('x')))).to.be.instanceOf(IsAFolder);
      expect(await rejects(s.mkdir('/dir'))).to.be.instanceOf(AlreadyExists);
      expect(await rejects(s.mkdir('/FILE'))).to.be.instanceOf(AlreadyExists);
      expect(await rejects(s.mkdir('/missing/x'))).to.be.instanceOf(ParentNotFound);
      expect(await rejects(s.stat('/nope'))).to.be.instanceOf(NotFound);
      expect(await rejects(s.list('/file'))).to.be.instanceOf(NotAFolder);
      expect(await rejects(s.openRead('/dir'))).to.be.instanceOf(IsAFolder);
      expect(await rejects(s.delete('/nope'))).to.be.instanceOf(NotFound);
    });

    it('maps names the service cannot store and refuses over-long names before any request', async () => {
      const name = 'a:b*c?"<>|%20.txt';
      await s.write(`/${name}`, body('x'));
      expect((await s.list('/')).map((e) => e.name)).to.deep.equal([name]);
      const stored = (await h.client.list('')).files.map((f) => f.name);
      expect(stored).to.deep.equal(['a：b＊c？＂＜＞｜％20.txt']);
      h.resetCount();
      expect(await rejects(s.write(`/${'x'.repeat(256)}`, body('x')))).to.be.instanceOf(InvalidName);
      expect(await rejects(s.mkdir(`/${'＊'.repeat(200)}`))).to.be.instanceOf(InvalidName);
      expect(h.requests).to.have.length(0);
    });

    it('moves and copies files and folders', async () => {
      await s.mkdir('/a');
      await s.write('/a/f.txt', body('content'));
      await s.mkdir('/a/sub');
      await s.write('/a/sub/g.txt', body('g'));
      const c = await s.copy('/a', '/b', { overwrite: false });
      expect(c.created).to.equal(true);
      expect(await readAll(s, '/b/sub/g.txt')).to.equal('g');
      const m = await s.move('/a/f.txt', '/b/moved.txt', { overwrite: false });
      expect(m.entry.path).to.equal('/b/moved.txt');
      expect(await rejects(s.stat('/a/f.txt'))).to.be.instanceOf(NotFound);
      expect(await readAll(s, '/b/moved.txt')).to.equal('content');
      await s.move('/b', '/c', { overwrite: false });
      expect((await s.list('/c')).map((e) => e.name).sort()).to.deep.equal(['f.txt', 'moved.txt', 'sub']);
      expect(await rejects(s.stat('/b'))).to.be.instanceOf(NotFound);
      expect(await rejects(s.move('/c', '/c/sub/x', { overwrite: false }))).to.be.instanceOf(Conflict);
      expect(await rejects(s.move('/c/f.txt', '/a', { overwrite: false }))).to.be.instanceOf(AlreadyExists);
    });

    it('overwrites on move/copy only when asked', async () => {
      await s.write('/x', body('x'));
      await s.write('/y', body('y'));
      expect(await rejects(s.copy('/x', '/y', { overwrite: false }))).to.be.instanceOf(AlreadyExists);
      const w = await s.copy('/x', '/y', { overwrite: true });
      expect(w.created).to.equal(false);
      expect(await readAll(s, '/y')).to.equal('x');
      await s.write('/z', body('z'));
      await s.move('/z', '/y', { overwrite: true });
      expect(await readAll(s, '/y')).to.equal('z');
      expect(await rejects(s.stat('/z'))).to.be.instanceOf(NotFound);
    });
  });

  describe('case', () => {
    it('finds entries whatever the case, reporting the stored spelling', async () => {
      await s.mkdir('/Docs');
      await s.write('/Docs/Report.pdf', body('v1'));
      const st = await s.stat('/docs/REPORT.PDF');
      expect(st.path).to.equal('/Docs/Report.pdf');
      expect(st.name).to.equal('Report.pdf');
      expect(await readAll(s, '/DOCS/report.PDF')).to.equal('v1');
    });

    it('writing Report.PDF over report.pdf updates that file; the existing stored name wins', async () => {
      await s.write('/report.pdf', body('old'));
      const w = await s.write('/Report.PDF', body('new'));
      expect(w.created).to.equal(false);
      expect(w.entry.name).to.equal('report.pdf');
      const names = (await s.list('/')).map((e) => e.name);
      expect(names).to.deep.equal(['report.pdf']);
      expect(await readAll(s, '/report.pdf')).to.equal('new');
      // the service agrees: one entry
      expect((await h.client.list('')).files.map((f) => f.name)).to.deep.equal(['report.pdf']);
    });

    it('a rename that only changes case works for files and folders', async () => {
      await s.write('/readme.txt', body('r'));
      const r = await s.move('/readme.txt', '/README.txt', { overwrite: false });
      expect(r.entry.path).to.equal('/README.txt');
      expect((await s.list('/')).map((e) => e.name)).to.deep.equal(['README.txt']);
      await s.mkdir('/photos');
      await s.write('/photos/p.jpg', body('p'));
      await s.move('/photos', '/Photos', { overwrite: false });
      expect((await s.list('/')).map((e) => e.name).sort()).to.deep.equal(['Photos', 'README.txt']);
      expect(await readAll(s, '/Photos/p.jpg')).to.equal('p');
      // seen by a fresh provider (no cache) too
      const fresh = await h.openStorage();
      expect((await fresh.list('/')).map((e) => e.name).sort()).to.deep.equal(['Photos', 'README.txt']);
      expect(await rejects(s.move('/Photos', '/Photos', { overwrite: true }))).to.be.instanceOf(Conflict);
    });

    it('two names differing only in case never both exist', async () => {
      await s.mkdir('/Dir');
      expect(await rejects(s.mkdir('/dir'))).to.be.instanceOf(AlreadyExists);
      expect(await rejects(s.write('/DIR', body('x')))).to.be.instanceOf(IsAFolder);
      await s.write('/f', body('1'));
      await s.write('/F', body('2'));
      expect((await s.list('/')).map((e) => e.name).sort()).to.deep.equal(['Dir', 'f']);
    });
  });

  describe('delete', () => {
    it('trashes by default: gone from listings, kept in the service trash', async () => {
      await s.write('/t.txt', body('t'));
      await s.delete('/t.txt');
      expect(await rejects(s.stat('/t.txt'))).to.be.instanceOf(NotFound);
      expect((await s.list('/')).map((e) => e.name)).to.deep.equal([]);
      const trash = await h.client.listTrash();
      expect(trash.files.map((f) => f.name)).to.deep.equal(['t.txt']);
      // a fresh provider, reading the service, agrees
      const fresh = await h.openStorage();
      expect(await rejects(fresh.stat('/t.txt'))).to.be.instanceOf(NotFound);
      expect(await fresh.list('/')).to.deep.equal([]);
    });

    it('deletes hard when configured or asked', async () => {
      await s.write('/h1', body('1'));
      await s.write('/h2', body('2'));
      await s.delete('/h1', { mode: 'hard' });
      const hard = await h.openStorage({ delete: 'hard' });
      await hard.delete('/h2');
      expect((await h.client.listTrash()).files).to.have.length(0);
      expect((await h.client.list('')).files).to.have.length(0);
    });

    it('deletes folders with their contents', async () => {
      await s.mkdir('/d');
      await s.write('/d/x', body('x'));
      await s.delete('/d');
      expect(await rejects(s.stat('/d/x'))).to.be.instanceOf(NotFound);
      expect(await rejects(s.list('/d'))).to.be.instanceOf(NotFound);
      // and the name is free again
      await s.mkdir('/d');
      expect(await s.list('/d')).to.deep.equal([]);
    });

    it('writing where a trashed file lies makes a live file again', async () => {
      await s.write('/again', body('1'));
      await s.delete('/again');
      await s.write('/again', body('2'));
      expect(await readAll(s, '/again')).to.equal('2');
      const fresh = await h.openStorage();
      expect((await fresh.list('/')).map((e) => e.name)).to.deep.equal(['again']);
    });

    it('copying and moving onto a path whose old file is in trash leaves a live file (rclone #6112)', async () => {
      await s.write('/src', body('fresh'));
      await s.write('/dst', body('old'));
      await s.delete('/dst');
      await s.copy('/src', '/dst', { overwrite: false });
      const fresh = await h.openStorage();
      expect(await readAll(fresh, '/dst')).to.equal('fresh');
      await s.write('/dst2', body('old'));
      await s.delete('/dst2');
      await s.move('/src', '/dst2', { overwrite: false });
      const fresh2 = await h.openStorage();
      expect(await readAll(fresh2, '/dst2')).to.equal('fresh');
    });

    it('moving a folder onto the name of a trashed folder works', async () => {
      await s.mkdir('/old');
      await s.delete('/old');
      await s.mkdir('/new');
      await s.write('/new/f', body('f'));
      await s.move('/new', '/old', { overwrite: false });
      expect(await readAll(s, '/old/f')).to.equal('f');
    });
  });

  describe('hidden and unfinished entries', () => {
    it('never shows a file whose upload never completed; shows the last good revision of one whose newest upload failed', async () => {
      await s.write('/good', body('good'));
      // An upload that stops half way (no resume allowed) leaves an INCOMPLETE latest revision.
      h.emulator.setFaults('cut-upload=50%');
      const noResume = await h.openStorage({ uploadResumeAttempts: 0 });
      await rejects(noResume.write('/good', body('a much longer new content')));
      await rejects(noResume.write('/never', body('never completed content')));
      h.emulator.setFaults(undefined);
      const fresh = await h.openStorage();
      expect((await fresh.list('/')).map((e) => e.name)).to.deep.equal(['good']);
      expect(await rejects(fresh.stat('/never'))).to.be.instanceOf(NotFound);
      expect(await readAll(fresh, '/good')).to.equal('good');
      expect((await fresh.stat('/good')).size).to.equal(4);
    });
  });

  describe('upload', () => {
    it('skips sending the bytes when allocate answers COMPLETED (the service has this content)', async () => {
      const data = Buffer.alloc(100_000, 3);
      await s.write('/first', body(data));
      h.resetCount();
      await s.write('/second', body(data));
      expect(h.requests.filter((r) => r.host === 'upload')).to.have.length(0);
      expect((await buffer(await s.openRead('/second'))).equals(data)).to.equal(true);
    });

    it('resumes a cut upload from resume_pos, a bounded number of times', async () => {
      const data = Buffer.alloc(3 * 1024 * 1024, 5);
      h.emulator.setFaults('cut-upload=50%;count=1');
      await s.write('/resumed', body(data));
      h.emulator.setFaults(undefined);
      expect(h.requests.filter((r) => r.host === 'upload').length).to.equal(2);
      expect((await buffer(await (await h.openStorage()).openRead('/resumed'))).equals(data)).to.equal(true);
      h.emulator.setFaults('cut-upload=10%');
      const bounded = await h.openStorage({ uploadResumeAttempts: 2 });
      h.resetCount();
      // other bytes, or deduplication would complete it without an upload
      expect(await rejects(bounded.write('/never', body(Buffer.alloc(data.length, 6))))).to.be.instanceOf(Error);
      expect(h.requests.filter((r) => r.host === 'upload').length).to.equal(3);
      h.emulator.setFaults(undefined);
    });
  });

  describe('checksums', () => {
    it('takes a client MD5 (hex or base64) without spooling, and fails on a mismatch keeping the old content', async () => {
      await s.write('/m', body('old'));
      const w = await s.write('/m', body('new body'), { md5: md5('new body'), size: 8 });
      expect(w.entry.md5).to.equal(md5('new body'));
      const b64 = Buffer.from(md5('third'), 'hex').toString('base64');
      await s.write('/m', body('third'), { md5: b64, size: 5 });
      const err = await rejects(s.write('/m', body('tampered'), { md5: md5('something else'), size: 8 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      const fresh = await h.openStorage();
      expect(await readAll(fresh, '/m')).to.equal('third');
      expect(readdirSync(h.spoolDir)).to.deep.equal([]);
    });

    it('checks a client MD5 after spooling when no size was given', async () => {
      const err = await rejects(s.write('/n', body('abc'), { md5: md5('abd') }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await rejects(s.stat('/n'))).to.be.instanceOf(NotFound);
    });
  });

  describe('spool files', () => {
    it('are gone after success, after a failed upload and after a client abort', async () => {
      const small = await h.openStorage({ md5MemoryLimit: 1024 });
      const big = Buffer.alloc(64 * 1024, 7);
      await small.write('/ok', body(big));
      expect(readdirSync(h.spoolDir + '-0')).to.deep.equal([]);
      h.emulator.setFaults('status=500;path=/files/v1/allocate');
      await rejects(small.write('/fail', body(big)));
      h.emulator.setFaults(undefined);
      expect(readdirSync(h.spoolDir + '-0')).to.deep.equal([]);
      const ac = new AbortController();
      const stream = new PassThrough();
      const pending = small.write('/abort', stream, { signal: ac.signal });
      stream.write(big);
      for (let i = 0; i < 200 && readdirSync(h.spoolDir + '-0').length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      const err = await rejects(pending);
      expect(err.name).to.equal('Aborted');
      expect(readdirSync(h.spoolDir + '-0')).to.deep.equal([]);
      expect(await rejects(small.stat('/abort'))).to.be.instanceOf(NotFound);
    });
  });

  describe('times', () => {
    it('sets modification and creation times at upload, keeps creation on overwrite, and changes them later without re-upload', async () => {
      const created = new Date('2020-01-02T03:04:05Z');
      await s.write('/t', body('t'), { modified: new Date('2021-01-01T00:00:00.999Z'), created });
      await s.write('/t', body('t2'), { modified: new Date('2022-01-01T00:00:00Z') });
      let st = await (await h.openStorage()).stat('/t');
      expect(st.created.toISOString()).to.equal(created.toISOString());
      expect(st.modified.toISOString()).to.equal('2022-01-01T00:00:00.000Z');
      h.resetCount();
      const e = await s.setTimes('/t', { modified: new Date('2023-03-03T03:03:03.500Z') });
      expect(e.modified.toISOString()).to.equal('2023-03-03T03:03:03.000Z');
      expect(h.requests.map((r) => r.host)).not.to.include('upload');
      st = await (await h.openStorage()).stat('/t');
      expect(st.modified.toISOString()).to.equal('2023-03-03T03:03:03.000Z');
      expect(st.created.toISOString()).to.equal(created.toISOString());
      expect(await readAll(s, '/t')).to.equal('t2');
    });
  });

  describe('quota', () => {
    it('reports usage and capacity, cached briefly', async () => {
      await s.write('/q', body('12345'));
      const q = await s.quota();
      expect(q.used).to.be.at.least(5);
      expect(q.total).to.be.a('number');
      expect(q.available).to.equal((q.total ?? 0) - q.used);
      h.resetCount();
      await s.quota();
      expect(h.requests).to.have.length(0);
    });

    it('reports unlimited plans as no limit', async () => {
      const u = await startHarness({}, { capacityBytes: -1 });
      try {
        const q = await u.storage.quota();
        expect(q.total).to.equal(null);
        expect(q.available).to.equal(null);
      } finally {
        await u.close();
      }
    });

    it('says "quota exceeded" when the account is full', async () => {
      const full = await startHarness({}, { capacityBytes: 10 });
      try {
        await full.storage.write('/a', body('12345678'));
        expect(await rejects(full.storage.write('/b', body('12345678')))).to.be.instanceOf(QuotaExceeded);
      } finally {
        await full.close();
      }
    });
  });

  describe('read-only areas', () => {
    it('refuses changes in the Latest/Links/Shared/Trash views', async () => {
      const dev = await h.openStorage({ root: { mode: 'device' } });
      for (const p of ['/Shared/x', '/Trash/x', '/Latest/x', '/Links/x']) {
        expect(await rejects(dev.write(p, body('x'))), p).to.be.instanceOf(ReadOnly);
        expect(await rejects(dev.mkdir(p)), p).to.be.instanceOf(ReadOnly);
      }
    });
  });
});
