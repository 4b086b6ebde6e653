// Where each Jottacloud host lives. The real service splits its API over several hosts; the emulator
// answers all of them on one origin and tells them apart by path, so every URL this client builds
// starts from one of these bases. `endpoints` in the config overrides them (to talk to the emulator
// directly, without a proxy).
export interface Endpoints {
  /** JFS XML tree API; paths below it are `<user>/<device>/<mountpoint>/…` (no leading slash). */
  jfs: string;
  /** JSON API: `account/v1/customer`, `files/v1/allocate`, `files/v1/purge_trash`, legacy `auth/v1/…`. */
  api: string;
  /** OpenID Connect realms of the official service: `auth/realms/<realm>/…`. */
  id: string;
  /** Web UI and public links. */
  www: string;
}

export const jottacloudEndpoints: Endpoints = {
  jfs: 'https://jfs.jottacloud.com/jfs/',
  api: 'https://api.jottacloud.com/',
  id: 'https://id.jottacloud.com/',
  www: 'https://www.jottacloud.com/',
};

/** Every host on one origin, as the emulator serves them (e.g. `http://127.0.0.1:18080`). */
export function singleOriginEndpoints(origin: string): Endpoints {
  const base = origin.replace(/\/+$/, '');
  return { jfs: `${base}/jfs/`, api: `${base}/`, id: `${base}/`, www: `${base}/` };
}

/**
 * Rewrites an absolute URL the service handed out (a discovery document's token endpoint, an upload URL)
 * onto the configured endpoints when they are not the real ones, so that a client pointed at the emulator
 * never leaves it. URLs on other hosts are returned unchanged.
 */
export function rebaseUrl(url: string, endpoints: Endpoints): string {
  if (endpoints.api === jottacloudEndpoints.api) return url;
  const u = new URL(url);
  if (!/(^|\.)jottacloud\.com$|(^|\.)jotta\.cloud$/i.test(u.hostname) && !isWhiteLabelHost(u.hostname)) return url;
  const origin = new URL(endpoints.api);
  u.protocol = origin.protocol;
  u.host = origin.host;
  return u.toString();
}

/** White-label hosts are rewritten too: with custom endpoints every auth host is the emulator. */
function isWhiteLabelHost(hostname: string): boolean {
  return /^(cloud\.(elgiganten\.(dk|se)|elkjop\.no|elko\.is|gigantti\.fi)|letsgo\.jotta\.cloud|mediamarkt\.jottacloud\.com|cloud-auth\.onlime\.dk|sky\.phonero\.no|mittcloud-auth\.tele2\.se|sky-auth\.telia\.no|cloud-auth\.telia\.se)$/i.test(hostname);
}

/** The `endpoints` setting as the client needs it: the real service when unset, one origin for every host, or one URL per host. */
export function endpointsFromSetting(value: string | Endpoints | undefined): Endpoints {
  if (value === undefined) return jottacloudEndpoints;
  return typeof value === 'string' ? singleOriginEndpoints(value) : value;
}
