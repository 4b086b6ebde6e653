// The name round trip with the real rclone Jottacloud backend (Debian's 1.60, through the MITM proxy,
// against one emulator): a tree whose names use every special character, written through our storage and
// read back by rclone, and written by rclone and read back through our storage. rclone 1.60 runs with the
// encoding of current rclone (it only lacks `Percent`); one case shows what its default does with `%`.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nameFromBytes, nameToBytes } from '../../lib/storage/names.js';
import { startRcloneMitm, type RcloneMitm } from '../helpers/rclone.js';
import { requireTool } from '../helpers/tools.js';
import { body, readAll, startHarness, type Harness } from './harness.js';

const CURRENT = 'Slash,Ctl,Del,Dot,Colon,Question,DoubleQuote,Asterisk,LtGt,Pipe,InvalidUtf8,Percent';

// Every special character, look-alikes used literally, controls, DEL, invalid UTF-8 and `%` sequences.
// Left out: names rclone's *local* backend itself cannot carry through unchanged (containing ␀, ‛, `/`,
// or exactly `.`/`..`/`．`), which the unit tests cover.
const NAMES: string[] = [
  'colon:a', 'question?', 'star*', 'pipe|', 'lt<gt>', 'quote"', 'pct%20x', '100%', 'full＊star', 'full：colon',
  'full％pct', 'ctl\x01\x1f', 'del\x7f', 'sym␁', 'sym␡', ' lead', 'trail ', 'hash#plus+semi;', 'æøå 日本 😀', '..x', 'a.',
  nameFromBytes(Buffer.from([0x62, 0x61, 0x64, 0xff])),
];

function localPath(dir: string, name: string): Buffer {
  return Buffer.concat([Buffer.from(dir + '/'), nameToBytes(name)]);
}
function localNames(dir: string): string[] {
  return readdirSync(dir, { encoding: 'buffer' }).map((b) => nameFromBytes(b)).sort();
}

describe('storage/names with rclone (round trip through the real rclone Jottacloud backend)', function () {
  this.timeout(180_000);
  let h: Harness;
  let rclone: RcloneMitm;
  let dir = '';

  before(async function () {
    requireTool(this, 'rclone');
    requireTool(this, 'openssl');
    h = await startHarness();
    rclone = await startRcloneMitm(h.emulator.url, h.emulator.mintLoginToken());
    dir = mkdtempSync(join(tmpdir(), 'jottadav-rclone-names-'));
  });
  after(async () => {
    await rclone?.close();
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const flags = ['--jottacloud-encoding', CURRENT, '--low-level-retries', '1', '--retries', '1'];

  it('a tree written through our storage reads back in rclone with the same names and bytes', async () => {
    await h.storage.mkdir('/ours');
    await h.storage.mkdir('/ours/dir:with*specials?');
    for (const name of NAMES) {
      await h.storage.write(`/ours/${name}`, body(`content of ${JSON.stringify(name)}`));
      await h.storage.write(`/ours/dir:with*specials?/${name}`, body(JSON.stringify(name)));
    }
    const out = join(dir, 'from-ours');
    await rclone.ok(['copy', 'jotta:ours', out, ...flags]);
    expect(localNames(out)).to.deep.equal([...NAMES, 'dir:with*specials?'].sort());
    for (const name of NAMES) {
      expect(readFileSync(localPath(out, name)).toString(), JSON.stringify(name)).to.equal(`content of ${JSON.stringify(name)}`);
      expect(readFileSync(localPath(join(out, 'dir:with*specials?'), name)).toString()).to.equal(JSON.stringify(name));
    }
  });

  it('a tree written by rclone reads back through our storage with the same names and bytes', async () => {
    const src = join(dir, 'by-rclone');
    mkdirSync(join(src, 'sub|dir'), { recursive: true });
    for (const name of NAMES) {
      writeFileSync(localPath(src, name), `rclone wrote ${JSON.stringify(name)}`);
      writeFileSync(localPath(join(src, 'sub|dir'), name), JSON.stringify(name));
    }
    await rclone.ok(['copy', src, 'jotta:theirs', ...flags]);
    const fresh = await h.openStorage();
    const listed = (await fresh.list('/theirs')).map((e) => e.name).sort();
    expect(listed).to.deep.equal([...NAMES, 'sub|dir'].sort());
    for (const name of NAMES) {
      expect(await readAll(fresh, `/theirs/${name}`), JSON.stringify(name)).to.equal(`rclone wrote ${JSON.stringify(name)}`);
      expect(await readAll(fresh, `/theirs/sub|dir/${name}`)).to.equal(JSON.stringify(name));
    }
  });

  it("rclone 1.60's default encoding (no Percent) and ours differ only for %", async () => {
    // Written by 1.60 with its default: `%` stays, and we read it unchanged.
    const src = join(dir, 'pct');
    mkdirSync(src);
    writeFileSync(join(src, 'rate 5% off'), 'x');
    await rclone.ok(['copy', src, 'jotta:pct', '--low-level-retries', '1', '--retries', '1']);
    const fresh = await h.openStorage();
    expect((await fresh.list('/pct')).map((e) => e.name)).to.deep.equal(['rate 5% off']);
    // Written by us: 1.60's default shows the look-alike.
    await h.storage.write('/pct/ours 7%', body('y'));
    const names = (await rclone.ok(['lsf', 'jotta:pct', '--low-level-retries', '1', '--retries', '1'])).trim().split('\n').sort();
    expect(names).to.deep.equal(['ours 7％', 'rate 5% off']);
  });
});
