// Issue 4's round trip: a tree that Debian's real rclone uploads (through ../shared/tools/mitm) is listed by our
// API client with the same names, sizes, MD5s and modification times (to the second), and a tree our client
// uploads reads back in rclone the same way.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ListStreamEntry } from '../../lib/jottacloud/index.js';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { startRcloneMitm, type RcloneMitm } from '../helpers/rclone.js';
import { requireTool } from '../helpers/tools.js';
import { makeClient, type TestClient } from '../jottacloud/client-helpers.js';

interface Expected {
  size: number;
  md5: string;
  /** Whole seconds since the epoch. */
  mtime: number;
}

/** Names that need no character mapping (that is the storage layer's job), but every kind of URL trouble. */
const names = ['plain.txt', 'with space.txt', ' leading space.txt', 'plus+sign.txt', 'hash#tag.txt', 'semi;colon.txt', 'æøå 日本語 😀.bin', 'amp&eq=.txt', 'empty.txt'];
const folders = ['', 'sub folder', 'sub folder/deeper+1', 'ünïcode'];

function plan(): Map<string, Expected & { data: Buffer }> {
  const out = new Map<string, Expected & { data: Buffer }>();
  let i = 0;
  for (const folder of folders) {
    for (const name of names) {
      const data = name === 'empty.txt' ? Buffer.alloc(0) : randomBytes(100 + i * 53);
      // distinct whole-second times, some years back, so "now" cannot pass for them
      const mtime = 1_600_000_000 + i * 86_400 + 7;
      out.set(folder ? `${folder}/${name}` : name, { size: data.length, md5: createHash('md5').update(data).digest('hex'), mtime, data });
      i++;
    }
  }
  return out;
}

describe('interop: rclone and our Jottacloud client agree on a tree', function () {
  this.timeout(300_000);
  let emu: RunningEmulator;
  let rclone: RcloneMitm;
  let tc: TestClient;
  let work: string;

  before(async function () {
    requireTool(this, 'rclone', 'rclone', 'version');
    requireTool(this, 'openssl', 'openssl', 'version');
    emu = await startTestEmulator();
    rclone = await startRcloneMitm(emu.url, emu.mintLoginToken());
    tc = makeClient(emu);
    work = mkdtempSync(join(tmpdir(), 'jottadav-roundtrip-'));
  });

  after(async () => {
    await rclone?.close();
    await emu?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('lists what rclone uploaded with the same names, sizes, MD5s and modification times', async () => {
    const tree = plan();
    for (const [rel, f] of tree) {
      const p = join(work, 'up', rel);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, f.data);
      utimesSync(p, f.mtime, f.mtime);
    }
    await rclone.ok(['copy', join(work, 'up'), 'jotta:from-rclone', '--transfers', '8']);

    const seen = new Map<string, Expected>();
    for await (const e of tc.client.listStream('from-rclone') as AsyncIterable<ListStreamEntry>) {
      if (e.kind !== 'file' || e.deleted) continue;
      seen.set(e.segments.join('/'), { size: e.size ?? -1, md5: e.md5 ?? '', mtime: Math.floor((e.modified?.getTime() ?? 0) / 1000) });
    }
    const expected = new Map([...tree].map(([rel, f]) => [rel, { size: f.size, md5: f.md5, mtime: f.mtime }]));
    expect(seen).to.deep.equal(expected);
  });

  it('rclone lists what our client uploaded with the same names, sizes, MD5s and modification times', async () => {
    const tree = plan();
    for (const [rel, f] of tree) {
      await tc.client.upload(`from-client/${rel}`, { size: f.size, md5: f.md5, body: f.data, modified: new Date(f.mtime * 1000), created: new Date(f.mtime * 1000) });
    }
    const listed = JSON.parse(await rclone.ok(['lsjson', '-R', '--files-only', '--hash', 'jotta:from-client'])) as {
      Path: string;
      Size: number;
      ModTime: string;
      Hashes: { md5: string };
    }[];
    const seen = new Map(listed.map((e) => [e.Path, { size: e.Size, md5: e.Hashes.md5, mtime: Math.floor(Date.parse(e.ModTime) / 1000) }]));
    const expected = new Map([...tree].map(([rel, f]) => [rel, { size: f.size, md5: f.md5, mtime: f.mtime }]));
    expect(seen).to.deep.equal(expected);

    // and the bytes: rclone downloads them unchanged
    await rclone.ok(['copy', 'jotta:from-client', join(work, 'down')]);
    for (const [rel, f] of tree) {
      const got = createHash('md5').update(readFileSync(join(work, 'down', rel))).digest('hex');
      expect(got, rel).to.equal(f.md5);
    }
  });
});
