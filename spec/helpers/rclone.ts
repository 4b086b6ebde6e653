// Runs Debian's real rclone Jottacloud backend against one of our emulators, through the MITM proxy in
// ../shared/tools/mitm: rclone believes it talks to https://*.jottacloud.com. Each harness has its own
// state folder and proxy port, so suites can run side by side; close() stops the proxy.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isListening } from './net.js';
import { sharedDir } from './tools.js';

export interface RcloneResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RcloneMitm {
  /** Folder with certs, rclone.conf and proxy.log. */
  dir: string;
  confPath: string;
  /** Runs `rclone ARGS` (remote name `jotta:`); resolves with the exit code, never rejects on a non-zero one. */
  run(args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RcloneResult>;
  /** Like run, but rejects with rclone's stderr when it exits non-zero. */
  ok(args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string>;
  /** The token rclone currently holds in its config (after its own refreshes). */
  token(): { access_token: string; refresh_token: string; expiry: string };
  close(): Promise<void>;
}

/** A port nothing listens on right now (for programs that cannot take port 0). */
function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RcloneResult> {
  return new Promise((res, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n(killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * Starts a MITM proxy towards `emulatorUrl` and configures rclone with `loginToken` exactly as a user
 * would (rclone's own wizard, standard auth) on the first run.
 */
export async function startRcloneMitm(emulatorUrl: string, loginToken: string): Promise<RcloneMitm> {
  const mitm = join(sharedDir(), 'tools', 'mitm');
  const dir = mkdtempSync(join(tmpdir(), 'jottadav-rclone-'));
  const port = await freePort();
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    MITM_DIR: dir,
    MITM_PORT: String(port),
    MITM_TARGET: emulatorUrl,
    JOTTA_LOGIN_TOKEN: loginToken,
  };
  const ca = await exec('bash', [join(mitm, 'ca.sh'), dir], baseEnv, 60_000);
  if (ca.code !== 0) throw new Error(`ca.sh failed: ${ca.stderr}`);
  const proxy: ChildProcess = spawn(process.execPath, [join(mitm, 'proxy.mjs')], { env: baseEnv, stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await isListening(port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await isListening(port))) throw new Error('the MITM proxy did not start');
  const confPath = join(dir, 'rclone.conf');

  const run: RcloneMitm['run'] = (args, options = {}) =>
    exec('bash', [join(mitm, 'rclone-jotta.sh'), ...args], { ...baseEnv, ...options.env }, options.timeoutMs ?? 300_000);

  return {
    dir,
    confPath,
    run,
    async ok(args, options) {
      const r = await run(args, options);
      if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-2000)}`);
      return r.stdout;
    },
    token() {
      const line = readFileSync(confPath, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('token = '));
      if (!line) throw new Error('rclone.conf holds no token');
      return JSON.parse(line.slice('token = '.length)) as { access_token: string; refresh_token: string; expiry: string };
    },
    async close() {
      if (proxy.exitCode === null) {
        const exited = new Promise((r) => proxy.once('exit', r));
        proxy.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
