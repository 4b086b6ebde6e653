// How failures become HTTP answers: `DavError` for refusals decided in this layer, and the one table that
// maps each storage error kind to a status. Bodies are one line of text a person can read (or RFC 4918's
// `<D:error>` precondition element where a client looks for one); never a token or a stack trace.
import type { ServerResponse } from 'node:http';
import { isStorageError, type StorageError, type StorageErrorCode } from '../storage/types.js';

export class DavError extends Error {
  readonly status: number;
  /** DAV: precondition/postcondition element name (e.g. `lock-token-submitted`) for an XML error body. */
  readonly condition?: string;
  /** Extra XML inside the condition element (e.g. `<D:href>…</D:href>`), already escaped. */
  readonly conditionBody?: string;
  constructor(status: number, message: string, condition?: string, conditionBody?: string) {
    super(message);
    this.name = 'DavError';
    this.status = status;
    this.condition = condition;
    this.conditionBody = conditionBody;
  }
}

/** What the request was doing, where the same storage error means different statuses. */
export type Operation = 'read' | 'write' | 'mkcol' | 'delete' | 'copy' | 'move' | 'props' | 'lock';

const storageStatus: Record<StorageErrorCode, number> = {
  NOT_FOUND: 404,
  PARENT_NOT_FOUND: 409,
  ALREADY_EXISTS: 412,
  NOT_A_FOLDER: 409,
  IS_A_FOLDER: 405,
  INVALID_NAME: 400,
  QUOTA_EXCEEDED: 507,
  READ_ONLY: 403,
  CONFLICT: 409,
  CHECKSUM_MISMATCH: 400,
  ABORTED: 499,
  TRANSIENT: 503,
  LOGIN_REQUIRED: 503,
  BACKEND: 502,
};

/** The status for a storage failure during `op`. */
export function statusForStorageError(err: StorageError, op: Operation): number {
  if (err.code === 'ALREADY_EXISTS' && op === 'mkcol') return 405;
  if (err.code === 'NOT_FOUND' && (op === 'mkcol' || op === 'write')) return 409; // a parent vanished mid-way
  return storageStatus[err.code];
}

/** Converts anything thrown while handling a request into a DavError (unknown errors become 500). */
export function toDavError(err: unknown, op: Operation): DavError {
  if (err instanceof DavError) return err;
  if (isStorageError(err)) {
    const status = statusForStorageError(err, op);
    const message = err.code === 'INVALID_NAME' && 'reason' in err ? `invalid name: ${String(err.reason)}` : err.message;
    return new DavError(status, message);
  }
  return new DavError(500, 'internal error');
}

const XML_SPECIAL = /[&<>"']/;

export function xmlEscape(text: string): string {
  // Most values have nothing to escape; testing first spares the replace and its callback per value.
  if (!XML_SPECIAL.test(text)) return text;
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Writes the error answer unless one was already started (then the connection is cut instead). */
export function sendError(res: ServerResponse, err: DavError, method: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = err.status === 499 ? 400 : err.status;
  let body = '';
  if (err.condition) {
    res.setHeader('Content-Type', 'application/xml; charset=utf-8');
    body =
      '<?xml version="1.0" encoding="utf-8"?>\n' +
      `<D:error xmlns:D="DAV:"><D:${err.condition}>${err.conditionBody ?? ''}</D:${err.condition}>` +
      `<D:responsedescription>${xmlEscape(oneLine(err.message))}</D:responsedescription></D:error>\n`;
  } else if (err.status !== 304) {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    body = `${oneLine(err.message)}\n`;
  }
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(method === 'HEAD' ? undefined : body);
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 500);
}
