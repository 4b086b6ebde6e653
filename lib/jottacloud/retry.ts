// The pacer: every Jottacloud request goes through here. It attaches the access token, renews it once
// after a 401, retries what the service asks to be retried (429, 500, 502, 503, 504, 509 and lost
// connections) with exponential backoff from `minDelayMs` to `maxDelayMs` (honouring Retry-After),
// tells a real "quota exceeded" 460 from a busy-service 460, reports each HTTP exchange to `onRequest`,
// and turns every final failure into a typed error from `errors.ts`.
//
// Calls whose body cannot be sent twice (the upload POST) use `send` — one attempt, no mapping — and
// the upload loop in `upload.ts` resumes them by re-allocating instead.
import type { AxiosInstance, AxiosResponse, RawAxiosRequestHeaders } from 'axios';
import type { Readable } from 'node:stream';
import { retireIdleConnections } from './http.js';
import type { AccessTokenSource } from './token-source.js';
import {
  AbortedError,
  JottacloudError,
  UnauthorizedError,
  errorFromResponse,
  networkError,
  parseErrorBody,
  redactSecrets,
  type ErrorContext,
} from './errors.js';

export interface RetryOptions {
  /** Retries after the first attempt (default 10). */
  maxRetries?: number;
  /** First backoff delay (default 10 ms); doubles per retry. */
  minDelayMs?: number;
  /** Backoff cap (default 2000 ms). */
  maxDelayMs?: number;
}

/** Which host a request went to, for metrics. */
export type HostKind = 'jfs' | 'api' | 'upload' | 'other';

/** One HTTP exchange, reported to `onRequest` (never carries a URL query, header or body). */
export interface RequestInfo {
  operation: string;
  method: string;
  host: HostKind;
  /** HTTP status; 0 when no answer arrived. */
  status: number;
  ms: number;
  /** 0 for the first attempt of a call, 1 for its first retry, … */
  retry: number;
}

export interface RequestSpec extends ErrorContext {
  method: 'GET' | 'POST';
  url: string;
  host: HostKind;
  headers?: RawAxiosRequestHeaders;
  /** Must be replayable for `call` (a Buffer or string is); `send` also takes a stream. */
  data?: Buffer | string | Readable;
  /** `text` (default) buffers the answer; `stream` hands the body over unread on success. */
  responseType?: 'text' | 'stream';
  signal?: AbortSignal;
  /** The body can be sent only this once: not on a connection that sat idle (see `ONCE_IDLE_MS`). */
  once?: boolean;
}

export interface PacedResponse<T = string> {
  status: number;
  headers: Record<string, string | undefined>;
  data: T;
  /** Attempts made for this call (1 = no retry). */
  attempts: number;
}

export const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504, 509]);
/** The service's non-standard "quota exceeded", also seen under heavy load. */
export const QUOTA_STATUS = 460;
/**
 * A body that can be sent only once goes on a connection used within this long, or on a new one. A server may
 * close an idle connection just as a request arrives on it, which then gets no answer; servers' idle limits
 * start at a few seconds (5 s for Node's and Apache's), and most clients reuse connections well within that.
 */
export const ONCE_IDLE_MS = 2000;
/** Upper bound on a Retry-After we obey, so a confused server cannot park a call for hours. */
const MAX_RETRY_AFTER_MS = 60_000;
/** Error bodies are read up to this size; they are a few hundred bytes in practice. */
const MAX_ERROR_BODY = 64 * 1024;

export interface PacerOptions {
  http: AxiosInstance;
  tokens: AccessTokenSource;
  retry?: RetryOptions;
  onRequest?: (info: RequestInfo) => void;
  /** Asked on a 460: is the account really out of space? (Otherwise 460 is treated as transient.) */
  isQuotaExceeded?: () => Promise<boolean>;
}

export class Pacer {
  readonly maxRetries: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;

  constructor(private readonly options: PacerOptions) {
    this.maxRetries = options.retry?.maxRetries ?? 10;
    this.minDelayMs = options.retry?.minDelayMs ?? 10;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 2000;
  }

  /** The current access token. */
  token(): Promise<string> {
    return this.options.tokens.getAccessToken();
  }

  /** After a 401 with `rejected`: a token to retry with, or UnauthorizedError when the user must log in again. */
  async renew(rejected: string, context: ErrorContext): Promise<string> {
    try {
      return await this.options.tokens.renewAfterUnauthorized(rejected);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new UnauthorizedError('not authorised; log in again', {
        ...context,
        status: 401,
        message: redactSecrets(why),
      });
    }
  }

  /** Whether a 460 means the account is full (asks once per 460). */
  async quotaExceeded(): Promise<boolean> {
    if (!this.options.isQuotaExceeded) return false;
    try {
      return await this.options.isQuotaExceeded();
    } catch {
      return false;
    }
  }

  /** Delay before retry number `retry` (1-based), or the server's Retry-After when it gave one. */
  backoff(retry: number, retryAfter?: string): number {
    const fromServer = parseRetryAfter(retryAfter);
    if (fromServer !== undefined) return Math.min(fromServer, MAX_RETRY_AFTER_MS);
    const exp = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** (retry - 1));
    // Jitter in [exp/2, exp]: concurrent callers that failed together should not retry in lockstep.
    return Math.round(exp / 2 + (Math.random() * exp) / 2);
  }

  /**
   * One HTTP exchange with the current token: returns whatever status came back (the body read as text
   * unless `stream` was asked for and the status is 2xx); throws only NetworkError / AbortedError.
   */
  async send(spec: RequestSpec, token: string, retry = 0): Promise<PacedResponse<string | Readable>> {
    const started = Date.now();
    let response: AxiosResponse<unknown>;
    if (spec.once) retireIdleConnections(this.options.http, spec.url, ONCE_IDLE_MS);
    try {
      response = await this.options.http.request({
        method: spec.method,
        url: spec.url,
        headers: { ...spec.headers, Authorization: `Bearer ${token}` },
        data: spec.data,
        signal: spec.signal,
        responseType: spec.responseType === 'stream' ? 'stream' : 'text',
        // Bodies are parsed by the caller (XML or JSON); axios must hand over the text as is.
        transformResponse: (d: unknown) => d,
      });
    } catch (e) {
      this.report(spec, 0, started, retry);
      throw networkError(e, spec);
    }
    this.report(spec, response.status, started, retry);
    const headers = flattenHeaders(response.headers as Record<string, unknown>);
    let data = (response.data ?? '') as string | Readable;
    const ok = response.status >= 200 && response.status < 300;
    if (typeof data !== 'string' && (!ok || spec.responseType !== 'stream')) {
      data = await readBounded(data as Readable, MAX_ERROR_BODY).catch(() => '');
    }
    return { status: response.status, headers, data, attempts: retry + 1 };
  }

  /**
   * A whole call: attempts, a token renewal after a 401, backoff retries of transient failures; returns
   * a 2xx answer or throws a typed error that records how many attempts were made.
   */
  async call<T extends string | Readable = string>(spec: RequestSpec): Promise<PacedResponse<T>> {
    let token = await this.token();
    let renewed = false;
    for (let retry = 0; ; retry++) {
      if (spec.signal?.aborted) throw new AbortedError('aborted', { ...spec, status: 0 });
      let res: PacedResponse<string | Readable>;
      try {
        res = await this.send(spec, token, retry);
      } catch (e) {
        if (e instanceof JottacloudError && e.transient && retry < this.maxRetries) {
          await this.sleep(this.backoff(retry + 1), spec);
          continue;
        }
        throw withAttempts(e, retry + 1);
      }
      if (res.status >= 200 && res.status < 300) return res as PacedResponse<T>;
      const body = parseErrorBody(typeof res.data === 'string' ? res.data : '');
      if (res.status === 401 && !renewed) {
        // One renewal per call: a second 401 with a fresh token means the grant itself is gone.
        renewed = true;
        token = await this.renew(token, spec);
        continue;
      }
      let quotaExceeded = false;
      if (res.status === QUOTA_STATUS) quotaExceeded = await this.quotaExceeded();
      const transient = RETRYABLE_STATUS.has(res.status) || (res.status === QUOTA_STATUS && !quotaExceeded);
      if (transient && retry < this.maxRetries) {
        await this.sleep(this.backoff(retry + 1, res.headers['retry-after']), spec);
        continue;
      }
      throw withAttempts(errorFromResponse(res.status, body, spec, { quotaExceeded }), retry + 1);
    }
  }

  /** Waits, unless the caller's signal fires first. */
  sleep(ms: number, spec: { signal?: AbortSignal } & ErrorContext): Promise<void> {
    return new Promise((resolve, reject) => {
      if (spec.signal?.aborted) return reject(new AbortedError('aborted', { ...spec, status: 0 }));
      const onAbort = () => {
        clearTimeout(timer);
        reject(new AbortedError('aborted', { operation: spec.operation, path: spec.path, status: 0 }));
      };
      const timer = setTimeout(() => {
        spec.signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      spec.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private report(spec: RequestSpec, status: number, started: number, retry: number): void {
    if (!this.options.onRequest) return;
    try {
      this.options.onRequest({
        operation: spec.operation,
        method: spec.method,
        host: spec.host,
        status,
        ms: Date.now() - started,
        retry,
      });
    } catch {
      // A metrics hook must never break a call.
    }
  }
}

function withAttempts(e: unknown, attempts: number): unknown {
  if (e instanceof JottacloudError) e.attempts = attempts;
  return e;
}

/** Seconds or an HTTP date → milliseconds from now. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const when = Date.parse(s);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

function flattenHeaders(h: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? undefined : String(v);
  }
  return out;
}

/** Reads a (small) body stream to text, giving up past `limit` bytes, then releases the connection. */
function readBounded(stream: Readable, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      if (size < limit) chunks.push(c);
      size += c.length;
      if (size >= limit) {
        stream.destroy();
        resolve(Buffer.concat(chunks).toString('utf8').slice(0, limit));
      }
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}
