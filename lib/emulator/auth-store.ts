// Emulator auth: the state behind every token — sessions (one per login, each with exactly one live
// refresh token), live access tokens, unused personal login tokens and registered legacy clients —
// and its persistence in <dataDir>/auth.json (0600, written atomically). Tokens are kept only as
// SHA-256 hashes, so the file never holds a usable credential except the token-signing key.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, chmodSync, unlinkSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SigningKey, newSigningKey } from './auth-jwt.js';

/**
 * Why a session stopped working; the refresh answer differs by reason (see auth-tokens.ts).
 * `reused`: a spent refresh token came back, so the whole token family was killed;
 * `replaced`: a newer browser login of the same desktop client took over (one session per client);
 * `revoked`: revoked from outside (the web UI's "log out device", or the emulator's test hook);
 * `logged-out`: the client itself ended it at the logout or revocation endpoint.
 */
export type SessionState = 'active' | 'reused' | 'replaced' | 'revoked' | 'logged-out';

export interface SessionRecord {
  kind: 'oidc' | 'legacy';
  realm: string; // '' for legacy sessions
  clientId: string;
  scope: string;
  offline: boolean;
  refreshHash: string;
  refreshExpMs: number;
  authTimeSec: number;
  state: SessionState;
  updatedMs: number;
}

export interface AccessRecord {
  sid: string;
  expMs: number;
}

export interface LegacyClientRecord {
  secretHash: string;
  deviceId: string;
  registeredMs: number;
}

interface AuthFile {
  version: 1;
  signingKey: string;
  sessions: Record<string, SessionRecord>;
  accessTokens: Record<string, AccessRecord>;
  loginTokens: string[];
  legacyClients: Record<string, LegacyClientRecord>;
}

export const AUTH_FILE = 'auth.json';
/** Ended sessions are remembered this long so a late refresh still gets the precise error. */
const ENDED_SESSION_RETENTION_MS = 30 * 24 * 3600 * 1000;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class AuthStore {
  readonly key: SigningKey;
  readonly sessions = new Map<string, SessionRecord>();
  readonly accessTokens = new Map<string, AccessRecord>();
  readonly loginTokens = new Set<string>();
  readonly legacyClients = new Map<string, LegacyClientRecord>();
  private readonly file: string | undefined;

  constructor(dataDir: string | undefined) {
    this.file = dataDir === undefined ? undefined : join(dataDir, AUTH_FILE);
    const saved = this.file === undefined ? undefined : readAuthFile(this.file);
    if (!saved) {
      this.key = newSigningKey();
      if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      this.save(Date.now());
      return;
    }
    this.key = SigningKey.fromPem(saved.signingKey);
    for (const [k, v] of Object.entries(saved.sessions)) this.sessions.set(k, v);
    for (const [k, v] of Object.entries(saved.accessTokens)) this.accessTokens.set(k, v);
    for (const h of saved.loginTokens) this.loginTokens.add(h);
    for (const [k, v] of Object.entries(saved.legacyClients)) this.legacyClients.set(k, v);
    // An older or hand-copied file may be readable by others; it holds the signing key.
    chmodSync(this.file!, 0o600);
  }

  /**
   * Drops what can no longer matter, then writes the state (when persistent) before the caller
   * answers: a client that got a rotated refresh token must find it valid after an emulator restart.
   */
  save(nowMs: number): void {
    for (const [h, rec] of this.accessTokens) if (rec.expMs <= nowMs) this.accessTokens.delete(h);
    for (const [sid, s] of this.sessions) {
      const endedLongAgo = s.state !== 'active' && nowMs - s.updatedMs > ENDED_SESSION_RETENTION_MS;
      const expiredLongAgo = nowMs - s.refreshExpMs > ENDED_SESSION_RETENTION_MS;
      if (endedLongAgo || expiredLongAgo) this.sessions.delete(sid);
    }
    if (this.file === undefined) return;
    const state: AuthFile = {
      version: 1,
      signingKey: this.key.toPem(),
      sessions: Object.fromEntries(this.sessions),
      accessTokens: Object.fromEntries(this.accessTokens),
      loginTokens: [...this.loginTokens],
      legacyClients: Object.fromEntries(this.legacyClients),
    };
    writeAtomically(this.file, `${JSON.stringify(state, null, 1)}\n`);
  }
}

function readAuthFile(file: string): AuthFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the emulator's auth state ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the emulator's auth state ${file} is not valid JSON; remove it to start with no sessions`);
  }
  const f = parsed as Partial<AuthFile> | null;
  const isRecord = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (
    !f ||
    f.version !== 1 ||
    typeof f.signingKey !== 'string' ||
    !isRecord(f.sessions) ||
    !isRecord(f.accessTokens) ||
    !Array.isArray(f.loginTokens) ||
    !isRecord(f.legacyClients)
  ) {
    throw new Error(`the emulator's auth state ${file} has an unknown layout; remove it to start with no sessions`);
  }
  return f as AuthFile;
}

/** temp file (0600) → write → fsync → rename, so a crash leaves either the old or the new state. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
}
