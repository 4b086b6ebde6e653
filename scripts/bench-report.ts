// What a run leaves behind: the check of issue 7's targets against the numbers, the SVG charts (time vs folder size,
// time vs file size; drawn here, log–log, no library), and the Markdown report that BENCHMARKS.md embeds.
import { formatBytes, formatMs, markdownTable, median, ratios, type Row, speedup, summarize, TARGET_TITLES, TARGETS, type TargetName } from './bench-stats.js';

const MiB = 1024 * 1024;

export interface RunInfo {
  date: string;
  mode: 'quick' | 'full';
  latencyMs: number;
  bandwidth: number;
  via: 'proxy' | 'direct';
  node: string;
  rclone: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  rcloneWriteBack: string;
  load: { workload: number; start: number[]; end: number[] }[];
  durationSec: number;
  /** Repetitions or rows left out because the time limit came first. */
  cutShort: boolean;
  /** RSS of each server process after the warm-up. */
  idleRss: Partial<Record<TargetName, number | undefined>>;
}

export interface TargetCheck {
  target: string;
  met: boolean | undefined;
  detail: string;
}

const byId = (rows: Row[], id: string) => rows.find((r) => r.id === id);

/** Medians within 5 % count as equally fast: repeated runs on one machine differ by that much. */
export const TIE = 0.95;

/** Each of issue 7's targets, judged from this run's medians (undefined: not measured in this run). */
export function checkTargets(rows: Row[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const workloads = rows.filter((r) => r.workload >= 1);
  const slower = workloads.filter((r) => {
    const q = ratios(r);
    return (q.vsRclone !== undefined && q.vsRclone < TIE) || (q.vsRcloneWrites !== undefined && q.vsRcloneWrites < TIE);
  });
  const compared = workloads.filter((r) => ratios(r).vsRclone !== undefined || ratios(r).vsRcloneWrites !== undefined);
  out.push({
    target: 'every workload at least as fast as rclone serve webdav (both modes)',
    met: compared.length ? slower.length === 0 : undefined,
    detail:
      (slower.length
        ? `slower (vs rclone / vs rclone writes) in: ${slower.map((r) => `${r.title} (${fmt(ratios(r).vsRclone)} / ${fmt(ratios(r).vsRcloneWrites)})`).join('; ')}`
        : `${compared.length} rows compared`) + ackNote(workloads),
  });
  const sp = byId(rows, 'small-put');
  if (sp) {
    const q = ratios(sp);
    const worst = Math.min(q.vsRclone ?? Infinity, q.vsRcloneWrites ?? Infinity);
    out.push({
      target: 'small-file PUTs ≥ 1.5× rclone throughput',
      met: Number.isFinite(worst) ? worst >= 1.5 : undefined,
      detail: `${fmt(q.vsRclone)} vs rclone, ${fmt(q.vsRcloneWrites)} vs rclone writes (time until stored)`,
    });
  }
  const get = byId(rows, 'get');
  if (get) out.push(share('GET throughput ≥ 90 % of the direct download', get, 0.9));
  const r0 = median(byId(rows, 'range-0')?.ttfbMs?.jottadav);
  const r99 = median(byId(rows, 'range-99')?.ttfbMs?.jottadav);
  if (r0 !== undefined && r99 !== undefined) {
    out.push({ target: 'Range time to first byte at 99 % within 2× of that at 0 %', met: r99 <= 2 * r0, detail: `${formatMs(r99)} vs ${formatMs(r0)} (${(r99 / r0).toFixed(2)}×)` });
  }
  for (const r of rows.filter((x) => x.id.startsWith('put-') && x.id.endsWith('-md5'))) out.push(share(`${r.title}: ≥ 90 % of the direct upload`, r, 0.9));
  for (const r of rows.filter((x) => x.id.startsWith('put-') && x.id.endsWith('-nomd5'))) {
    out.push(share(`${r.title}: within 1.2× of spool + direct upload`, r, 1 / 1.2));
  }
  const big = rows.filter((r) => (r.id === 'get' || r.id.startsWith('put-')) && r.bytes && r.bytes >= Math.max(...rows.map((x) => (x.id.startsWith('put-') ? (x.bytes ?? 0) : 0))));
  const peaks = big
    .map((r) => {
      const samples = r.peakRss?.jottadav ?? [];
      const peak = summarize(samples)?.max;
      const start = peak === undefined ? undefined : r.startRss?.jottadav?.[samples.indexOf(peak)];
      return { r, peak, start };
    })
    .filter((x) => x.peak !== undefined) as { r: Row; peak: number; start?: number }[];
  if (peaks.length) {
    const worst = peaks.reduce((a, b) => (b.peak > a.peak ? b : a));
    out.push({
      target: 'peak server RSS during the biggest PUT/GET under 150 MiB',
      met: worst.peak < 150 * MiB,
      detail: peaks
        .map((p) => `${p.r.title}: ${formatBytes(p.peak)}${p.start !== undefined ? ` (${formatBytes(p.start)} before it)` : ''}`)
        .join('; '),
    });
  }
  const warm = rows.filter((r) => r.id.startsWith('propfind-') && r.id.endsWith('-warm'));
  const cold = rows.filter((r) => r.id.startsWith('propfind-') && r.id.endsWith('-cold'));
  if (warm.length) {
    const counts = warm.map((r) => Math.max(...(r.requests?.jottadav ?? [NaN])));
    out.push({ target: 'PROPFIND warm: zero backend requests', met: counts.every((c) => c === 0), detail: warm.map((r, i) => `${r.chart?.x}: ${counts[i]}`).join(', ') });
  }
  if (cold.length) {
    const counts = cold.map((r) => Math.max(...(r.requests?.jottadav ?? [NaN])));
    out.push({ target: 'PROPFIND cold: one backend request', met: counts.every((c) => c === 1), detail: cold.map((r, i) => `${r.chart?.x}: ${counts[i]}`).join(', ') });
    const pts = cold.map((r) => ({ x: r.chart?.x ?? 0, y: median(r.ms.jottadav) ?? NaN })).filter((p) => Number.isFinite(p.y));
    if (pts.length >= 2) {
      const a = pts[pts.length - 2];
      const b = pts[pts.length - 1];
      // Linear: the cost per added entry between the two largest folders, against the average per entry.
      const growth = (b.y - a.y) / (b.x - a.x);
      out.push({
        target: 'listing cost grows linearly with entries',
        met: undefined,
        detail: `${(growth * 1000).toFixed(1)} ms per 1,000 more entries between ${a.x} and ${b.x}; ${pts.map((p) => `${p.x}: ${formatMs(p.y)}`).join(', ')} (see chart)`,
      });
    }
  }
  return out;
}

/** One line per kind of limit, naming the rows it applies to. */
function limitNotes(rows: Row[]): string[] {
  const byNote = new Map<string, string[]>();
  for (const r of rows) if (r.limitNote) byNote.set(r.limitNote, [...(byNote.get(r.limitNote) ?? []), r.title]);
  return [...byNote].map(([note, titles]) => `- ${titles.join('; ')}: ${note}`);
}

/** Where jottadav sent more requests than the limit needs: the kinds, per sample. */
function requestNotes(rows: Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const ours = r.requests?.jottadav;
    const limit = median(r.requests?.limit);
    const m = median(ours);
    if (!ours || m === undefined || limit === undefined || m <= limit || !r.routes?.jottadav) continue;
    const per = (routes: Record<string, number> | undefined, n: number) =>
      Object.entries(routes ?? {})
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ×${+(v / n).toFixed(1)}`)
        .join(', ');
    out.push(`- ${r.title}: jottadav ${per(r.routes.jottadav, ours.length)}; limit ${per(r.routes.limit, r.requests?.limit?.length ?? 1)}`);
  }
  return out.length ? ['Backend requests per sample where jottadav needs more than the limit:', '', ...out, ''] : [];
}

/**
 * Where a PUT's time goes: jottadav's phases from its answers' `Server-Timing` (median per phase), beside the
 * limit's parts for a PUT without MD5 (spool, then allocate + upload), so the gap can be placed.
 */
export function timingNotes(rows: Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (!r.phases) continue;
    const m = (v: number[] | undefined) => formatMs(median(v) ?? NaN);
    const parts = Object.entries(r.phases)
      .filter(([name]) => name !== 'total' && name !== 'hash')
      .map(([name, v]) => `${name} ${m(v)}${name === 'spool' && r.phases?.hash ? ` (hashing ${m(r.phases.hash)} of it)` : ''}`);
    const limit = r.limitParts ? `; limit: spool ${m(r.limitParts.spool)} + allocate/upload ${m(r.limitParts.upload)}` : '';
    out.push(`- ${r.title}: jottadav ${parts.join(', ')} = ${m(r.phases.total)}${limit}`);
  }
  if (!out.length) return [];
  return [
    "Where a jottadav PUT's time goes (its answers' `Server-Timing`, median per phase: `pre` = checks before the body, " +
      '`check` = same-path queue and parent listing, `spool` = receiving the body to memory/disk while hashing, ' +
      '`upload` = the upload POST, which with a client MD5 includes receiving the body as it streams through):',
    '',
    ...out,
    '',
  ];
}

/**
 * Where rclone's write-back cache answered the client long before the upload: the ratio on that answer, which is
 * what a person watching a copy dialog sees (jottadav answers only once the service has the file).
 */
function ackNote(rows: Row[]): string {
  const early = rows.filter((r) => {
    const ack = median(r.ackMs?.['rclone-writes']);
    const done = median(r.ms['rclone-writes']);
    return ack !== undefined && done !== undefined && ack < done * 0.8;
  });
  if (!early.length) return '';
  const list = early.map((r) => `${r.title} ${fmt(speedup(r.ackMs?.jottadav ?? r.ms.jottadav, r.ackMs?.['rclone-writes']))}`).join('; ');
  return `. Compared with rclone writes' answer to the client instead (its upload follows later): ${list}`;
}

function fmt(r: number | undefined): string {
  return r === undefined ? '–' : `${r.toFixed(2)}×`;
}

function share(target: string, r: Row, needed: number): TargetCheck {
  const q = ratios(r).ofLimit;
  return { target, met: q === undefined ? undefined : q >= needed, detail: q === undefined ? 'not measured' : `${(q * 100).toFixed(0)} % of the limit` };
}

// ------------------------------------------------------------------------------------------------ charts

const COLORS: Record<TargetName, string> = { jottadav: '#1f77b4', rclone: '#d62728', 'rclone-writes': '#ff7f0e', limit: '#2ca02c' };

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  points: [number, number][];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

/** Tick labels for a time axis of decades: 1 ms, 10 ms, 100 ms, 1 s, 10 s … */
function decadeTime(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toPrecision(3)} s` : `${+ms.toPrecision(3)} ms`;
}

/** A log–log line chart. */
export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: Series[]; xFormat: (x: number) => string }): string {
  const W = 760;
  const H = 420;
  const m = { l: 70, r: 200, t: 40, b: 50 };
  const pts = opts.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  if (pts.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="60"><text x="10" y="30">${esc(opts.title)}: no data</text></svg>`;
  // x: ticks at the measured sizes (a workload's sizes are few and chosen), with a little room either side
  const xs = [...new Set(pts.map((p) => p[0]))].sort((a, b) => a - b);
  const pad = Math.max(0.15, (Math.log10(xs[xs.length - 1]) - Math.log10(xs[0])) * 0.06);
  const ys = decades(Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1])));
  const [x0, x1] = [Math.log10(xs[0]) - pad, Math.log10(xs[xs.length - 1]) + pad];
  const [y0, y1] = [Math.log10(ys[0]), Math.log10(ys[ys.length - 1])];
  const px = (x: number) => m.l + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${m.l}" y="22" font-size="15" font-weight="bold">${esc(opts.title)}</text>`);
  for (const x of xs) {
    parts.push(`<line x1="${px(x)}" y1="${m.t}" x2="${px(x)}" y2="${H - m.b}" stroke="#ddd"/>`);
    parts.push(`<text x="${px(x)}" y="${H - m.b + 16}" text-anchor="middle">${esc(opts.xFormat(x))}</text>`);
  }
  for (const y of ys) {
    parts.push(`<line x1="${m.l}" y1="${py(y)}" x2="${W - m.r}" y2="${py(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py(y) + 4}" text-anchor="end">${esc(decadeTime(y))}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  opts.series.forEach((s, i) => {
    const p = s.points.filter(([x, y]) => x > 0 && y > 0).sort((a, b) => a[0] - b[0]);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (p.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of p) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = m.t + 10 + i * 18;
    parts.push(`<line x1="${W - m.r + 12}" y1="${ly}" x2="${W - m.r + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${W - m.r + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function seriesFrom(rows: Row[], names: string[]): Series[] {
  const out: Series[] = [];
  for (const t of TARGETS) {
    names.forEach((name, i) => {
      const points = rows
        .filter((r) => r.chart?.series === name)
        .map((r) => [r.chart!.x, median(r.ms[t]) ?? NaN] as [number, number])
        .filter(([, y]) => Number.isFinite(y));
      if (points.length) out.push({ name: `${TARGET_TITLES[t]}, ${name}`, color: COLORS[t], dashed: i > 0, points });
    });
  }
  return out;
}

export function charts(rows: Row[]): { folder: string; file: string } {
  return {
    folder: lineChart({
      title: 'PROPFIND depth 1: time vs folder size',
      xLabel: 'entries in the folder',
      yLabel: 'time (median)',
      series: seriesFrom(rows, ['cold', 'warm']),
      xFormat: (x) => x.toLocaleString('en'),
    }),
    file: lineChart({
      title: 'PUT: time until stored vs file size',
      xLabel: 'file size',
      yLabel: 'time (median)',
      series: seriesFrom(rows, ['PUT with MD5', 'PUT without MD5']).map((x) => ({ ...x, name: x.name.replace('PUT with MD5', 'with MD5').replace('PUT without MD5', 'no MD5') })),
      xFormat: (x) => formatBytes(x),
    }),
  };
}

// ------------------------------------------------------------------------------------------------ Markdown

export function markdownReport(rows: Row[], info: RunInfo, chartPaths: { folder: string; file: string }): string {
  const checks = checkTargets(rows);
  const load = info.load.map((l) => `${l.workload}: ${l.start[0].toFixed(1)}→${l.end[0].toFixed(1)}`).join(', ');
  const lines = [
    `Run of ${info.date} (${info.mode}, ${info.durationSec.toFixed(0)} s${info.cutShort ? ', cut short by the time limit' : ''}): ` +
      `${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB, Node ${info.node}, rclone ${info.rclone}. ` +
      `Emulator latency ${info.latencyMs} ms per request, bandwidth ${info.bandwidth ? `${formatBytes(info.bandwidth)}/s` : 'unlimited'}; ` +
      `jottadav and the limit reach it ${info.via === 'proxy' ? 'through the TLS MITM proxy, like rclone' : 'directly (plain HTTP), rclone through the TLS MITM proxy'}; ` +
      `rclone writes with --vfs-write-back ${info.rcloneWriteBack}. Load average (1 min) per workload: ${load}.`,
    '',
    'Cells: median (throughput) (min–max) · backend requests · peak server RSS. Writes are timed until the service holds ' +
      'the file; `ack` is when the client got its answer, where that came earlier (rclone\'s write-back cache). ' +
      '"vs rclone" = rclone\'s median time / ours (> 1: we are faster); "of limit" = the limit\'s time / ours.',
    '',
    markdownTable(rows),
    '',
    'What the limit is:',
    '',
    ...limitNotes(rows),
    '',
    `Server RSS after the warm-up: ${TARGETS.filter((t) => info.idleRss[t]).map((t) => `${TARGET_TITLES[t]} ${formatBytes(info.idleRss[t] as number)}`).join(', ')}.`,
    '',
    ...requestNotes(rows),
    ...timingNotes(rows),
    '### Targets (issue 7)',
    '',
    '| target | met | measured |',
    '|---|---|---|',
    ...checks.map((c) => `| ${c.target} | ${c.met === undefined ? '–' : c.met ? 'yes' : '**no**'} | ${c.detail.replace(/\|/g, '\\|')} |`),
    '',
    `![time vs folder size](${chartPaths.folder})`,
    '',
    `![time vs file size](${chartPaths.file})`,
    '',
  ];
  return lines.join('\n');
}
