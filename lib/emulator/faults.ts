// Fault injection: the `--faults` grammar, its parser, and the decision per request.
//
// A spec is a list of items separated by `;` or `,`. Each *action* item starts a rule; the *modifier* items after it
// narrow that rule. A bare number right after `status=` adds another status to that rule.
//   actions    status=CODE[,CODE…]   answer with this status (XML error on JFS, JSON on the API); several → picked in turn
//              cut-upload=BYTES|P%   drop the connection of an upload after BYTES (or P % of the file) arrived in that request
//              delay=MS              hold the answer back MS milliseconds
//              drop                  close the connection without an answer
//              expire-tokens         every access token issued so far expires (then 401)
//              revoke-refresh        every refresh token issued so far is revoked (then invalid_grant)
//   modifiers  every=N   only every N-th matching request      rate=P   only with probability P (0..1)
//              path=P    only paths starting with P            method=M only this HTTP method
//              after=N   skip the first N matching requests    count=N  fire at most N times
//              for=D     only for D after the spec was set (`60s`, `500ms`, `2m`; a bare number = seconds)
//              idle=D    only requests on a reused connection that sat idle at least D since its last answer
//                        (`drop;idle=2s`: a server whose idle timer closes the connection as the request arrives)
// Token actions fire once (on the next request) unless every/rate/count/for says otherwise.
// Examples: `status=503;every=10` · `status=429,500;rate=0.3;path=/jfs/;for=60s` · `cut-upload=50%;count=1` ·
// `expire-tokens` · `status=500,count=2;cut-upload=1048576`. Admin routes (`/__emulator/…`) are never affected.

type Action = 'status' | 'cut-upload' | 'delay' | 'drop' | 'expire-tokens' | 'revoke-refresh';
const ACTIONS = new Set<string>(['status', 'cut-upload', 'delay', 'drop', 'expire-tokens', 'revoke-refresh']);
const MODIFIERS = new Set<string>(['every', 'rate', 'path', 'method', 'after', 'count', 'for', 'idle']);

export interface FaultRule {
  action: Action;
  statuses?: number[];
  cutBytes?: number;
  cutPercent?: number;
  delayMs?: number;
  every?: number;
  rate?: number;
  path?: string;
  method?: string;
  after?: number;
  count?: number;
  forMs?: number;
  idleMs?: number;
}

export class FaultSpecError extends Error {}

function int(key: string, v: string | undefined, min = 0): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new FaultSpecError(`${key} needs a whole number ≥ ${min}, got "${v ?? ''}"`);
  return Number(v);
}

function duration(key: string, v: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v ?? '');
  if (!m) throw new FaultSpecError(`${key} needs a duration like 60s, 500ms or 2m, got "${v ?? ''}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] as number;
  return Number(m[1]) * unit;
}

export function parseFaults(spec: string): FaultRule[] {
  const rules: FaultRule[] = [];
  let last: FaultRule | undefined;
  let lastKey = '';
  for (const raw of spec.split(/[;,]/)) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : item.slice(eq + 1).trim();
    if (/^\d{3}$/.test(item) && last?.action === 'status' && lastKey === 'status') {
      last.statuses?.push(Number(item));
      continue;
    }
    lastKey = key;
    if (ACTIONS.has(key)) {
      last = { action: key as Action };
      rules.push(last);
      switch (key) {
        case 'status': {
          const code = int('status', value, 100);
          if (code > 999) throw new FaultSpecError(`status must be a 3-digit HTTP status, got ${code}`);
          last.statuses = [code];
          break;
        }
        case 'cut-upload':
          if (value?.endsWith('%')) {
            const p = Number(value.slice(0, -1));
            if (!Number.isFinite(p) || p < 0 || p > 100) throw new FaultSpecError(`cut-upload percent must be 0..100, got "${value}"`);
            last.cutPercent = p;
          } else last.cutBytes = int('cut-upload', value);
          break;
        case 'delay':
          last.delayMs = int('delay', value);
          break;
        default:
          if (value !== undefined) throw new FaultSpecError(`${key} takes no value`);
      }
      continue;
    }
    if (!MODIFIERS.has(key)) throw new FaultSpecError(`unknown fault item "${key}" (actions: ${[...ACTIONS].join(', ')})`);
    if (!last) throw new FaultSpecError(`"${key}" must follow an action such as status=503`);
    switch (key) {
      case 'every':
        last.every = int('every', value, 1);
        break;
      case 'rate': {
        const r = Number(value);
        if (value === undefined || !Number.isFinite(r) || r < 0 || r > 1) throw new FaultSpecError(`rate must be 0..1, got "${value ?? ''}"`);
        last.rate = r;
        break;
      }
      case 'path':
        if (!value) throw new FaultSpecError('path needs a prefix, e.g. path=/jfs/');
        last.path = value;
        break;
      case 'method':
        if (!value) throw new FaultSpecError('method needs a value, e.g. method=POST');
        last.method = value.toUpperCase();
        break;
      case 'after':
        last.after = int('after', value);
        break;
      case 'count':
        last.count = int('count', value, 1);
        break;
      case 'for':
        last.forMs = duration('for', value);
        break;
      case 'idle':
        last.idleMs = duration('idle', value);
        break;
    }
  }
  for (const r of rules) {
    const tokenAction = r.action === 'expire-tokens' || r.action === 'revoke-refresh';
    if (tokenAction && r.count === undefined && r.every === undefined && r.rate === undefined && r.forMs === undefined) r.count = 1;
  }
  return rules;
}

interface LiveRule extends FaultRule {
  seen: number;
  fired: number;
  setAt: number;
}

export interface FaultDecision {
  status?: number;
  delayMs: number;
  drop: boolean;
  expireTokens: boolean;
  revokeRefresh: boolean;
}

const UPLOAD_PATH = '/files/v1/upload/';

export class Faults {
  private rules: LiveRule[] = [];

  constructor(spec?: string) {
    this.set(spec);
  }

  /** Replaces the active rules (undefined or empty clears them). Throws FaultSpecError on a bad spec. */
  set(spec: string | undefined): void {
    const setAt = Date.now();
    this.rules = spec ? parseFaults(spec).map((r) => ({ ...r, seen: 0, fired: 0, setAt })) : [];
  }

  describe(): FaultRule[] {
    return this.rules.map(({ seen: _s, fired: _f, setAt: _a, ...r }) => r);
  }

  /** `idleMs`: how long the request's connection sat idle since its previous answer; undefined on a new one. */
  private fires(r: LiveRule, method: string, path: string, idleMs?: number): boolean {
    if (r.forMs !== undefined && Date.now() - r.setAt > r.forMs) return false;
    if (r.idleMs !== undefined && (idleMs === undefined || idleMs < r.idleMs)) return false;
    if (r.path && !path.startsWith(r.path)) return false;
    if (r.method && r.method !== method) return false;
    if (r.count !== undefined && r.fired >= r.count) return false;
    r.seen++;
    if (r.after !== undefined && r.seen <= r.after) return false;
    const n = r.seen - (r.after ?? 0);
    if (r.every !== undefined && n % r.every !== 0) return false;
    if (r.rate !== undefined && Math.random() >= r.rate) return false;
    r.fired++;
    return true;
  }

  /** What to do to this request (everything but cut-upload). */
  onRequest(method: string, path: string, idleMs?: number): FaultDecision {
    const d: FaultDecision = { delayMs: 0, drop: false, expireTokens: false, revokeRefresh: false };
    for (const r of this.rules) {
      if (r.action === 'cut-upload') continue;
      if (!this.fires(r, method, path, idleMs)) continue;
      switch (r.action) {
        case 'status':
          if (d.status === undefined) {
            const list = r.statuses ?? [500];
            d.status = list[(r.fired - 1) % list.length];
          }
          break;
        case 'delay':
          d.delayMs += r.delayMs ?? 0;
          break;
        case 'drop':
          d.drop = true;
          break;
        case 'expire-tokens':
          d.expireTokens = true;
          break;
        case 'revoke-refresh':
          d.revokeRefresh = true;
          break;
      }
    }
    return d;
  }

  /** For an upload request: after how many body bytes to drop the connection, if at all. */
  cutAfter(method: string, path: string, totalBytes: number): number | undefined {
    if (!path.startsWith(UPLOAD_PATH)) return undefined;
    for (const r of this.rules) {
      if (r.action !== 'cut-upload' || !this.fires(r, method, path)) continue;
      return r.cutBytes ?? Math.floor((totalBytes * (r.cutPercent ?? 0)) / 100);
    }
    return undefined;
  }
}
