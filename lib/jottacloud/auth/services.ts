// The services that sell Jottacloud under their own name (white-label), with the OpenID Connect realm and
// the client each one's "traditional" (authorization-code) sign-in uses. The official service is one of them.
import type { Endpoints } from '../endpoints.js';
import { rebaseUrl } from '../endpoints.js';

export interface WhiteLabelService {
  /** The key used in the config (`account.service`) and on the command line (`--service`). */
  key: string;
  /** The name the user knows. */
  name: string;
  /** Host of the service's Keycloak. */
  domain: string;
  realm: string;
  clientId: string;
  scopes: readonly string[];
}

const fullScopes = ['openid', 'jotta-default', 'offline_access'] as const;
// The two services whose desktop client is `desktop-win` offer no `jotta-default` scope.
const shortScopes = ['openid', 'offline_access'] as const;

export const whiteLabelServices: readonly WhiteLabelService[] = [
  { key: 'jottacloud', name: 'Jottacloud', domain: 'id.jottacloud.com', realm: 'jottacloud', clientId: 'desktop', scopes: fullScopes },
  { key: 'elgiganten_dk', name: 'Elgiganten Cloud (Denmark)', domain: 'cloud.elgiganten.dk', realm: 'elgiganten', clientId: 'desktop', scopes: fullScopes },
  { key: 'elgiganten_se', name: 'Elgiganten Cloud (Sweden)', domain: 'cloud.elgiganten.se', realm: 'elgiganten', clientId: 'desktop', scopes: fullScopes },
  { key: 'elkjop', name: 'Elkjøp Cloud (Norway)', domain: 'cloud.elkjop.no', realm: 'elkjop', clientId: 'desktop', scopes: fullScopes },
  { key: 'elko', name: 'ELKO Cloud (Iceland)', domain: 'cloud.elko.is', realm: 'elko', clientId: 'desktop', scopes: fullScopes },
  { key: 'gigantti', name: 'Gigantti Cloud (Finland)', domain: 'cloud.gigantti.fi', realm: 'gigantti', clientId: 'desktop', scopes: fullScopes },
  { key: 'letsgo', name: "Let's Go Cloud (Germany)", domain: 'letsgo.jotta.cloud', realm: 'letsgo', clientId: 'desktop-win', scopes: shortScopes },
  { key: 'mediamarkt', name: 'MediaMarkt Cloud (Multiregional)', domain: 'mediamarkt.jottacloud.com', realm: 'mediamarkt', clientId: 'desktop', scopes: fullScopes },
  { key: 'onlime', name: 'Onlime (Denmark)', domain: 'cloud-auth.onlime.dk', realm: 'onlime_wl', clientId: 'desktop', scopes: fullScopes },
  { key: 'phonero', name: 'Phonero Sky', domain: 'sky.phonero.no', realm: 'phonero', clientId: 'desktop-win', scopes: shortScopes },
  { key: 'tele2', name: 'Tele2 Cloud (Sweden)', domain: 'mittcloud-auth.tele2.se', realm: 'comhem', clientId: 'desktop', scopes: fullScopes },
  { key: 'telia_no', name: 'Telia Sky (Norway)', domain: 'sky-auth.telia.no', realm: 'get', clientId: 'desktop', scopes: fullScopes },
  { key: 'telia_se', name: 'Telia Cloud (Sweden)', domain: 'cloud-auth.telia.se', realm: 'telia_se', clientId: 'desktop', scopes: fullScopes },
];

export function findService(key: string): WhiteLabelService | undefined {
  return whiteLabelServices.find((s) => s.key === key.toLowerCase());
}

export function serviceKeys(): string[] {
  return whiteLabelServices.map((s) => s.key);
}

/** The service's OpenID discovery document, moved onto the configured endpoints when those are not the real ones. */
export function discoveryUrl(service: WhiteLabelService, endpoints: Endpoints): string {
  return rebaseUrl(`https://${service.domain}/auth/realms/${service.realm}/.well-known/openid-configuration`, endpoints);
}
