// The service goes away mid-operation: the emulator (`jottadav emulator --data`, a child process) is killed with
// SIGKILL while four WebDAV clients upload through `jottadav serve`, and started again on the same port a moment
// later. Uploads during the outage fail with 5xx (or ride it out on retries); every acknowledged one is on the
// restarted service with the right bytes; jottadav serves again without a restart of its own.
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { spoolFiles, startEmulatorProcess, startServeProcess, type EmulatorProcess, type ServeProcess } from '../helpers/serve-process.js';
import { content, counts, dav, getBytes, HIDDEN_NAME, Ledger, md5, put, Remote, walk } from './support.js';

describe('reliability: the emulator restarts mid-operation', function () {
  this.timeout(180_000);
  let emu: EmulatorProcess;
  let serve: ServeProcess;

  before(async () => {
    emu = await startEmulatorProcess();
    serve = await startServeProcess({ emulator: emu, config: { storage: { md5MemoryLimit: 64 * 1024, cacheTtlSec: 0 } } });
  });
  after(async () => {
    await serve?.close();
    await emu?.stop('SIGKILL');
    if (emu) rmSync(emu.dataDir, { recursive: true, force: true });
  });

  it('kill -9 and restart on the same port while four clients upload: nothing acknowledged is lost', async () => {
    const ledger = new Ledger();
    expect((await dav(serve, 'MKCOL', 'x')).status).to.equal(201);
    let stopAt = Infinity;
    const client = async (c: number) => {
      for (let n = 0; Date.now() < stopAt; n++) {
        // Every third upload overwrites an earlier file of this client.
        const name = n % 3 === 2 ? `x/c${c}-${n - 2}.bin` : `x/c${c}-${n}.bin`;
        await put(serve, ledger, name, content(`restart-${c}-${n}`, [50_000, 150_000, 3000][n % 3]));
      }
    };
    const clients = Array.from({ length: 4 }, (_, c) => client(c));
    await new Promise((r) => setTimeout(r, 1500));
    const acknowledgedBefore = ledger.acked.size;
    counts.faultsInjected++;
    await emu.stop('SIGKILL');
    // Longer than the client's whole retry budget (about 7.5 s of backoff), so some uploads must fail outright.
    await new Promise((r) => setTimeout(r, 9000));
    await emu.restart();
    // Let the clients go on against the restarted service for a while.
    await new Promise((r) => setTimeout(r, 3000));
    stopAt = Date.now();
    await Promise.all(clients);
    console.log(`      ${ledger.acked.size} paths acknowledged (${acknowledgedBefore} before the kill), ${ledger.failures} uploads answered 5xx`);
    expect(acknowledgedBefore).to.be.greaterThan(0);
    expect(ledger.failures, 'the outage outlasted the retries of some uploads').to.be.greaterThan(0);

    // An upload cut by the kill may have been committed just before: its body, whole, is then acceptable too.
    await ledger.verify(new Remote(emu), { uncertain: true });
    counts.uploadsVerified += ledger.verified;
    expect(spoolFiles(serve.spoolDir)).to.deep.equal([]);
    expect((await walk(serve)).filter((h) => HIDDEN_NAME.test(h))).to.deep.equal([]);
    // Still serving, and writes work again.
    const after = content('after-restart', 70_000);
    expect(await put(serve, ledger, 'x/after.bin', after)).to.equal(201);
    const got = await getBytes(serve, 'x/after.bin');
    expect(md5(got.body)).to.equal(md5(after));
  });
});
