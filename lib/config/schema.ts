// The one configuration model, validated once at start. Every key has a default here or in
// config/default.json; README documents each. Later layers add their sections here.
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
    /** How the token set was obtained; decides how it is refreshed. */
    kind: z.enum(authKinds),
    /** White-label service key (e.g. `elkjop`, `telia_se`); `jottacloud` for the official service. */
    service: z.string().min(1).default('jottacloud'),
    /** The JFS user name (from `account/v1/customer`), not the e-mail address. */
    username: z.string().min(1),
    /** OAuth token endpoint used for refreshes. */
    tokenUrl: z.string().url(),
    clientId: z.string().min(1),
    /** Only legacy registered clients have one. */
    clientSecret: z.string().optional(),
    device: z.string().min(1).default('Jotta'),
    mountpoint: z.string().min(1).default('Archive'),
  })
  .strict();

// --- server (lib/server): where and how `jottadav serve` listens, who may log in ---------------------------
/** A user of the WebDAV share. Only hashes are stored: bcrypt (`$2a$/$2b$/$2y$`), Apache APR1 (`$apr1$`) or `{SHA}`. */
export const serverUserSchema = z
  .object({
    name: z.string().min(1).regex(/^[^:\s]+$/, 'a user name without spaces or colons'),
    /** Checked for Basic auth. Make one with `htpasswd -nbB NAME PASSWORD` (the part after the colon). */
    passwordHash: z.string().regex(/^(\$2[aby]\$|\$apr1\$|\{SHA\})/, 'a bcrypt ($2y$…), APR1 ($apr1$…) or {SHA} hash').optional(),
    /**
     * Enables Digest auth for this user: hex MD5 of `name:realm:password` (what `htdigest` stores). Digest cannot
     * work from a bcrypt hash, so a user without it (or without the plain password of `--user/--pass`) is Basic only.
     */
    digestHa1: z.string().regex(/^[0-9a-fA-F]{32}$/, '32 hex digits (MD5 of name:realm:password)').optional(),
    /** Same for Digest with SHA-256: hex SHA-256 of `name:realm:password`. */
    digestHa1Sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex digits (SHA-256 of name:realm:password)').optional(),
    readOnly: z.boolean().default(false),
  })
  .strict()
  .refine((u) => u.passwordHash || u.digestHa1 || u.digestHa1Sha256, { message: 'a user needs passwordHash or digestHa1' });

export const serverSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** URL prefix the share lives under, e.g. `/dav`; `/` = the whole server. */
    basePath: z.string().regex(/^\/[^?#]*$/, 'a path starting with /').default('/'),
    /** PEM files; both or neither. With them the server speaks HTTPS only. */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    users: z.array(serverUserSchema).default([]),
    /** An Apache htpasswd file (bcrypt, APR1 or {SHA} lines); Basic auth only. */
    htpasswd: z.string().min(1).optional(),
    /** An Apache htdigest file (`user:realm:ha1`); Digest (MD5) for those users, realm must match `auth.realm`. */
    htdigest: z.string().min(1).optional(),
    /** Anonymous access: `off`, or `read-only` (never more). */
    anonymous: z.enum(['off', 'read-only']).default('off'),
    /** Every user read-only (`--read-only`). */
    readOnly: z.boolean().default(false),
    auth: z
      .object({
        realm: z.string().min(1).regex(/^[^"\\]+$/, 'a realm without quotes or backslashes').default('jottadav'),
        /** Offer Digest (MD5 and SHA-256) besides Basic. */
        digest: z.boolean().default(true),
        /** A Digest nonce older than this is answered with `stale=true`. */
        nonceLifetimeSec: z.number().int().min(1).max(86_400).default(300),
        /** Failed logins allowed per client address within `windowSec` before it is blocked for `blockSec`. */
        maxFailures: z.number().int().min(1).default(10),
        windowSec: z.number().int().min(1).default(60),
        blockSec: z.number().int().min(1).default(300),
      })
      .strict()
      .default({}),
    /** Largest request body accepted for methods other than PUT (XML of PROPFIND, PROPPATCH, LOCK…); more → 413. */
    maxBodyBytes: z.number().int().min(1024).default(1024 * 1024),
    /** The HTML listing for browsers. */
    browser: z.boolean().default(true),
    /** Port of the unauthenticated `/healthz` and `/metrics`, always bound to 127.0.0.1; `false` turns it off. */
    metricsPort: z.union([z.literal(false), z.number().int().min(0).max(65535)]).default(9180),
    /** How long SIGTERM waits for requests in flight before closing connections. */
    shutdownGraceSec: z.number().int().min(0).max(3600).default(30),
    /** Take the client address from X-Forwarded-For (only behind a reverse proxy you run). */
    trustProxy: z.boolean().default(false),
  })
  .strict()
  .default({});

export type ServerConfig = z.infer<typeof serverSchema>;
export type ServerUserConfig = z.infer<typeof serverUserSchema>;

// --- storage (lib/storage): how the Jottacloud tree is exposed and written -----------------------------------
export const storageRootModes = ['mountpoint', 'device', 'all'] as const;

export const storageSchema = z
  .object({
    /** Delete to Jottacloud's trash (kept 30 days, restorable) or `hard` (gone at once). */
    delete: z.enum(['trash', 'hard']).default('trash'),
    /**
     * Overwriting a file: `keep` lets the service keep the old revision (as its web UI shows), `replace` leaves
     * only the new one — uploaded beside the old file and swapped in only once complete.
     */
    versions: z.enum(['keep', 'replace']).default('keep'),
    /** Uploads without a client MD5 are hashed first: up to this many bytes in memory, larger ones in `spoolDir`. */
    md5MemoryLimit: z.number().int().min(0).default(10 * 1024 * 1024),
    /** Folder for spooled upload bodies (0700, files 0600). Default: `<OS temp dir>/jottadav-spool`. */
    spoolDir: z.string().min(1).optional(),
    /** A read-only folder listing the trash (e.g. `/.Trash`); moving an entry out of it restores it. `false` = off. */
    trashView: z.union([z.literal(false), z.string().regex(/^\/[^/]+$/, 'a top-level path such as /.Trash')]).default(false),
    root: z
      .object({
        /**
         * `mountpoint`: the share is one mountpoint's tree (default Jotta/Archive). `device`: the device's
         * mountpoints are the top-level folders. `all`: devices at the top, their mountpoints below.
         */
        mode: z.enum(storageRootModes).default('mountpoint'),
        /** Device to expose; default `account.device`, else `Jotta`. */
        device: z.string().min(1).optional(),
        /** Mountpoint to expose in `mountpoint` mode; default `account.mountpoint`, else `Archive`. */
        mountpoint: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** How long folder listings and file metadata are trusted (our own writes show at once regardless); 0 = no cache. */
    cacheTtlSec: z.number().min(0).max(86_400).default(60),
    /** How long the account's usage and capacity are trusted. */
    quotaTtlSec: z.number().min(0).max(86_400).default(30),
    /** Times an interrupted upload is resumed from the service's `resume_pos` before the write fails. */
    uploadResumeAttempts: z.number().int().min(0).max(20).default(3),
  })
  .strict()
  .default({});

export type StorageConfig = z.infer<typeof storageSchema>;

export const configSchema = z
  .object({
    /** The Jottacloud account; absent = serve the embedded emulator. */
    account: accountSchema.optional(),
    /** Token store file (0600). Default: `<config dir>/tokens.json`. */
    tokenStore: z.string().min(1).optional(),
    /**
     * Where the service lives: omit for the real Jottacloud, a single origin such as `http://127.0.0.1:18080`
     * for the emulator, or one URL per host.
     */
    endpoints: z.union([z.string().url(), endpointsSchema]).optional(),
    server: serverSchema,
    storage: storageSchema,
    log: z
      .object({
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
        json: z.boolean().default(false),
      })
      .strict()
      .default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type AccountConfig = z.infer<typeof accountSchema>;
export type ConfigInput = z.input<typeof configSchema>;
