// The streamed subtree listing: the SAX reader on hand-made answers (counts that do not add up, a
// cut-off answer, malformed XML, UTF-8 split across chunks, stopping early), and a 100,000-entry tree
// from the emulator read with heap growth far below the size of the answer.
import { expect } from 'chai';
import http from 'node:http';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { UnexpectedResponseError, type ListStreamEntry } from '../../lib/jottacloud/index.js';
import { parseListStream } from '../../lib/jottacloud/liststream.js';
import { accessToken, emuFetch, startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { makeClient, parallel } from './client-helpers.js';

const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

const ctx = { operation: 'liststream', path: '/Jotta/Archive/d', rootDepth: 2 };

async function collect(body: Readable): Promise<{ entries: ListStreamEntry[]; stats: unknown }> {
  const it = parseListStream(body, ctx);
  const entries: ListStreamEntry[] = [];
  for (let r = await it.next(); ; r = await it.next()) {
    if (r.done) return { entries, stats: r.value };
    entries.push(r.value);
  }
}

const doc = (inner: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<stream>\n${inner}</stream>\n`;
const folder = (p: string) => `<folder><path>${p}</path></folder>\n`;
const file = (p: string, name: string, size = 1) =>
  `<file><path>${p}</path><filename>${name}</filename><md5>D41D8CD98F00B204E9800998ECF8427E</md5><size>${size}</size>` +
  `<modified>2020-01-02T03:04:05.678Z</modified><created>2020-01-02T03:04:05.000Z</created></file>\n`;
const stats = (folders: number, files: number) => `<stats><folders>${folders}</folders><files>${files}</files></stats>\n`;

describe('liststream reader', () => {
  it('yields folders and files relative to the listed folder and returns the checked stats', async () => {
    const body = Readable.from([doc(folder('/Archive/d') + file('/Archive/d', 'a &amp; b.txt', 5) + folder('/Archive/d/s') + file('/Archive/d/s', 'c.txt') + stats(2, 2))]);
    const { entries, stats: s } = await collect(body);
    expect(s).to.deep.equal({ folders: 2, files: 2 });
    expect(entries.map((e) => `${e.kind}:${e.segments.join('/')}`)).to.deep.equal(['folder:', 'file:a & b.txt', 'folder:s', 'file:s/c.txt']);
    const a = entries[1]!;
    expect(a).to.include({ kind: 'file', name: 'a & b.txt', size: 5, md5: 'd41d8cd98f00b204e9800998ecf8427e', path: '/Archive/d' });
    if (a.kind === 'file') expect(a.modified?.toISOString()).to.equal('2020-01-02T03:04:05.678Z');
  });

  it('counts a file parent that no <folder> announced as a folder (the rule rclone checks)', async () => {
    const { stats: s } = await collect(Readable.from([doc(file('/Archive/d', 'x') + file('/Archive/d/s', 'y') + stats(2, 2))]));
    expect(s).to.deep.equal({ folders: 2, files: 2 });
  });

  it('fails when the counts do not match the stats', async () => {
    const e = await collect(Readable.from([doc(folder('/Archive/d') + file('/Archive/d', 'x') + stats(1, 2))])).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(UnexpectedResponseError);
    expect(String(e)).to.contain('announced 1 folders and 2 files');
    expect(String(e)).to.contain('/Jotta/Archive/d');
  });

  it('fails when the answer ends without <stats> (cut off)', async () => {
    const e = await collect(Readable.from([doc(folder('/Archive/d') + file('/Archive/d', 'x'))])).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(UnexpectedResponseError);
    expect(String(e)).to.contain('without <stats>');
  });

  it('fails on malformed XML', async () => {
    const e = await collect(Readable.from(['<stream><folder><path>/Archive/d</path></fold>'])).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(UnexpectedResponseError);
  });

  it('decodes UTF-8 split anywhere across network chunks', async () => {
    const bytes = Buffer.from(doc(folder('/Archive/d') + file('/Archive/d', 'ø日本☺ x.txt') + stats(1, 1)), 'utf8');
    const oneByteChunks = Readable.from([...bytes].map((b) => Buffer.from([b])));
    const { entries } = await collect(oneByteChunks);
    expect(entries[1]).to.include({ name: 'ø日本☺ x.txt' });
  });

  it('destroys the body when the consumer stops early', async () => {
    const body = Readable.from([doc(folder('/Archive/d') + file('/Archive/d', 'a') + file('/Archive/d', 'b')), stats(1, 2)]);
    for await (const e of parseListStream(body, ctx)) {
      expect(e.kind).to.equal('folder');
      break;
    }
    expect(body.destroyed).to.equal(true);
  });
});

describe('liststream of a 100,000-entry tree', function () {
  this.timeout(300_000);
  const FOLDERS = 500;
  const FILES_PER_FOLDER = 199; // 500 × 199 files + 500 folders + the listed folder = 100,001 entries
  let emu: RunningEmulator;

  before(async () => {
    // Unlimited capacity: the tree is about listing, not quota.
    emu = await startTestEmulator({ capacityBytes: -1 });
    // Seeding through the service's own API — allocate of empty files, which completes without an upload
    // step — with plain keep-alive HTTP: this is setup, not the client under test, and ~6× faster.
    const token = await accessToken(emu);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 48 });
    const allocate = (path: string) =>
      new Promise<void>((resolve, reject) => {
        const body = JSON.stringify({ bytes: 0, md5: EMPTY_MD5, path, modified: '2020-01-02T03:04:05Z' });
        const req = http.request(
          `${emu.url}/files/v1/allocate`,
          { method: 'POST', agent, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`allocate ${path}: HTTP ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const paths: string[] = [];
    for (let d = 0; d < FOLDERS; d++) for (let f = 0; f < FILES_PER_FOLDER; f++) paths.push(`/jfs/Jotta/Archive/big/folder ${d}/file ${f}.txt`);
    try {
      await parallel(paths, 48, allocate);
    } finally {
      agent.destroy();
    }
  });
  after(async () => {
    await emu?.close();
  });

  it('reads every entry with heap growth far below the answer size', async () => {
    const { client } = makeClient(emu);
    const token = await client.pacer.token();

    // The answer's size, measured by streaming it once without keeping it.
    const raw = await emuFetch(emu, token, `/jfs/${encodeURIComponent(emu.user)}/Jotta/Archive/big?mode=liststream`);
    let answerBytes = 0;
    for await (const chunk of raw.body as unknown as AsyncIterable<Uint8Array>) answerBytes += chunk.length;

    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const base = process.memoryUsage().heapUsed;
    let peakRetained = 0;
    let peakHeap = 0; // including garbage not yet collected, for the record

    let files = 0;
    let folders = 0;
    const it = client.listStream('big');
    let r = await it.next();
    while (!r.done) {
      if (r.value.kind === 'file') files++;
      else folders++;
      if ((files + folders) % 1000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - base);
      if ((files + folders) % 10_000 === 0) {
        gc();
        peakRetained = Math.max(peakRetained, process.memoryUsage().heapUsed - base);
      }
      r = await it.next();
    }
    gc();
    const after = process.memoryUsage().heapUsed - base;

    expect(files).to.equal(FOLDERS * FILES_PER_FOLDER);
    expect(folders).to.equal(FOLDERS + 1);
    expect(r.value).to.deep.equal({ folders: FOLDERS + 1, files: FOLDERS * FILES_PER_FOLDER });
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    console.log(
      `      liststream: ${files + folders} entries, answer ${mb(answerBytes)}, ` +
        `peak retained heap growth ${mb(peakRetained)} (peak heap incl. garbage ${mb(peakHeap)}), after ${mb(after)}`,
    );
    expect(answerBytes).to.be.greaterThan(10 * 1024 * 1024);
    // Generous: holding the answer as one string alone would be ≥ answerBytes; objects for every entry, several times that.
    expect(peakRetained).to.be.lessThan(answerBytes / 5);
  });
});
