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
