// A client's declared MD5 against the service's deduplication: allocate answers COMPLETED without a byte
// sent when the account already holds content with that MD5 and size, so nobody but us compares the
// client's body with what it declared. A stale MD5 (the old version's, or another file's) must fail with
// ChecksumMismatch and leave what was there before — the old content, or nothing — as a fresh provider
// (no cache) sees it. A correct MD5 that deduplicates still succeeds without an upload, and a wrong MD5
// whose bytes are uploaded is refused by the service (421) with the old content kept.
import { expect } from 'chai';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage, type JottacloudStorage } from '../../lib/storage/provider.js';
import { BackendError, ChecksumMismatch, NotFound } from '../../lib/storage/types.js';
import { body, md5, readAll, rejects, startHarness, type Harness } from './harness.js';


/** A body in several chunks, as a socket delivers it. */
function chunked(text: string): Readable {
  const b = Buffer.from(text);
  return Readable.from([b.subarray(0, 2), b.subarray(2, 4), b.subarray(4)]);
}

describe('storage/checksums and deduplication', function () {
  this.timeout(20_000);

  describe('default versions mode', () => {
    let h: Harness;
    let s: JottacloudStorage;
    beforeEach(async () => {
      h = await startHarness();
      s = h.storage;
      await s.write('/held.txt', body('abcdef')); // content the account holds: md5('abcdef'), 6 bytes
    });
    afterEach(() => h.close());

    it('a stale MD5 of held content onto an existing file: ChecksumMismatch, the old bytes, size and times stay', async () => {
      const modified = new Date('2021-05-06T07:08:09Z');
      await s.write('/f.txt', body('old content here'), { modified });
      const err = await rejects(s.write('/f.txt', chunked('ghijkl'), { md5: md5('abcdef'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      const fresh = await h.openStorage();
      expect(await readAll(fresh, '/f.txt')).to.equal('old content here');
      const st = await fresh.stat('/f.txt');
      expect(st.size).to.equal(16);
      expect(st.md5).to.equal(md5('old content here'));
      expect(st.modified.toISOString()).to.equal(modified.toISOString());
      // and this provider's cache says the same
      expect((await s.stat('/f.txt')).size).to.equal(16);
      expect(await readAll(s, '/f.txt')).to.equal('old content here');
    });

    it("a stale MD5 of the file's own old version: ChecksumMismatch, the current version stays", async () => {
      await s.write('/g.txt', body('first!'));
      await s.write('/g.txt', body('second version'));
      const err = await rejects(s.write('/g.txt', body('third!'), { md5: md5('first!'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await readAll(await h.openStorage(), '/g.txt')).to.equal('second version');
      expect(await readAll(s, '/g.txt')).to.equal('second version');
    });

    it('a stale MD5 of held content onto a new path: ChecksumMismatch, and nothing there after', async () => {
      const err = await rejects(s.write('/new.txt', chunked('ghijkl'), { md5: md5('abcdef'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await rejects(s.stat('/new.txt'))).to.be.instanceOf(NotFound);
      expect(await rejects((await h.openStorage()).stat('/new.txt'))).to.be.instanceOf(NotFound);
      expect((await s.list('/')).map((e) => e.name).sort()).to.deep.equal(['held.txt']);
    });

    it('a held MD5 with a body longer than declared: ChecksumMismatch, nothing stored', async () => {
      const err = await rejects(s.write('/long.txt', body('abcdefgh'), { md5: md5('abcdef'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await rejects((await h.openStorage()).stat('/long.txt'))).to.be.instanceOf(NotFound);
    });

    it('a correct MD5 that deduplicates succeeds with no upload request', async () => {
      h.resetCount();
      const w = await s.write('/dup.txt', chunked('abcdef'), { md5: md5('abcdef'), size: 6 });
      expect(w.created).to.equal(true);
      expect(w.entry.md5).to.equal(md5('abcdef'));
      expect(h.requests.filter((r) => r.host === 'upload')).to.have.length(0);
      expect(await readAll(await h.openStorage(), '/dup.txt')).to.equal('abcdef');
    });

    it('a wrong MD5 whose bytes are uploaded: the service refuses them (421), ChecksumMismatch, the old content stays', async () => {
      await s.write('/u.txt', body('old content here'));
      h.resetCount();
      const err = await rejects(s.write('/u.txt', chunked('zzzzzz'), { md5: md5('yyyyyy'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(h.requests.filter((r) => r.host === 'upload')).to.have.length(1);
      expect(await readAll(await h.openStorage(), '/u.txt')).to.equal('old content here');
      expect(await readAll(s, '/u.txt')).to.equal('old content here');
    });

    it('a wrong MD5 onto a new path whose bytes are uploaded: ChecksumMismatch, nothing there after', async () => {
      const err = await rejects(s.write('/v.txt', chunked('zzzzzz'), { md5: md5('yyyyyy'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await rejects((await h.openStorage()).stat('/v.txt'))).to.be.instanceOf(NotFound);
    });

    it('when the previous content cannot be put back, the write fails loudly (an error logged, BackendError), never as success', async () => {
      await s.write('/f.txt', body('old content here'));
      const logs: string[] = [];
      const dir = mkdtempSync(join(tmpdir(), 'jottadav-dedup-'));
      const logged = await openStorage({ client: h.client, config: { spoolDir: dir }, log: (m) => logs.push(m) });
      try {
        // the first allocate (which deduplicates) goes through; the restoring one is refused
        h.emulator.setFaults('status=500;path=/files/v1/allocate;after=1;count=10');
        const err = await rejects(logged.write('/f.txt', body('ghijkl'), { md5: md5('abcdef'), size: 6 }));
        h.emulator.setFaults(undefined);
        expect(err).to.be.instanceOf(BackendError);
        expect(err.message).to.match(/declared MD5.*could not be restored/);
        expect(logs.some((m) => m.startsWith('ERROR') && m.includes('/f.txt'))).to.equal(true);
      } finally {
        await logged.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a client that aborts while its deduplicated body is still being checked: Aborted, the old content stays', async () => {
      await s.write('/f.txt', body('old content here'));
      h.resetCount();
      const ac = new AbortController();
      const stream = new PassThrough();
      const pending = s.write('/f.txt', stream, { md5: md5('abcdef'), size: 6, signal: ac.signal });
      stream.write('abc');
      for (let i = 0; i < 400 && !h.requests.some((r) => r.operation === 'allocate' && r.status === 200); i++) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      const err = await rejects(pending);
      expect(err.name).to.equal('Aborted');
      expect(await readAll(await h.openStorage(), '/f.txt')).to.equal('old content here');
    });

    describe('resuming an earlier cut upload of the same MD5 and size (the service keeps its first bytes)', () => {
      const content = Buffer.alloc(256 * 1024);
      for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >> 9)) & 0xff;
      const pieces = (b: Buffer) => Readable.from([b.subarray(0, 50_000), b.subarray(50_000, 150_000), b.subarray(150_000)]);
      beforeEach(async () => {
        await s.write('/r.bin', body('old content here'));
        h.emulator.setFaults('cut-upload=50%;count=1');
        await rejects(s.write('/r.bin', pieces(content), { md5: md5(content), size: content.length }));
        h.emulator.setFaults(undefined);
      });

      it('a body that differs only in bytes the service already has: ChecksumMismatch, the old content stays', async () => {
        const other = Buffer.from(content);
        other[0] ^= 0xff; // only the first byte differs: the earlier bytes plus this body's rest would match
        h.resetCount();
        const err = await rejects(s.write('/r.bin', pieces(other), { md5: md5(content), size: content.length }));
        expect(err).to.be.instanceOf(ChecksumMismatch);
        expect(await readAll(await h.openStorage(), '/r.bin')).to.equal('old content here');
      });

      it('the right body resumes from where the cut left off and is stored', async () => {
        await s.write('/r.bin', pieces(content), { md5: md5(content), size: content.length });
        const fresh = await h.openStorage();
        expect(md5(await buffer(await fresh.openRead('/r.bin')))).to.equal(md5(content));
        expect((await fresh.stat('/r.bin')).size).to.equal(content.length);
      });
    });

    it('a body shorter than declared with a correct MD5 prefix: ChecksumMismatch, the old content stays', async () => {
      await s.write('/w.txt', body('old content here'));
      const err = await rejects(s.write('/w.txt', body('abc'), { md5: md5('abcdef'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await readAll(await h.openStorage(), '/w.txt')).to.equal('old content here');
    });
  });

  describe('versions: replace', () => {
    let h: Harness;
    let s: JottacloudStorage;
    beforeEach(async () => {
      h = await startHarness({ versions: 'replace' });
      s = h.storage;
      await s.mkdir('/d');
      await s.write('/d/held.txt', body('abcdef'));
      await s.write('/d/doc.txt', body('old content here'));
    });
    afterEach(() => h.close());

    async function storedNames(): Promise<string[]> {
      return (await h.client.list('d')).files.filter((f) => !f.deleted).map((f) => f.name).sort();
    }

    it('a stale MD5 of held content onto an existing file: ChecksumMismatch, the old content stays, no temporary left', async () => {
      const err = await rejects(s.write('/d/doc.txt', chunked('ghijkl'), { md5: md5('abcdef'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await readAll(await h.openStorage(), '/d/doc.txt')).to.equal('old content here');
      expect(await readAll(s, '/d/doc.txt')).to.equal('old content here');
      expect(await storedNames()).to.deep.equal(['doc.txt', 'held.txt']);
    });

    it('a stale MD5 of held content onto a new path: ChecksumMismatch, nothing there after', async () => {
      const err = await rejects(s.write('/d/new.txt', chunked('ghijkl'), { md5: md5('abcdef'), size: 6 }));
      expect(err).to.be.instanceOf(ChecksumMismatch);
      expect(await rejects((await h.openStorage()).stat('/d/new.txt'))).to.be.instanceOf(NotFound);
      expect(await storedNames()).to.deep.equal(['doc.txt', 'held.txt']);
    });

    it('a correct MD5 that deduplicates replaces the content with no upload request', async () => {
      h.resetCount();
      await s.write('/d/doc.txt', chunked('abcdef'), { md5: md5('abcdef'), size: 6 });
      expect(h.requests.filter((r) => r.host === 'upload')).to.have.length(0);
      expect(await readAll(await h.openStorage(), '/d/doc.txt')).to.equal('abcdef');
    });
  });
});
