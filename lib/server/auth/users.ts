// Who may log in: the single `--user/--pass` user (as `rclone serve webdav` has it), users from config with
// password hashes, and the lines of an htpasswd/htdigest file. It answers two questions — "is this the
// password of NAME?" (Basic) and "what is NAME's HA1 for this algorithm?" (Digest) — and never keeps a plain
// password except the one given on the command line, which Digest needs.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerConfig } from '../../config/schema.js';
import { decoyHash, digestHa1, hashKind, safeEqual, verifyHash, type DigestAlgorithm } from './passwords.js';

export interface AuthenticatedUser {
  name: string;
  readOnly: boolean;
}

interface UserRecord {
  name: string;
  readOnly: boolean;
  /** Only the command-line user has one. */
  plainPassword?: string;
  passwordHash?: string;
  ha1: Partial<Record<DigestAlgorithm, string>>;
}

export interface CommandLineUser {
  name: string;
  password: string;
}

/** Windows sends `DOMAIN\user` (and sometimes `user@domain` stays as typed): the user is the part after the backslash. */
export function stripDomain(name: string): string {
  const i = name.lastIndexOf('\\');
  return i >= 0 ? name.slice(i + 1) : name;
}

export class UserDirectory {
  private readonly users = new Map<string, UserRecord>();
  /**
   * Successful Basic checks, keyed by an HMAC of name and password under a per-process key: bcrypt costs
   * ~100 ms and Finder sends hundreds of requests, so each credential pair is hashed once per few minutes. The
   * plain password never becomes a key, and a changed password misses the cache.
   */
  private readonly verified = new Map<string, number>();
  private readonly cacheKey = randomBytes(32);
  private static readonly cacheMs = 5 * 60_000;

  constructor(
    readonly realm: string,
    private readonly globalReadOnly = false,
  ) {}

  static fromConfig(server: ServerConfig, cliUser?: CommandLineUser): UserDirectory {
    const dir = new UserDirectory(server.auth.realm, server.readOnly);
    for (const u of server.users) {
      dir.add({
        name: u.name,
        readOnly: u.readOnly,
        passwordHash: u.passwordHash,
        ha1: { MD5: u.digestHa1?.toLowerCase(), 'SHA-256': u.digestHa1Sha256?.toLowerCase() },
      });
    }
    if (server.htpasswd) dir.loadHtpasswd(readFileSync(server.htpasswd, 'utf8'), server.htpasswd);
    if (server.htdigest) dir.loadHtdigest(readFileSync(server.htdigest, 'utf8'), server.htdigest);
    if (cliUser) dir.addPlain(cliUser.name, cliUser.password);
    return dir;
  }

  get size(): number {
    return this.users.size;
  }

  names(): string[] {
    return [...this.users.keys()];
  }

  /** The command-line user: the plain password makes both Basic and Digest (MD5, SHA-256) possible. */
  addPlain(name: string, password: string, readOnly = false): void {
    this.add({ name, readOnly, plainPassword: password, ha1: {} });
  }

  private add(record: UserRecord): void {
    const existing = this.users.get(record.name);
    if (existing) {
      // The same name in two sources (config and htdigest, say) is one user with what each source knows.
      existing.passwordHash ??= record.passwordHash;
      existing.plainPassword ??= record.plainPassword;
      existing.readOnly ||= record.readOnly;
      for (const [alg, v] of Object.entries(record.ha1) as [DigestAlgorithm, string | undefined][]) if (v) existing.ha1[alg] ??= v;
      return;
    }
    this.users.set(record.name, record);
  }

  /** `name:hash` lines; blank lines and `#` comments skipped; formats other than bcrypt/APR1/{SHA} refused at start. */
  loadHtpasswd(text: string, source = 'htpasswd file'): void {
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim() || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      const name = line.slice(0, colon);
      const hash = line.slice(colon + 1).trim();
      if (colon <= 0 || !hashKind(hash)) {
        throw new Error(`${source} line ${i + 1}: expected NAME:HASH with a bcrypt, APR1 or {SHA} hash (crypt and plain text are not accepted)`);
      }
      this.add({ name, readOnly: false, passwordHash: hash, ha1: {} });
    });
  }

  /** `name:realm:md5hex` lines as Apache's htdigest writes them; lines for other realms are ignored. */
  loadHtdigest(text: string, source = 'htdigest file'): void {
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim() || line.startsWith('#')) return;
      const m = /^([^:]+):([^:]*):([0-9a-fA-F]{32})\s*$/.exec(line);
      if (!m) throw new Error(`${source} line ${i + 1}: expected NAME:REALM:MD5HEX`);
      if (m[2] !== this.realm) return;
      this.add({ name: m[1], readOnly: false, ha1: { MD5: m[3].toLowerCase() } });
    });
  }

  private publicUser(record: UserRecord): AuthenticatedUser {
    return { name: record.name, readOnly: record.readOnly || this.globalReadOnly };
  }

  /** Basic: the user when `password` is theirs, else null. Same cost for unknown names as for wrong passwords. */
  async verifyPassword(rawName: string, password: string): Promise<AuthenticatedUser | null> {
    const name = stripDomain(rawName);
    const record = this.users.get(name);
    const key = createHmac('sha256', this.cacheKey).update(`${name}\0${password}`).digest('base64');
    const until = this.verified.get(key);
    if (record && until !== undefined && until > Date.now()) return this.publicUser(record);

    let ok = false;
    if (!record) {
      await verifyHash(password, decoyHash());
    } else if (record.plainPassword !== undefined) {
      ok = safeEqual(password, record.plainPassword);
    } else if (record.passwordHash) {
      ok = await verifyHash(password, record.passwordHash);
    } else if (record.ha1.MD5 || record.ha1['SHA-256']) {
      // A Digest-only user can still log in with Basic: HA1 is a hash of the password.
      const alg: DigestAlgorithm = record.ha1.MD5 ? 'MD5' : 'SHA-256';
      ok = safeEqual(digestHa1(alg, name, this.realm, password), record.ha1[alg] ?? '');
    }
    if (!record || !ok) return null;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, Date.now() + UserDirectory.cacheMs);
    return this.publicUser(record);
  }

  /** Digest: HA1 of `name` for `algorithm`, or null when this user cannot use Digest with it. */
  digestCredentials(rawName: string, algorithm: DigestAlgorithm): { user: AuthenticatedUser; ha1: string } | null {
    const name = stripDomain(rawName);
    const record = this.users.get(name);
    if (!record) return null;
    // HA1 covers the name as the client sent it, domain and all.
    const ha1 = record.plainPassword !== undefined ? digestHa1(algorithm, rawName, this.realm, record.plainPassword) : record.ha1[algorithm];
    return ha1 ? { user: this.publicUser(record), ha1 } : null;
  }

  /** True when some user can answer a Digest challenge with `algorithm` (so it is worth offering). */
  offersDigest(algorithm: DigestAlgorithm): boolean {
    for (const r of this.users.values()) if (r.plainPassword !== undefined || r.ha1[algorithm]) return true;
    return false;
  }
}
