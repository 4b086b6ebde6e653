// The one configuration model, validated once at start. Every key has a default here or in
// config/default.json. Each option's sentence is its `.describe()` text: the README table
// ("Configuration") is generated from this file by `jottadav config docs`, and a spec checks they agree.
import { z } from 'zod';

export const authKinds = ['standard', 'whitelabel', 'legacy'] as const;

const endpointsSchema = z
  .object({
    jfs: z.string().url(),
    api: z.string().url(),
    id: z.string().url(),
    www: z.string().url(),
  })
  .strict();

export const accountSchema = z
  .object({
    kind: z.enum(authKinds).describe('How the token set was obtained; decides how it is refreshed.'),
    service: z.string().min(1).default('jottacloud').describe('White-label service key (e.g. `elkjop`, `telia_se`); `jottacloud` for the official service.'),
    username: z.string().min(1).describe('The JFS user name (from `account/v1/customer`), not the e-mail address.'),
    tokenUrl: z.string().url().describe('OAuth token endpoint used for refreshes.'),
    clientId: z.string().min(1).describe('OAuth client id the token set belongs to.'),
    clientSecret: z.string().optional().describe('Only legacy registered clients have one (a secret: redacted by `config show`).'),
    device: z.string().min(1).default('Jotta').describe('Device to serve.'),
    mountpoint: z.string().min(1).default('Archive').describe('Mountpoint to serve.'),
  })
  .strict();

// --- server (lib/server): where and how `jottadav serve` listens, who may log in ---------------------------
export const serverUserSchema = z
  .object({
    name: z.string().min(1).regex(/^[^:\s]+$/, 'a user name without spaces or colons').describe('User name (no spaces or colons).'),
    passwordHash: z
      .string()
      .regex(/^(\$2[aby]\$|\$apr1\$|\{SHA\})/, 'a bcrypt ($2y$…), APR1 ($apr1$…) or {SHA} hash')
      .optional()
      .describe('Checked for Basic auth: bcrypt, APR1 or `{SHA}`; make one with `htpasswd -nbB NAME PASSWORD` (the part after the colon).'),
    // Digest cannot work from a bcrypt hash, so a user without an HA1 (or without the plain password of
    // `--user/--pass`) is Basic only.
    digestHa1: z
      .string()
      .regex(/^[0-9a-fA-F]{32}$/, '32 hex digits (MD5 of name:realm:password)')
      .optional()
      .describe('Enables Digest auth for this user: hex MD5 of `name:realm:password` (what `htdigest` stores).'),
    digestHa1Sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, '64 hex digits (SHA-256 of name:realm:password)')
      .optional()
      .describe('Same for Digest with SHA-256: hex SHA-256 of `name:realm:password`.'),
    readOnly: z.boolean().default(false).describe('This user may read but not change anything.'),
  })
  .strict()
  .refine((u) => u.passwordHash || u.digestHa1 || u.digestHa1Sha256, { message: 'a user needs passwordHash or digestHa1' });

export const serverSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Address to listen on (`0.0.0.0` = every interface).'),
    port: z.number().int().min(0).max(65535).default(8080).describe('Port to listen on (0 = any free port).'),
    basePath: z.string().regex(/^\/[^?#]*$/, 'a path starting with /').default('/').describe('URL prefix the share lives under, e.g. `/dav`; `/` = the whole server.'),
    tls: z
      .object({
        cert: z.string().min(1).describe('Certificate chain (PEM file).'),
        key: z.string().min(1).describe('Private key (PEM file).'),
      })
      .strict()
      .optional()
      .describe('PEM files; both or neither. With them the server speaks HTTPS only.'),
    users: z.array(serverUserSchema).default([]).describe('Users of the share; only password hashes are stored.'),
    htpasswd: z.string().min(1).optional().describe('An Apache htpasswd file (bcrypt, APR1 or `{SHA}` lines); Basic auth only.'),
    htdigest: z.string().min(1).optional().describe('An Apache htdigest file (`user:realm:ha1`); Digest (MD5) for those users, realm must match `server.auth.realm`.'),
    anonymous: z.enum(['off', 'read-only']).default('off').describe('Anonymous access: `off`, or `read-only` (never more).'),
    readOnly: z.boolean().default(false).describe('Every user read-only (`--read-only`).'),
    auth: z
      .object({
        realm: z.string().min(1).regex(/^[^"\\]+$/, 'a realm without quotes or backslashes').default('jottadav').describe('Authentication realm shown by clients.'),
        digest: z.boolean().default(true).describe('Offer Digest (MD5 and SHA-256) besides Basic.'),
        nonceLifetimeSec: z.number().int().min(1).max(86_400).default(300).describe('A Digest nonce older than this is answered with `stale=true`.'),
        maxFailures: z.number().int().min(1).default(10).describe('Failed logins allowed per client address within `windowSec` before it is blocked for `blockSec`.'),
        windowSec: z.number().int().min(1).default(60).describe('Window for counting failed logins, seconds.'),
        blockSec: z.number().int().min(1).default(300).describe('How long a client address with too many failed logins is refused, seconds.'),
      })
      .strict()
      .default({}),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024)
      .describe('Largest request body accepted for methods other than PUT (XML of PROPFIND, PROPPATCH, LOCK…); more → 413.'),
    browser: z.boolean().default(true).describe('The HTML listing for browsers.'),
    metricsPort: z
      .union([z.literal(false), z.number().int().min(0).max(65535)])
      .default(9180)
      .describe('Port of the unauthenticated `/healthz` and `/metrics`, always bound to 127.0.0.1; `false` turns it off.'),
    idleTimeoutSec: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(120)
      .describe('A client that sends nothing this long while it owes headers or body is cut (slow-loris defence); time the server spends answering does not count.'),
    shutdownGraceSec: z.number().int().min(0).max(3600).default(30).describe('How long SIGTERM waits for requests in flight before closing connections.'),
    trustProxy: z.boolean().default(false).describe('Take the client address from X-Forwarded-For (only behind a reverse proxy you run).'),
    releaseMemoryWhenIdle: z
      .boolean()
      .default(false)
      .describe(
        'After a burst of work that grew the heap by 32 MiB, once no request has been in flight for 2 s, run a full garbage collection (and a second after 5.5 s more) to give memory back: RSS after three 10,000-entry listings went ~210 → ~115 MiB. Off by default: a large download right after ran ~1.7× slower in the benchmark.',
      ),
  })
  .strict()
  .default({});

export type ServerConfig = z.infer<typeof serverSchema>;
export type ServerUserConfig = z.infer<typeof serverUserSchema>;

// --- storage (lib/storage): how the Jottacloud tree is exposed and written -----------------------------------
export const storageRootModes = ['mountpoint', 'device', 'all'] as const;

export const storageSchema = z
  .object({
    delete: z.enum(['trash', 'hard']).default('trash').describe("Delete to Jottacloud's trash (kept 30 days, restorable) or `hard` (gone at once)."),
    versions: z
      .enum(['keep', 'replace'])
      .default('keep')
      .describe(
        'Overwriting a file: `keep` lets the service keep the old revision (as its web UI shows), `replace` leaves only the new one — uploaded beside the old file and swapped in only once complete.',
      ),
    md5MemoryLimit: z
      .number()
      .int()
      .min(0)
      .default(10 * 1024 * 1024)
      .describe('Uploads without a client MD5 are hashed first: up to this many bytes in memory, larger ones in `spoolDir`.'),
    spoolDir: z.string().min(1).optional().describe('Folder for spooled upload bodies (0700, files 0600). Default: `<OS temp dir>/jottadav-spool`.'),
    trashView: z
      .union([z.literal(false), z.string().regex(/^\/[^/]+$/, 'a top-level path such as /.Trash')])
      .default(false)
      .describe('A read-only folder listing the trash (e.g. `/.Trash`); moving an entry out of it restores it. `false` = off.'),
    root: z
      .object({
        mode: z
          .enum(storageRootModes)
          .default('mountpoint')
          .describe("`mountpoint`: the share is one mountpoint's tree. `device`: the device's mountpoints are the top-level folders. `all`: devices at the top, their mountpoints below."),
        device: z.string().min(1).optional().describe('Device to expose; default `account.device`, else `Jotta`.'),
        mountpoint: z.string().min(1).optional().describe('Mountpoint to expose in `mountpoint` mode; default `account.mountpoint`, else `Archive`.'),
      })
      .strict()
      .default({}),
    cacheTtlSec: z
      .number()
      .min(0)
      .max(86_400)
      .default(60)
      .describe('How long folder listings and file metadata are trusted (writes through jottadav show at once regardless); 0 = no cache.'),
    cacheMaxEntries: z
      .number()
      .int()
      .min(1_000)
      .max(10_000_000)
      .default(100_000)
      .describe('With the in-memory store: how many listed entries the metadata cache holds at most (about 0.7 KiB each; least recently used folders go first and are listed again when asked). With Redis, Redis holds them.'),
    quotaTtlSec: z.number().min(0).max(86_400).default(30).describe("How long the account's usage and capacity are trusted."),
    uploadResumeAttempts: z.number().int().min(0).max(20).default(3).describe("Times an interrupted upload is resumed from the service's `resume_pos` before the write fails."),
  })
  .strict()
  .default({});

export type StorageConfig = z.infer<typeof storageSchema>;

// --- shared state: one machine, or several instances on Redis ----------------------------------------------------
/** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
export const redisUrlPattern = /^rediss?:\/\/[^\s]*$/;

export const webdavSchema = z
  .object({
    ignoreMacMetadata: z
      .boolean()
      .default(false)
      .describe("Keep macOS Finder's `._*` and `.DS_Store` files out of Jottacloud: writes of them are accepted and dropped, and they are never listed."),
    lockTimeoutDefaultSec: z.number().int().min(1).default(3600).describe('Lock timeout when a client asks for none, seconds.'),
    lockTimeoutMaxSec: z
      .number()
      .int()
      .min(1)
      .default(7 * 24 * 3600)
      .describe('Longest lock timeout granted (also for `Infinite`), seconds.'),
  })
  .strict()
  .default({});

export const configSchema = z
  .object({
    account: accountSchema.optional().describe('The Jottacloud account, written by `jottadav login`; absent = serve the embedded emulator.'),
    tokenStore: z.string().min(1).optional().describe('Token store file (0600) when `store` is `local`. Default: `<config dir>/tokens.json`.'),
    endpoints: z
      .union([z.string().url(), endpointsSchema])
      .optional()
      .describe('Where the service lives: omit for the real Jottacloud, one origin such as `http://127.0.0.1:18080` for the emulator, or `{jfs, api, id, www}`.'),
    store: z
      .union([z.literal('local'), z.string().regex(redisUrlPattern, 'local, or a redis:// or rediss:// URL')])
      .default('local')
      .describe(
        '`local`: metadata cache in memory; token set, WebDAV locks and dead properties in files. A `redis://…` URL moves all four into Redis, so several instances can serve one account (see "More than one instance").',
      ),
    redis: z
      .object({
        keyPrefix: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : -')
          .default('jottadav')
          .describe('Prefix of every Redis key and channel; instances that serve one account must share it, separate deployments on one Redis must not.'),
        lockLeaseSec: z.number().int().min(1).max(600).default(30).describe('Lease of a cross-instance lock (token refresh, WebDAV lock table); renewed while held, so a crashed holder frees it after this long.'),
      })
      .strict()
      .default({}),
    server: serverSchema,
    storage: storageSchema,
    webdav: webdavSchema.describe('WebDAV behaviour.'),
    log: z
      .object({
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('`error`, `warn`, `info` or `debug`.'),
        json: z.boolean().default(false).describe('One JSON object per log line.'),
      })
      .strict()
      .default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type AccountConfig = z.infer<typeof accountSchema>;
export type ConfigInput = z.input<typeof configSchema>;
