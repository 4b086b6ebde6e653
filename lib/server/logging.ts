// The server's log: winston, human-readable lines or one JSON object per line (config `log`), and the one line
// per request (method, path, status, bytes, ms, user). Secrets never get in: the request line carries the path
// without its query string, no header is logged, and a last-line-of-defence format masks anything shaped
// like a credential in every message.
import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogOptions {
  level: LogLevel;
  json: boolean;
  /** Where lines go; default stdout. Tests pass a stream to read them back. */
  stream?: Writable;
}

const secretPatterns: [RegExp, string][] = [
  [/\b(authorization|proxy-authorization)(["']?\s*[:=]\s*["']?)[^"'\n]*/gi, '$1$2[redacted]'],
  [/\b(Basic|Bearer)\s+[A-Za-z0-9+/._~-]{8,}=*/g, '$1 [redacted]'],
  [/\bDigest\s+[a-z]+=[^\n]*/gi, 'Digest [redacted]'],
  [/\b(access_token|refresh_token|id_token|password|pass|passwd|token|code|client_secret)=[^&\s"']+/gi, '$1=[redacted]'],
  [/("(?:access_token|refresh_token|id_token|password|client_secret)"\s*:\s*)"[^"]*"/gi, '$1"[redacted]"'],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, replacement] of secretPatterns) out = out.replace(re, replacement);
  return out;
}

const redact = winston.format((info) => {
  if (typeof info.message === 'string') info.message = redactSecrets(info.message);
  for (const key of Object.keys(info)) {
    const v = (info as Record<string, unknown>)[key];
    if (typeof v === 'string' && key !== 'level') (info as Record<string, unknown>)[key] = redactSecrets(v);
  }
  return info;
});

export function createLogger(opts: LogOptions): winston.Logger {
  const format = opts.json
    ? winston.format.combine(redact(), winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
        redact(),
        winston.format.timestamp(),
        winston.format.printf((info) => {
          const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
          // A request line says it all in its message; other lines append their fields.
          const fields = Object.entries(rest.kind === 'request' ? {} : rest)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
          return `${String(timestamp)} ${String(level)}: ${String(message)}${fields.length ? ` ${fields.join(' ')}` : ''}`;
        }),
      );
  const transport = opts.stream ? new winston.transports.Stream({ stream: opts.stream }) : new winston.transports.Console();
  return winston.createLogger({ level: opts.level, format, transports: [transport] });
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  ms: number;
  user: string;
  /** True when the client went away before the answer was complete. */
  aborted: boolean;
}

/** The path part of the request-target, never its query (which could carry a token). */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

export function logRequest(logger: winston.Logger, record: RequestRecord): void {
  // Server errors and aborted transfers are worth a look; the rest is routine traffic.
  const level = record.status >= 500 || record.aborted ? 'warn' : 'info';
  const text =
    `${record.method} ${record.path} ${record.status} ${record.bytesOut}B ${Math.round(record.ms)}ms ${record.user || '-'}` +
    (record.aborted ? ' (aborted)' : '');
  logger.log(level, text, { kind: 'request', ...record, ms: Math.round(record.ms * 10) / 10 });
}
