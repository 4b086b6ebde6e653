// The failures of Jottacloud calls as typed errors, and the one place that reads the service's error
// bodies: JFS answers `<error><code/><message/><reason/><cause/><hostname/><x-id/></error>` (the message
// starts with a Java exception name), the JSON API answers `{code, message, cause, error_id, x-id}`, and
// the OAuth endpoints `{error, error_description}`.
//
// Every error carries the user-visible path, the HTTP status and the exception name — and never a
// secret: messages pass through `redactSecrets`, and no error keeps a reference to the HTTP library's
// error object (axios errors hold the request headers, Authorization included).
import { XMLParser } from 'fast-xml-parser';

/** What one failed call is known to have been about. */
export interface ErrorContext {
  /** Short name of the call, e.g. `list`, `upload`, `mv`. */
  operation: string;
  /** The user-visible path (`/Jotta/Archive/a/b`), when the call was about one. */
  path?: string;
}

/** What the service said, parsed from the body of an error answer. */
export interface ServiceErrorBody {
  /** `code` from the body (for JSON not always an HTTP status). */
  code?: number;
  /** The full message, redacted. */
  message?: string;
  /** Simple Java class name (`NoSuchFileException`), JSON `error_id`, or OAuth `error`. */
  exception?: string;
  reason?: string;
  cause?: string;
  hostname?: string;
  xId?: string;
}

export interface ErrorDetails extends ErrorContext, ServiceErrorBody {
  /** HTTP status; 0 when no answer arrived. */
  status: number;
}

/** Base class: every error this client throws about a Jottacloud call is one of these. */
export class JottacloudError extends Error {
  readonly status: number;
  readonly operation: string;
  readonly path?: string;
  readonly exception?: string;
  readonly code?: number;
  readonly reason?: string;
  /** The message from the service (redacted), without our prefix. */
  readonly serviceMessage?: string;
  readonly serviceCause?: string;
  readonly hostname?: string;
  readonly xId?: string;
  /** HTTP attempts the call made before giving up (set by the pacer). */
  attempts = 1;

  constructor(summary: string, details: ErrorDetails) {
    super(composeMessage(summary, details));
    this.name = new.target.name;
    this.status = details.status;
    this.operation = details.operation;
    this.path = details.path;
    this.exception = details.exception;
    this.code = details.code;
    this.reason = details.reason;
    this.serviceMessage = details.message;
    this.serviceCause = details.cause;
    this.hostname = details.hostname;
    this.xId = details.xId;
  }

  /** Worth trying again later (the service or the network had a moment), as opposed to a definite answer. */
  get transient(): boolean {
    return false;
  }
}

function composeMessage(summary: string, d: ErrorDetails): string {
  const where = d.path ? `${d.operation} ${d.path}` : d.operation;
  const status = d.status ? `HTTP ${d.status}` : 'no answer';
  const exception = d.exception ? ` ${d.exception}` : '';
  const said = d.message && d.message !== d.exception ? `: ${d.message}` : '';
  return redactSecrets(`${where}: ${summary} (${status}${exception})${said}`);
}

export class NotFoundError extends JottacloudError {}
export class AlreadyExistsError extends JottacloudError {}
/** The service refuses the name: too long (> 255 characters) or characters it cannot store. */
export class ForbiddenNameError extends JottacloudError {}
/** Any other 400: the request was malformed in the service's eyes. */
export class BadRequestError extends JottacloudError {}
/** HTTP 460 while usage ≥ capacity. */
export class QuotaExceededError extends JottacloudError {}
/** The access token was refused even after a renewal: the user has to log in again. */
export class UnauthorizedError extends JottacloudError {}
/** 403: the account may not do this (e.g. a read-only view or a locked account). */
export class AccessDeniedError extends JottacloudError {}
/** Failures worth trying again later. */
export class TransientError extends JottacloudError {
  override get transient(): boolean {
    return true;
  }
}
export class RateLimitedError extends TransientError {}
export class ServerError extends TransientError {}
/** No answer at all: connection refused/reset, DNS, timeout. */
export class NetworkError extends TransientError {}
/** 420 `IncompleteUploadOpenApiException`: the upload stopped before the last byte; the bytes so far are kept. */
export class IncompleteUploadError extends TransientError {}
/** 421 `CorruptUploadOpenApiException` (or our own check): the bytes did not match the MD5 given at allocate. */
export class CorruptUploadError extends JottacloudError {}
export class RangeNotSatisfiableError extends JottacloudError {}
/** The answer could not be understood (malformed XML/JSON, a liststream whose counts do not add up). */
export class UnexpectedResponseError extends JottacloudError {}
/** The path names a file where a folder was expected, or the other way round. */
export class WrongKindError extends JottacloudError {}
/** The caller's AbortSignal fired. */
export class AbortedError extends JottacloudError {}

// ---------------------------------------------------------------------------------------------------
// Secrets

const SECRET_KEYS = 'access_token|refresh_token|id_token|password|client_secret|auth_token|upload_token|code_verifier';
const REDACTIONS: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]'],
  [new RegExp(`\\b((?:${SECRET_KEYS})=)[^&\\s"'<]*`, 'gi'), '$1[redacted]'],
  [new RegExp(`("(?:${SECRET_KEYS})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'), '$1"[redacted]"'],
  [/(authorization["']?\s*[:=]\s*["']?)[^"'\n,}]+/gi, '$1[redacted]'],
  // A JWT anywhere (access tokens are JWTs) — whatever label it came with.
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
];

/** Removes tokens, passwords and Authorization values from a text meant for a log or an error message. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, replacement] of REDACTIONS) out = out.replace(re, replacement);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Bodies

const xmlParser = new XMLParser({ parseTagValue: false, ignoreAttributes: true, trimValues: true });

/** Simple class name from a message like `no.jotta.backup.errors.NoSuchPathException: Directory /u/x`. */
export function exceptionFromMessage(message: string): string | undefined {
  const m = /^\s*((?:[A-Za-z_$][\w$]*\.)*([A-Za-z_$][\w$]*(?:Exception|Error)))\b/.exec(message);
  return m?.[2];
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  return s === undefined || s === '' ? undefined : s;
}

function num(v: unknown): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads whichever error body the service sent; anything unreadable yields `{}` (the status still tells a lot). */
export function parseErrorBody(body: string | undefined): ServiceErrorBody {
  if (!body) return {};
  const text = body.trim();
  if (text.startsWith('<')) {
    try {
      const doc = xmlParser.parse(text) as Record<string, unknown>;
      const e = doc.error;
      if (!e || typeof e !== 'object') return {};
      const x = e as Record<string, unknown>;
      const message = str(x.message);
      return {
        code: num(x.code),
        message: message === undefined ? undefined : redactSecrets(message),
        exception: message === undefined ? undefined : exceptionFromMessage(message),
        reason: str(x.reason),
        cause: str(x.cause) === undefined ? undefined : redactSecrets(str(x.cause)!),
        hostname: str(x.hostname),
        xId: str(x['x-id']),
      };
    } catch {
      return {};
    }
  }
  if (text.startsWith('{')) {
    try {
      const j = JSON.parse(text) as Record<string, unknown>;
      if (j.error !== undefined && typeof j.error === 'string') {
        // OAuth: {"error":"invalid_grant","error_description":"…"}
        const description = str(j.error_description);
        return { exception: j.error, message: redactSecrets(description ?? j.error) };
      }
      const message = str(j.message);
      return {
        code: num(j.code),
        message: message === undefined ? undefined : redactSecrets(message),
        exception: str(j.error_id) ?? (message === undefined ? undefined : exceptionFromMessage(message)),
        cause: str(j.cause) === undefined ? undefined : redactSecrets(str(j.cause)!),
        xId: str(j['x-id']),
      };
    } catch {
      return {};
    }
  }
  return {};
}

/** Names the service uses when it refuses a name rather than a request. */
const NAME_PROBLEM = /name|character|illegal|invalid path|too long/i;

/**
 * The one table from an error answer to an error type. `quotaExceeded` says whether a 460 came while
 * usage ≥ capacity (the caller looks that up); otherwise 460 is the service under load.
 */
export function errorFromResponse(
  status: number,
  body: ServiceErrorBody,
  context: ErrorContext,
  options: { quotaExceeded?: boolean } = {},
): JottacloudError {
  const d: ErrorDetails = { ...context, ...body, status };
  const ex = body.exception ?? '';
  if (status === 420 || ex === 'IncompleteUploadOpenApiException') return new IncompleteUploadError('upload incomplete', d);
  if (status === 421 || ex === 'CorruptUploadOpenApiException') return new CorruptUploadError('uploaded bytes do not match the MD5', d);
  if (status === 401) return new UnauthorizedError('not authorised; log in again', d);
  if (status === 403) return new AccessDeniedError('access denied', d);
  if (status === 404) return new NotFoundError('not found', d);
  if (status === 409 || ex === 'UniqueFileException') return new AlreadyExistsError('already exists', d);
  if (status === 416 || ex === 'RequestedRangeNotSatisfiedException') return new RangeNotSatisfiableError('range not satisfiable', d);
  if (status === 429) return new RateLimitedError('rate limited', d);
  if (status === 460) {
    return options.quotaExceeded
      ? new QuotaExceededError('quota exceeded', d)
      : new ServerError('service overloaded', d);
  }
  if (status === 400) {
    if (ex === 'InvalidArgumentException' && NAME_PROBLEM.test(body.message ?? '')) {
      return new ForbiddenNameError('name not accepted by Jottacloud', d);
    }
    return new BadRequestError('bad request', d);
  }
  if (status >= 500) return new ServerError('server error', d);
  return new JottacloudError('unexpected answer', d);
}

/** An error for a call that got no answer. `cause` is only read, never kept (it may hold request headers). */
export function networkError(cause: unknown, context: ErrorContext): JottacloudError {
  const e = cause as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  if (e?.name === 'CanceledError' || e?.code === 'ERR_CANCELED' || e?.name === 'AbortError') {
    return new AbortedError('aborted', { ...context, status: 0 });
  }
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(cause);
  return new NetworkError('network error', {
    ...context,
    status: 0,
    exception: code,
    message: redactSecrets(message),
  });
}
