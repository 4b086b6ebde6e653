// `versions: replace`: the new content replaces the old file without leaving revisions, and a failure at
// any step — injected by the emulator — leaves the old or the new content reachable at the file's own
// path, never neither, and no temporary name visible.
import { expect } from 'chai';
import type { JottacloudStorage } from '../../lib/storage/provider.js';
import { NotFound } from '../../lib/storage/types.js';
import { body, readAll, startHarness, type Harness } from './harness.js';

describe('storage/replace mode', function () {
  this.timeout(20_000);
  let h: Harness;
  let s: JottacloudStorage;
  let jfs = '';
  beforeEach(async () => {
    h = await startHarness({ versions: 'replace' });
    s = h.storage;
    jfs = `/jfs/${h.emulator.user}/Jotta/Archive`;
    await s.mkdir('/d');
    await s.write('/d/doc.txt', body('old content'));
  });
  afterEach(() => h.close());

  /** What a client that never saw our cache reads at the path. */
  async function freshRead(path: string): Promise<string> {
    const fresh = await h.openStorage();
    return readAll(fresh, path);
  }
  /** The replacing write, which the injected fault must make fail. */
  async function writeFails(): Promise<void> {
    const err = await s.write('/d/doc.txt', body('new content')).then(() => undefined, (e: Error) => e);
    expect(err, 'the write should have failed').to.be.instanceOf(Error);
  }
  /** Names the service holds in /d, hidden ones included. */
  async function storedNames(): Promise<string[]> {
    return (await h.client.list('d')).files.filter((f) => !f.deleted).map((f) => f.name).sort();
  }

  it('replaces the content and leaves no old revision and no temporary file', async () => {
    const w = await s.write('/d/doc.txt', body('new content'));
    expect(w.created).to.equal(false);
    expect(await freshRead('/d/doc.txt')).to.equal('new content');
    const info = await h.client.fileInfo('d/doc.txt');
    expect(info.revisions).to.have.length(0);
    expect(await storedNames()).to.deep.equal(['doc.txt']);
    expect((await h.client.listTrash()).files).to.have.length(0);
  });

  it('a new file is simply uploaded', async () => {
    await s.write('/d/other.txt', body('x'));
    expect(await storedNames()).to.deep.equal(['doc.txt', 'other.txt']);
  });

  it('failure of the upload itself: the old content stays', async () => {
    h.emulator.setFaults('status=500;path=/files/v1/allocate;count=1');
    await writeFails();
    expect(await freshRead('/d/doc.txt')).to.equal('old content');
    expect(await storedNames()).to.deep.equal(['doc.txt']);
  });

  it('fault after the temporary upload (moving the old file aside fails): the old content stays, the temporary file goes', async () => {
    h.emulator.setFaults(`status=500;path=${jfs}/d/doc.txt;method=POST;count=1`);
    await writeFails();
    expect(await readAll(s, '/d/doc.txt')).to.equal('old content');
    expect(await freshRead('/d/doc.txt')).to.equal('old content');
    expect(await storedNames()).to.deep.equal(['doc.txt']);
  });

  it('fault during the final move: the old file is moved back, the temporary file goes', async () => {
    h.emulator.setFaults(`status=500;path=${jfs}/d/.jottadav~tmp~;method=POST;count=1`);
    await writeFails();
    expect(await readAll(s, '/d/doc.txt')).to.equal('old content');
    expect(await freshRead('/d/doc.txt')).to.equal('old content');
    expect(await storedNames()).to.deep.equal(['doc.txt']);
  });

  it('fault during the final move and the move back: the old content is hidden, and the next listing puts it back', async () => {
    h.emulator.setFaults(`status=500;path=${jfs}/d/.jottadav~tmp~;method=POST;count=1;status=500;path=${jfs}/d/.jottadav~old~;method=POST;count=1`);
    await writeFails();
    h.emulator.setFaults(undefined);
    const fresh = await h.openStorage();
    expect((await fresh.list('/d')).map((e) => e.name)).to.deep.equal(['doc.txt']);
    expect(await readAll(fresh, '/d/doc.txt')).to.equal('old content');
  });

  it('fault during the hard delete of the old file: the new content is in place; the leftover is removed later', async () => {
    h.emulator.setFaults(`status=500;path=${jfs}/d/.jottadav~old~;method=POST;count=1`);
    await s.write('/d/doc.txt', body('new content'));
    expect(await readAll(s, '/d/doc.txt')).to.equal('new content');
    expect((await storedNames()).filter((n) => n.startsWith('.jottadav~old~'))).to.have.length(1);
    const fresh = await h.openStorage();
    expect((await fresh.list('/d')).map((e) => e.name)).to.deep.equal(['doc.txt']);
    expect(await storedNames()).to.deep.equal(['doc.txt']);
    expect(await readAll(fresh, '/d/doc.txt')).to.equal('new content');
  });

  it('fault after the hard delete (the confirming read fails): the write stands and the new content is reachable', async () => {
    h.emulator.setFaults(`status=500;path=${jfs}/d/doc.txt;method=GET;count=1`);
    const w = await s.write('/d/doc.txt', body('new content'));
    expect(w.entry.size).to.equal('new content'.length);
    h.emulator.setFaults(undefined);
    expect(await readAll(s, '/d/doc.txt')).to.equal('new content');
    expect(await freshRead('/d/doc.txt')).to.equal('new content');
  });

  it('move and copy over an existing file replace it the same way', async () => {
    await s.write('/d/a.txt', body('from a'));
    await s.move('/d/a.txt', '/d/doc.txt', { overwrite: true });
    expect(await freshRead('/d/doc.txt')).to.equal('from a');
    expect((await h.client.fileInfo('d/doc.txt')).revisions).to.have.length(0);
    await s.write('/d/b.txt', body('from b'));
    await s.copy('/d/b.txt', '/d/doc.txt', { overwrite: true });
    expect(await freshRead('/d/doc.txt')).to.equal('from b');
    expect((await h.client.fileInfo('d/doc.txt')).revisions).to.have.length(0);
    expect(await storedNames()).to.deep.equal(['b.txt', 'doc.txt']);
    expect(await s.stat('/d/a.txt').catch((e: Error) => e)).to.be.instanceOf(NotFound);
  });
});
