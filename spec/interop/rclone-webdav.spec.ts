// rclone's webdav backend (vendor `other`, Debian's rclone) against `jottadav serve` over the embedded
// emulator: `copy` of a 1,000+-file tree up, `check` with 0 differences, `copy` down and a byte-for-byte
// compare, `moveto`, `purge` — the server's PID checked after each step.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { requireTool } from '../helpers/tools.js';
import { runTool, startServe, type ServeProcess } from './webdav-client-serve.js';

function rclone(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number; out: string }> {
  return runTool('rclone', args, { env });
}

/** Relative path → MD5 of every file below `dir`. */
function digestTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash('md5').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

describe("interop: rclone's webdav backend against jottadav serve", function () {
  this.timeout(600_000);
  let serve: ServeProcess;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const FILES = 1_010;

  before(async function () {
    requireTool(this, 'rclone', 'rclone', 'version');
    serve = await startServe();
    work = mkdtempSync(join(tmpdir(), 'jottadav-rclone-webdav-'));
    const obscured = spawnSync('rclone', ['obscure', serve.pass], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(work, 'rclone.conf'), '');
    env = {
      PATH: process.env.PATH,
      HOME: work,
      RCLONE_CONFIG: join(work, 'rclone.conf'),
      RCLONE_CONFIG_DAV_TYPE: 'webdav',
      RCLONE_CONFIG_DAV_URL: serve.url,
      RCLONE_CONFIG_DAV_VENDOR: 'other',
      RCLONE_CONFIG_DAV_USER: serve.user,
      RCLONE_CONFIG_DAV_PASS: obscured,
    };
    // a tree of small files in nested folders, some odd names, a few larger files
    const src = join(work, 'src');
    for (let i = 0; i < FILES; i++) {
      const dir = join(src, `dir ${i % 10}`, i % 3 === 0 ? 'sub æøå' : '');
      mkdirSync(dir, { recursive: true });
      const size = i % 200 === 0 ? 1_500_000 + i : i % 7 === 0 ? 0 : (i * 37) % 5000;
      writeFileSync(join(dir, `file ${i}${i % 50 === 0 ? ' (copy) #1' : ''}.bin`), randomBytes(size));
    }
  });
  after(async () => {
    await serve?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  afterEach(() => {
    expect(serve.alive(), `server PID ${serve.pid} died:\n${serve.output().slice(-2000)}`).to.equal(true);
  });

  it(`copies a ${FILES}-file tree up`, async () => {
    const r = await rclone(env, ['copy', join(work, 'src'), 'dav:tree', '--transfers', '8', '--checkers', '8', '--retries', '1']);
    expect(r.code, r.out).to.equal(0);
  });

  it('checks the tree with 0 differences', async () => {
    const r = await rclone(env, ['check', join(work, 'src'), 'dav:tree']);
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.match(/0 differences found/);
    expect(r.out).to.match(new RegExp(`${FILES} matching files`));
  });

  it('copies the tree down byte for byte', async () => {
    const r = await rclone(env, ['copy', 'dav:tree', join(work, 'down'), '--transfers', '8']);
    expect(r.code, r.out).to.equal(0);
    const up = digestTree(join(work, 'src'));
    const down = digestTree(join(work, 'down'));
    expect(down.size).to.equal(FILES);
    expect([...down.entries()].sort()).to.deep.equal([...up.entries()].sort());
  });

  it('renames a file with moveto', async () => {
    const r = await rclone(env, ['moveto', 'dav:tree/dir 1/file 1.bin', 'dav:tree/dir 1/renamed.bin']);
    expect(r.code, r.out).to.equal(0);
    const ls = await rclone(env, ['lsf', 'dav:tree/dir 1']);
    expect(ls.out).to.include('renamed.bin');
    expect(ls.out.split('\n')).not.to.include('file 1.bin');
  });

  it('purges the tree', async () => {
    const r = await rclone(env, ['purge', 'dav:tree']);
    expect(r.code, r.out).to.equal(0);
    const ls = await rclone(env, ['lsf', 'dav:']);
    expect(ls.out.split('\n')).not.to.include('tree/');
  });
});
