// Answer writing and request-body reading for the emulator's routes: XML/JSON bodies and streamed bytes, all
// through the bandwidth throttle, and errors in the format of the host they belong to (JFS → XML, API → JSON).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EmuError, errors, reasonPhrase } from './errors.js';
import { throttle } from './throttle.js';

export type ErrorFormat = 'xml' | 'json';

export interface Responder {
  bandwidth: number;
  host: string;
}

export function writeHead(res: ServerResponse, status: number, headers: Record<string, string | number>): void {
  res.writeHead(status, reasonPhrase(status), headers);
}

/** Streams `body` as the answer (throttled); a client that goes away ends the stream quietly. */
export async function sendStream(
  r: Responder,
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
): Promise<void> {
  writeHead(res, status, headers);
  try {
    await pipeline(Readable.from(throttle(body, r.bandwidth)), res);
  } catch {
    res.destroy();
  }
}

export function sendText(r: Responder, res: ServerResponse, status: number, contentType: string, text: string): Promise<void> {
  const buf = Buffer.from(text, 'utf8');
  return sendStream(r, res, status, { 'Content-Type': contentType, 'Content-Length': buf.length }, [buf]);
}

export function sendXml(r: Responder, res: ServerResponse, status: number, xml: string): Promise<void> {
  return sendText(r, res, status, 'application/xml; charset=UTF-8', xml);
}

export function sendJson(r: Responder, res: ServerResponse, status: number, value: unknown): Promise<void> {
  return sendText(r, res, status, 'application/json; charset=UTF-8', JSON.stringify(value));
}

export function sendEmpty(res: ServerResponse, status: number): void {
  writeHead(res, status, { 'Content-Length': 0 });
  res.end();
}

export function sendError(r: Responder, res: ServerResponse, err: EmuError, format: ErrorFormat): Promise<void> {
  if (res.headersSent) {
    res.destroy();
    return Promise.resolve();
  }
  return format === 'xml'
    ? sendText(r, res, err.status, 'application/xml; charset=UTF-8', err.toXml(r.host))
    : sendText(r, res, err.status, 'application/json; charset=UTF-8', err.toJson());
}

/** Reads a small request body whole (forms, JSON); refuses more than `limit` bytes. */
export async function readSmallBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw errors.invalidArgument(`request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads and forgets a body nobody needs, so keep-alive connections stay usable. */
export async function discardBody(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  for await (const _ of req) {
    // drain
  }
}
