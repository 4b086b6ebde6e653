// External tools the interop suites drive (rclone, litmus, cadaver, …). On a developer's machine a
// missing tool skips its suite with a message saying what to install; under CI (CI=true) it fails
// loudly instead, because .ci/run installs every one of them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function hasTool(name: string, versionArg = '--version'): boolean {
  const r = spawnSync(name, [versionArg], { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined;
}

/** Call in a `before` hook: skips the suite (or fails it under CI) when `name` is not installed. */
export function requireTool(ctx: Mocha.Context, name: string, debianPackage = name, versionArg?: string): void {
  if (hasTool(name, versionArg)) return;
  const msg = `${name} is not installed (Debian package ${debianPackage}; .ci/run installs it)`;
  if (process.env.CI) throw new Error(msg);
  console.log(`      skipped: ${msg}`);
  ctx.skip();
}

/** The repository root (dist/spec/helpers → three levels up). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** `../shared` beside the checkout, as on developers' machines and in CI; SHARED_TOOLS_DIR overrides (not a JOTTADAV_ name: those are config keys). */
export function sharedDir(): string {
  const dir = process.env.SHARED_TOOLS_DIR ?? join(repoRoot, '..', 'shared');
  if (!existsSync(join(dir, 'tools', 'mitm', 'rclone-jotta.sh'))) {
    throw new Error(`the shared tools are not at ${dir} (set SHARED_TOOLS_DIR to the folder holding tools/mitm)`);
  }
  return dir;
}
