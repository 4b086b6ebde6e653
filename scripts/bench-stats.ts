// The benchmark's result model and its arithmetic: samples per target per row, median and spread, the ratios the
// issue's targets are stated in, and the plain-text / Markdown tables made from them.

export const TARGETS = ['jottadav', 'rclone', 'rclone-writes', 'limit'] as const;
export type TargetName = (typeof TARGETS)[number];

export const TARGET_TITLES: Record<TargetName, string> = {
  jottadav: 'jottadav',
  rclone: 'rclone',
  'rclone-writes': 'rclone writes',
  limit: 'limit',
};

export type PerTarget<T> = Partial<Record<TargetName, T>>;

export interface Row {
  /** Stable key, e.g. `propfind-1000-cold`. */
  id: string;
  workload: number;
  title: string;
  /** Bytes moved per sample (shown as MiB/s beside the time), or files per sample (shown as files/s). */
  bytes?: number;
  files?: number;
  /** Milliseconds per sample, for each target. For writes: until the service holds the data. */
  ms: PerTarget<number[]>;
  /** Writes only: until the client got its answer, where that differs (rclone's write-back cache). */
  ackMs?: PerTarget<number[]>;
  /** Time to first byte, for Range reads. */
  ttfbMs?: PerTarget<number[]>;
  /** Requests the service saw per sample. */
  requests?: PerTarget<number[]>;
  /** Backend requests by kind (emulator route label), summed over the samples: where the requests went. */
  routes?: PerTarget<Record<string, number>>;
  /** Peak RSS of the server process per sample, bytes. */
  peakRss?: PerTarget<number[]>;
  /** Its RSS right before each sample (what caches of earlier work already held). */
  startRss?: PerTarget<number[]>;
  /** What the limit cell is, when it is not the same operation on the API. */
  limitNote?: string;
  /** PUTs: jottadav's own account of each sample (the `Server-Timing` of its answers), ms per phase in its order. */
  phases?: Record<string, number[]>;
  /** PUTs without a client MD5: the limit's two parts (`spool`, `upload`), ms per sample. */
  limitParts?: Record<string, number[]>;
  /** For the charts: which series and at which x. */
  chart?: { series: string; x: number };
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: number[] | undefined): Summary | undefined {
  if (!values || values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

export function median(values: number[] | undefined): number | undefined {
  return summarize(values)?.median;
}

/** How many times faster `a` is than `b` (time ratio b/a); >1 means `a` wins. */
export function speedup(a: number[] | undefined, b: number[] | undefined): number | undefined {
  const ma = median(a);
  const mb = median(b);
  return ma && mb ? mb / ma : undefined;
}

const MiB = 1024 * 1024;

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function formatBytes(b: number): string {
  if (b >= 1024 * MiB) return `${+(b / 1024 / MiB).toFixed(2)} GiB`;
  if (b >= MiB) return `${+(b / MiB).toFixed(1)} MiB`;
  if (b >= 1024) return `${+(b / 1024).toFixed(1)} KiB`;
  return `${b} B`;
}

function rate(row: Row, ms: number): string {
  if (row.bytes) return ` ${(row.bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
  if (row.files) return ` ${(row.files / (ms / 1000)).toFixed(0)}/s`;
  return '';
}

/** One cell: median (and the throughput it means), spread as min–max, then backend requests and peak RSS. */
export function cell(row: Row, t: TargetName): string {
  const s = summarize(row.ms[t]);
  if (!s) return '–';
  let out = formatMs(s.median) + rate(row, s.median);
  if (s.n > 1) out += ` (${formatMs(s.min)}–${formatMs(s.max)})`;
  const ttfb = summarize(row.ttfbMs?.[t]);
  if (ttfb) out += ` ttfb ${formatMs(ttfb.median)}`;
  const ack = summarize(row.ackMs?.[t]);
  if (ack && Math.abs(ack.median - s.median) > Math.max(5, s.median * 0.05)) out += ` ack ${formatMs(ack.median)}`;
  const req = summarize(row.requests?.[t]);
  if (req) out += ` · ${Math.round(req.median)} req`;
  const rss = summarize(row.peakRss?.[t]);
  const before = row.startRss?.[t];
  if (rss) {
    // The worst sample, and how far it rose above where that sample started.
    const i = row.peakRss![t]!.indexOf(rss.max);
    const rise = before?.[i] !== undefined ? ` (+${formatBytes(Math.max(0, rss.max - before[i]))})` : '';
    out += ` · ${formatBytes(rss.max)}${rise} RSS`;
  }
  return out;
}

export interface Ratios {
  vsRclone?: number;
  vsRcloneWrites?: number;
  ofLimit?: number;
}

export function ratios(row: Row): Ratios {
  // Range rows are judged by time to first byte, everything else by the time to done.
  const pick = (t: TargetName) => (row.ttfbMs?.[t] ? row.ttfbMs[t] : row.ms[t]);
  return {
    vsRclone: speedup(pick('jottadav'), pick('rclone')),
    vsRcloneWrites: speedup(pick('jottadav'), pick('rclone-writes')),
    // Fraction of the limit reached: limit time / our time.
    ofLimit: speedup(pick('jottadav'), pick('limit')),
  };
}

function fmtRatio(r: number | undefined, suffix = '×'): string {
  return r === undefined ? '–' : `${r.toFixed(2)}${suffix}`;
}

function fmtPercent(r: number | undefined): string {
  return r === undefined ? '–' : `${(r * 100).toFixed(0)} %`;
}

const HEAD = ['workload', ...TARGETS.map((t) => TARGET_TITLES[t]), 'vs rclone', 'vs rclone writes', 'of limit'];

function tableRows(rows: Row[]): string[][] {
  return rows.map((row) => {
    const r = ratios(row);
    return [`${row.workload}. ${row.title}`, ...TARGETS.map((t) => cell(row, t)), fmtRatio(r.vsRclone), fmtRatio(r.vsRcloneWrites), fmtPercent(r.ofLimit)];
  });
}

/** A plain-text table for the terminal. */
export function textTable(rows: Row[]): string {
  const body = tableRows(rows);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  return [line(HEAD), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}

export function markdownTable(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...tableRows(rows).map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
