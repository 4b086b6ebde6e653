// RFC 4918 §10.4 `If:` headers: parsing (tagged and untagged lists, `Not`, state tokens, `[etag]`s) and
// evaluation. webdav-server's own parser takes the process down on an untagged list; this one answers a
// malformed header with 400 and never throws anything else.
import { DavError } from './errors.js';

export interface IfCondition {
  not: boolean;
  /** A state token (`opaquelocktoken:…`, `DAV:no-lock`, any Coded-URL). */
  token?: string;
  /** An entity tag as written, quotes included (`"abc"` or `W/"abc"`). */
  etag?: string;
}

export interface IfList {
  /** The tagged resource (absolute URL or path, still encoded); absent for untagged lists (= request URI). */
  resource?: string;
  conditions: IfCondition[];
}

/** What evaluation needs to know about one resource. */
export interface ResourceState {
  /** Current strong ETag (quoted), absent for a missing resource or one without a validator. */
  etag?: string;
  /** Tokens of the locks that cover the resource. */
  lockTokens: string[];
}

export function parseIfHeader(header: string): IfList[] {
  const lists: IfList[] = [];
  let i = 0;
  let currentTag: string | undefined;
  const fail = (why: string): never => {
    throw new DavError(400, `malformed If header: ${why}`);
  };
  const skipSpace = () => {
    // commas appear when a client (or a proxy) joined two If headers into one
    while (i < header.length && /[\s,]/.test(header[i] as string)) i++;
  };
  skipSpace();
  if (i >= header.length) fail('empty');
  while (i < header.length) {
    const c = header[i];
    if (c === '<') {
      const end = header.indexOf('>', i);
      if (end < 0) fail('unterminated resource tag');
      currentTag = header.slice(i + 1, end);
      if (!currentTag) fail('empty resource tag');
      i = end + 1;
      skipSpace();
      if (header[i] !== '(') fail('a resource tag must be followed by a list');
      continue;
    }
    if (c !== '(') fail(`unexpected character '${c}'`);
    i++;
    const conditions: IfCondition[] = [];
    while (true) {
      skipSpace();
      if (i >= header.length) fail('unterminated list');
      if (header[i] === ')') {
        i++;
        break;
      }
      let not = false;
      if (header.slice(i, i + 3).toLowerCase() === 'not' && /[\s<[]/.test(header[i + 3] ?? '')) {
        not = true;
        i += 3;
        skipSpace();
      }
      if (header[i] === '<') {
        const end = header.indexOf('>', i);
        if (end < 0) fail('unterminated state token');
        const token = header.slice(i + 1, end);
        if (!token) fail('empty state token');
        conditions.push({ not, token });
        i = end + 1;
      } else if (header[i] === '[') {
        const end = header.indexOf(']', i);
        if (end < 0) fail('unterminated entity tag');
        const etag = header.slice(i + 1, end).trim();
        if (!/^(W\/)?"[^"]*"$/.test(etag)) fail('entity tags must be quoted');
        conditions.push({ not, etag });
        i = end + 1;
      } else {
        fail('a condition must be a <state-token> or an [entity-tag]');
      }
    }
    if (conditions.length === 0) fail('empty list');
    lists.push({ resource: currentTag, conditions });
    skipSpace();
  }
  return lists;
}

/** Tokens the client submitted (RFC 4918 §10.4.1: any state token named positively in the header). */
export function submittedTokens(lists: IfList[]): Set<string> {
  const out = new Set<string>();
  for (const list of lists) for (const c of list.conditions) if (c.token && !c.not) out.add(c.token);
  return out;
}

function strongMatch(a: string, b: string): boolean {
  return !a.startsWith('W/') && !b.startsWith('W/') && a === b;
}

/**
 * True when any list matches: every condition of the list holds for its resource. `stateOf` is asked for
 * the request URI (undefined) or a tagged resource.
 */
export async function evaluateIf(
  lists: IfList[],
  stateOf: (resource: string | undefined) => Promise<ResourceState>,
): Promise<boolean> {
  const cache = new Map<string, Promise<ResourceState>>();
  const state = (resource: string | undefined) => {
    const key = resource ?? '';
    let p = cache.get(key);
    if (!p) {
      p = stateOf(resource);
      cache.set(key, p);
    }
    return p;
  };
  for (const list of lists) {
    const s = await state(list.resource);
    const holds = list.conditions.every((c) => {
      let result: boolean;
      if (c.token !== undefined) result = s.lockTokens.includes(c.token);
      else result = s.etag !== undefined && strongMatch(s.etag, c.etag as string);
      return c.not ? !result : result;
    });
    if (holds) return true;
  }
  return false;
}
