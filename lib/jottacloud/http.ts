// The one HTTP transport every Jottacloud call goes through: keep-alive connection reuse (each new
// TLS handshake to the service costs a round trip or two) and the proxy settings people have behind
// company networks (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, CONNECT tunnelling). Extra CA certificates
// come from NODE_EXTRA_CA_CERTS, which Node applies to every TLS connection by itself.
import axios, { type AxiosInstance } from 'axios';
import http from 'node:http';
import https from 'node:https';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';

export interface HttpOptions {
  /** Sent as User-Agent. */
  userAgent?: string;
  /** Socket idle/response timeout for one request, in ms. */
  timeoutMs?: number;
  /** Upper bound on sockets per host (per agent). */
  maxSockets?: number;
}

const keepAlive = { keepAlive: true, keepAliveMsecs: 15_000 };

/** Agents are cached per proxy URL so connections are reused across calls and clients. */
const proxyAgents = new Map<string, HttpsProxyAgent<string>>();

function agentsFor(url: string, maxSockets: number): { httpAgent?: http.Agent; httpsAgent?: https.Agent } {
  const proxy = getProxyForUrl(url);
  if (!proxy) return {};
  let agent = proxyAgents.get(proxy);
  if (!agent) {
    agent = new HttpsProxyAgent(proxy, { ...keepAlive, maxSockets });
    proxyAgents.set(proxy, agent);
  }
  // Both plain and TLS requests are tunnelled with CONNECT through the proxy.
  return { httpAgent: agent as unknown as http.Agent, httpsAgent: agent as unknown as https.Agent };
}

export function createHttpClient(options: HttpOptions = {}): AxiosInstance {
  const maxSockets = options.maxSockets ?? 64;
  const direct = {
    httpAgent: new http.Agent({ ...keepAlive, maxSockets }),
    httpsAgent: new https.Agent({ ...keepAlive, maxSockets }),
  };
  const client = axios.create({
    timeout: options.timeoutMs ?? 120_000,
    maxRedirects: 0,
    // Bodies can be large (uploads) and are streamed; never let axios cap or buffer them.
    maxBodyLength: Infinity,
    // -1, not Infinity: with any limit ≥ 0 axios re-wraps every streamed answer in an async generator and
    // Readable.from to count its bytes — a promise per chunk, which halved download throughput.
    maxContentLength: -1,
    // Status codes are interpreted by the caller (404, 420, 421 and 460 all carry meaning).
    validateStatus: () => true,
    proxy: false,
    headers: options.userAgent ? { 'User-Agent': options.userAgent } : {},
    ...direct,
  });
  client.interceptors.request.use((config) => {
    const url = axios.getUri(config);
    const viaProxy = agentsFor(url, maxSockets);
    if (viaProxy.httpsAgent) {
      config.httpAgent = viaProxy.httpAgent;
      config.httpsAgent = viaProxy.httpsAgent;
    }
    return config;
  });
  return client;
}
