// `versions: replace` through `jottadav serve` (child process) with a fault at each step of the overwrite: the new
// bytes go to a hidden sibling, the old file is moved aside, the new one moved into place, the backup deleted, the
// result re-read. Whatever step fails, the WebDAV client gets 5xx and the old content — or 204 and the new one —
// at the file's own path, checked through the emulator's own API; no hidden name is left once a listing settled it.
import { expect } from 'chai';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { handleOf, spoolFiles, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { content, counts, getBytes, HIDDEN_NAME, Ledger, md5, put, Remote, walk } from './support.js';

/** One call fails for good: the client's pacer makes 11 attempts (10 retries), every one answered 500. */
const EXHAUSTED = 'status=500;count=11';

describe('reliability: versions replace with a fault at each step', function () {
  this.timeout(120_000);
  let emu: RunningEmulator;
  let serve: ServeProcess;
  let remote: Remote;
  let ledger: Ledger;
  let jfs: string;

  before(async () => {
    emu = await startTestEmulator();
    serve = await startServeProcess({ emulator: handleOf(emu), config: { storage: { versions: 'replace', md5MemoryLimit: 64 * 1024 } } });
    remote = new Remote(handleOf(emu));
    jfs = `/jfs/${emu.user}/Jotta/Archive/r`;
    ledger = new Ledger();
  });
  after(async () => {
    await serve?.close();
    await emu?.close();
  });

  /** `r/<name>` holds old content; the fault is set; the overwrite answers `expected`; then everything is checked. */
  async function overwrite(name: string, spec: string, expected: 'fails' | 'succeeds'): Promise<void> {
    const path = `r/${name}`;
    const old = content(`${name}-old`, 120_000);
    expect(await put(serve, ledger, path, old)).to.be.oneOf([201, 204]);
    counts.faultsInjected++;
    emu.setFaults(spec);
    const status = await put(serve, ledger, path, content(`${name}-new`, 150_000));
    emu.setFaults(undefined);
    if (expected === 'fails') expect(status, 'the overwrite fails').to.be.within(500, 599);
    else expect(status, 'the overwrite stands').to.equal(204);
    // A listing settles what an interrupted swap left (a backup moved back or removed).
    expect((await walk(serve, 'r/')).filter((h) => HIDDEN_NAME.test(h))).to.deep.equal([]);
    const served = await getBytes(serve, path);
    expect(served.status).to.equal(200);
    const want = expected === 'fails' ? old : ledger.acked.get(path)!;
    expect(md5(served.body), 'what jottadav serves').to.equal(md5(want));
    if (expected === 'fails') expect(md5(ledger.acked.get(path)!)).to.equal(md5(old));
    await ledger.verify(remote);
    expect(spoolFiles(serve.spoolDir)).to.deep.equal([]);
  }

  before(async () => {
    // The folder exists before the faults start.
    const res = await fetch(`${serve.url}r`, { method: 'MKCOL', headers: { Authorization: serve.auth } });
    expect(res.status).to.equal(201);
  });
  after(() => {
    counts.uploadsVerified += ledger.verified;
  });

  it('allocate fails: the old content stays', () => overwrite('a.txt', 'status=500;path=/files/v1/allocate', 'fails'));

  it('the upload to the hidden sibling is cut on every attempt: the old content stays, the sibling goes', () =>
    overwrite('b.txt', 'cut-upload=10%', 'fails'));

  it('moving the old file aside fails: the old content stays, the sibling goes', async function () {
    await overwrite('c.txt', `${EXHAUSTED};path=${jfs}/c.txt;method=POST`, 'fails');
  });

  it('moving the new file into place fails: the old file is moved back', () =>
    overwrite('d.txt', `${EXHAUSTED};path=${jfs}/.jottadav~tmp~;method=POST`, 'fails'));

  it('moving the new file into place and moving the old one back both fail: the next listing restores it', () =>
    overwrite('e.txt', `${EXHAUSTED};path=${jfs}/.jottadav~tmp~;method=POST;${EXHAUSTED};path=${jfs}/.jottadav~old~;method=POST`, 'fails'));

  it('deleting the old file fails: the new content stands, the next listing removes the backup', () =>
    overwrite('f.txt', `${EXHAUSTED};path=${jfs}/.jottadav~old~;method=POST`, 'succeeds'));

  it('the confirming read fails: the new content stands', () => overwrite('g.txt', `${EXHAUSTED};path=${jfs}/g.txt;method=GET`, 'succeeds'));
});
