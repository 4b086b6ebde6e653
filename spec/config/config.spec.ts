import { expect } from 'chai';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, envOverrides, loadConfig, updateUserConfig } from '../../lib/config/index.js';
import { writeFileAtomic } from '../../lib/util/files.js';

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jottadav-config-'));
  const env = { JOTTADAV_HOME: dir };

  it('loads the shipped defaults when there is no user file', () => {
    const { config, path } = loadConfig({ env });
    expect(path).to.equal(join(dir, 'config.yaml'));
    expect(config.log.level).to.equal('info');
    expect(config.account).to.equal(undefined);
    expect(config.tokenStore).to.equal(join(dir, 'tokens.json'));
  });

  it('applies file < environment < flags', () => {
    const file = join(dir, 'p.yaml');
    writeFileSync(file, 'log:\n  level: warn\n  json: true\nendpoints: http://127.0.0.1:1\n');
    expect(loadConfig({ env, file }).config.log).to.deep.equal({ level: 'warn', json: true });
    const withEnv = loadConfig({ env: { ...env, JOTTADAV_LOG__LEVEL: 'debug' }, file }).config;
    expect(withEnv.log).to.deep.equal({ level: 'debug', json: true });
    const withFlags = loadConfig({ env: { ...env, JOTTADAV_LOG__LEVEL: 'debug' }, file, flags: { log: { level: 'error' } } }).config;
    expect(withFlags.log.level).to.equal('error');
    expect(withFlags.endpoints).to.equal('http://127.0.0.1:1');
  });

  it('maps JOTTADAV_ variables to camelCase keys', () => {
    expect(envOverrides({ JOTTADAV_TOKEN_STORE: '/x', JOTTADAV_LOG__JSON: 'true', JOTTADAV_PASS: 'secret' })).to.deep.equal({
      tokenStore: '/x',
      log: { json: true },
    });
  });

  it('leaves the idle memory release off unless asked for (it slows the next large transfer)', () => {
    const file = join(dir, 'gc.yaml');
    writeFileSync(file, 'endpoints: http://127.0.0.1:1\n');
    expect(loadConfig({ env, file }).config.server.releaseMemoryWhenIdle).to.equal(false);
    expect(loadConfig({ env: { ...env, JOTTADAV_SERVER__RELEASE_MEMORY_WHEN_IDLE: 'true' }, file }).config.server.releaseMemoryWhenIdle).to.equal(true);
  });

  it('fails with one sentence naming the bad key and what is allowed', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'log:\n  level: loud\n');
    expect(() => loadConfig({ env, file })).to.throw(ConfigError, /^Config key log\.level is not valid: allowed: "error", "warn", "info", "debug"\.$/);
    writeFileSync(file, 'lgo: 1\n');
    expect(() => loadConfig({ env, file })).to.throw(ConfigError, 'Unknown config key lgo.');
  });

  it('refuses a missing explicit config file', () => {
    expect(() => loadConfig({ env, file: join(dir, 'nope.yaml') })).to.throw(ConfigError, /does not exist/);
  });

  it('updates the user file atomically with mode 0600 and refuses invalid values', async () => {
    const file = join(dir, 'u.yaml');
    await updateUserConfig(file, { log: { level: 'debug' } });
    await updateUserConfig(file, { endpoints: 'http://127.0.0.1:2' });
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const { config } = loadConfig({ env, file });
    expect(config.log.level).to.equal('debug');
    expect(config.endpoints).to.equal('http://127.0.0.1:2');
    let err: unknown;
    await updateUserConfig(file, { log: { level: 'nope' } }).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(ConfigError);
    expect(readFileSync(file, 'utf8')).to.not.include('nope');
  });

  it('writeFileAtomic replaces content and narrows permissions', async () => {
    const file = join(dir, 'secret.json');
    writeFileSync(file, 'old', { mode: 0o644 });
    await writeFileAtomic(file, 'new');
    expect(readFileSync(file, 'utf8')).to.equal('new');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
  });
});
