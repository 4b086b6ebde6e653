// A small RFC 7616 Digest client for the specs: reads a challenge, answers it for one request.
import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: string;
  qop: string;
  stale: boolean;
}

/** The Digest challenges in a 401's `WWW-Authenticate` (fetch joins several headers with ", "). */
export function digestChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  for (const part of header.split(/(?=Digest )|(?=Basic )/)) {
    if (!part.startsWith('Digest ')) continue;
    const params = new Map<string, string>();
    for (const m of part.matchAll(/([a-z]+)=(?:"([^"]*)"|([^,\s]*))/gi)) params.set(m[1].toLowerCase(), m[2] ?? m[3]);
    out.push({
      realm: params.get('realm') ?? '',
      nonce: params.get('nonce') ?? '',
      opaque: params.get('opaque'),
      algorithm: params.get('algorithm') ?? 'MD5',
      qop: params.get('qop') ?? '',
      stale: params.get('stale') === 'true',
    });
  }
  return out;
}

export function digestAuthorization(
  ch: Challenge,
  o: { user: string; password: string; method: string; uri: string; nc?: number; cnonce?: string; algorithm?: string },
): string {
  const algorithm = o.algorithm ?? ch.algorithm;
  const hashName = algorithm.toUpperCase().startsWith('SHA-256') ? 'sha256' : 'md5';
  const h = (s: string) => createHash(hashName).update(s).digest('hex');
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
  let ha1 = h(`${o.user}:${ch.realm}:${o.password}`);
  if (algorithm.toLowerCase().endsWith('-sess')) ha1 = h(`${ha1}:${ch.nonce}:${cnonce}`);
  const response = h(`${ha1}:${ch.nonce}:${nc}:${cnonce}:auth:${h(`${o.method}:${o.uri}`)}`);
  return (
    `Digest username="${o.user}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${o.uri}", algorithm=${algorithm}, ` +
    `response="${response}", qop=auth, nc=${nc}, cnonce="${cnonce}"${ch.opaque ? `, opaque="${ch.opaque}"` : ''}`
  );
}
