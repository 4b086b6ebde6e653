// The one place where request URLs become storage paths and storage paths become hrefs. Everything the
// WebDAV layer hands to storage went through `decodeRequestPath`, so `..`, encoded separators, bad percent
// escapes and control characters are refused here once, and can never reach (or escape) the share root.
import { DavError } from './errors.js';

export interface RequestPath {
  /** The user path handed to storage: `/`-separated, starting at `/`, no trailing slash (root is `/`). */
  path: string;
  /** The URL ended in `/` (a hint that the client means a collection; never required, never redirected). */
  trailingSlash: boolean;
}

/** Normalises a configured base path to `''` (the whole server) or `/dav` (no trailing slash). */
export function normaliseBasePath(basePath: string | undefined): string {
  const trimmed = (basePath ?? '/').replace(/\/+$/, '');
  if (trimmed !== '' && !trimmed.startsWith('/')) return `/${trimmed}`;
  return trimmed;
}

// Segments whose raw (still encoded) form hides a separator: `a%2Fb` must not become two segments, and
// `%5C` is a separator on the Windows clients that sent it.
const encodedSeparator = /%(2f|5c)/i;
// C0 controls and DEL have no business in a file name and would only confuse logs and the service.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

/**
 * The storage path a request URL (`req.url`: path plus optional query) addresses, or `null` when the URL
 * lies outside `basePath` (the caller answers 404 for those). Throws `DavError(400)` for URLs that could be
 * read two ways.
 */
export function decodeRequestPath(rawUrl: string, basePath: string): RequestPath | null {
  if (rawUrl.includes('#')) throw new DavError(400, 'a request URL must not contain a fragment (#)');
  let pathname = rawUrl;
  const query = pathname.indexOf('?');
  if (query >= 0) pathname = pathname.slice(0, query);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathname)) {
    // absolute-form request target (proxies, some clients): keep the path only
    const slash = pathname.indexOf('/', pathname.indexOf('//') + 2);
    pathname = slash < 0 ? '/' : pathname.slice(slash);
  }
  if (!pathname.startsWith('/')) throw new DavError(400, 'the request path must start with /');
  const base = normaliseBasePath(basePath);
  if (base) {
    const lowerPath = pathname.toLowerCase();
    const lowerBase = base.toLowerCase();
    if (lowerPath === lowerBase) pathname = '/';
    else if (lowerPath.startsWith(`${lowerBase}/`)) pathname = pathname.slice(base.length);
    else return null;
  }
  const trailingSlash = pathname.length > 1 && pathname.endsWith('/');
  const segments: string[] = [];
  for (const raw of pathname.split('/')) {
    if (raw === '') continue;
    if (encodedSeparator.test(raw)) throw new DavError(400, 'encoded path separators (%2F, %5C) are not allowed in names');
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw new DavError(400, `malformed percent-encoding in path segment "${raw}"`);
    }
    if (segment === '.') continue;
    if (segment === '..') throw new DavError(400, 'path segments ".." are not allowed');
    if (controlChars.test(segment)) throw new DavError(400, 'control characters are not allowed in names');
    if (segment.includes('/') || segment.includes('\\')) {
      throw new DavError(400, 'path separators are not allowed inside a name');
    }
    segments.push(segment);
  }
  return { path: segments.length ? `/${segments.join('/')}` : '/', trailingSlash };
}

/**
 * The storage path named by a `Destination` header (absolute URL or absolute path). A destination on
 * another host, or outside the share, is answered 502 as RFC 4918 §9.8.4 suggests (we cannot copy there).
 */
export function decodeDestination(header: string | undefined, requestHost: string | undefined, basePath: string): string {
  if (!header) throw new DavError(400, 'the Destination header is missing');
  let url: URL;
  try {
    url = new URL(header, `http://${requestHost || 'localhost'}`);
  } catch {
    throw new DavError(400, 'the Destination header is not a valid URL');
  }
  if (requestHost && header.includes('://') && url.host.toLowerCase() !== hostOnly(requestHost, url.protocol)) {
    throw new DavError(502, 'the Destination is on another server');
  }
  const decoded = decodeRequestPath(url.pathname, basePath);
  if (!decoded) throw new DavError(502, 'the Destination lies outside this share');
  return decoded.path;
}

// URL normalises away a default port; compare the Host header the same way.
function hostOnly(host: string, protocol: string): string {
  const lower = host.toLowerCase();
  if (protocol === 'http:' && lower.endsWith(':80')) return lower.slice(0, -3);
  if (protocol === 'https:' && lower.endsWith(':443')) return lower.slice(0, -4);
  return lower;
}

/** The href for a storage path: base path + percent-encoded segments, collections ending in `/`. */
export function hrefFor(path: string, isFolder: boolean, basePath: string): string {
  const base = normaliseBasePath(basePath);
  const encoded = path
    .split('/')
    .filter(Boolean)
    .map((s) => encodeURIComponent(s))
    .join('/');
  const joined = `${base}/${encoded}`;
  return isFolder && !joined.endsWith('/') ? `${joined}/` : joined;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/**
 * The key a path is remembered under in the lock and property stores. Jottacloud folds case, so `/A.txt`
 * and `/a.txt` are one resource; NFC keeps a decomposed and a composed `é` together too.
 */
export function pathKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/** True when `path` is `ancestor` or lies below it (compared as keys). */
export function isWithin(path: string, ancestor: string): boolean {
  const p = pathKey(path);
  const a = pathKey(ancestor);
  if (a === '/') return true;
  return p === a || p.startsWith(`${a}/`);
}
