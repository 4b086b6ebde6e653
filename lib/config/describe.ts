// What the configuration model looks like to a person: one row per option (key, default, meaning), read from
// the zod schema itself so the README table cannot drift from it, and the loaded configuration with every
// secret redacted, for `jottadav config show`.
import { z } from 'zod';
import { configSchema } from './schema.js';

export interface OptionRow {
  /** Dotted key; `[]` marks the items of a list, e.g. `server.users[].name`. */
  key: string;
  /** The default as it would be written in JSON, `required`, or `—` (none). */
  default: string;
  meaning: string;
}

interface Unwrapped {
  inner: z.ZodTypeAny;
  description?: string;
  defaultValue?: unknown;
  hasDefault: boolean;
  optional: boolean;
}

/** Peels default/optional/refine wrappers, keeping the outermost description and the default. */
function unwrap(schema: z.ZodTypeAny): Unwrapped {
  const out: Unwrapped = { inner: schema, hasDefault: false, optional: false };
  let s = schema;
  for (;;) {
    out.description ??= s.description;
    if (s instanceof z.ZodDefault) {
      out.hasDefault = true;
      out.defaultValue = (s._def as { defaultValue: () => unknown }).defaultValue();
      s = s._def.innerType as z.ZodTypeAny;
    } else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) {
      out.optional = true;
      s = s._def.innerType as z.ZodTypeAny;
    } else if (s instanceof z.ZodEffects) {
      s = s._def.schema as z.ZodTypeAny;
    } else break;
  }
  out.inner = s;
  return out;
}

function objectOf(s: z.ZodTypeAny): z.ZodObject<z.ZodRawShape> | undefined {
  if (s instanceof z.ZodObject) return s as z.ZodObject<z.ZodRawShape>;
  if (s instanceof z.ZodArray) return objectOf(unwrap(s.element as z.ZodTypeAny).inner);
  return undefined;
}

function walk(shape: z.ZodRawShape, prefix: string, rows: OptionRow[]): void {
  for (const [name, field] of Object.entries(shape)) {
    const u = unwrap(field as z.ZodTypeAny);
    const key = prefix + name;
    const obj = objectOf(u.inner);
    // A section with nothing to say of its own is only its keys; a described one (an optional block, a list
    // of users) gets a row too, so the table says what the block is before its fields.
    if (u.description) {
      const dflt = u.hasDefault ? JSON.stringify(u.defaultValue) : u.optional ? '—' : 'required';
      rows.push({ key, default: obj && u.hasDefault && !(u.inner instanceof z.ZodArray) ? '—' : dflt, meaning: u.description });
    }
    if (obj) walk(obj.shape, u.inner instanceof z.ZodArray ? `${key}[].` : `${key}.`, rows);
    else if (!u.description) rows.push({ key, default: u.hasDefault ? JSON.stringify(u.defaultValue) : '—', meaning: '' });
  }
}

/** Every option of the configuration model, in schema order. */
export function optionRows(): OptionRow[] {
  const rows: OptionRow[] = [];
  walk(configSchema.shape, '', rows);
  return rows;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The README's option table (Markdown), generated from the schema. */
export function optionsTable(): string {
  const lines = ['| key | default | meaning |', '|---|---|---|'];
  for (const r of optionRows()) lines.push(`| \`${r.key}\` | ${r.default === '—' || r.default === 'required' ? r.default : `\`${cell(r.default)}\``} | ${cell(r.meaning)} |`);
  return lines.join('\n');
}

// --- redaction -----------------------------------------------------------------------------------------------

export const REDACTED = '[redacted]';

/** Keys whose values are secrets or stand in for one (hashes can be cracked offline). */
const secretKeys = new Set(['clientSecret', 'passwordHash', 'digestHa1', 'digestHa1Sha256', 'password', 'token', 'accessToken', 'refreshToken']);

/** A URL with its password (and a user name given with it) replaced, e.g. `redis://:[redacted]@host:6379`. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password && !url.username) return value;
    if (url.password) url.password = REDACTED;
    return url.toString().replace(encodeURIComponent(REDACTED), REDACTED);
  } catch {
    return value;
  }
}

/** A deep copy with every secret replaced by `[redacted]` and passwords taken out of URLs. */
export function redactConfig<T>(value: T): T {
  const visit = (v: unknown, key?: string): unknown => {
    if (key && secretKeys.has(key) && v !== undefined && v !== null && v !== '') return REDACTED;
    if (typeof v === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? redactUrl(v) : v;
    if (Array.isArray(v)) return v.map((item) => visit(item));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, visit(inner, k)]));
    return v;
  };
  return visit(value) as T;
}
