// Every failure the emulator answers, as one typed error, and the two ways the service writes it:
// JFS answers an XML `<error>` (code, message starting with the Java exception name, reason, cause, hostname, x-id);
// the JSON API answers `{"code","message","cause","error_id","x-id"}`. Exception names follow the wire samples.
import { randomInt } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { document, el, parent } from './xml.js';

const REASONS: Record<number, string> = {
  420: 'Incomplete Upload',
  421: 'Corrupt Upload',
  460: 'Over Quota',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? STATUS_CODES[status] ?? 'Unknown';
}

/** 12 decimal digits with leading zeros, like the service's tracing ids. */
export function newXId(): string {
  return String(randomInt(0, 1e12)).padStart(12, '0');
}

const PKG = 'no.jotta.backup.errors.';

export class EmuError extends Error {
  constructor(
    readonly status: number,
    /** Fully qualified Java exception name, e.g. `no.jotta.backup.errors.NoSuchFileException`. */
    readonly exception: string,
    readonly detail?: string,
    /** The JSON body's `code` when it is not the HTTP status (the service does that for quota). */
    readonly jsonCode?: number,
  ) {
    super(detail ? `${exception}: ${detail}` : exception);
  }

  get simpleName(): string {
    return this.exception.slice(this.exception.lastIndexOf('.') + 1);
  }

  toXml(hostname: string): string {
    return document(
      parent('error', [
        el('code', this.status),
        el('message', this.message),
        el('reason', reasonPhrase(this.status)),
        el('cause', ''),
        el('hostname', hostname),
        el('x-id', newXId()),
      ]),
    );
  }

  toJson(): string {
    return JSON.stringify({
      code: this.jsonCode ?? this.status,
      message: this.message,
      cause: '',
      error_id: this.simpleName,
      'x-id': newXId(),
    });
  }
}

export const errors = {
  noSuchFile: (detail: string) => new EmuError(404, PKG + 'NoSuchFileException', detail),
  noSuchPath: (detail: string) => new EmuError(404, PKG + 'NoSuchPathException', detail),
  noSuchMountPoint: (detail?: string) => new EmuError(404, PKG + 'NoSuchMountPointException', detail),
  noSuchDevice: (detail?: string) => new EmuError(404, PKG + 'NoSuchDeviceException', detail),
  invalidArgument: (detail: string) => new EmuError(400, PKG + 'InvalidArgumentException', detail),
  nameTooLong: () => new EmuError(400, PKG + 'InvalidArgumentException', 'JFS file names may not be longer than 255 characters'),
  badCredentials: () =>
    new EmuError(401, 'org.springframework.security.authentication.BadCredentialsException', 'Bad credentials'),
  accessDenied: (detail: string) => new EmuError(403, 'org.springframework.security.access.AccessDeniedException', detail),
  uniqueFile: (detail: string) => new EmuError(409, PKG + 'UniqueFileException', detail),
  rangeNotSatisfiable: (detail: string) => new EmuError(416, PKG + 'RequestedRangeNotSatisfiedException', detail),
  incompleteUpload: (detail: string) => new EmuError(420, 'no.jotta.openapi.IncompleteUploadOpenApiException', detail),
  corruptUpload: (detail: string) => new EmuError(421, 'no.jotta.openapi.CorruptUploadOpenApiException', detail),
  // Out of quota: the service says next to nothing (jotta-cli showed "Error 0: UNKNOWN"); only the status tells.
  overQuota: () => new EmuError(460, 'UNKNOWN', undefined, 0),
  // What the service answers a POST with no command it knows (seen for `?restore=true`).
  noCommand: () =>
    new EmuError(500, PKG + 'JfsException', "POST Request is missing multipart content or don't dont have any command parameters"),
  injected: (status: number) => new EmuError(status, PKG + 'ServiceUnavailableException', `injected fault (HTTP ${status})`),
  notFound: (detail: string) => new EmuError(404, 'org.springframework.web.servlet.NoHandlerFoundException', detail),
};
