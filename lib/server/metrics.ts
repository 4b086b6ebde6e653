// Prometheus metrics (prom-client) for one server: its own registry, so several servers in one process (tests,
// two instances) never share counters. The layers below report through plain callbacks the wiring module
// connects (`recordBackendRequest` for the API client's onRequest, gauges for cache and spool), so lib/server
// needs no import from them.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the API client reports per HTTP exchange (structurally its `RequestInfo`). */
export interface BackendRequestInfo {
  operation: string;
  method: string;
  host: string;
  /** 0 when no answer arrived. */
  status: number;
  ms: number;
  /** 0 for a first attempt, n for the n-th retry. */
  retry: number;
}

/** Methods we name in labels; anything else is `OTHER`, so a client inventing methods cannot blow up the series. */
const knownMethods = new Set(['OPTIONS', 'GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']);

export function methodLabel(method: string | undefined): string {
  const m = (method ?? '').toUpperCase();
  return knownMethods.has(m) ? m : 'OTHER';
}

export interface CacheStats {
  hits: number;
  misses: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'status'>;
  private readonly duration: Histogram<'method'>;
  private readonly bytesIn: Counter<'method'>;
  private readonly bytesOut: Counter<'method'>;
  private readonly inFlight: Gauge;
  private readonly loginFailures: Counter<'scheme'>;
  private readonly backendRequests: Counter<'operation' | 'host' | 'status'>;
  private readonly backendRetries: Counter<'operation'>;
  private readonly backendDuration: Histogram<'host'>;
  private cacheStats?: () => CacheStats;
  private spoolBytes?: () => number;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'jottadav_' });
    this.requests = new Counter({ name: 'jottadav_http_requests_total', help: 'WebDAV/HTTP requests answered, by method and status', labelNames: ['method', 'status'], registers });
    this.duration = new Histogram({
      name: 'jottadav_http_request_duration_seconds',
      help: 'Time from request to the end of the answer',
      labelNames: ['method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.bytesIn = new Counter({ name: 'jottadav_http_request_bytes_total', help: 'Request body bytes received', labelNames: ['method'], registers });
    this.bytesOut = new Counter({ name: 'jottadav_http_response_bytes_total', help: 'Response body bytes sent', labelNames: ['method'], registers });
    this.inFlight = new Gauge({ name: 'jottadav_http_requests_in_flight', help: 'Requests being answered now', registers });
    this.loginFailures = new Counter({ name: 'jottadav_login_failures_total', help: 'Refused logins', labelNames: ['scheme'], registers });
    this.backendRequests = new Counter({
      name: 'jottadav_backend_requests_total',
      help: 'HTTP exchanges with Jottacloud, by operation, host and status (0 = no answer)',
      labelNames: ['operation', 'host', 'status'],
      registers,
    });
    this.backendRetries = new Counter({ name: 'jottadav_backend_retries_total', help: 'Retried Jottacloud exchanges', labelNames: ['operation'], registers });
    this.backendDuration = new Histogram({
      name: 'jottadav_backend_request_duration_seconds',
      help: 'Duration of one exchange with Jottacloud',
      labelNames: ['host'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers,
    });
    // prom-client calls collect() with the metric as `this`; the sources are read through these closures.
    const cacheStats = () => this.cacheStats?.();
    const spoolBytes = () => this.spoolBytes?.();
    new Gauge({
      name: 'jottadav_cache_hit_ratio',
      help: 'Metadata cache hits / lookups since start (NaN before the first lookup)',
      registers,
      collect() {
        const s = cacheStats();
        if (s) this.set(s.hits + s.misses ? s.hits / (s.hits + s.misses) : Number.NaN);
      },
    });
    new Counter({
      name: 'jottadav_cache_lookups_total',
      help: 'Metadata cache lookups by result',
      labelNames: ['result'],
      registers,
      collect() {
        const s = cacheStats();
        if (!s) return;
        this.reset();
        this.inc({ result: 'hit' }, s.hits);
        this.inc({ result: 'miss' }, s.misses);
      },
    });
    new Gauge({
      name: 'jottadav_spool_bytes',
      help: 'Bytes of upload bodies spooled to disk right now (for MD5 before upload)',
      registers,
      collect() {
        const v = spoolBytes();
        if (v !== undefined) this.set(v);
      },
    });
  }

  requestStarted(): void {
    this.inFlight.inc();
  }

  requestFinished(r: { method: string | undefined; status: number; seconds: number; bytesIn: number; bytesOut: number }): void {
    const method = methodLabel(r.method);
    this.inFlight.dec();
    this.requests.inc({ method, status: String(r.status) });
    this.duration.observe({ method }, r.seconds);
    if (r.bytesIn) this.bytesIn.inc({ method }, r.bytesIn);
    if (r.bytesOut) this.bytesOut.inc({ method }, r.bytesOut);
  }

  loginFailed(scheme: string): void {
    this.loginFailures.inc({ scheme: scheme || 'none' });
  }

  /** Connect as the API client's `onRequest`. */
  readonly recordBackendRequest = (info: BackendRequestInfo): void => {
    this.backendRequests.inc({ operation: info.operation, host: info.host, status: String(info.status) });
    if (info.retry > 0) this.backendRetries.inc({ operation: info.operation });
    this.backendDuration.observe({ host: info.host }, info.ms / 1000);
  };

  /** Sources read at scrape time, when the storage layer offers them. */
  observeCache(stats: () => CacheStats): void {
    this.cacheStats = stats;
  }

  observeSpool(bytes: () => number): void {
    this.spoolBytes = bytes;
  }
}
