// A `--data` emulator keeps the account across restarts: tree, contents, trash, revisions, partial uploads for
// resume, sessions. The journal survives a torn last line and `kill -9` at any moment; start-up compacts it and
// drops blobs nothing refers to.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accessToken, startTestEmulator } from '../helpers/emulator.js';
import { Client, list, md5 } from './support.js';

// This spec runs compiled from dist/spec/emulator/; the CLI sits in dist/lib/.
const CLI = fileURLToPath(new URL('../../lib/cli.js', import.meta.url));

function journalLines(dir: string): string[] {
  return readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
}

/** Starts `jottadav emulator --data DIR --port 0` as a child and resolves with its URL. */
function startCli(dir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'emulator', '--data', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${out}`)), 20_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`emulator exited (${code}): ${out}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('emulator: persistence (--data)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'jottadav-emu-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps tree, contents, trash, revisions, a partial upload and sessions across a restart', async () => {
    const big = randomBytes(50_000);
    let emu = await startTestEmulator({ dataDir: dir });
    const token = await accessToken(emu);
    let c = new Client(emu, token);
    await c.upload('keep/a.txt', 'first');
    await c.upload('keep/a.txt', 'second');
    await c.upload('keep/gone.txt', 'trash me');
    await c.post(c.p('keep/gone.txt'), 'dl=true');
    const alloc = { bytes: big.length, md5: md5(big), path: '/jfs/Jotta/Archive/keep/big.bin' };
    const a = await c.allocate(alloc);
    expect((await c.send(a.upload_url, big.subarray(0, 20_000))).status).to.equal(420);
    await emu.close();

    emu = await startTestEmulator({ dataDir: dir });
    c = new Client(emu, token); // the session persisted too
    expect((await c.bytes('keep/a.txt')).body.toString()).to.equal('second');
    const f = (await c.xml(c.p('keep/a.txt'))).file;
    expect(list(f.revisions.revision)[0].md5).to.equal(md5('first'));
    const trash = (await c.xml(`/jfs/${emu.user}/Jotta/Trash`)).mountPoint;
    expect(list(trash.files.file)[0]['@name']).to.equal('gone.txt');
    const again = await c.allocate(alloc);
    expect(again.resume_pos).to.equal(20_000);
    expect((await c.send(again.upload_url, big.subarray(20_000), `bytes=20000-${big.length - 1}`)).status).to.equal(201);
    expect(md5((await c.bytes('keep/big.bin')).body)).to.equal(md5(big));
    await emu.close();
  });

  it('drops a torn last journal line (a write cut short) and keeps everything before it', async () => {
    let emu = await startTestEmulator({ dataDir: dir });
    let c = new Client(emu, await accessToken(emu));
    await c.upload('t/x.txt', 'kept');
    await emu.close();
    appendFileSync(join(dir, 'journal.jsonl'), '{"p":[{"id":"abc","kind":"fi');
    const logs: string[] = [];
    emu = await startTestEmulator({ dataDir: dir, log: (l) => logs.push(l) });
    c = new Client(emu, await accessToken(emu));
    expect((await c.bytes('t/x.txt')).body.toString()).to.equal('kept');
    expect(logs.join('\n')).to.include('torn last record');
    expect(journalLines(dir).every((l) => JSON.parse(l) !== undefined)).to.equal(true);
    await emu.close();
  });

  it('refuses to start on a journal damaged in the middle (not a cut-short write)', async () => {
    const emu = await startTestEmulator({ dataDir: dir });
    const c = new Client(emu, await accessToken(emu));
    await c.upload('t/y.txt', 'y');
    await emu.close();
    const lines = journalLines(dir);
    writeFileSync(join(dir, 'journal.jsonl'), ['{broken', ...lines].join('\n') + '\n');
    let error: unknown;
    try {
      await startTestEmulator({ dataDir: dir });
    } catch (e) {
      error = e;
    }
    expect(String(error)).to.match(/damaged at line 1/);
  });

  it('compacts the journal at start and removes blobs nothing refers to', async () => {
    let emu = await startTestEmulator({ dataDir: dir });
    const c = new Client(emu, await accessToken(emu));
    for (let i = 0; i < 12; i++) await c.upload('v/f.txt', `version ${i}`);
    await emu.close();
    const before = journalLines(dir).length;
    mkdirSync(join(dir, 'blobs', 'ff'), { recursive: true });
    writeFileSync(join(dir, 'blobs', 'ff', 'ff'.repeat(16)), 'orphan');
    emu = await startTestEmulator({ dataDir: dir });
    expect(journalLines(dir).length).to.be.lessThan(before);
    expect(readdirSync(join(dir, 'blobs', 'ff'))).to.deep.equal([]);
    // 4 old revisions + current are kept, so exactly 5 contents remain.
    const blobs = readdirSync(join(dir, 'blobs')).flatMap((d) => readdirSync(join(dir, 'blobs', d)));
    expect(blobs).to.have.length(5);
    expect(statSync(join(dir, 'journal.jsonl')).mode & 0o777).to.equal(0o600);
    await emu.close();
  });

  it('survives kill -9 of the CLI, also in the middle of an upload, and exits 0 on SIGTERM', async () => {
    const data = randomBytes(2_000_000);
    let { child, url } = await startCli(dir);
    const token = readFileSync(join(dir, 'login-token'), 'utf8').trim();
    expect(statSync(join(dir, 'login-token')).mode & 0o777).to.equal(0o600);
    const lt = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { auth_token: string; username: string };
    const tokenRes = await fetch(`${url}/auth/realms/jottacloud/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'jottacli', grant_type: 'password', password: lt.auth_token, username: lt.username, scope: 'openid offline_access' }).toString(),
    });
    const access = ((await tokenRes.json()) as { access_token: string }).access_token;
    const fakeEmu = { url, user: 'jottadav-user' } as Parameters<typeof accessToken>[0];
    let c = new Client(fakeEmu, access);
    await c.upload('k/done.txt', 'committed before the kill');
    const alloc = { bytes: data.length, md5: md5(data), path: '/jfs/Jotta/Archive/k/big.bin' };
    const a = await c.allocate(alloc);
    // Send half the body, then kill the server while the request is still open.
    const u = new URL(a.upload_url);
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: u.pathname, headers: { Authorization: `Bearer ${access}`, 'Content-Length': data.length } });
    req.on('error', () => undefined);
    await new Promise<void>((resolve) => req.write(data.subarray(0, 1_000_000), () => resolve()));
    const gone = exited(child);
    child.kill('SIGKILL');
    expect((await gone).signal).to.equal('SIGKILL');
    req.destroy();

    ({ child, url } = await startCli(dir));
    c = new Client({ url, user: 'jottadav-user' } as Parameters<typeof accessToken>[0], access);
    expect((await c.bytes('k/done.txt')).body.toString()).to.equal('committed before the kill');
    const again = await c.allocate(alloc);
    expect(again.resume_pos).to.be.within(0, 1_000_000);
    const rest = data.subarray(again.resume_pos);
    const r = await c.send(again.upload_url, rest, again.resume_pos ? `bytes=${again.resume_pos}-${data.length - 1}` : undefined);
    expect(r.status).to.equal(201);
    expect(md5((await c.bytes('k/big.bin')).body)).to.equal(md5(data));
    const stopped = exited(child);
    child.kill('SIGTERM');
    expect((await stopped).code).to.equal(0);
  });
});
