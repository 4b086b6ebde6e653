// The emulator's clock formats: JFS XML's "dash-T" time, RFC 3339 with milliseconds (liststream), and the
// lenient parsing of times that clients send (allocate bodies, cphash headers).
// Times are kept internally as epoch milliseconds, truncated to whole seconds where the service stores them.

/** `2018-07-05-T15:08:02Z`: JFS XML's format (note the `-` before `T`). */
export function dashT(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace('T', '-T');
}

/** `2018-07-05T15:08:02.000Z`: the liststream format (RFC 3339 with milliseconds). */
export function rfc3339Millis(ms: number): string {
  return new Date(ms).toISOString();
}

/** The service keeps modification times with one-second precision. */
export function toSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/**
 * A time as clients send it: epoch milliseconds (number or digits), RFC 3339, or the dash-T form.
 * Returns undefined when it cannot be read; the service then uses "now" (JaFS observed it ignores bad times).
 */
export function parseClientTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? toSeconds(value) : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const s = value.trim();
  if (/^\d{9,}$/.test(s)) return toSeconds(Number(s));
  // dash-T (`2017-03-08-T20:16:18Z`, also with a numeric offset) → RFC 3339
  const normal = s.replace(/^(\d{4}-\d{2}-\d{2})-T/, '$1T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(normal);
  return Number.isFinite(ms) ? toSeconds(ms) : undefined;
}
