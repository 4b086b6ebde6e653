// Password checks for the server's users: the hash formats an operator can put in config or an htpasswd file
// (bcrypt, Apache APR1, {SHA}), the plain password of `--user/--pass`, and the Digest HA1 values. Every
// comparison of secret-derived bytes goes through `safeEqual` so timing says nothing about how much matched.
import bcrypt from 'bcryptjs';
import apacheMd5 from 'apache-md5';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Constant-time equality of two strings (unequal lengths are compared over hashes, so they take the same time). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export type HashKind = 'bcrypt' | 'apr1' | 'sha1';

export function hashKind(hash: string): HashKind | null {
  if (/^\$2[aby]\$\d\d\$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('{SHA}')) return 'sha1';
  return null;
}

/** Checks `password` against a stored hash. Unknown formats (e.g. crypt(3) DES) never match. */
export async function verifyHash(password: string, hash: string): Promise<boolean> {
  switch (hashKind(hash)) {
    case 'bcrypt':
      // htpasswd writes $2y$, which bcryptjs reads as the same algorithm under the name $2b$.
      return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
    case 'apr1':
      return safeEqual(apacheMd5(password, hash), hash);
    case 'sha1':
      return safeEqual(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash);
    default:
      return false;
  }
}

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export function digestHash(algorithm: DigestAlgorithm, text: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(text, 'utf8').digest('hex');
}

/** HA1 = H(user:realm:password) (RFC 7616 §3.4.2), as htdigest stores it for MD5. */
export function digestHa1(algorithm: DigestAlgorithm, user: string, realm: string, password: string): string {
  return digestHash(algorithm, `${user}:${realm}:${password}`);
}

/**
 * A bcrypt hash of a random password, checked when the user name is unknown so that a wrong user name costs
 * the same time as a wrong password (no user enumeration by timing).
 */
let decoy: string | undefined;
export function decoyHash(): string {
  decoy ??= bcrypt.hashSync(randomBytes(16).toString('hex'), 10);
  return decoy;
}
