// The file token store: 0600, atomic replacement (a writer killed at any moment leaves the old or the new
// set, never a broken file), the cross-process refresh lock and its recovery from a crashed holder.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileTokenStore, type TokenSet } from '../../lib/jottacloud/tokens.js';

function sampleSet(n: number, padding = 0): TokenSet {
  const now = Date.now();
  return {
    kind: 'standard',
    service: 'jottacloud',
    tokenUrl: 'http://127.0.0.1:1/auth/realms/jottacloud/protocol/openid-connect/token',
    clientId: 'jottacli',
    accessToken: `access-${n}-${'a'.repeat(padding)}`,
    refreshToken: `refresh-${n}`,
    tokenType: 'Bearer',
    obtainedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 3600_000).toISOString(),
  };
}

describe('FileTokenStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'jottadav-tokens-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads nothing before the first write, then exactly what was written, from a 0600 file', async () => {
    const store = new FileTokenStore(join(dir, 'sub', 'tokens.json'));
    expect(await store.read()).to.equal(undefined);
    const set = sampleSet(1);
    await store.write(set);
    expect(await store.read()).to.deep.equal(set);
    const stat = await fs.stat(store.location);
    expect(stat.mode & 0o777).to.equal(0o600);
    await store.write(sampleSet(2));
    expect((await store.read())?.refreshToken).to.equal('refresh-2');
    expect((await fs.stat(store.location)).mode & 0o777).to.equal(0o600);
  });

  it('ignores a temp file left by a crash between writing it and renaming it over the store', async () => {
    const store = new FileTokenStore(join(dir, 'tokens.json'));
    await store.write(sampleSet(1));
    // What writeFileAtomic leaves when the process dies after writing the temp file, before the rename.
    const half = JSON.stringify({ version: 1, tokens: sampleSet(2) }).slice(0, 40);
    await fs.writeFile(join(dir, `.tokens.json.99999.abcdef.tmp`), half, { mode: 0o600 });
    expect((await store.read())?.refreshToken).to.equal('refresh-1');
    await store.write(sampleSet(3));
    expect((await store.read())?.refreshToken).to.equal('refresh-3');
  });

  it('a writer killed with SIGKILL in the middle of rewriting leaves the old or the new set, never a broken file', async function () {
    this.timeout(60_000);
    const path = join(dir, 'tokens.json');
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'lib', 'jottacloud', 'tokens.js')).href;
    // The child rewrites the store as fast as it can with large sets (writing one takes a few milliseconds,
    // so a kill at a random moment often lands inside a write) and reports each completed write.
    const child = `
      import { FileTokenStore } from ${JSON.stringify(moduleUrl)};
      const store = new FileTokenStore(${JSON.stringify(path)});
      const pad = 'x'.repeat(4 * 1024 * 1024);
      for (let n = 1; ; n++) {
        const now = Date.now();
        await store.write({ kind: 'standard', service: 'jottacloud', tokenUrl: 'http://127.0.0.1:1/t', clientId: 'jottacli',
          accessToken: 'access-' + n + '-' + pad, refreshToken: 'refresh-' + n, tokenType: 'Bearer',
          obtainedAt: new Date(now).toISOString(), expiresAt: new Date(now + 3600000).toISOString() });
        process.stdout.write('wrote ' + n + '\\n');
      }`;
    for (let round = 0; round < 10; round++) {
      const proc = spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
      let written = 0;
      await new Promise<void>((resolve) => {
        proc.stdout.on('data', (chunk: Buffer) => {
          const m = [...chunk.toString().matchAll(/wrote (\d+)/g)].pop();
          if (!m) return;
          if (written === 0) {
            // The store exists now; kill without warning at some moment during the following writes.
            setTimeout(() => proc.kill('SIGKILL'), 10 + Math.floor(Math.random() * 150));
          }
          written = Number(m[1]);
        });
        proc.on('exit', () => resolve());
      });
      const set = await new FileTokenStore(path).read();
      expect(set, 'the store must parse').to.not.equal(undefined);
      const n = Number(/^refresh-(\d+)$/.exec(set!.refreshToken)?.[1]);
      // A whole set, at least as new as the last write the child reported done (it may have finished more
      // before the signal landed); its two halves belong to the same write.
      expect(n).to.be.at.least(written);
      expect(set!.accessToken.startsWith(`access-${n}-`)).to.equal(true);
      expect((await fs.stat(path)).mode & 0o777).to.equal(0o600);
    }
  });

  it('the refresh lock lets one holder in at a time and is released after a failure', async () => {
    const store = new FileTokenStore(join(dir, 'tokens.json'));
    const order: string[] = [];
    let inside = 0;
    const hold = (name: string) =>
      store.withRefreshLock(async () => {
        inside++;
        expect(inside).to.equal(1);
        order.push(`${name}-in`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${name}-out`);
        inside--;
      });
    await Promise.all([hold('a'), hold('b'), hold('c')]);
    expect(order).to.have.length(6);
    for (let i = 0; i < 6; i += 2) expect(order[i]!.replace('-in', '')).to.equal(order[i + 1]!.replace('-out', ''));
    await store.withRefreshLock(async () => Promise.reject(new Error('boom'))).catch(() => undefined);
    const left = await fs.stat(store.lockPath).then(
      () => true,
      () => false,
    );
    expect(left, 'lock file removed').to.equal(false);
  });

  it('takes over a lock whose holder died', async () => {
    const store = new FileTokenStore(join(dir, 'tokens.json'));
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('exit', r));
    await fs.writeFile(store.lockPath, `${dead.pid} ${Date.now()}\n`);
    let ran = false;
    await store.withRefreshLock(async () => {
      ran = true;
    });
    expect(ran).to.equal(true);
  });

  it('gives up with a clear error when a live process holds the lock too long', async () => {
    const store = new FileTokenStore(join(dir, 'tokens.json'), { lockTimeoutMs: 100 });
    await fs.writeFile(store.lockPath, `${process.ppid} ${Date.now()}\n`);
    const err = await store.withRefreshLock(async () => undefined).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/token lock .*tokens\.json\.lock/);
  });
});
