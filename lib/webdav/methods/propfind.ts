// PROPFIND (RFC 4918 §9.1) and PROPPATCH (§9.2).
// PROPFIND answers Depth 0 from one stat and Depth 1 from one listing: every property of every child is
// computed from those entries in memory. `Depth: infinity` is refused with 403 `propfind-finite-depth`
// (RFC 4918 §9.1 allows it): walking a whole Jottacloud tree for one request would take minutes on a big
// account and no client we serve needs it (rclone, davfs2, Finder and Explorer all walk with Depth 1).
// A PROPFIND without a Depth header is answered as Depth 1, not infinity: the clients that omit it
// (some mobile apps) want a folder listing, and a 403 would leave them with nothing.
// PROPPATCH is atomic and applied in document order; the times (`getlastmodified`, Win32 times, rclone's
// `lastmodified`) go to Jottacloud through storage.setTimes, everything else is a dead property.
import type { Entry, Quota, TimesPatch } from '../../storage/types.js';
import { readBody } from '../body.js';
import type { DavRequest } from '../context.js';
import type { DeadProp } from '../deadprops.js';
import { DavError, toDavError, xmlEscape } from '../errors.js';
import { ALLPROP_LIVE, QUOTA_PROPS, isLiveProperty, liveNames, liveValue, needsQuota, parsePropTime, SETTABLE_TIMES } from '../props.js';
import { childElements, clark, DAV, findChild, parseXml, propElement, serialiseContent, textOf, XML_HEADER, type XmlElement } from '../xml.js';
import { isMacMetadata } from './put.js';

type PropRequest = { kind: 'allprop'; include: Array<[string, string]> } | { kind: 'propname' } | { kind: 'prop'; names: Array<[string, string]> };

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  424: 'Failed Dependency',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

const NO_DEAD_PROPS: DeadProp[] = [];

function statusLine(code: number): string {
  return `<D:status>HTTP/1.1 ${code} ${STATUS_TEXT[code] ?? ''}</D:status>`;
}

/**
 * A client sends the same PROPFIND body with every listing (a file manager: one per folder it opens), so the
 * parsed request is kept by its text: parsing it (a namespace-aware XML parser set up per body) cost a tenth
 * of a warm 100-entry listing. Small bodies only, a bounded number of them; a PropRequest is never changed.
 */
const parsedBodies = new Map<string, PropRequest>();
const MAX_PARSED_BODIES = 64;
const MAX_REMEMBERED_BODY = 4096;

function parsePropfind(body: string): PropRequest {
  const known = parsedBodies.get(body);
  if (known) return known;
  const parsed = parsePropfindBody(body);
  if (body.length <= MAX_REMEMBERED_BODY) {
    if (parsedBodies.size >= MAX_PARSED_BODIES) parsedBodies.delete(parsedBodies.keys().next().value as string);
    parsedBodies.set(body, parsed);
  }
  return parsed;
}

function parsePropfindBody(body: string): PropRequest {
  if (!body.trim()) return { kind: 'allprop', include: [] };
  const root = parseXml(body);
  if (root.ns !== DAV || root.local !== 'propfind') throw new DavError(400, 'the PROPFIND body must be a DAV:propfind element');
  const prop = findChild(root, DAV, 'prop');
  if (findChild(root, DAV, 'propname')) return { kind: 'propname' };
  if (prop) return { kind: 'prop', names: childElements(prop).map((e) => [e.ns, e.local]) };
  const include = findChild(root, DAV, 'include');
  // `<allprop/>`, or a propfind with only unknown elements (RFC 4918 §17: ignore what you don't know)
  return { kind: 'allprop', include: include ? childElements(include).map((e) => [e.ns, e.local]) : [] };
}

export async function handlePropfind(ctx: DavRequest): Promise<void> {
  const depthHeader = ctx.header('depth')?.trim().toLowerCase();
  let depth: 0 | 1;
  if (depthHeader === undefined || depthHeader === '1') depth = 1;
  else if (depthHeader === '0') depth = 0;
  else if (depthHeader === 'infinity') {
    throw new DavError(403, 'Depth: infinity is not supported; walk the tree with Depth: 1', 'propfind-finite-depth');
  } else throw new DavError(400, 'Depth must be 0, 1 or infinity');

  const request = parsePropfind(await readBody(ctx.req));
  const entry = await ctx.stat(ctx.path);
  if (!entry || (ctx.shared.ignoreMacMetadata && isMacMetadata(ctx.path))) throw new DavError(404, `${ctx.path}: no such file or folder`);
  await ctx.checkIfHeader();

  // RFC 4918 §5.2: answer the un-slashed folder URL directly (Windows and KIO do not follow redirects)
  // and name the canonical one
  if (entry.kind === 'folder' && !ctx.trailingSlash && entry.path !== '/') ctx.res.setHeader('Content-Location', ctx.href(entry.path, true));
  const entries: Entry[] = [entry];
  if (depth === 1 && entry.kind === 'folder') {
    const children = await ctx.storage.list(entry.path, { signal: ctx.signal });
    for (const c of children) if (!(ctx.shared.ignoreMacMetadata && isMacMetadata(c.path))) entries.push(c);
  }
  const plan = planFor(request);
  // The quota is the one property value not in the entries: one (cached) storage call for the whole answer.
  const quota =
    plan.quota && entries.some((e) => e.kind === 'folder') ? await ctx.storage.quota({ signal: ctx.signal }).catch(() => undefined) : undefined;

  // The answer is encoded 64 KiB at a time as it is built: a 10,000-entry listing is some 7 MiB, and holding it
  // as pieces, then one joined string, then one Buffer tripled the memory a big PROPFIND needs at its peak.
  const chunks: Buffer[] = [];
  let pending = XML_HEADER + '<D:multistatus xmlns:D="DAV:">';
  const hrefs = new HrefMaker(ctx, entry);
  const { props } = ctx.shared;
  for (const e of entries) {
    pending += responseFor(ctx, e, hrefs.of(e), request, plan, quota, props.mayHave(e.path) ? await props.get(e.path) : NO_DEAD_PROPS);
    if (pending.length >= 64 * 1024) {
      chunks.push(Buffer.from(pending, 'utf8'));
      pending = '';
    }
  }
  chunks.push(Buffer.from(pending + '</D:multistatus>\n', 'utf8'));
  const { res } = ctx;
  res.statusCode = 207;
  res.setHeader('Content-Type', 'application/xml; charset=utf-8');
  res.setHeader('Content-Length', chunks.reduce((n, c) => n + c.length, 0));
  if (chunks.length === 1) return void res.end(chunks[0]);
  res.cork();
  for (const c of chunks) res.write(c);
  res.uncork();
  res.end();
}

/**
 * `<D:href>` elements, with the listed folder's own part encoded and escaped once: a child's href is that
 * prefix plus its encoded name (what `ctx.href` gives, without splitting and re-encoding the whole path per entry).
 */
class HrefMaker {
  private readonly prefix: string;
  private readonly parentPath: string;

  constructor(
    private readonly ctx: DavRequest,
    folder: Entry,
  ) {
    this.parentPath = folder.path === '/' ? '/' : folder.path + '/';
    this.prefix = xmlEscape(ctx.href(folder.path, true));
  }

  of(e: Entry): string {
    const isFolder = e.kind === 'folder';
    const name = e.path.startsWith(this.parentPath) ? e.path.slice(this.parentPath.length) : undefined;
    if (name === undefined || name === '' || name.includes('/')) return `<D:href>${xmlEscape(this.ctx.href(e.path, isFolder))}</D:href>`;
    return `<D:href>${this.prefix}${xmlEscape(encodeURIComponent(name))}${isFolder ? '/' : ''}</D:href>`;
  }
}

interface WantedProp {
  ns: string;
  local: string;
  key: string;
  live: boolean;
  /** `<D:x>`, `</D:x>`, `<D:x/>`: the element around a value, written the same way for every entry. */
  open: string;
  close: string;
  empty: string;
}

/** What a PROPFIND asks for, worked out once per request rather than once per entry. */
interface PropPlan {
  /** `prop`: the names asked for; `allprop`: the live properties of a file / a folder plus `include`. */
  file: WantedProp[];
  folder: WantedProp[];
  quota: boolean;
}

function wanted(names: Array<[string, string]>): WantedProp[] {
  const seen = new Set<string>();
  const out: WantedProp[] = [];
  for (const [ns, local] of names) {
    const key = clark(ns, local);
    if (seen.has(key)) continue;
    seen.add(key);
    const empty = propElement(ns, local, null);
    const sample = propElement(ns, local, '\u0000');
    const cut = sample.indexOf('\u0000');
    out.push({ ns, local, key, live: isLiveProperty(ns, local), open: sample.slice(0, cut), close: sample.slice(cut + 1), empty });
  }
  return out;
}

/** Plans of the requests kept by `parsePropfind` (a plan, like its request, is never changed). */
const plans = new WeakMap<PropRequest, PropPlan>();

function planFor(request: PropRequest): PropPlan {
  let plan = plans.get(request);
  if (!plan) {
    plan = makePlan(request);
    plans.set(request, plan);
  }
  return plan;
}

function makePlan(request: PropRequest): PropPlan {
  if (request.kind === 'propname') return { file: [], folder: [], quota: false };
  if (request.kind === 'prop') {
    const list = wanted(request.names);
    return { file: list, folder: list, quota: list.some((w) => needsQuota(w.ns, w.local)) };
  }
  // allprop also carries the quota on folders: RFC 4331 leaves it out, but clients (Node's webdav package,
  // some mobile apps) read it from a body-less PROPFIND, and it costs one cached storage call per request
  return { file: wanted([...ALLPROP_LIVE, ...request.include]), folder: wanted([...ALLPROP_LIVE, ...QUOTA_PROPS, ...request.include]), quota: true };
}

function responseFor(
  ctx: DavRequest,
  entry: Entry,
  href: string,
  request: PropRequest,
  plan: PropPlan,
  quota: Quota | undefined,
  dead: DeadProp[],
): string {
  const isFolder = entry.kind === 'folder';
  if (request.kind === 'propname') {
    const names = [...liveNames(entry), ...dead.map((d): [string, string] => [d.ns, d.local])];
    const props = names.map(([ns, l]) => propElement(ns, l, null)).join('');
    return `<D:response>${href}<D:propstat><D:prop>${props}</D:prop>${statusLine(200)}</D:propstat></D:response>`;
  }
  let found = '';
  let missing = '';
  const deadByKey = dead.length ? new Map(dead.map((d) => [clark(d.ns, d.local), d])) : undefined;
  for (const w of isFolder ? plan.folder : plan.file) {
    let value: string | undefined;
    if (w.live) {
      try {
        value = liveValue(ctx, entry, w.ns, w.local, quota);
      } catch {
        // A value that cannot be written (an invalid time) is reported missing rather than failing the listing.
        value = undefined;
      }
    } else value = deadByKey?.get(w.key)?.xml;
    if (value === undefined) {
      if (request.kind === 'prop') missing += w.empty;
    } else found += value === '' ? w.empty : w.open + value + w.close;
  }
  if (request.kind === 'allprop' && deadByKey) {
    const seen = new Set((isFolder ? plan.folder : plan.file).map((w) => w.key));
    for (const d of dead) if (!seen.has(clark(d.ns, d.local))) found += propElement(d.ns, d.local, d.xml);
  }
  let out = `<D:response>${href}`;
  if (found) out += `<D:propstat><D:prop>${found}</D:prop>${statusLine(200)}</D:propstat>`;
  if (missing) out += `<D:propstat><D:prop>${missing}</D:prop>${statusLine(404)}</D:propstat>`;
  if (!found && !missing) out += `<D:propstat><D:prop/>${statusLine(200)}</D:propstat>`;
  return `${out}</D:response>`;
}

interface PatchOp {
  set: boolean;
  el: XmlElement;
}

export async function handleProppatch(ctx: DavRequest): Promise<void> {
  ctx.assertMayWrite();
  const body = await readBody(ctx.req);
  const entry = await ctx.stat(ctx.path);
  if (!entry) throw new DavError(404, `${ctx.path}: no such file or folder`);
  await ctx.checkIfHeader();
  ctx.assertUnlocked(ctx.path);
  if (!body.trim()) throw new DavError(400, 'PROPPATCH needs a DAV:propertyupdate body');
  const root = parseXml(body);
  if (root.ns !== DAV || root.local !== 'propertyupdate') throw new DavError(400, 'the PROPPATCH body must be a DAV:propertyupdate element');
  const ops: PatchOp[] = [];
  for (const action of childElements(root)) {
    if (action.ns !== DAV || (action.local !== 'set' && action.local !== 'remove')) continue;
    const prop = findChild(action, DAV, 'prop');
    if (!prop) throw new DavError(400, `DAV:${action.local} without DAV:prop`);
    for (const el of childElements(prop)) ops.push({ set: action.local === 'set', el });
  }
  if (!ops.length) throw new DavError(400, 'PROPPATCH names no property');

  const results = await ctx.shared.props.exclusive(entry.path, async () => {
    const working = new Map<string, DeadProp>((await ctx.shared.props.get(entry.path)).map((d) => [clark(d.ns, d.local), d]));
    const results = new Map<string, { ns: string; local: string; status: number; reason?: string }>();
    const times: TimesPatch = {};
    for (const { set, el } of ops) {
      const key = clark(el.ns, el.local);
      const timeField = SETTABLE_TIMES[key];
      let status = 200;
      let reason: string | undefined;
      if (timeField) {
        if (set) {
          const when = parsePropTime(textOf(el));
          if (!when) {
            status = 409;
            reason = `${el.local}: not a date`;
          } else times[timeField] = when;
        }
      } else if (isLiveProperty(el.ns, el.local)) {
        status = 403;
        reason = `${el.local} is a protected property`;
      } else if (set) working.set(key, { ns: el.ns, local: el.local, xml: serialiseContent(el) });
      else working.delete(key);
      const prior = results.get(key);
      // the last operation on a property decides its status, unless an earlier one already failed
      if (!prior || prior.status === 200) results.set(key, { ns: el.ns, local: el.local, status, reason });
    }

    const failed = [...results.values()].some((r) => r.status !== 200);
    if (failed) {
      for (const r of results.values()) if (r.status === 200) r.status = 424;
    } else {
      try {
        if (times.modified || times.created) await ctx.storage.setTimes(entry.path, times, { signal: ctx.signal });
        await ctx.shared.props.set(entry.path, [...working.values()]);
      } catch (err) {
        const status = toDavError(err, 'props').status;
        for (const r of results.values()) r.status = SETTABLE_TIMES[clark(r.ns, r.local)] ? status : 424;
      }
    }
    return results;
  });
  const byStatus = new Map<number, { props: string[]; reasons: string[] }>();
  for (const r of results.values()) {
    const group = byStatus.get(r.status) ?? { props: [], reasons: [] };
    group.props.push(propElement(r.ns, r.local, null));
    if (r.reason) group.reasons.push(r.reason);
    byStatus.set(r.status, group);
  }
  let out = `${XML_HEADER}<D:multistatus xmlns:D="DAV:"><D:response><D:href>${xmlEscape(ctx.href(entry.path, entry.kind === 'folder'))}</D:href>`;
  for (const [status, { props, reasons }] of byStatus) {
    const why = reasons.length ? `<D:responsedescription>${xmlEscape(reasons.join('; '))}</D:responsedescription>` : '';
    out += `<D:propstat><D:prop>${props.join('')}</D:prop>${statusLine(status)}${why}</D:propstat>`;
  }
  out += '</D:response></D:multistatus>\n';
  ctx.res.statusCode = 207;
  ctx.res.setHeader('Content-Type', 'application/xml; charset=utf-8');
  ctx.res.setHeader('Content-Length', Buffer.byteLength(out));
  ctx.res.end(out);
}
