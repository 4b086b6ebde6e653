// The operations port: `/healthz` (liveness), `/healthz/ready` (readiness: the backend answers and the token
// works) and Prometheus `/metrics`. It has no authentication, so it only ever listens on the loopback
// interface, apart from the share — a health checker or Prometheus on the same host (or in the same container)
// reaches it, nobody on the network does.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerMetrics } from './metrics.js';

export interface CheckResult {
  ok: boolean;
  ms: number;
  /** One line, no secret. */
  error?: string;
}

/** Named readiness checks, e.g. `backend` (a call to Jottacloud) and `token` (an access token can be had). */
export type ReadinessChecks = Record<string, () => Promise<void>>;

export interface OpsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const startedAt = Date.now();

async function runChecks(checks: ReadinessChecks): Promise<Record<string, CheckResult>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const t0 = Date.now();
      try {
        // A hung backend must not hang the health checker: ready means "answers within 10 s".
        await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref())]);
        return [name, { ok: true, ms: Date.now() - t0 }];
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return [name, { ok: false, ms: Date.now() - t0, error: message.split('\n')[0] }];
      }
    }),
  );
  return Object.fromEntries(entries);
}

export async function startOpsServer(opts: { port: number; metrics: ServerMetrics; checks: ReadinessChecks; isShuttingDown: () => boolean }): Promise<OpsServer> {
  // Readiness is asked every few seconds by orchestrators: one backend call per second at most.
  let cached: { at: number; body: Record<string, CheckResult> } | null = null;
  let running: Promise<Record<string, CheckResult>> | null = null;

  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    if (path === '/healthz' || path === '/livez') {
      const status = opts.isShuttingDown() ? 'shutting-down' : 'ok';
      return send(res, 200, 'application/json', `${JSON.stringify({ status, uptimeSec: Math.round((Date.now() - startedAt) / 1000) })}\n`);
    }
    if (path === '/healthz/ready' || path === '/readyz') {
      if (!cached || Date.now() - cached.at > 1000) {
        running ??= runChecks(opts.checks).finally(() => (running = null));
        cached = { at: Date.now(), body: await running };
      }
      const ok = !opts.isShuttingDown() && Object.values(cached.body).every((c) => c.ok);
      return send(res, ok ? 200 : 503, 'application/json', `${JSON.stringify({ status: ok ? 'ready' : 'not-ready', checks: cached.body })}\n`);
    }
    if (path === '/metrics') {
      return send(res, 200, opts.metrics.registry.contentType, await opts.metrics.registry.metrics());
    }
    return send(res, 404, 'text/plain', 'Not found: /healthz, /healthz/ready, /metrics\n');
  };

  const server: Server = createServer((req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain', 'error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
