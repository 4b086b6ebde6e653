// The benchmark's own machinery, checked so that `npm run bench` keeps measuring what it says: its one client against
// a real jottadav stack and a real emulator (listings counted the same over WebDAV and the API, bodies unique and
// intact, ranges, moves, deletes), its arithmetic and target checks, its charts, and one small run of the script
// itself (jottadav and the limit, PROPFIND only) whose request counts are checked where they are known exactly.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basicAuth, bodyMd5, bodyStream, keepAliveAgent } from '../../scripts/bench-http.js';
import { checkTargets, lineChart } from '../../scripts/bench-report.js';
import { DavSide, DirectSide, parseFolderXml, parseMultistatus } from '../../scripts/bench-sides.js';
import { cell, ratios, type Row, summarize } from '../../scripts/bench-stats.js';
import { treeLayout } from '../../scripts/bench-workloads.js';
import { accessToken } from '../helpers/emulator.js';
import { startStack, type TestStack } from '../helpers/stack.js';
import { repoRoot, requireTool } from '../helpers/tools.js';

async function collect(size: number, seed: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of bodyStream(size, seed)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('bench: request bodies', () => {
  it('makes exactly `size` bytes, the same for the same seed and different for another seed or another block', async () => {
    const a = await collect(2 * 1024 * 1024 + 17, 'one');
    expect(a.length).to.equal(2 * 1024 * 1024 + 17);
    expect((await collect(2 * 1024 * 1024 + 17, 'one')).equals(a)).to.equal(true);
    expect((await collect(2 * 1024 * 1024 + 17, 'two')).equals(a)).to.equal(false);
    // The service deduplicates by MD5: two blocks of one body must not be alike either.
    expect(a.subarray(0, 1024 * 1024).equals(a.subarray(1024 * 1024, 2 * 1024 * 1024))).to.equal(false);
    expect(await bodyMd5(0, 'x')).to.equal('d41d8cd98f00b204e9800998ecf8427e');
  });
});

describe('bench: statistics and target checks', () => {
  const row = (id: string, ms: Row['ms'], extra: Partial<Row> = {}): Row => ({ id, workload: 1, title: id, ms, ...extra });

  it('summarizes samples as median, min and max (even counts average the middle two)', () => {
    expect(summarize([5, 1, 3])).to.deep.equal({ median: 3, min: 1, max: 5, n: 3 });
    expect(summarize([4, 1, 3, 2])).to.deep.equal({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(summarize([])).to.equal(undefined);
  });

  it('states ratios as speed-ups over rclone and as a share of the limit', () => {
    const r = ratios(row('x', { jottadav: [100], rclone: [200], 'rclone-writes': [50], limit: [90] }));
    expect(r.vsRclone).to.equal(2);
    expect(r.vsRcloneWrites).to.equal(0.5);
    expect(r.ofLimit).to.equal(0.9);
    // Range rows are judged by time to first byte.
    const range = ratios(row('range-0', { jottadav: [100], rclone: [100] }, { ttfbMs: { jottadav: [10], rclone: [30] } }));
    expect(range.vsRclone).to.equal(3);
  });

  it('shows throughput, spread, requests and peak memory in a cell', () => {
    const r = row('get', { jottadav: [1000, 2000, 500] }, { bytes: 1024 * 1024 * 1024, requests: { jottadav: [1, 1, 1] }, peakRss: { jottadav: [80 * 1024 * 1024] } });
    expect(cell(r, 'jottadav')).to.equal('1.00 s 1024 MiB/s (500 ms–2.00 s) · 1 req · 80 MiB RSS');
    expect(cell(r, 'rclone')).to.equal('–');
    // With the RSS each sample started from, the worst peak also says how much it rose.
    r.startRss = { jottadav: [70 * 1024 * 1024] };
    expect(cell(r, 'jottadav')).to.equal('1.00 s 1024 MiB/s (500 ms–2.00 s) · 1 req · 80 MiB (+10 MiB) RSS');
  });

  it('flags a workload where jottadav is slower than either rclone mode, and judges the request-count targets', () => {
    const rows = [
      row('propfind-100-cold', { jottadav: [10], rclone: [20], 'rclone-writes': [20] }, { requests: { jottadav: [1, 1] }, chart: { series: 'cold', x: 100 } }),
      row('propfind-100-warm', { jottadav: [10], rclone: [5], 'rclone-writes': [20] }, { requests: { jottadav: [0, 2] }, chart: { series: 'warm', x: 100 } }),
    ];
    const checks = checkTargets(rows);
    const every = checks.find((c) => c.target.startsWith('every workload'));
    expect(every?.met).to.equal(false);
    expect(every?.detail).to.contain('propfind-100-warm');
    expect(checks.find((c) => c.target.startsWith('PROPFIND cold'))?.met).to.equal(true);
    expect(checks.find((c) => c.target.startsWith('PROPFIND warm'))?.met).to.equal(false);
  });

  it('lays a tree out with the asked number of folders and entries', () => {
    const t = treeLayout(10_000, 500);
    expect(t.folders.length).to.equal(500);
    expect(t.folders.length + t.files.length).to.equal(10_000);
    expect(new Set(t.files).size).to.equal(t.files.length);
  });
});

describe('bench: charts', () => {
  it('draws a log–log SVG with a line per series of two or more points and a legend entry per series', () => {
    const svg = lineChart({
      title: 'T & t',
      xLabel: 'entries',
      yLabel: 'time',
      xFormat: String,
      series: [
        { name: 'a', color: '#111', dashed: false, points: [[100, 10], [1000, 50], [10_000, 400]] },
        { name: 'b', color: '#222', dashed: true, points: [[100, 1]] },
      ],
    });
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<polyline /g)?.length).to.equal(1);
    expect(svg).to.contain('stroke-dasharray');
    expect(svg).to.contain('T &amp; t');
    for (const tick of ['>100<', '>1000<', '>10000<']) expect(svg).to.contain(tick);
  });
});

describe('bench: the client against a real stack', function () {
  this.timeout(120_000);
  let s: TestStack;
  let dav: DavSide;
  let api: DirectSide;
  const agent = keepAliveAgent(8);

  before(async () => {
    s = await startStack();
    const token = await accessToken(s.emu);
    api = new DirectSide('api', { jfs: s.emu.url, api: s.emu.url }, s.emu.user, async () => token, agent);
    dav = new DavSide('jottadav', s.url, basicAuth(s.user!.name, s.user!.password), agent);
    const md5 = await bodyMd5(100, 'listing');
    for (let i = 0; i < 12; i++) await api.write(`bench-spec/list/f${i}.txt`, 100, 'listing', { md5 });
    for (const d of ['x', 'y', 'z w']) await api.mkdir(`bench-spec/list/${d}`);
    // WebDAV writes need their folder (409 otherwise), as the benchmark's work folders do.
    for (const d of ['rt', 'mv-jottadav', 'mv-api']) await api.mkdir(`bench-spec/${d}`);
  });
  after(async () => {
    agent.destroy();
    await s?.close();
  });

  it('counts a listing the same over WebDAV and over the API, subfolders by name', async () => {
    for (const side of [dav, api]) {
      const l = await side.list('bench-spec/list');
      expect(l.entries, side.name).to.equal(15);
      expect([...l.folders].sort(), side.name).to.deep.equal(['x', 'y', 'z w']);
    }
  });

  it('writes a body and reads it back whole and by range, on both sides', async () => {
    const size = 3 * 1024 * 1024 + 5;
    const body = await collect(size, 'rt');
    const md5 = await bodyMd5(size, 'rt');
    await dav.write('bench-spec/rt/dav.bin', size, 'rt');
    await api.write('bench-spec/rt/api.bin', size, 'rt', { md5 });
    for (const [side, path] of [
      [dav, 'bench-spec/rt/dav.bin'],
      [api, 'bench-spec/rt/api.bin'],
    ] as const) {
      const whole = await side.read(path, { hash: true });
      expect(whole.md5, side.name).to.equal(md5);
      const part = await side.read(path, { range: [size - 1000, size - 1], hash: true });
      expect(part.bytes, side.name).to.equal(1000);
      expect(part.firstByteMs).to.be.at.least(part.headMs);
      expect(part.md5).to.equal(createHash('md5').update(body.subarray(size - 1000)).digest('hex'));
    }
    expect((await api.fileState('bench-spec/rt/dav.bin'))?.md5).to.equal(md5);
  });

  it('moves and deletes on both sides, and sees what is stored', async () => {
    for (const side of [dav, api]) {
      const md5 = await bodyMd5(10, `mv-${side.name}`);
      await side.write(`bench-spec/mv-${side.name}/a.txt`, 10, `mv-${side.name}`, { md5 });
      await side.move(`bench-spec/mv-${side.name}/a.txt`, `bench-spec/mv-${side.name}/b.txt`);
      expect([...(await api.completedFiles(`bench-spec/mv-${side.name}`)).keys()], side.name).to.deep.equal(['b.txt']);
      await side.remove(`bench-spec/mv-${side.name}/b.txt`);
      expect((await api.completedFiles(`bench-spec/mv-${side.name}`)).size, side.name).to.equal(0);
      expect((await api.fileState(`bench-spec/mv-${side.name}/b.txt`))?.deleted, side.name).to.equal(true);
    }
  });

  it('reads WebDAV and API listings whatever the namespace prefix and with trashed entries left out', () => {
    const ms = parseMultistatus(
      '<d:multistatus xmlns:d="DAV:"><d:response><d:href>/a/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>' +
        '<d:response><d:href>/a/b%20c/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>' +
        '<d:response><d:href>/a/f.txt</d:href><d:propstat><d:prop><d:resourcetype/></d:prop></d:propstat></d:response></d:multistatus>',
      'a',
    );
    expect(ms).to.deep.equal({ entries: 2, folders: ['b c'] });
    const api = parseFolderXml(
      '<folder name="a"><folders><folder name="x"/><folder name="gone" deleted="2020"/></folders>' +
        '<files><file name="f" uuid="1"><currentRevision/></file><file name="g" uuid="2" deleted="2020"><currentRevision/></file></files></folder>',
    );
    expect(api).to.deep.equal({ entries: 2, folders: ['x'] });
  });
});

describe('bench: npm run bench (a small run of the script)', function () {
  this.timeout(180_000);
  const script = join(repoRoot, 'dist', 'scripts', 'bench.js');
  let dir: string;
  before(function () {
    // jottadav reaches the emulator through the MITM proxy, whose certificates openssl makes.
    requireTool(this, 'openssl', 'openssl', 'version');
    dir = mkdtempSync(join(tmpdir(), 'jottadav-bench-spec-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('measures PROPFIND on jottadav and the API, counts one API request per listing, and writes JSON, Markdown and charts', async () => {
    const out = join(dir, 'r.json');
    const args = [script, '--quick', '--targets', 'jottadav,limit', '--workloads', '1', '--latency', '5', '--out', out, '--max-minutes', '3'];
    const stdout = await new Promise<string>((res, rej) =>
      execFile(process.execPath, args, { timeout: 170_000, maxBuffer: 8 * 1024 * 1024 }, (err, so, se) => (err ? rej(new Error(`${err.message}\n${se}`)) : res(so))),
    );
    expect(stdout).to.match(/PROPFIND depth 1, 1,000 entries, cold/);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[]; info: { latencyMs: number; mode: string } };
    expect(result.info).to.include({ latencyMs: 5, mode: 'quick' });
    const ids = result.rows.map((r) => r.id);
    for (const n of [10, 100, 1000]) expect(ids).to.include.members([`propfind-${n}-cold`, `propfind-${n}-warm`]);
    for (const r of result.rows) {
      expect(r.ms.jottadav?.length, r.id).to.be.greaterThan(0);
      // The API has no cache: every listing is exactly one request, which checks the counting itself.
      expect(r.requests?.limit?.every((n) => n === 1), r.id).to.equal(true);
      expect(r.routes?.limit, r.id).to.deep.equal({ 'GET jfs': r.requests?.limit?.length });
      expect(r.requests?.jottadav?.every((n) => Number.isInteger(n) && n >= 0), r.id).to.equal(true);
    }
    expect(readFileSync(join(dir, 'r.md'), 'utf8')).to.contain('| workload |');
    expect(existsSync(join(dir, 'quick-time-vs-folder-size.svg'))).to.equal(true);
  });
});
