// From the API client's errors to storage errors: the one table that decides what a failed Jottacloud
// call means for the user's operation. Messages keep the user's path; the client has already redacted
// anything secret from the service's own words.
import {
  AbortedError,
  AccessDeniedError,
  AlreadyExistsError,
  CorruptUploadError,
  ForbiddenNameError,
  InvalidPathError,
  JottacloudError,
  NotFoundError,
  QuotaExceededError,
  UnauthorizedError,
  WrongKindError,
} from '../jottacloud/index.js';
import {
  Aborted,
  AlreadyExists,
  BackendError,
  ChecksumMismatch,
  InvalidName,
  LoginRequired,
  NotFound,
  QuotaExceeded,
  ReadOnly,
  StorageError,
  Transient,
} from './types.js';

export function fromBackend(err: unknown, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const cause = { cause: err };
  if (err instanceof InvalidPathError) return new InvalidName(path, err.message, cause);
  if (!(err instanceof JottacloudError)) {
    if (isAbort(err)) return new Aborted(path, cause);
    const msg = err instanceof Error ? err.message : String(err);
    return new BackendError(path, msg, cause);
  }
  if (err instanceof AbortedError) return new Aborted(path, cause);
  if (err instanceof NotFoundError) return new NotFound(path, cause);
  if (err instanceof AlreadyExistsError) return new AlreadyExists(path, undefined, cause);
  if (err instanceof ForbiddenNameError) return new InvalidName(path, err.serviceMessage ?? 'Jottacloud does not accept this name', cause);
  if (err instanceof QuotaExceededError) return new QuotaExceeded(path, cause);
  if (err instanceof UnauthorizedError) return new LoginRequired(path, cause);
  if (err instanceof AccessDeniedError) return new ReadOnly(path, 'Jottacloud refused the change (access denied)', cause);
  if (err instanceof CorruptUploadError) return new ChecksumMismatch(path, 'the uploaded bytes do not match their MD5', cause);
  if (err instanceof WrongKindError) return new NotFound(path, cause);
  if (err.transient) return new Transient(path, err.message, cause);
  return new BackendError(path, err.message, cause);
}

export function isAbort(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | undefined;
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR' || err instanceof AbortedError;
}

/** True when the failure leaves the state on the service unknown (the request may or may not have taken effect). */
export function outcomeUnknown(err: unknown): boolean {
  return err instanceof JottacloudError ? err.transient || err.status === 0 : !(err instanceof StorageError);
}
