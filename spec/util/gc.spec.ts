// Collections paced by body bytes (lib/util/gc.ts): with the pacing on, a body received over HTTP brings one
// scavenge per 32 MiB; without it none is forced. Each run is a child process (gc-child.ts), since the pacing
// changes V8 flags for the whole process. What the pacing saves (full mark-compacts on large transfers) is
// measured by the benchmark, not here.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;

function run(mode: 'paced' | 'plain', bytes: number): Promise<{ received: number; minor: number; major: number; forcedMinor: number }> {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'gc-child.js');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [child, mode], { env: { ...process.env, BYTES: String(bytes) } }, (err, stdout) => {
      if (err) return reject(err);
      resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as { received: number; minor: number; major: number; forcedMinor: number });
    });
  });
}

describe('util/gc: collections paced by body bytes', function () {
  this.timeout(60_000);

  it('runs a scavenge for every 32 MiB of body once the server turns the pacing on', async () => {
    const paced = await run('paced', 256 * MiB);
    expect(paced.received).to.equal(256 * MiB);
    // 256 / 32 = 8; the count restarts after each, so the last may fall just past the end.
    expect(paced.forcedMinor).to.be.within(7, 8);
  });

  it('forces nothing without it', async () => {
    const plain = await run('plain', 256 * MiB);
    expect(plain.received).to.equal(256 * MiB);
    expect(plain.forcedMinor).to.equal(0);
  });
});
