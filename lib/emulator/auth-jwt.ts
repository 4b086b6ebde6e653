// Emulator auth: JWT-shaped tokens signed RS256 like Keycloak's, and the realm's public key as a
// JWKS. Clients decode the payload (exp, sub, username); the signature lets the emulator tell its
// own refresh tokens from forged ones without keeping every token it ever issued.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

export type JwtPayload = Record<string, unknown>;

export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export class SigningKey {
  readonly kid: string;
  private readonly publicKey: KeyObject;

  constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey);
    const der = this.publicKey.export({ type: 'spki', format: 'der' });
    this.kid = base64url(createHash('sha256').update(der).digest());
  }

  static fromPem(pem: string): SigningKey {
    return new SigningKey(createPrivateKey(pem));
  }

  toPem(): string {
    return this.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  sign(payload: JwtPayload): string {
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: this.kid }));
    const body = base64url(JSON.stringify(payload));
    const signature = sign('sha256', Buffer.from(`${header}.${body}`), this.privateKey);
    return `${header}.${body}.${base64url(signature)}`;
  }

  /** The payload of a token this key signed, or null for anything else. */
  verify(token: string): JwtPayload | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [header, body, signature] = parts as [string, string, string];
    let ok = false;
    try {
      ok = verify('sha256', Buffer.from(`${header}.${body}`), this.publicKey, Buffer.from(signature, 'base64url'));
    } catch {
      return null;
    }
    if (!ok) return null;
    try {
      const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      return payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as JwtPayload) : null;
    } catch {
      return null;
    }
  }

  /** The realm's `certs` answer (RFC 7517 key set), as Keycloak publishes it at `jwks_uri`. */
  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return { keys: [{ kid: this.kid, kty: 'RSA', alg: 'RS256', use: 'sig', n: jwk.n, e: jwk.e }] };
  }
}

let processKey: SigningKey | undefined;

/**
 * A fresh RSA key takes a noticeable fraction of a second to make, and every test starts an emulator;
 * so one key per process serves every emulator that has no key of its own on disk yet. Tokens stay
 * private to their emulator anyway: each one only accepts tokens it has on record.
 */
export function newSigningKey(): SigningKey {
  processKey ??= new SigningKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
  return processKey;
}
