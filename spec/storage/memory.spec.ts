// Memory stays flat while a large body without a client MD5 is spooled, hashed and uploaded: the upload
// runs in a child process (memory-child.ts) whose peak RSS is compared with its baseline. 256 MiB by
// default; JOTTADAV_BIG_UPLOAD=1 uses 1 GiB (slower, run on demand).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';

const MiB = 1024 * 1024;

describe('storage/memory: a large upload without a client MD5', function () {
  const bytes = process.env.JOTTADAV_BIG_UPLOAD ? 1024 * MiB : 256 * MiB;
  this.timeout(bytes > 256 * MiB ? 600_000 : 180_000);
  let emulator: RunningEmulator;
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jottadav-memory-'));
    // Blobs on disk: the emulator (in this process) must not hold the body in memory either.
    emulator = await startEmulator({ port: 0, dataDir: join(dir, 'emulator') });
  });
  after(async () => {
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps the process's memory flat for ${bytes / MiB} MiB and leaves no spool file`, async () => {
    const child = join(dirname(fileURLToPath(import.meta.url)), 'memory-child.js');
    const spoolDir = join(dir, 'spool');
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--expose-gc', child], {
        env: {
          ...process.env,
          EMULATOR_URL: emulator.url,
          EMULATOR_USER: emulator.user,
          LOGIN_TOKEN: emulator.mintLoginToken(),
          BYTES: String(bytes),
          SPOOL_DIR: spoolDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`child exited ${code}: ${stderr}`))));
    });
    const r = JSON.parse(out) as { size: number; md5: string; expectedMd5: string; baselineRss: number; peakRss: number; baselineHeap: number; peakHeap: number; ms: number };
    const growth = r.peakRss - r.baselineRss;
    console.log(
      `      ${bytes / MiB} MiB in ${(r.ms / 1000).toFixed(1)} s: RSS ${(r.baselineRss / MiB).toFixed(0)} → peak ${(r.peakRss / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(0)}), heap peak ${(r.peakHeap / MiB).toFixed(0)} MiB`,
    );
    expect(r.size).to.equal(bytes);
    expect(r.md5).to.equal(r.expectedMd5);
    // Flat: the growth is buffers and the 10 MiB memory spool at most, not the body.
    expect(growth).to.be.lessThan(96 * MiB);
    expect(r.peakHeap).to.be.lessThan(96 * MiB);
    expect(readdirSync(spoolDir)).to.deep.equal([]);
  });
});
