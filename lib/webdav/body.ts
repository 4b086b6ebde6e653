// Reading the small XML bodies of PROPFIND, PROPPATCH and LOCK from the raw request stream: chunked or
// with Content-Length alike (webdav-server reads by Content-Length only and treats a chunked body as
// empty), with a cap so a request cannot make us hold an unbounded body.
import type { IncomingMessage } from 'node:http';
import { DavError } from './errors.js';

/** Request bodies of non-PUT methods beyond this are refused (the server guards too; this is our own floor). */
export const MAX_XML_BODY = 1024 * 1024;

/** True when the request announces a body (a length above 0, or chunked transfer). */
export function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

export async function readBody(req: IncomingMessage, limit = MAX_XML_BODY): Promise<string> {
  if (!announcesBody(req)) return '';
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new DavError(413, `request bodies of this method are limited to ${limit} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buf.length;
    if (total > limit) throw new DavError(413, `request bodies of this method are limited to ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
