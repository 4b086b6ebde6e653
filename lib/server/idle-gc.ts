// Gives memory back after bursts of work — opt-in: see AppOptions.idleGc for the measured cost. A burst of big
// listings grows V8's heap (each cold 10,000-entry listing leaves tens of MiB of garbage and the buffers it points
// to), and V8 keeps those pages committed: a server that listed big folders then went quiet held 200+ MiB of RSS
// for ~45 MiB of live data, and carried it into the next large transfer. So once no request has been in flight for
// `delayMs`, and the heap plus external memory has grown by at least `minGrowthBytes` since the last such
// collection, one full garbage collection runs — off the request path (an unref'd timer, never while a request is
// in flight), and once per burst: the figures after it become the new baseline, so an idle server is not collected
// again until more work has grown it. If the quiet lasts `shrinkAfterMs` more, a second one lets V8 shrink its
// young generation (~30 MiB).
import v8 from 'node:v8';
import { obtainGc, type GcFunction } from '../util/gc.js';

/** What the collector compares: V8's committed heap plus memory held outside it by JS objects (Buffers). */
export interface HeapFigures {
  heapBytes: number;
  externalBytes: number;
}

export interface IdleGcOptions {
  /** How long without a request in flight counts as idle. */
  delayMs?: number;
  /** After a burst's collection, quiet this long brings a second one, which lets V8 shrink its young generation. */
  shrinkAfterMs?: number;
  /** Growth of heap + external memory since the last collection below which collecting is not worth a pause. */
  minGrowthBytes?: number;
  /** The collector to run; by default V8's own (`obtainGc`). Null: there is none, the collector stays off. */
  gc?: GcFunction | null;
  /** Where the figures come from (default: `v8.getHeapStatistics()`). */
  figures?: () => HeapFigures;
  /** Told about each collection (for a debug log line). */
  onCollect?: (info: { before: HeapFigures; after: HeapFigures; ms: number }) => void;
}

/**
 * Idle before the collection: 2 s without a request in flight. A file manager's burst (a listing, then its
 * thumbnails, property requests for what it shows) has gaps of milliseconds to a few hundred; 2 s of nothing means
 * the user stopped, and the memory is back well before the next large transfer is likely to start.
 */
export const DEFAULT_IDLE_GC_DELAY_MS = 2000;
/** V8 judges allocation over the last 5 s when it decides whether to shrink the young generation (~30 MiB). */
export const DEFAULT_IDLE_GC_SHRINK_AFTER_MS = 5500;
/** 32 MiB: about what one cold 10,000-entry listing leaves behind; small traffic never triggers a collection. */
export const DEFAULT_IDLE_GC_MIN_GROWTH = 32 * 1024 * 1024;

function heapFigures(): HeapFigures {
  const s = v8.getHeapStatistics() as v8.HeapInfo & { external_memory?: number };
  return { heapBytes: s.total_heap_size, externalBytes: s.external_memory ?? process.memoryUsage().external };
}

const total = (f: HeapFigures) => f.heapBytes + f.externalBytes;

/** Counts requests in flight (`enter`/`leave`) and collects once the server has been idle after growing. */
export class IdleCollector {
  /** False when no collector could be had: enter/leave then cost nothing. */
  readonly enabled: boolean;
  /** Collections run so far. */
  collections = 0;
  private active = 0;
  private baseline: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Set after a burst's collection: one more is due once the server has been quiet for `shrinkAfterMs`. */
  private shrinkDue = false;
  private lastCollectionAt = 0;
  private lastBusyAt = 0;
  private readonly gc: GcFunction | null;
  private readonly figures: () => HeapFigures;
  private readonly delayMs: number;
  private readonly shrinkAfterMs: number;
  private readonly minGrowth: number;
  private readonly onCollect?: IdleGcOptions['onCollect'];

  constructor(opts: IdleGcOptions = {}) {
    this.gc = opts.gc === undefined ? obtainGc() : opts.gc;
    this.enabled = this.gc !== null;
    this.figures = opts.figures ?? heapFigures;
    this.delayMs = opts.delayMs ?? DEFAULT_IDLE_GC_DELAY_MS;
    this.shrinkAfterMs = opts.shrinkAfterMs ?? DEFAULT_IDLE_GC_SHRINK_AFTER_MS;
    this.minGrowth = opts.minGrowthBytes ?? DEFAULT_IDLE_GC_MIN_GROWTH;
    this.onCollect = opts.onCollect;
    this.baseline = this.enabled ? total(this.figures()) : 0;
  }

  /** A request started. */
  enter(): void {
    this.active++;
  }

  /** A request ended: when it was the last one in flight, the idle clock starts (again). */
  leave(): void {
    if (this.active > 0) this.active--;
    if (this.active > 0 || !this.enabled || this.closed) return;
    this.lastBusyAt = performance.now();
    this.arm(this.delayMs);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), ms);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  private fire(): void {
    // A request that started since: its own leave() starts the clock again.
    if (this.active > 0 || this.closed) return;
    const before = this.figures();
    // V8 may have shrunk on its own since: growth counts from the lowest figure seen.
    this.baseline = Math.min(this.baseline, total(before));
    if (total(before) - this.baseline >= this.minGrowth) {
      this.collect(before);
      // V8 shrinks its young generation only at a collection that finds allocation low over the last ~5 s,
      // which the first one after a burst never does: a second one follows if the quiet lasts that long.
      this.shrinkDue = true;
      this.arm(this.shrinkAfterMs);
      return;
    }
    if (!this.shrinkDue) return;
    const wait = Math.max(this.lastCollectionAt, this.lastBusyAt) + this.shrinkAfterMs - performance.now();
    if (wait > 1) {
      this.arm(wait);
      return;
    }
    this.shrinkDue = false;
    this.collect(before);
  }

  private collect(before: HeapFigures): void {
    const started = performance.now();
    this.gc!();
    const ms = performance.now() - started;
    this.lastCollectionAt = performance.now();
    const after = this.figures();
    this.baseline = total(after);
    this.collections++;
    this.onCollect?.({ before, after, ms });
  }
}
