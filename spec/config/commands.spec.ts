// `jottadav config check | show | docs` run as a user runs them (a child process), the README's option table
// against the schema, and the redaction of every kind of secret the configuration can hold.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { optionRows, optionsTable, redactConfig } from '../../lib/config/describe.js';
import { configSchema } from '../../lib/config/schema.js';
import { childEnv, cliPath } from '../helpers/serve-process.js';
import { repoRoot } from '../helpers/tools.js';

const secrets = {
  clientSecret: 'client-secret-XYZ',
  passwordHash: '$2y$10$abcdefghijklmnopqrstuuJ0dL1rH7cT9cV6Yx8m2nY5bJ3sW1e2K',
  digestHa1: '0123456789abcdef0123456789abcdef',
  redisPassword: 'redis-pass-QQQ',
};

const account = {
  kind: 'legacy',
  username: 'jane',
  tokenUrl: 'https://id.example.test/token',
  clientId: 'cli',
  clientSecret: secrets.clientSecret,
};

function run(args: string[], home: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: childEnv(home, env), encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('config commands', function () {
  this.timeout(60_000);
  const home = mkdtempSync(join(tmpdir(), 'jottadav-config-cmd-'));
  const file = join(home, 'config.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      account,
      store: `redis://user:${secrets.redisPassword}@127.0.0.1:1/0`,
      server: { users: [{ name: 'bob', passwordHash: secrets.passwordHash, digestHa1: secrets.digestHa1 }] },
    }),
  );

  it('config show prints the effective configuration with every secret redacted (YAML and JSON)', () => {
    const yaml = run(['config', 'show', '--config', file], home, { JOTTADAV_LOG__LEVEL: 'debug' });
    expect(yaml.code).to.equal(0);
    for (const s of Object.values(secrets)) expect(yaml.out).to.not.include(s);
    expect(yaml.out).to.include('level: debug'); // environment on top of the file
    expect(yaml.out).to.include('username: jane');
    expect(yaml.out).to.include('redis://user:[redacted]@127.0.0.1:1/0');
    const json = run(['config', 'show', '--json', '--config', file], home);
    const shown = JSON.parse(json.out) as { account: { clientSecret: string }; server: { users: { passwordHash: string; digestHa1: string }[]; port: number } };
    expect(shown.account.clientSecret).to.equal('[redacted]');
    expect(shown.server.users[0]).to.include({ passwordHash: '[redacted]', digestHa1: '[redacted]' });
    expect(shown.server.port).to.equal(8080); // defaults filled in
    for (const s of Object.values(secrets)) expect(json.out).to.not.include(s);
  });

  it('config check fails with one sentence naming a bad key', () => {
    const bad = join(home, 'bad.yaml');
    writeFileSync(bad, 'server:\n  port: 99999\n');
    const r = run(['config', 'check', '--config', bad], home);
    expect(r.code).to.equal(1);
    expect(r.err.trim()).to.match(/^jottadav: Config key server\.port is not valid: .+\.$/);
    expect(r.err.trim().split('\n')).to.have.length(1);
  });

  it('config check reports what the configuration points to, and fails on what would stop serve', () => {
    const cfg = join(home, 'files.yaml');
    writeFileSync(cfg, JSON.stringify({ account, server: { tls: { cert: join(home, 'nope.pem'), key: join(home, 'nope.key') } } }));
    const r = run(['config', 'check', '--config', cfg], home);
    expect(r.code).to.equal(1);
    expect(r.out).to.match(/^FAIL {2}server\.tls\.cert: .*nope\.pem does not exist$/m);
    expect(r.out).to.match(/^FAIL {2}store: local, but no token set in .*tokens\.json/m);
    expect(r.out).to.match(/problem\(s\)/);

    // Redis that is not there: one line, no password.
    const redis = run(['config', 'check', '--config', file], home);
    expect(redis.code).to.equal(1);
    expect(redis.out).to.match(/^FAIL {2}Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1\/0 cannot be reached/m);
    expect(redis.out + redis.err).to.not.include(secrets.redisPassword);
  });

  it('config check passes a working local configuration and warns about open token files', () => {
    const cfg = join(home, 'good.yaml');
    writeFileSync(cfg, JSON.stringify({ account, server: { users: [{ name: 'bob', passwordHash: secrets.passwordHash }] } }));
    writeFileSync(join(home, 'tokens.json'), '{}', { mode: 0o644 });
    const r = run(['config', 'check', '--config', cfg], home);
    expect(r.code, r.out + r.err).to.equal(0);
    expect(r.out).to.match(/^ok {4}account: jane \(legacy, jottacloud\), serving Jotta\/Archive$/m);
    expect(r.out).to.match(/^warn {2}.*tokens\.json is readable by other users \(mode 644\)/m);
    expect(r.out).to.match(/^The configuration is valid\.$/m);
  });
});

describe('configuration documentation', () => {
  it('the README table is exactly what the schema generates', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const m = /<!-- config-table:start[^>]*-->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(m, 'README has the config-table markers').to.not.equal(null);
    // On a schema change: paste the output of `node dist/lib/cli.js config docs` between the markers.
    expect(m![1], 'README option table is out of date: regenerate it with `jottadav config docs`').to.equal(optionsTable());
  });

  it('documents every key the schema accepts, with its default', () => {
    const rows = new Map(optionRows().map((r) => [r.key, r]));
    // Nested keys of each kind: a plain section, a union, an optional block, the items of a list.
    for (const key of ['store', 'redis.keyPrefix', 'redis.lockLeaseSec', 'server.metricsPort', 'storage.cacheTtlSec', 'log.json', 'server.users[].digestHa1', 'server.tls.cert']) {
      expect(rows.has(key), key).to.equal(true);
    }
    for (const key of Object.keys(configSchema.shape)) {
      expect([...rows.keys()].some((k) => k === key || k.startsWith(`${key}.`)), key).to.equal(true);
    }
    const defaults = configSchema.parse({});
    expect(rows.get('server.port')!.default).to.equal(JSON.stringify(defaults.server.port));
    expect(rows.get('storage.md5MemoryLimit')!.default).to.equal(JSON.stringify(defaults.storage.md5MemoryLimit));
    expect(rows.get('store')!.default).to.equal('"local"');
    expect(rows.get('account.username')!.default).to.equal('required');
    for (const r of rows.values()) expect(r.meaning, `${r.key} has a sentence`).to.match(/\S/);
  });

  it('redacts secrets wherever they sit, and passwords inside URLs', () => {
    const out = redactConfig({ a: { clientSecret: 'x', list: [{ passwordHash: 'h' }] }, url: 'rediss://u:p@h:1', plain: 'redis://h:1' });
    expect(out).to.deep.equal({ a: { clientSecret: '[redacted]', list: [{ passwordHash: '[redacted]' }] }, url: 'rediss://u:[redacted]@h:1', plain: 'redis://h:1' });
  });
});
