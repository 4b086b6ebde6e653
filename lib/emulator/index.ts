// The emulator's public face: `startEmulator(options)` opens the account (memory or data folder), wires the auth
// part and the HTTP server, listens, and returns a handle that tests, benchmarks and the CLI drive.
import { renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type AuthOptions, EmulatorAuth } from './auth.js';
import { EmulatorCore } from './core.js';
import { type AuthService, EmulatorServer } from './server.js';

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 18080; 0 = an ephemeral port. */
  port?: number;
  /** Keep the account here across restarts; undefined = in memory. */
  dataDir?: string;
  /** Default 'jottadav-user'. */
  user?: string;
  /** Added to every request, in milliseconds. */
  latencyMs?: number;
  /** Body bytes per second per request, both ways; 0 = unlimited. */
  bandwidth?: number;
  /** Fault injection spec (grammar in faults.ts / README.md). */
  faults?: string;
  accessTokenLifetimeSec?: number;
  /** Default 5 TiB; -1 = unlimited. */
  capacityBytes?: number;
  log?: (line: string) => void;
  /** More auth settings (legacy password, OTP, e-mail, clock) passed on to EmulatorAuth. */
  auth?: Omit<AuthOptions, 'user' | 'dataDir' | 'accessTokenLifetimeSec'>;
}

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  user: string;
  dataDir?: string;
  auth: EmulatorAuth;
  mintLoginToken(): string;
  /** Same grammar as --faults; undefined clears. Throws on a bad spec. */
  setFaults(spec: string | undefined): void;
  /** Request counts per route since start (or the last reset). */
  /** Requests and answered body bytes per route since the start or the last reset. */
  stats(): { total: number; routes: Record<string, number>; bytesOut: Record<string, number> };
  resetStats(): void;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 18080;
export const DEFAULT_USER = 'jottadav-user';
export const DEFAULT_CAPACITY = 5 * 1024 ** 4;

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const user = opts.user ?? DEFAULT_USER;
  const log = opts.log ?? (() => undefined);
  const core = await EmulatorCore.open({
    user,
    dataDir: opts.dataDir,
    capacityBytes: opts.capacityBytes ?? DEFAULT_CAPACITY,
    bandwidth: opts.bandwidth ?? 0,
    log,
  });
  const auth = new EmulatorAuth({ ...opts.auth, user, accessTokenLifetimeSec: opts.accessTokenLifetimeSec, dataDir: opts.dataDir });
  // With a data folder, the newest login token also goes to DATA/login-token (0600), for scripts such as the MITM harness.
  const mint = (): string => {
    const token = auth.mintLoginToken();
    if (opts.dataDir) writeSecret(join(opts.dataDir, 'login-token'), token + '\n');
    return token;
  };
  const server = new EmulatorServer(core, { ...bindAuth(auth), mintLoginToken: mint }, { latencyMs: opts.latencyMs ?? 0, log }, opts.faults);
  try {
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(opts.port ?? DEFAULT_PORT, host, () => {
        server.http.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    core.close();
    throw e;
  }
  const port = (server.http.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    user,
    dataDir: opts.dataDir,
    auth,
    mintLoginToken: mint,
    setFaults: (spec) => server.faults.set(spec),
    stats: () => server.stats(),
    resetStats: () => server.resetStats(),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.http.close(() => resolve());
        server.http.closeAllConnections();
      }).then(() => core.close())),
  };
}

function bindAuth(auth: EmulatorAuth): AuthService {
  return {
    handle: (req, res, url, origin) => auth.handle(req, res, url, origin),
    authenticate: (h) => auth.authenticate(h),
    mintLoginToken: () => auth.mintLoginToken(),
    expireAccessTokens: () => auth.expireAccessTokens(),
    revokeRefreshTokens: () => auth.revokeRefreshTokens(),
    currentOtp: () => auth.currentOtp(),
  };
}

/** Atomic write with mode 0600 (temp file + rename): the file holds a secret. */
function writeSecret(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
