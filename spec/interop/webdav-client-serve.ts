// Starts `jottadav serve` as its own process for the WebDAV client interop suites (litmus, cadaver,
// davfs2, rclone's webdav backend, Node's webdav client): no account configured, so it serves the embedded
// emulator, on an ephemeral port with a known user. The suites check its PID is alive after each step.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/tools.js';

export interface ServeProcess {
  /** The share URL, ending in `/`. */
  url: string;
  origin: string;
  port: number;
  user: string;
  pass: string;
  pid: number;
  dir: string;
  /** True while the process runs. */
  alive(): boolean;
  /** Everything it printed (stdout and stderr). */
  output(): string;
  close(): Promise<void>;
}

export async function startServe(opts: { basePath?: string; args?: string[] } = {}): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'jottadav-serve-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, '{}\n', { mode: 0o600 });
  const user = 'alice';
  const pass = `pw-${Math.random().toString(36).slice(2)}`;
  const args = [join(repoRoot, 'dist', 'lib', 'cli.js'), 'serve', '--config', config, '--port', '0', '--no-metrics'];
  if (opts.basePath) args.push('--base-path', opts.basePath);
  args.push(...(opts.args ?? []));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, JOTTADAV_USER: user, JOTTADAV_PASS: pass, TMPDIR: dir };
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jottadav serve did not start within 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = /WebDAV: (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stdout?.on('data', check);
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`jottadav serve exited early:\n${out}`));
    });
  });
  const parsed = new URL(url);
  return {
    url: url.endsWith('/') ? url : `${url}/`,
    origin: parsed.origin,
    port: Number(parsed.port),
    user,
    pass,
    pid: child.pid as number,
    dir,
    alive: () => !exited && child.exitCode === null,
    output: () => out,
    async close() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs an external client to completion, collecting stdout and stderr; killed after `timeoutMs`. */
export function runTool(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {},
): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
    child.stdin?.end(opts.stdin ?? '');
  });
}
