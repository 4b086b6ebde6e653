// The user and password `jottadav serve` makes up when nobody configured one (the `npm start` experience):
// generated once, kept in `<config dir>/webdav-credentials.json` (0600, written atomically) and reused, so a
// mounted drive keeps working across restarts.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/files.js';
import type { CommandLineUser } from './auth/index.js';

export function credentialsPath(configDir: string): string {
  return join(configDir, 'webdav-credentials.json');
}

/** The stored generated credentials, or new ones (written before they are returned). */
export async function generatedCredentials(configDir: string): Promise<CommandLineUser & { path: string; created: boolean }> {
  const path = credentialsPath(configDir);
  if (existsSync(path)) {
    try {
      const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<CommandLineUser>;
      if (typeof stored.name === 'string' && stored.name && typeof stored.password === 'string' && stored.password.length >= 12) {
        return { name: stored.name, password: stored.password, path, created: false };
      }
    } catch {
      /* unreadable: make new ones below */
    }
  }
  // 18 random bytes: 24 URL-safe characters, easy to paste into a mount dialog, far beyond guessing.
  const creds = { name: 'jottadav', password: randomBytes(18).toString('base64url') };
  await writeFileAtomic(path, `${JSON.stringify(creds, null, 2)}\n`, 0o600);
  return { ...creds, path, created: true };
}
