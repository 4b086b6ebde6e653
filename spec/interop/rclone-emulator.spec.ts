// The emulator's outside check: Debian's real rclone Jottacloud backend, configured with a personal login
// token exactly as a user would (through ../shared/tools/mitm), runs its everyday commands against it. What
// rclone reports is checked, and so is the emulator's own state as a second client sees it over JFS.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import { accessToken } from '../helpers/emulator.js';
import { startRcloneMitm, type RcloneMitm } from '../helpers/rclone.js';
import { requireTool } from '../helpers/tools.js';

interface LsEntry {
  Path: string;
  Name: string;
  Size: number;
  IsDir: boolean;
  ModTime: string;
  Hashes?: { md5?: string };
}

/** Names a Jottacloud user has: spaces, unicode, URL specials, a leading space, and the characters rclone must encode. */
const specialNames = [
  'plain.txt',
  'with space.txt',
  ' leading space.txt',
  'plus+sign.txt',
  'hash#tag.txt',
  'semi;colon.txt',
  'ampersand&and=equals.txt',
  'unicode-æøå-日本語-😀.txt',
  'quote"star*.txt',
  'colon:less<greater>.txt',
  'question?pipe|.txt',
  'fullwidth＂look-alike.txt',
  "apostrophe's (parens) [brackets] {braces}.txt",
  'tilde~caret^.txt',
];

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** Writes ≥ 1,000 files in nested folders; returns relative path → md5. */
function makeTree(root: string, files: number): Map<string, string> {
  const sums = new Map<string, string>();
  const folders = ['', 'docs', 'docs/deep one', 'photos 2024', 'photos 2024/æøå', 'code+stuff', 'hash#dir', ' lead'];
  for (let i = 0; i < files; i++) {
    const folder = folders[i % folders.length];
    const special = specialNames[i % specialNames.length];
    const name = `${String(i).padStart(4, '0')} ${special}`;
    const rel = folder ? `${folder}/${name}` : name;
    mkdirSync(join(root, folder), { recursive: true });
    const size = i % 97 === 0 ? 300_000 + i : i % 5 === 0 ? 0 : (i * 37) % 4096;
    const data = randomBytes(size);
    writeFileSync(join(root, rel), data);
    sums.set(rel, md5(data));
  }
  return sums;
}

function walk(root: string, dir = root, out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(root, p, out);
    else out.set(relative(root, p), md5(readFileSync(p)));
  }
  return out;
}

/** A second, independent client of the emulator: plain HTTP with its own login. */
class JfsProbe {
  private token = '';
  constructor(private readonly emu: RunningEmulator) {}

  async login(): Promise<void> {
    this.token = await accessToken(this.emu);
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${this.emu.url}/jfs/${this.emu.user}/Jotta/${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    return { status: res.status, body: await res.text() };
  }

  async refresh(refreshToken: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${this.emu.url}/auth/realms/jottacloud/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'jottacli', grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    return { status: res.status, body: await res.text() };
  }
}

describe('interop: rclone Jottacloud backend against the emulator', function () {
  this.timeout(600_000);
  let emu: RunningEmulator;
  let rclone: RcloneMitm;
  let probe: JfsProbe;
  let work: string;

  before(async function () {
    requireTool(this, 'rclone', 'rclone', 'version');
    requireTool(this, 'openssl', 'openssl', 'version');
    emu = await startEmulator({ port: 0 });
    rclone = await startRcloneMitm(emu.url, emu.mintLoginToken());
    probe = new JfsProbe(emu);
    await probe.login();
    work = mkdtempSync(join(tmpdir(), 'jottadav-rclone-work-'));
  });

  after(async () => {
    await rclone?.close();
    await emu?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const lsjson = async (args: string[]): Promise<LsEntry[]> => JSON.parse(await rclone.ok(['lsjson', ...args])) as LsEntry[];

  it('logs in with the personal login token and lists the empty Archive', async () => {
    expect(await lsjson(['jotta:'])).to.deep.equal([]);
  });

  it('mkdir creates a folder the service lists', async () => {
    await rclone.ok(['mkdir', 'jotta:made by rclone']);
    const entries = await lsjson(['jotta:']);
    expect(entries.map((e) => [e.Name, e.IsDir])).to.deep.include(['made by rclone', true]);
    expect((await probe.get('Archive/made%20by%20rclone')).status).to.equal(200);
  });

  describe('a tree of 1,000 files', () => {
    let sums: Map<string, string>;
    before(() => {
      sums = makeTree(join(work, 'up'), 1000);
    });

    it('copies up; lsjson (plain and --fast-list) lists every file with its size and MD5', async () => {
      await rclone.ok(['copy', join(work, 'up'), 'jotta:tree', '--transfers', '16', '--checkers', '16']);
      for (const flags of [[], ['--fast-list']]) {
        const listed = (await lsjson(['-R', '--hash', '--files-only', ...flags, 'jotta:tree'])).filter((e) => !e.IsDir);
        expect(listed.length).to.equal(sums.size);
        const byPath = new Map(listed.map((e) => [e.Path, e]));
        for (const [rel, sum] of sums) {
          expect(byPath.get(rel), rel).to.not.equal(undefined);
          expect(byPath.get(rel)!.Hashes?.md5, rel).to.equal(sum);
        }
      }
    });

    it('check reports 0 differences', async () => {
      const r = await rclone.run(['check', join(work, 'up'), 'jotta:tree', '--checkers', '16']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/0 differences found/);
    });

    it('copies down byte for byte', async () => {
      await rclone.ok(['copy', 'jotta:tree', join(work, 'down'), '--transfers', '16', '--checkers', '16']);
      expect(walk(join(work, 'down'))).to.deep.equal(walk(join(work, 'up')));
    });

    it('stores the encoded characters as full-width look-alikes on the service', async () => {
      const { body } = await probe.get('Archive/tree');
      expect(body).to.include('quote＂star＊.txt');
      expect(body).to.not.include('quote"star');
    });
  });

  it('moveto renames a file and move moves a folder', async () => {
    writeFileSync(join(work, 'm.txt'), 'move me');
    await rclone.ok(['copyto', join(work, 'm.txt'), 'jotta:moves/a/m.txt']);
    await rclone.ok(['moveto', 'jotta:moves/a/m.txt', 'jotta:moves/a/renamed.txt']);
    await rclone.ok(['move', 'jotta:moves/a', 'jotta:moves/b']);
    const names = (await lsjson(['-R', 'jotta:moves'])).map((e) => e.Path).sort();
    expect(names).to.include('b/renamed.txt');
    expect(names).to.not.include('a/m.txt');
    expect(await rclone.ok(['cat', 'jotta:moves/b/renamed.txt'])).to.equal('move me');
  });

  it('delete moves files to trash; --jottacloud-hard-delete removes them for good', async () => {
    writeFileSync(join(work, 'trash-me.txt'), 'soft');
    writeFileSync(join(work, 'gone.txt'), 'hard');
    await rclone.ok(['copyto', join(work, 'trash-me.txt'), 'jotta:del/trash-me.txt']);
    await rclone.ok(['copyto', join(work, 'gone.txt'), 'jotta:del/gone.txt']);
    await rclone.ok(['delete', 'jotta:del', '--include', 'trash-me.txt']);
    await rclone.ok(['delete', 'jotta:del', '--include', 'gone.txt', '--jottacloud-hard-delete']);
    expect((await lsjson(['jotta:del'])).map((e) => e.Name)).to.deep.equal([]);
    const trash = (await probe.get('Trash')).body;
    expect(trash).to.include('trash-me.txt');
    expect(trash).to.not.include('gone.txt');
  });

  it('purge removes a folder with its contents', async () => {
    await rclone.ok(['purge', 'jotta:moves']);
    expect((await lsjson(['jotta:'])).map((e) => e.Name)).to.not.include('moves');
  });

  it('about reports usage, and cleanup empties the trash', async () => {
    const about = JSON.parse(await rclone.ok(['about', 'jotta:', '--json'])) as { used: number; total?: number; free?: number };
    expect(about.used).to.be.greaterThan(0);
    await rclone.ok(['cleanup', 'jotta:']);
    const trash = (await probe.get('Trash')).body;
    expect(trash).to.not.include('trash-me.txt');
  });

  it('overwrite keeps old revisions, and --jottacloud-no-versions does not', async () => {
    const revisions = async (name: string) => ((await probe.get(`Archive/ow/${name}`)).body.match(/<revision>/g) ?? []).length;
    for (const [i, content] of ['one', 'two', 'three'].entries()) {
      writeFileSync(join(work, 'ow.txt'), content);
      // --ignore-times: 'one' and 'two' have one size and may share a modification second
      await rclone.ok(['copyto', '--ignore-times', join(work, 'ow.txt'), 'jotta:ow/kept.txt']);
      await rclone.ok(['copyto', '--ignore-times', join(work, 'ow.txt'), 'jotta:ow/single.txt', '--jottacloud-no-versions']);
      expect(await rclone.ok(['cat', 'jotta:ow/kept.txt'])).to.equal(content);
      expect(await rclone.ok(['cat', 'jotta:ow/single.txt'])).to.equal(content);
      expect(await revisions('kept.txt'), 'old revisions kept').to.equal(i);
    }
    expect(await revisions('single.txt'), 'no old revisions').to.equal(0);
  });

  it('a case-only collision lands on the first-created name', async () => {
    writeFileSync(join(work, 'first'), 'first');
    writeFileSync(join(work, 'second'), 'second!');
    await rclone.ok(['copyto', join(work, 'first'), 'jotta:case/Report.TXT']);
    await rclone.ok(['copyto', join(work, 'second'), 'jotta:case/report.txt']);
    const entries = await lsjson(['jotta:case']);
    expect(entries.map((e) => e.Name)).to.deep.equal(['Report.TXT']);
    expect(await rclone.ok(['cat', 'jotta:case/Report.TXT'])).to.equal('second!');
  });

  it('a forced refresh rotates the token in rclone.conf, and the spent refresh token is refused', async () => {
    const before = rclone.token();
    const conf = readFileSync(rclone.confPath, 'utf8');
    const expired = { ...before, expiry: '2000-01-01T00:00:00Z' };
    writeFileSync(rclone.confPath, conf.replace(/^token = .*$/m, `token = ${JSON.stringify(expired)}`));
    await rclone.ok(['about', 'jotta:']);
    const after = rclone.token();
    expect(after.refresh_token).to.not.equal(before.refresh_token);
    expect(after.access_token).to.not.equal(before.access_token);
    expect(new Date(after.expiry).getTime()).to.be.greaterThan(Date.now());
    const reuse = await probe.refresh(before.refresh_token);
    expect(reuse.status).to.equal(400);
    expect(JSON.parse(reuse.body)).to.deep.equal({ error: 'invalid_grant', error_description: "Session doesn't have required client" });
    // and rclone itself goes on working with the rotated token
    await rclone.ok(['lsjson', 'jotta:']);
  });
});
