// The page a person sees when they open the share in a web browser: a folder listing with breadcrumbs, sizes,
// dates, download links, the quota, and (for users who may write) forms to upload files and make a folder.
// No JavaScript at all, a strict Content-Security-Policy, and form posts guarded by a per-user token, since
// the browser re-sends Basic/Digest credentials to any page that posts to us (CSRF). WebDAV clients never get
// here: only GET/HEAD from a browser (a `Mozilla/` user agent asking for HTML) and the forms' POSTs do.
import busboy from 'busboy';
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path/posix';
import type { Entry, Quota, StorageProvider } from '../storage/types.js';
import { decodeRequestPath, hrefFor, joinPath } from '../webdav/paths.js';
import { toDavError } from '../webdav/errors.js';
import type { AuthenticatedUser } from './auth/index.js';
import { safeEqual } from './auth/passwords.js';

/** User agents of WebDAV clients that also claim `Mozilla/` or accept HTML; they get WebDAV answers, never the page. */
const davClients = /WebDAVFS|Microsoft-WebDAV|MiniRedir|DavClnt|davfs2|neon\/|gvfs|KIO|rclone|litmus|cadaver|WebDAVLib|Cyberduck|Mountain ?Duck/i;

export function isBrowser(req: IncomingMessage): boolean {
  const ua = req.headers['user-agent'] ?? '';
  const accept = req.headers.accept ?? '';
  return ua.startsWith('Mozilla/') && !davClients.test(ua) && /\btext\/html\b/.test(accept);
}

export interface BrowserOptions {
  storage: StorageProvider;
  basePath: string;
  /** Whether the connection is HTTPS (decides HSTS). */
  tls: boolean;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

function shortDate(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Sets the security headers of every browser-page answer. `nonce` admits the page's one inline style sheet. */
function securityHeaders(res: ServerResponse, nonce: string, tls: boolean): void {
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
  res.setHeader('Cache-Control', 'no-store');
  if (tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
}

const css = `
:root{color-scheme:light dark;--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#fff;--accent:#2f5bd3;--row:#f6f8fb}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8ee;--muted:#98a2b3;--line:#2d3340;--bg:#14171e;--accent:#7fa2ff;--row:#1b1f28}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:.9rem 1.5rem;border-bottom:1px solid var(--line)}
header .brand{font-weight:700;letter-spacing:.02em}header .who{color:var(--muted);font-size:.9em}
main{max-width:60rem;margin:0 auto;padding:1rem 1.5rem 3rem}
nav.crumbs{font-size:1.1em;margin:.5rem 0 1rem;word-break:break-all}nav.crumbs a{color:var(--accent);text-decoration:none}
nav.crumbs span.sep{color:var(--muted);margin:0 .35em}
.quota{display:flex;align-items:center;gap:.75rem;color:var(--muted);font-size:.9em;margin-bottom:1rem}
.quota meter{flex:1;max-width:20rem;height:1rem}
table{width:100%;border-collapse:collapse}th{text-align:left;color:var(--muted);font-weight:600;font-size:.85em;border-bottom:1px solid var(--line);padding:.4rem .5rem}
td{padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:middle}tr:hover td{background:var(--row)}
td.size,th.size{text-align:right;white-space:nowrap}td.date{white-space:nowrap;color:var(--muted);font-size:.9em}
td a{color:var(--fg);text-decoration:none}td a:hover{color:var(--accent);text-decoration:underline}
.icon{width:1.15em;height:1.15em;vertical-align:-.2em;margin-right:.5em}
.fold{fill:#f4b63f}.doc{fill:var(--bg);stroke:var(--muted);stroke-width:1.3}.docfold{fill:none;stroke:var(--muted);stroke-width:1.3}
.up{fill:none;stroke:var(--muted);stroke-width:1.6;stroke-linecap:round;stroke-linejoin:round}.empty{color:var(--muted);padding:1.5rem .5rem}
.actions{display:flex;flex-wrap:wrap;gap:1.5rem;margin-top:1.5rem;padding-top:1rem;border-top:1px solid var(--line)}
.actions form{display:flex;gap:.5rem;align-items:center}
.actions input[type=text]{padding:.35rem .5rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
button{padding:.35rem .9rem;border:0;border-radius:6px;background:var(--accent);color:#fff;font:inherit;cursor:pointer}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;background:var(--row);border:1px solid var(--line);font-size:.8em}
.error{padding:1rem;border:1px solid #d92d20;border-radius:8px}
`;

// Inline SVG (part of the document, so the CSP needs no image source; emoji fonts are missing on many servers).
const svg = (body: string) => `<svg class="icon" viewBox="0 0 20 20" aria-hidden="true">${body}</svg>`;
const icons = {
  folder: svg('<path d="M2 5.5A1.5 1.5 0 0 1 3.5 4h4l2 2h7A1.5 1.5 0 0 1 18 7.5v7a1.5 1.5 0 0 1-1.5 1.5h-13A1.5 1.5 0 0 1 2 14.5z" class="fold"/>'),
  file: svg('<path d="M5 2.5h6.5L15.5 6.5v11H5z" class="doc"/><path d="M11.5 2.5v4h4" class="docfold"/>'),
  up: svg('<path d="M8 5 3.5 9.5 8 14M4 9.5h8.5a4 4 0 0 1 4 4V16" class="up"/>'),
};

/** Jottacloud keeps no time for folders; the storage layer reports those as the epoch. */
function dateCell(d: Date): string {
  if (d.getTime() <= 0) return '<td class="date">—</td>';
  return `<td class="date"><time datetime="${d.toISOString()}">${shortDate(d)}</time></td>`;
}

function page(res: ServerResponse, status: number, title: string, body: string, user: AuthenticatedUser | null, tls: boolean, method = 'GET'): void {
  const nonce = randomBytes(16).toString('base64');
  securityHeaders(res, nonce, tls);
  const who = user ? `${escapeHtml(user.name)}${user.readOnly ? ' <span class="badge">read-only</span>' : ''}` : 'anonymous <span class="badge">read-only</span>';
  const html =
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(title)} · jottadav</title><style nonce="${nonce}">${css}</style></head>` +
    `<body><header><span class="brand">jottadav</span><span class="who">${who}</span></header><main>${body}</main></body></html>\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(html));
  res.end(method === 'HEAD' ? undefined : html);
}

function breadcrumbs(path: string, basePath: string): string {
  const parts = path.split('/').filter(Boolean);
  const crumbs = [`<a href="${escapeHtml(hrefFor('/', true, basePath))}">Home</a>`];
  let current = '/';
  for (const name of parts) {
    current = joinPath(current, name);
    crumbs.push(`<a href="${escapeHtml(hrefFor(current, true, basePath))}">${escapeHtml(name)}</a>`);
  }
  return `<nav class="crumbs" aria-label="Breadcrumbs">${crumbs.join('<span class="sep">/</span>')}</nav>`;
}

function quotaBar(q: Quota | null): string {
  if (!q) return '';
  if (q.total === null) return `<div class="quota"><span>${humanSize(q.used)} used · unlimited storage</span></div>`;
  return (
    `<div class="quota"><meter min="0" max="${q.total}" value="${Math.min(q.used, q.total)}" high="${Math.round(q.total * 0.9)}"` +
    ` optimum="0" title="storage used"></meter><span>${humanSize(q.used)} of ${humanSize(q.total)} used` +
    `${q.available !== null ? ` · ${humanSize(q.available)} free` : ''}</span></div>`
  );
}

/** The token a form must send back: tied to the user, unguessable without the server's key. */
export class FormTokens {
  private readonly key = randomBytes(32);
  tokenFor(user: AuthenticatedUser | null): string {
    return createHmac('sha256', this.key).update(user?.name ?? '\0anonymous').digest('base64url');
  }
  check(user: AuthenticatedUser | null, token: string | undefined): boolean {
    return typeof token === 'string' && safeEqual(token, this.tokenFor(user));
  }
}

export class BrowserPage {
  private readonly tokens = new FormTokens();
  constructor(private readonly opts: BrowserOptions) {}

  private storagePath(req: IncomingMessage): string | null {
    try {
      return decodeRequestPath(req.url ?? '/', this.opts.basePath)?.path ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Serves a browser's GET/HEAD of a folder. Resolves false (nothing sent) when the target is not a folder
   * we can show — a file download or a 404 is the WebDAV layer's answer.
   */
  async serveFolder(req: IncomingMessage, res: ServerResponse, user: AuthenticatedUser | null): Promise<boolean> {
    const path = this.storagePath(req);
    if (path === null) return false;
    let folder: Entry;
    try {
      folder = await this.opts.storage.stat(path);
    } catch {
      return false;
    }
    if (folder.kind !== 'folder') return false;
    let entries: Entry[];
    let quota: Quota | null = null;
    try {
      [entries, quota] = await Promise.all([this.opts.storage.list(folder.path), this.opts.storage.quota().catch(() => null)]);
    } catch (err) {
      this.error(res, err, user, path, req.method);
      return true;
    }
    const { basePath } = this.opts;
    entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' }) : a.kind === 'folder' ? -1 : 1));
    const rows = entries.map((e) => {
      const href = escapeHtml(hrefFor(e.path, e.kind === 'folder', basePath));
      const name = escapeHtml(e.name);
      if (e.kind === 'folder') {
        return `<tr><td>${icons.folder}<a href="${href}">${name}/</a></td><td class="size">—</td>${dateCell(e.modified)}</tr>`;
      }
      return (
        `<tr><td>${icons.file}<a href="${href}" download="${name}">${name}</a></td>` +
        `<td class="size" title="${e.size} bytes">${humanSize(e.size)}</td>${dateCell(e.modified)}</tr>`
      );
    });
    const parent =
      folder.path === '/'
        ? ''
        : `<tr><td>${icons.up}<a href="${escapeHtml(hrefFor(folder.path.slice(0, folder.path.lastIndexOf('/')) || '/', true, basePath))}">Parent folder</a></td><td class="size"></td><td class="date"></td></tr>`;
    const table =
      rows.length || parent
        ? `<table><thead><tr><th>Name</th><th class="size">Size</th><th>Modified</th></tr></thead><tbody>${parent}${rows.join('')}</tbody></table>` +
          (rows.length ? '' : '<p class="empty">This folder is empty.</p>')
        : '<p class="empty">This folder is empty.</p>';
    const here = escapeHtml(hrefFor(folder.path, true, basePath));
    const token = escapeHtml(this.tokens.tokenFor(user));
    const forms =
      user && !user.readOnly
        ? `<section class="actions">` +
          `<form method="post" action="${here}" enctype="multipart/form-data"><input type="hidden" name="token" value="${token}">` +
          `<input type="file" name="file" multiple required aria-label="Files to upload"><button type="submit">Upload</button></form>` +
          `<form method="post" action="${here}"><input type="hidden" name="token" value="${token}">` +
          `<input type="text" name="folder" placeholder="New folder name" required maxlength="255" aria-label="New folder name"><button type="submit">Create folder</button></form>` +
          `</section>`
        : '';
    const title = folder.path === '/' ? 'Home' : folder.name;
    page(res, 200, title, `${breadcrumbs(folder.path, basePath)}${quotaBar(quota)}${table}${forms}`, user, this.opts.tls, req.method);
    return true;
  }

  private error(res: ServerResponse, err: unknown, user: AuthenticatedUser | null, back: string, method = 'GET'): void {
    const dav = toDavError(err, 'write');
    this.refuse(res, dav.status === 499 ? 400 : dav.status, dav.message, user, back, method);
  }

  private refuse(res: ServerResponse, status: number, message: string, user: AuthenticatedUser | null, back = '/', method = 'GET'): void {
    const link = escapeHtml(hrefFor(back, true, this.opts.basePath));
    page(res, status, 'Error', `<p class="error">${escapeHtml(message.split('\n')[0])}</p><p><a href="${link}">Back to the folder</a></p>`, user, this.opts.tls, method);
  }

  /** The forms' POST: an upload (multipart) or a new folder (urlencoded), then 303 back to the folder. */
  async handlePost(req: IncomingMessage, res: ServerResponse, user: AuthenticatedUser | null): Promise<void> {
    const folder = this.storagePath(req);
    if (folder === null) return this.refuse(res, 404, 'No such folder.', user);
    if (!user || user.readOnly) return this.refuse(res, 403, 'You may not change anything here.', user, folder);
    // Browsers say where a form came from; a post from another site is refused even with a token.
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return this.refuse(res, 403, 'Cross-site form posts are refused.', user, folder);
    const type = req.headers['content-type'] ?? '';
    try {
      if (type.startsWith('multipart/form-data')) await this.upload(req, folder, user);
      else if (type.startsWith('application/x-www-form-urlencoded')) await this.mkdir(req, folder, user);
      else return this.refuse(res, 415, 'Unsupported form encoding.', user, folder);
    } catch (err) {
      if (err instanceof FormRefusal) return this.refuse(res, err.status, err.message, user, folder);
      return this.error(res, err, user, folder);
    }
    res.statusCode = 303;
    res.setHeader('Location', hrefFor(folder, true, this.opts.basePath));
    res.setHeader('Cache-Control', 'no-store');
    res.end();
  }

  private async mkdir(req: IncomingMessage, folder: string, user: AuthenticatedUser): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 8192) throw new FormRefusal(413, 'Form too large.');
      chunks.push(chunk);
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (!this.tokens.check(user, form.get('token') ?? undefined)) throw new FormRefusal(403, 'The form has expired; reload the page and try again.');
    const name = (form.get('folder') ?? '').trim();
    if (!name || name === '.' || name === '..' || /[/\\]/.test(name)) throw new FormRefusal(400, 'A folder name must not be empty or contain / or \\.');
    await this.opts.storage.mkdir(joinPath(folder, name));
  }

  private upload(req: IncomingMessage, folder: string, user: AuthenticatedUser): Promise<void> {
    return new Promise((resolve, reject) => {
      let parser: busboy.Busboy;
      try {
        parser = busboy({ headers: req.headers, limits: { fields: 5, fieldSize: 1024, files: 1000 } });
      } catch {
        reject(new FormRefusal(400, 'Malformed upload form.'));
        return;
      }
      let tokenOk = false;
      let failed: unknown = null;
      const writes: Promise<unknown>[] = [];
      const abort = new AbortController();
      req.once('close', () => {
        if (!req.complete) abort.abort();
      });
      parser.on('field', (name, value) => {
        if (name === 'token') tokenOk = this.tokens.check(user, value);
      });
      parser.on('file', (_field, stream, info) => {
        // The page puts the token before the file input, so it has arrived by now unless the post is forged.
        const name = basename((info.filename ?? '').replace(/\\/g, '/'));
        if (failed || !tokenOk || !name) {
          if (!tokenOk) failed ??= new FormRefusal(403, 'The form has expired; reload the page and try again.');
          stream.resume();
          return;
        }
        const write = this.opts.storage.write(joinPath(folder, name), stream, { signal: abort.signal }).catch((err: unknown) => {
          failed ??= err;
          stream.resume();
        });
        writes.push(write);
      });
      parser.on('error', (err: unknown) => {
        failed ??= new FormRefusal(400, `Malformed upload form (${err instanceof Error ? err.message : 'unreadable'}).`);
        req.unpipe(parser);
        req.resume();
        void Promise.allSettled(writes).then(() => reject(failed));
      });
      parser.on('close', () => {
        void Promise.allSettled(writes).then(() => (failed ? reject(failed) : resolve()));
      });
      req.pipe(parser);
    });
  }
}

class FormRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
