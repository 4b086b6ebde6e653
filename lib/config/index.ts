// Loads the configuration: config/default.json (shipped) < the user's config file < JOTTADAV_* environment
// variables < command-line flags, then validates it once and fails with one sentence naming the bad key.
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { ZodError } from 'zod';
import { writeFileAtomic } from '../util/files.js';
import { configSchema, type Config, type ConfigInput } from './schema.js';

export { configSchema, type Config, type ConfigInput, type AccountConfig } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Plain = Record<string, unknown>;

/** The folder for the user's config file and token store: `$JOTTADAV_HOME`, else `$XDG_CONFIG_HOME/jottadav`, else `~/.config/jottadav`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JOTTADAV_HOME) return env.JOTTADAV_HOME;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'jottadav');
}

/** The user's config file: `--config`, else `$JOTTADAV_CONFIG`, else `<config dir>/config.yaml` (or `.json` when only that exists). */
export function userConfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.JOTTADAV_CONFIG) return env.JOTTADAV_CONFIG;
  const dir = configDir(env);
  const json = join(dir, 'config.json');
  return existsSync(json) && !existsSync(join(dir, 'config.yaml')) ? json : join(dir, 'config.yaml');
}

const shippedDefaults = fileURLToPath(new URL('../../../config/default.json', import.meta.url));

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge where later sources win; arrays and scalars replace. */
export function merge(...sources: Plain[]): Plain {
  const out: Plain = {};
  for (const src of sources) {
    for (const [k, v] of Object.entries(src)) {
      if (v === undefined) continue;
      out[k] = isPlain(v) && isPlain(out[k]) ? merge(out[k] as Plain, v) : v;
    }
  }
  return out;
}

function parseFile(path: string, text: string): Plain {
  try {
    const value: unknown = path.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
    if (value === null || value === undefined) return {};
    if (!isPlain(value)) throw new Error('the top level must be a mapping of keys');
    return value;
  } catch (err) {
    throw new ConfigError(`The config file ${path} cannot be read: ${(err as Error).message}.`);
  }
}

export function readConfigFile(path: string): Plain {
  if (!existsSync(path)) return {};
  return parseFile(path, readFileSync(path, 'utf8'));
}

/**
 * `JOTTADAV_<KEY>` with `__` between nesting levels and camelCase from snake case, e.g.
 * `JOTTADAV_LOG__LEVEL=debug`, `JOTTADAV_TOKEN_STORE=/x`. Values that parse as JSON (numbers, booleans,
 * objects) are taken as such. Variables the loader uses itself (HOME, CONFIG) and the single-user
 * credentials (USER, PASS, read by the server) are not config keys.
 */
export function envOverrides(env: NodeJS.ProcessEnv = process.env): Plain {
  const skip = new Set(['HOME', 'CONFIG', 'USER', 'PASS']);
  const out: Plain = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('JOTTADAV_') || raw === undefined) continue;
    const key = name.slice('JOTTADAV_'.length);
    if (skip.has(key)) continue;
    const path = key.split('__').map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    let node = out;
    path.slice(0, -1).forEach((p) => {
      node[p] = isPlain(node[p]) ? node[p] : {};
      node = node[p] as Plain;
    });
    node[path[path.length - 1]] = value;
  }
  return out;
}

/** One sentence naming the bad key and what is allowed. */
export function describeConfigError(err: ZodError): string {
  const issue = err.issues[0];
  const key = issue.path.join('.') || '(top level)';
  let allowed = issue.message;
  if (issue.code === 'invalid_enum_value') allowed = `allowed: ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
  else if (issue.code === 'unrecognized_keys') return `Unknown config key ${issue.keys.map((k) => (key === '(top level)' ? k : `${key}.${k}`)).join(', ')}.`;
  else if (issue.code === 'invalid_type') allowed = `expected ${issue.expected}, got ${issue.received}`;
  return `Config key ${key} is not valid: ${allowed}.`;
}

export interface LoadOptions {
  /** The user's config file (`--config`). */
  file?: string;
  /** Values from command-line flags (highest precedence). */
  flags?: ConfigInput | Plain;
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: Config;
  /** The user config file in use (it may not exist yet). */
  path: string;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const path = userConfigPath(options.file, env);
  if (options.file && !existsSync(options.file)) throw new ConfigError(`The config file ${options.file} does not exist.`);
  const merged = merge(readConfigFile(shippedDefaults), readConfigFile(path), envOverrides(env), (options.flags ?? {}) as Plain);
  const result = configSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(describeConfigError(result.error));
  const config = result.data;
  config.tokenStore ??= join(dirname(path), 'tokens.json');
  return { config, path };
}

/** Updates keys in the user's config file (created 0600 if missing), keeping the rest as written. */
export async function updateUserConfig(path: string, patch: Plain): Promise<void> {
  const current = existsSync(path) ? parseFile(path, await fs.readFile(path, 'utf8')) : {};
  const next = merge(current, patch);
  const check = configSchema.safeParse(merge(readConfigFile(shippedDefaults), next));
  if (!check.success) throw new ConfigError(describeConfigError(check.error));
  const text = path.endsWith('.json') ? `${JSON.stringify(next, null, 2)}\n` : YAML.stringify(next);
  await writeFileAtomic(path, text, 0o600);
}
