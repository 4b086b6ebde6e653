// What flows through one exchange: bytes in and out (for the request log and metrics), and the body-size guard
// for methods other than PUT. Both work by wrapping `req.push` — the one call Node's HTTP parser uses to hand a
// request its body — so the request stream itself reaches the WebDAV layer untouched: no listener is added,
// nothing is consumed, no body parser runs.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Traffic {
  readonly startedAt: bigint;
  bytesIn(): number;
  bytesOut(): number;
  /** Calls `fn` once the whole request body has arrived from the client (read or not), or now if it has. */
  onBodyReceived(fn: () => void): void;
}

const trafficKey = Symbol('jottadav.traffic');
type Tracked = IncomingMessage & { [trafficKey]?: Traffic & { gate?: Gate } };

interface Gate {
  held: (Buffer | null)[];
  total: number;
  limit: number;
  refused?: boolean;
  done: (outcome: 'ok' | 'too-large' | 'aborted') => void;
}

/** Installs the counters; call first thing for every request (before anything can read the body). */
export function trackTraffic(req: IncomingMessage, res: ServerResponse): Traffic {
  const tracked = req as Tracked;
  if (tracked[trafficKey]) return tracked[trafficKey];
  // Bytes that arrived before we got here are already buffered in the stream.
  let inBytes = req.readableLength;
  let outBytes = 0;
  let received = req.complete;
  const waiting: (() => void)[] = [];
  const state: Traffic & { gate?: Gate } = {
    startedAt: process.hrtime.bigint(),
    bytesIn: () => inBytes,
    bytesOut: () => outBytes,
    onBodyReceived: (fn) => (received ? fn() : void waiting.push(fn)),
  };
  tracked[trafficKey] = state;

  const originalPush = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk !== null && chunk !== undefined) inBytes += (chunk as Buffer).length;
    else if (chunk === null && !received) {
      received = true;
      waiting.splice(0).forEach((fn) => fn());
    }
    const gate = state.gate;
    if (!gate) return originalPush(chunk, encoding);
    if (gate.refused) {
      // Answered 413 already: the rest of the body is dropped as it arrives.
      if (chunk === null) state.gate = undefined;
      return true;
    }
    if (chunk === null) {
      gate.held.push(null);
      state.gate = undefined;
      for (const c of gate.held) originalPush(c);
      gate.done('ok');
      return false;
    }
    gate.total += (chunk as Buffer).length;
    if (gate.total > gate.limit) {
      gate.refused = true;
      gate.held.length = 0;
      gate.done('too-large');
      return true;
    }
    gate.held.push(chunk as Buffer);
    return true;
  };

  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const count = (chunk: unknown, encoding?: unknown) => {
    if (typeof chunk === 'string') outBytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) outBytes += chunk.length;
  };
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    count(chunk, rest[0]);
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') count(chunk, rest[0]);
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
  return state;
}

/** True when the request announces a body (a length above zero, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

function tooLarge(res: ServerResponse, limit: number): void {
  if (res.headersSent) return;
  res.statusCode = 413;
  // The rest of the body is not read: the connection cannot be reused.
  res.setHeader('Connection', 'close');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`Request body too large: at most ${limit} bytes for this method.\n`);
}

/**
 * The body-size guard for non-PUT methods (their bodies are XML: PROPFIND, PROPPATCH, LOCK). A declared
 * Content-Length over `limit` is refused at once; a chunked body is held (at most `limit` bytes) until it is
 * complete, then handed on in the same stream, or refused. Resolves true when the request may proceed; false
 * when a 413 was sent or the client went away.
 */
export function guardBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<boolean> {
  const state = trackTraffic(req, res) as Traffic & { gate?: Gate };
  if (!hasBody(req)) return Promise.resolve(true);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    tooLarge(res, limit);
    return Promise.resolve(false);
  }
  if (declared !== undefined || req.complete) {
    if (req.complete && req.readableLength > limit) {
      tooLarge(res, limit);
      return Promise.resolve(false);
    }
    // Node's parser stops at Content-Length, so a declared length within the limit is the whole story.
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const onClose = () => finish('aborted');
    const finish = (outcome: 'ok' | 'too-large' | 'aborted') => {
      req.off('aborted', onClose);
      req.off('close', onClose);
      if (outcome !== 'too-large') state.gate = undefined;
      if (outcome === 'too-large') tooLarge(res, limit);
      resolve(outcome === 'ok');
    };
    state.gate = { held: [], total: req.readableLength, limit, done: finish };
    req.once('aborted', onClose);
    req.once('close', onClose);
  });
}

export function elapsedMs(traffic: Traffic): number {
  return Number(process.hrtime.bigint() - traffic.startedAt) / 1e6;
}
