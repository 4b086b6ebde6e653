// Emulator auth: small HTTP helpers for the auth routes — reading a capped form body, answering
// JSON the way Keycloak and the Jottacloud JSON API do, and reading HTTP Basic client credentials.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomInt } from 'node:crypto';

/** Token requests are a handful of short fields; anything this big is not a token request. */
export const MAX_FORM_BYTES = 64 * 1024;

export class BodyTooLargeError extends Error {
  constructor() {
    super(`request body larger than ${MAX_FORM_BYTES} bytes`);
  }
}

export async function readBody(req: IncomingMessage, limit = MAX_FORM_BYTES): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Form fields of a request: the query string first, then the urlencoded body on top. rclone's legacy
 * login and device registration put their "form" in the query string of a POST with an empty body,
 * while akeamc/jotta sends a real body, so both places count.
 */
export function formFields(url: URL, body: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const source of [url.searchParams, new URLSearchParams(body)]) {
    const seen = new Set<string>();
    for (const [k, v] of source) {
      if (seen.has(k)) continue; // a repeated field counts once, by its first value
      seen.add(k);
      fields.set(k, v);
    }
  }
  return fields;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Token answers must not be cached by anything in between (RFC 6749 §5.1); Keycloak sends both. */
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** Keycloak's OAuth error shape: `{"error","error_description"}`. */
export function sendOAuthError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error, error_description: description }, { ...NO_STORE, ...headers });
}

/** The JSON API's error shape (api.jottacloud.com): `{"code","message","cause","error_id","x-id"}`. */
export function sendApiError(
  res: ServerResponse,
  status: number,
  exception: string,
  detail: string,
  headers: Record<string, string> = {},
): void {
  const simpleName = exception.slice(exception.lastIndexOf('.') + 1);
  sendJson(
    res,
    status,
    { code: status, message: `${exception}: ${detail}`, cause: '', error_id: simpleName, 'x-id': traceId() },
    headers,
  );
}

/** Jottacloud's `x-id`: 12 digits, leading zeros kept (so it is a string). */
function traceId(): string {
  return String(randomInt(0, 1_000_000_000_000)).padStart(12, '0');
}

export function sendHtml(res: ServerResponse, status: number, title: string, message: string): void {
  const text =
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>\n`;
  res.writeHead(status, { 'Content-Type': 'text/html;charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function sendMethodNotAllowed(res: ServerResponse, allow: string[]): void {
  sendJson(res, 405, { error: 'HTTP 405 Method Not Allowed' }, { Allow: allow.join(', ') });
}

/**
 * Client credentials from `Authorization: Basic …`. Go's oauth2 package (rclone) query-escapes id and
 * secret before base64 (RFC 6749 §2.3.1), so both halves are form-decoded; `jottacli:` has an empty secret.
 */
export function basicCredentials(authorization: string | undefined): { id: string; secret: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(authorization: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m ? m[1]! : null;
}
