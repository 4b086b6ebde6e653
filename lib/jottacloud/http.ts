// The one HTTP transport every Jottacloud call goes through: keep-alive connection reuse (each new
// TLS handshake to the service costs a round trip or two) and the proxy settings people have behind
// company networks (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, CONNECT tunnelling). Extra CA certificates
// come from NODE_EXTRA_CA_CERTS, which Node applies to every TLS connection by itself.
//
// A reused connection can meet a server that closed it at the same moment (its idle timer ran out as the
// request arrived): the request fails with no answer. The pacer repeats such a request; a body that can be
// sent only once cannot be repeated, so it is never sent on a connection that sat idle (`retireIdleConnections`).
import axios, { type AxiosInstance } from 'axios';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
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

/**
 * `timeout` closes a connection idle this long, and makes Node's agent honour the server's `Keep-Alive:
 * timeout=N` hint (closing a second before it): without a timeout of its own the agent ignores the hint and
 * keeps the connection until the server drops it.
 */
const IDLE_MS = 60_000;
const keepAlive = { keepAlive: true, keepAliveMsecs: 15_000, timeout: IDLE_MS };

/** When each free connection was last handed back (agents emit `free` as they take it into their pool). */
const freedAt = new WeakMap<Socket, number>();
function tracked<A extends http.Agent>(agent: A): A {
  agent.on('free', (socket: Socket) => freedAt.set(socket, Date.now()));
  return agent;
}

/** The direct agents of each client made here (proxy agents are shared, in `proxyAgents`). */
const directAgents = new WeakMap<AxiosInstance, http.Agent[]>();

/** Agents are cached per proxy URL so connections are reused across calls and clients. */
const proxyAgents = new Map<string, HttpsProxyAgent<string>>();

function agentsFor(url: string, maxSockets: number): { httpAgent?: http.Agent; httpsAgent?: https.Agent } {
  const proxy = getProxyForUrl(url);
  if (!proxy) return {};
  let agent = proxyAgents.get(proxy);
  if (!agent) {
    agent = tracked(new HttpsProxyAgent(proxy, { ...keepAlive, maxSockets }));
    proxyAgents.set(proxy, agent);
  }
  // Both plain and TLS requests are tunnelled with CONNECT through the proxy.
  return { httpAgent: agent as unknown as http.Agent, httpsAgent: agent as unknown as https.Agent };
}

export function createHttpClient(options: HttpOptions = {}): AxiosInstance {
  const maxSockets = options.maxSockets ?? 64;
  const direct = {
    httpAgent: tracked(new http.Agent({ ...keepAlive, maxSockets })),
    httpsAgent: tracked(new https.Agent({ ...keepAlive, maxSockets })),
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
  directAgents.set(client, [direct.httpAgent, direct.httpsAgent]);
  return client;
}

/**
 * Closes the free keep-alive connections of `client` to `url`'s host and port that have been idle for
 * `olderThanMs` or longer, so the next request there opens a new one. Returns how many were closed.
 */
export function retireIdleConnections(client: AxiosInstance, url: string, olderThanMs: number): number {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const proxy = getProxyForUrl(url);
  const agents = proxy ? [proxyAgents.get(proxy)] : (directAgents.get(client) ?? []);
  const now = Date.now();
  let closed = 0;
  for (const agent of agents) {
    if (!agent) continue;
    for (const [name, sockets] of Object.entries(agent.freeSockets)) {
      // Agents name their pools "host:port:…" (the port left empty when the request named none).
      if (!name.startsWith(`${host}:${port}:`) && !name.startsWith(`${host}::`)) continue;
      // Out of the pool at once: the agent only drops a destroyed socket on its 'close', which comes later, and
      // a request made before that could still be given it.
      const pool = sockets as Socket[];
      for (let i = pool.length - 1; i >= 0; i--) {
        const socket = pool[i] as Socket;
        if (now - (freedAt.get(socket) ?? 0) < olderThanMs) continue;
        pool.splice(i, 1);
        socket.destroy();
        closed++;
      }
    }
  }
  return closed;
}
