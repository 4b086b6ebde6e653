// Every path this client sends to Jottacloud is built here, and nowhere else: the percent-encoding of
// name segments, and the three spellings of one location the service wants in different places:
//   JFS URL path        <user>/<device>/<mountpoint>/<a>/<b>       (below endpoints.jfs)
//   allocate `path`     /jfs/<device>/<mountpoint>/<a>/<b>         (JSON body; no user name)
//   mv/cp/mvDir target  /<user>/<device>/<mountpoint>/<a>/<b>      (a query value, itself encoded)
//
// Names arriving here are *already mapped* by the storage layer (`" * :` etc. → look-alikes); this file
// only encodes them for the wire, and rejects what cannot be a JFS name segment at all.

/**
 * A path below a mountpoint, in one of two forms:
 * - a `/`-joined string (`'a/b c/d.txt'`): leading, trailing and doubled slashes are ignored, so `''` and `'/'`
 *   are the mountpoint itself. No other character is special: `%` is a literal percent sign, never an escape.
 *   Segments `.` and `..` are refused, not resolved.
 * - an array of name segments (`['a', 'b c', 'd.txt']`): used as given; no segment may be empty, `.`, `..`
 *   or contain `/` (JFS names cannot).
 */
export type RemotePath = string | readonly string[];

/** A path somewhere in the account: a device and mountpoint (the client's defaults when omitted) and a path below it. */
export interface RemoteLocation {
  device?: string;
  mountpoint?: string;
  path: RemotePath;
}

/** Either form: plain paths are taken relative to the client's default device and mountpoint. */
export type PathArg = RemotePath | RemoteLocation;

/** A fully resolved location. */
export interface Location {
  readonly device: string;
  readonly mountpoint: string;
  readonly segments: readonly string[];
}

/** Raised (synchronously, before anything is sent) for a path that no JFS request could name. */
export class InvalidPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPathError';
  }
}

/** Splits the string form; validates the array form. */
export function toSegments(path: RemotePath): string[] {
  const segments = typeof path === 'string' ? path.split('/').filter((s) => s !== '') : [...path];
  for (const s of segments) checkSegment(s);
  return segments;
}

function checkSegment(segment: string): void {
  if (segment === '' || segment === '.' || segment === '..' || segment.includes('/')) {
    throw new InvalidPathError(`not a valid Jottacloud name: ${JSON.stringify(segment)}`);
  }
}

export function isLocation(p: PathArg): p is RemoteLocation {
  return typeof p === 'object' && !Array.isArray(p) && 'path' in p;
}

export function resolveLocation(p: PathArg, defaults: { device: string; mountpoint: string }): Location {
  if (isLocation(p)) {
    const device = p.device ?? defaults.device;
    const mountpoint = p.mountpoint ?? defaults.mountpoint;
    checkSegment(device);
    checkSegment(mountpoint);
    return { device, mountpoint, segments: toSegments(p.path) };
  }
  return { device: defaults.device, mountpoint: defaults.mountpoint, segments: toSegments(p as RemotePath) };
}

/** The user-visible spelling of a location, for error messages: `/<device>/<mountpoint>/a/b`. */
export function displayPath(loc: Location): string {
  return '/' + [loc.device, loc.mountpoint, ...loc.segments].join('/');
}

/** Same location one level up (the mountpoint root is its own parent). */
export function parentOf(loc: Location): Location {
  return { ...loc, segments: loc.segments.slice(0, -1) };
}

// encodeURIComponent leaves `! ' ( ) *` alone (they are "unreserved marks" in the old RFC 2396).
// RFC 3986 counts them as reserved sub-delims, and the service decodes paths with its own rules, so
// they are escaped too. The notorious ones — `+` (read as a space by the service unless sent as %2B;
// rclone issue #2531), `#` and `;` (cut the path; rclone #2750) — encodeURIComponent already escapes.
const EXTRA_RESERVED = /[!'()*]/g;

/** Percent-encodes one name segment (UTF-8), escaping every RFC 3986 reserved character, `/` included. */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    EXTRA_RESERVED,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** `<user>/<device>/<mountpoint>/<a>/<b>`, each segment encoded, relative to `endpoints.jfs`. */
export function jfsUrlPath(user: string, loc: Location): string {
  return [user, loc.device, loc.mountpoint, ...loc.segments].map(encodeSegment).join('/');
}

/** `<user>` or `<user>/<device>`, for the account and device documents. */
export function jfsAccountPath(user: string, device?: string): string {
  return device === undefined ? encodeSegment(user) : `${encodeSegment(user)}/${encodeSegment(device)}`;
}

/** The unencoded `path` field of an allocate request: `/jfs/<device>/<mountpoint>/…`, no user name. */
export function allocatePath(loc: Location): string {
  return '/' + ['jfs', loc.device, loc.mountpoint, ...loc.segments].join('/');
}

/** The unencoded target of `mv`, `mvDir` and `cp`: `/<user>/<device>/<mountpoint>/…` (no `/jfs`). */
export function moveTarget(user: string, loc: Location): string {
  return '/' + [user, loc.device, loc.mountpoint, ...loc.segments].join('/');
}

/** Encodes a query value with the same rules as a path segment (`/` becomes %2F, space %20, `+` %2B). */
export function encodeQueryValue(value: string): string {
  return encodeSegment(value);
}

/** Builds `?k=v&k2=v2` with every key and value encoded; undefined values are left out. */
export function queryString(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${encodeSegment(k)}=${encodeQueryValue(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** A resolved location as a path argument again. */
export function locationArg(loc: Location): RemoteLocation {
  return { device: loc.device, mountpoint: loc.mountpoint, path: loc.segments };
}
