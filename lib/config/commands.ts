// `jottadav config check | show | docs`: check validates the configuration the way `serve` would load it and
// then looks at what it points to (files readable, Redis reachable, a token set saved), one line per finding;
// show prints the effective configuration with every secret redacted; docs prints the README's option table.
import { constants as fsc, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { closeRedis, connectRedis, redisKeys, safeRedisUrl } from '../util/redis.js';
import { optionsTable, redactConfig } from './describe.js';
import { loadConfig, type Config } from './index.js';

export interface ConfigCliOptions {
  config?: string;
  json?: boolean;
}

interface Finding {
  ok: boolean;
  /** A warning is reported but does not fail the check. */
  warn?: boolean;
  text: string;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function readable(path: string): Promise<string | undefined> {
  try {
    await fs.access(path, fsc.R_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
  }
}

async function fileFindings(config: Config): Promise<Finding[]> {
  const out: Finding[] = [];
  const files: [string, string | undefined][] = [
    ['server.tls.cert', config.server.tls?.cert],
    ['server.tls.key', config.server.tls?.key],
    ['server.htpasswd', config.server.htpasswd],
    ['server.htdigest', config.server.htdigest],
  ];
  for (const [key, path] of files) {
    if (!path) continue;
    const problem = await readable(path);
    out.push(problem ? { ok: false, text: `${key}: ${path} ${problem}` } : { ok: true, text: `${key}: ${path}` });
  }
  return out;
}

async function storeFindings(config: Config, stateDir: string): Promise<Finding[]> {
  if (config.store === 'local') {
    if (!config.account) return [{ ok: true, text: 'store: local (the embedded emulator keeps its own token set)' }];
    const path = config.tokenStore ?? join(stateDir, 'tokens.json');
    try {
      const st = await fs.stat(path);
      const open = (st.mode & 0o077) !== 0;
      return [
        { ok: true, text: `store: local, token set in ${path}` },
        ...(open ? [{ ok: true, warn: true, text: `${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it` }] : []),
      ];
    } catch {
      return [{ ok: false, text: `store: local, but no token set in ${path}; run \`jottadav login\`` }];
    }
  }
  const where = safeRedisUrl(config.store);
  if (!config.account) return [{ ok: false, text: `store: Redis at ${where} serves a configured account; run \`jottadav login\` with this configuration first` }];
  let client;
  try {
    client = await connectRedis(config.store, { connectTimeoutMs: 5_000 });
  } catch (err) {
    return [{ ok: false, text: err instanceof Error ? err.message.replace(/\.$/, '') : String(err) }];
  }
  try {
    await client.ping();
    const key = redisKeys(config.redis.keyPrefix).tokens;
    const saved = (await client.exists(key)) === 1;
    return [
      { ok: true, text: `store: Redis at ${where} answers` },
      saved
        ? { ok: true, text: `token set saved in Redis (${key})` }
        : { ok: false, text: `no token set in Redis (${key}); run \`jottadav login\` with this configuration` },
    ];
  } finally {
    await closeRedis(client);
  }
}

/** Validates the configuration and what it points to; exit code 1 when anything would stop `serve`. */
export async function runConfigCheck(opts: ConfigCliOptions): Promise<void> {
  // A bad value throws ConfigError: one sentence naming the key, printed by the CLI with exit code 1.
  const { config, path } = loadConfig({ file: opts.config });
  const stateDir = dirname(path);
  const exists = await readable(path);
  const findings: Finding[] = [
    { ok: true, text: exists ? `config file: ${path} (not present; defaults and JOTTADAV_* only)` : `config file: ${path}` },
    config.account
      ? { ok: true, text: `account: ${config.account.username} (${config.account.kind}, ${config.account.service}), serving ${config.account.device}/${config.account.mountpoint}` }
      : { ok: true, text: 'account: none — `serve` runs the embedded emulator' },
    ...(await fileFindings(config)),
    ...(await storeFindings(config, stateDir)),
  ];
  const users = config.server.users.length + (config.server.htpasswd ? 1 : 0) + (config.server.htdigest ? 1 : 0);
  if (!users && config.server.anonymous === 'off') findings.push({ ok: true, warn: true, text: 'no users configured: `serve` generates one (or give --user/--pass)' });
  if (config.server.host !== '127.0.0.1' && config.server.host !== 'localhost' && config.server.host !== '::1' && !config.server.tls) {
    findings.push({ ok: true, warn: true, text: `server.host ${config.server.host} without TLS: passwords cross the network readable (Basic auth); see "Mount it"` });
  }
  for (const f of findings) print(`${f.ok ? (f.warn ? 'warn' : 'ok  ') : 'FAIL'}  ${f.text}`);
  const failed = findings.filter((f) => !f.ok).length;
  print(failed ? `${failed} problem(s): \`jottadav serve\` would not work with this configuration.` : 'The configuration is valid.');
  if (failed) process.exitCode = 1;
}

/** The effective configuration (defaults < file < JOTTADAV_* < flags), secrets redacted; YAML, or JSON with --json. */
export async function runConfigShow(opts: ConfigCliOptions): Promise<void> {
  const { config, path } = loadConfig({ file: opts.config });
  const shown = redactConfig(config);
  if (opts.json) {
    print(JSON.stringify(shown, null, 2));
    return;
  }
  process.stdout.write(`# Effective configuration: shipped defaults < ${path} < JOTTADAV_* variables. Secrets are redacted.\n`);
  process.stdout.write(YAML.stringify(shown));
}

/** The README's option table, generated from the schema. */
export async function runConfigDocs(): Promise<void> {
  print(optionsTable());
}
