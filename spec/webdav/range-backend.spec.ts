// Seeking in a big file must not download what comes before the seek point: a ranged GET through jottadav
// asks Jottacloud for that range only. Measured at the emulator, which counts the body bytes it answers.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { startStack, type TestStack } from '../helpers/stack.js';

describe('webdav: ranged GET reads only the range from Jottacloud', function () {
  this.timeout(120_000);
  const size = 48 * 1024 * 1024;
  const data = randomBytes(size);
  let emu: RunningEmulator;
  let s: TestStack;

  before(async () => {
    emu = await startTestEmulator();
    s = await startStack({ emulator: emu });
    const put = await fetch(`${s.url}video.mp4`, {
      method: 'PUT',
      headers: { authorization: s.auth, 'content-md5': createHash('md5').update(data).digest('base64') },
      body: data,
    });
    expect(put.status).to.equal(201);
  });
  after(async () => {
    await s?.close();
    await emu?.close();
  });

  const binBytes = () => emu.stats().bytesOut['GET jfs mode=bin'] ?? 0;

  for (const [label, range, start, end] of [
    ['the last 100 bytes (suffix range)', 'bytes=-100', size - 100, size - 1],
    ['1 MiB at 99 %', `bytes=${Math.floor(size * 0.99)}-${Math.floor(size * 0.99) + 1024 * 1024 - 1}`, Math.floor(size * 0.99), Math.min(size - 1, Math.floor(size * 0.99) + 1024 * 1024 - 1)],
    ['an open range from the middle', `bytes=${size / 2}-`, size / 2, size - 1],
  ] as const) {
    it(`${label}: the right bytes, and no more than them fetched`, async () => {
      emu.resetStats();
      const res = await fetch(`${s.url}video.mp4`, { headers: { authorization: s.auth, range } });
      expect(res.status).to.equal(206);
      expect(res.headers.get('content-range')).to.equal(`bytes ${start}-${end}/${size}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(data.subarray(start, end + 1))).to.equal(true);
      const fetched = binBytes();
      expect(fetched, 'bytes read from Jottacloud').to.be.at.least(end - start + 1);
      // a little slack for read-ahead, but nothing like the prefix of the file
      expect(fetched, 'bytes read from Jottacloud').to.be.at.most(end - start + 1 + 1024 * 1024);
    });
  }
});
