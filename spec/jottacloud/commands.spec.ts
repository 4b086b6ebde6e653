// The account commands as a user runs them: `jottadav login | about | devices | cleanup` in child processes
// with their own JOTTADAV_HOME, against the emulator. Checks what is printed, what is written (config and
// token store, both 0600), the exit codes, and that failures are one line without secrets.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import { JottacloudClient } from '../../lib/jottacloud/client.js';
import { singleOriginEndpoints } from '../../lib/jottacloud/endpoints.js';
import { FileTokenStore, TokenManager } from '../../lib/jottacloud/tokens.js';

const cli = fileURLToPath(new URL('../../lib/cli.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user whose config lives in `home`, and nothing else of ours. */
function userEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JOTTADAV_')) env[k] = v;
  env.JOTTADAV_HOME = home;
  return env;
}

function jottadav(home: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, ...args], { env: userEnv(home), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

function expectOneLineFailure(r: Run): void {
  expect(r.code, r.stdout + r.stderr).to.not.equal(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^jottadav: /);
}

async function mode(path: string): Promise<number> {
  return (await fs.stat(path)).mode & 0o777;
}

describe('jottadav account commands (child processes)', function () {
  this.timeout(60_000);
  let emu: RunningEmulator;
  let home: string;

  before(async () => {
    emu = await startEmulator({ port: 0 });
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(async () => {
    home = await fs.mkdtemp(join(tmpdir(), 'jottadav-home-'));
  });
  afterEach(async () => {
    await fs.rm(home, { recursive: true, force: true });
  });

  async function login(extra: string[] = []): Promise<Run> {
    const r = await jottadav(home, ['login', '--token', emu.mintLoginToken(), '--endpoints', emu.url, ...extra]);
    expect(r.code, r.stderr).to.equal(0);
    return r;
  }

  /** A client on the same config and token store as the CLI, to change the account behind its back. */
  function sameAccountClient(): JottacloudClient {
    const store = new FileTokenStore(join(home, 'tokens.json'));
    const endpoints = singleOriginEndpoints(emu.url);
    return new JottacloudClient({ endpoints, tokens: new TokenManager({ store, endpoints }) });
  }

  async function putFile(client: JottacloudClient, path: string, size: number): Promise<void> {
    const body = Buffer.alloc(size, path);
    await client.upload(path, { size, md5: createHash('md5').update(body).digest('hex'), body });
  }

  it('login --token --endpoints writes the account and the token set, both 0600', async () => {
    const r = await login();
    expect(r.stdout).to.include(`Signed in as ${emu.user}`);
    expect(r.stdout).to.include('serving Jotta/Archive');
    const configPath = join(home, 'config.yaml');
    const config = YAML.parse(await fs.readFile(configPath, 'utf8')) as Record<string, Record<string, string> | string>;
    expect(config.endpoints).to.equal(emu.url);
    expect(config.account).to.deep.include({
      kind: 'standard',
      service: 'jottacloud',
      username: emu.user,
      clientId: 'jottacli',
      device: 'Jotta',
      mountpoint: 'Archive',
    });
    expect(await mode(configPath)).to.equal(0o600);
    const tokens = JSON.parse(await fs.readFile(join(home, 'tokens.json'), 'utf8')) as { tokens: { accessToken: string } };
    expect(emu.auth.authenticate(`Bearer ${tokens.tokens.accessToken}`)).to.equal(emu.user);
    expect(await mode(join(home, 'tokens.json'))).to.equal(0o600);
    // Nothing secret is printed.
    expect(r.stdout + r.stderr).to.not.include(tokens.tokens.accessToken);
  });

  it('about shows user, plan and quota, in words and as JSON', async () => {
    await login();
    await putFile(sameAccountClient(), 'about/one.bin', 3000);
    const json = await jottadav(home, ['about', '--json']);
    expect(json.code, json.stderr).to.equal(0);
    const about = JSON.parse(json.stdout) as { username: string; plan: string; quota: { used: number; total: number; free: number; unlimited: boolean } };
    expect(about.username).to.equal(emu.user);
    expect(about.plan).to.be.a('string');
    expect(about.quota.unlimited).to.equal(false);
    expect(about.quota.used).to.be.at.least(3000);
    expect(about.quota.free).to.equal(about.quota.total - about.quota.used);
    const text = await jottadav(home, ['about']);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`^User: +${emu.user}`, 'm'));
    expect(text.stdout).to.match(/^Used: +[\d.]+ (B|KiB|MiB)$/m);
    expect(text.stdout).to.match(/^Total: +5\.00 TiB$/m);
  });

  it('devices lists devices and mountpoints, creates a device and a mountpoint, refuses one on Jotta', async () => {
    await login();
    const list = await jottadav(home, ['devices']);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/^Jotta \(JOTTA\)/m);
    expect(list.stdout).to.match(/^ {2}Archive .*← served$/m);

    const dev = await jottadav(home, ['devices', '--create-device', 'Laptop']);
    expect(dev.code, dev.stderr).to.equal(0);
    expect(dev.stdout).to.include('Created device Laptop.');
    const mp = await jottadav(home, ['devices', '--create-mountpoint', 'Docs', '--device', 'laptop']);
    expect(mp.code, mp.stderr).to.equal(0);
    const json = JSON.parse((await jottadav(home, ['devices', '--json'])).stdout) as { name: string; mountpoints: { name: string }[] }[];
    expect(json.find((d) => d.name === 'Laptop')?.mountpoints.map((m) => m.name)).to.deep.equal(['Docs']);

    expectOneLineFailure(await jottadav(home, ['devices', '--create-mountpoint', 'Nope', '--device', 'Jotta']));
    expectOneLineFailure(await jottadav(home, ['devices', '--create-device', 'laptop']));
  });

  it('cleanup empties the trash and reports the counts', async () => {
    await login();
    const client = sameAccountClient();
    await putFile(client, 'bin/a.txt', 10);
    await putFile(client, 'bin/b.txt', 20);
    await client.mkdir('gone-folder');
    await client.trashFile('bin/a.txt');
    await client.trashFile('bin/b.txt');
    await client.trashFolder('gone-folder');
    const r = await jottadav(home, ['cleanup']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('Emptied the trash: 2 files and 1 folder deleted for good.');
    const again = await jottadav(home, ['cleanup', '--json']);
    expect(JSON.parse(again.stdout)).to.deep.equal({ folders: 0, files: 0 });
  });

  it('a command after the access token expired renews it on its own and saves the rotated set', async () => {
    await login();
    const before = await new FileTokenStore(join(home, 'tokens.json')).read();
    emu.auth.expireAccessTokens();
    const r = await jottadav(home, ['about', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const after = await new FileTokenStore(join(home, 'tokens.json')).read();
    expect(after!.refreshToken).to.not.equal(before!.refreshToken);
    expect(emu.auth.authenticate(`Bearer ${after!.accessToken}`)).to.equal(emu.user);
    expect(await mode(join(home, 'tokens.json'))).to.equal(0o600);
  });

  it('a revoked session fails with one line telling to log in again', async () => {
    await login();
    emu.auth.expireAccessTokens();
    emu.auth.revokeRefreshTokens();
    const r = await jottadav(home, ['about']);
    expectOneLineFailure(r);
    expect(r.stderr).to.match(/run `jottadav login` again\.\n$/);
  });

  it('without a login, each command says to log in first', async () => {
    for (const cmd of ['about', 'devices', 'cleanup']) {
      const r = await jottadav(home, [cmd]);
      expectOneLineFailure(r);
      expect(r.stderr).to.include('jottadav login');
    }
  });

  it('a spent login token fails with one line that does not repeat it', async () => {
    const token = emu.mintLoginToken();
    expect((await jottadav(home, ['login', '--token', token, '--endpoints', emu.url])).code).to.equal(0);
    const r = await jottadav(home, ['login', '--token', token, '--endpoints', emu.url]);
    expectOneLineFailure(r);
    expect(r.stderr).to.include('works only once');
    expect(r.stderr).to.not.include(token);
  });

  it('login without a terminal and without a way to sign in says which flags to pass', async () => {
    const r = await jottadav(home, ['login', '--endpoints', emu.url]);
    expectOneLineFailure(r);
    expect(r.stderr).to.include('--token');
  });

  it('login --device/--mountpoint picks (and creates) where to serve', async () => {
    const r = await login(['--device', 'Backup1', '--mountpoint', 'Photos']);
    expect(r.stdout).to.include('Created device Backup1.');
    expect(r.stdout).to.include('Created mountpoint Photos on Backup1.');
    const config = YAML.parse(await fs.readFile(join(home, 'config.yaml'), 'utf8')) as { account: Record<string, string> };
    expect(config.account.device).to.equal('Backup1');
    expect(config.account.mountpoint).to.equal('Photos');
    // Existing names are taken as the service spells them; Jotta has no room for new mountpoints.
    await login(['--device', 'jotta', '--mountpoint', 'sync']);
    const again = YAML.parse(await fs.readFile(join(home, 'config.yaml'), 'utf8')) as { account: Record<string, string> };
    expect([again.account.device, again.account.mountpoint]).to.deep.equal(['Jotta', 'Sync']);
    expectOneLineFailure(await jottadav(home, ['login', '--token', emu.mintLoginToken(), '--endpoints', emu.url, '--mountpoint', 'Nope']));
  });

  it('login --kind legacy --register with user name and password', async () => {
    const r = await jottadav(home, ['login', '--kind', 'legacy', '--register', '--username', emu.user, '--password', emu.auth.legacyPassword, '--endpoints', emu.url]);
    expect(r.code, r.stderr).to.equal(0);
    const config = YAML.parse(await fs.readFile(join(home, 'config.yaml'), 'utf8')) as { account: Record<string, string> };
    expect(config.account.kind).to.equal('legacy');
    expect(config.account.clientId).to.not.equal('nibfk8biu12ju7hpqomr8b1e40');
    expect(config.account.clientSecret).to.be.a('string');
    expect(config.account.tokenUrl).to.equal(`${emu.url}/auth/v1/token`);
    emu.auth.expireAccessTokens();
    expect((await jottadav(home, ['about'])).code).to.equal(0);
    const bad = await jottadav(home, ['login', '--kind', 'legacy', '--username', emu.user, '--password', 'wrong-pass-123', '--endpoints', emu.url]);
    expectOneLineFailure(bad);
    expect(bad.stderr).to.not.include('wrong-pass-123');
    // The password can come on standard input instead of the command line (where `ps` shows it).
    const piped = await jottadav(home, ['login', '--kind', 'legacy', '--username', emu.user, '--password-stdin', '--endpoints', emu.url], `${emu.auth.legacyPassword}\n`);
    expect(piped.code, piped.stderr).to.equal(0);
  });

  it('login --kind whitelabel --service prints the address to open and finishes when the browser comes back', async () => {
    const proc = spawn(process.execPath, [cli, 'login', '--kind', 'whitelabel', '--service', 'tele2', '--endpoints', emu.url, '--browser-timeout', '30'], {
      env: userEnv(home),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      proc.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/auth\/realms\/comhem\/\S+)$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.on('exit', () => reject(new Error(`login exited early: ${out} ${err}`)));
    });
    const first = await fetch(url, { redirect: 'manual' });
    const page = await fetch(first.headers.get('location')!);
    expect(page.status).to.equal(200);
    await page.text();
    const code = await new Promise<number | null>((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.on('exit', resolve)));
    expect(code, err).to.equal(0);
    const config = YAML.parse(await fs.readFile(join(home, 'config.yaml'), 'utf8')) as { account: Record<string, string> };
    expect(config.account).to.deep.include({ kind: 'whitelabel', service: 'tele2', clientId: 'desktop' });
    expect((await jottadav(home, ['about'])).code).to.equal(0);
  });

  it('--config FILE keeps the config (and the token store beside it) where the user says', async () => {
    const file = join(home, 'elsewhere', 'my.yaml');
    const r = await jottadav(home, ['login', '--config', file, '--token', emu.mintLoginToken(), '--endpoints', emu.url]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await mode(file)).to.equal(0o600);
    expect(await mode(join(home, 'elsewhere', 'tokens.json'))).to.equal(0o600);
    await expectMissing(join(home, 'config.yaml'));
    const about = await jottadav(home, ['about', '--json', '--config', file]);
    expect(about.code, about.stderr).to.equal(0);
    expect((JSON.parse(about.stdout) as { username: string }).username).to.equal(emu.user);
  });

  it('--help of each command lists its flags', async () => {
    const expected: Record<string, string[]> = {
      login: ['--token', '--kind', '--service', '--username', '--password', '--otp', '--register', '--device', '--mountpoint', '--endpoints', '--config'],
      devices: ['--create-device', '--create-mountpoint', '--device', '--json', '--config'],
      about: ['--json', '--config'],
      cleanup: ['--config'],
    };
    for (const [cmd, flags] of Object.entries(expected)) {
      const r = await jottadav(home, [cmd, '--help']);
      expect(r.code).to.equal(0);
      for (const flag of flags) expect(r.stdout, `${cmd} ${flag}`).to.include(flag);
    }
  });
});

async function expectMissing(path: string): Promise<void> {
  const exists = await fs.stat(path).then(
    () => true,
    () => false,
  );
  expect(exists, `${path} should not exist`).to.equal(false);
}
