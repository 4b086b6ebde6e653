// Emulator auth: the Keycloak realms the emulator serves (Jottacloud and its white-label brands),
// which OAuth clients each realm knows, and the scopes it grants. Pure data, no I/O.
import { createHash } from 'node:crypto';

export interface RealmClient {
  id: string;
  /** Keycloak "direct access grants" (grant_type=password): only the CLI client used with personal login tokens. */
  passwordGrant: boolean;
  /** Browser login with a redirect back to a loopback port (grant_type=authorization_code). */
  authorizationCode: boolean;
}

// Client ids per realm follow the white-label table in jottacloud-protocol.md: most brands register
// their desktop app as "desktop", Let's Go and Phonero as "desktop-win"; only the Jottacloud realm
// itself knows "jottacli", the client that personal login tokens are exchanged with.
const desktop: RealmClient = { id: 'desktop', passwordGrant: false, authorizationCode: true };
const desktopWin: RealmClient = { id: 'desktop-win', passwordGrant: false, authorizationCode: true };
const jottacli: RealmClient = { id: 'jottacli', passwordGrant: true, authorizationCode: false };

const REALMS: ReadonlyMap<string, readonly RealmClient[]> = new Map([
  ['jottacloud', [jottacli, desktop]],
  ['elgiganten', [desktop]],
  ['elkjop', [desktop]],
  ['elko', [desktop]],
  ['gigantti', [desktop]],
  ['letsgo', [desktopWin]],
  ['mediamarkt', [desktop]],
  ['onlime_wl', [desktop]],
  ['phonero', [desktopWin]],
  ['comhem', [desktop]],
  ['get', [desktop]],
  ['telia_se', [desktop]],
]);

export function realmNames(): string[] {
  return [...REALMS.keys()];
}

export function isRealm(name: string): boolean {
  return REALMS.has(name);
}

export function realmClient(realm: string, clientId: string): RealmClient | undefined {
  return REALMS.get(realm)?.find((c) => c.id === clientId);
}

/** Scopes a client may ask for; anything else is refused as Keycloak does ("Invalid scopes"). */
const KNOWN_SCOPES = new Set(['openid', 'offline_access', 'jotta-default', 'profile', 'email']);
/** Keycloak adds the realm's default client scopes to every grant and lists them in `scope`. */
const DEFAULT_SCOPES = ['profile', 'email'];

/** The granted scope string for a requested one, or the unknown scopes if any were asked for. */
export function grantScope(requested: string | undefined): { scope: string } | { invalid: string[] } {
  const asked = (requested ?? '').split(/\s+/).filter(Boolean);
  const invalid = asked.filter((s) => !KNOWN_SCOPES.has(s));
  if (invalid.length) return { invalid };
  return { scope: [...new Set([...asked, ...DEFAULT_SCOPES])].join(' ') };
}

/**
 * A stable UUID-shaped id for a realm. Keycloak's `sub` for federated users is
 * `f:<provider id>:<user name>`; clients (e.g. akeamc/jotta) take the user name from its last part.
 */
export function realmId(realm: string): string {
  const h = createHash('sha256').update(`jottadav-emulator-realm:${realm}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
