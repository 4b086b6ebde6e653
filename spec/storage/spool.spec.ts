// The MD5 spool on its own: hashing, the memory/disk split, replay from an offset, and that no temp file
// survives success, failure, abort or a crash. The upload path through the provider is in provider specs.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { HashThread, Md5MismatchError, SizeMismatchError, Spool, normalizeMd5, verifyingStream } from '../../lib/storage/spool.js';

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}
function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}
/** A body delivered in pieces, like a socket. */
function chunked(b: Buffer, size = 64 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.subarray(i, i + size));
  return Readable.from(parts);
}

/** Waits (bounded) for a state the code under test reaches asynchronously. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond(), 'state not reached').to.equal(true);
}

describe('storage/spool', () => {
  let dir = '';
  let spool: Spool;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jottadav-spool-'));
    spool = await Spool.open({ dir: join(dir, 'spool'), memoryLimit: 1024 * 1024 });
  });
  afterEach(async () => {
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const files = (): string[] => readdirSync(join(dir, 'spool'));

  it('keeps a body up to the memory limit in memory, with its MD5 and size', async () => {
    const body = bytes(1024 * 1024);
    const s = await spool.spool(chunked(body));
    expect(s.onDisk).to.equal(false);
    expect(s.md5).to.equal(md5(body));
    expect(s.size).to.equal(body.length);
    expect(files()).to.deep.equal([]);
    expect((await buffer(s.open())).equals(body)).to.equal(true);
    expect((await buffer(s.open(1000))).equals(body.subarray(1000))).to.equal(true);
    await s.dispose();
  });

  it('spills a body above the limit to a 0600 temp file, replays it from any offset, and removes it on dispose', async () => {
    const body = bytes(3 * 1024 * 1024 + 17);
    const s = await spool.spool(chunked(body));
    expect(s.onDisk).to.equal(true);
    expect(s.md5).to.equal(md5(body));
    expect(files()).to.have.length(1);
    expect(statSync(spool.files[0]).mode & 0o777).to.equal(0o600);
    expect((await buffer(s.open())).equals(body)).to.equal(true);
    expect((await buffer(s.open(2_000_000))).equals(body.subarray(2_000_000))).to.equal(true);
    await s.dispose();
    await s.dispose();
    expect(files()).to.deep.equal([]);
  });

  it('writes a body declared larger than the memory limit to disk from its first bytes', async () => {
    const body = new PassThrough();
    const all = bytes(3 * 1024 * 1024, 5);
    const done = spool.spool(body, { expectedSize: all.length });
    body.write(all.subarray(0, 100_000));
    await until(() => files().length === 1); // long before the 1 MiB limit
    body.end(all.subarray(100_000));
    const s = await done;
    expect(s.onDisk).to.equal(true);
    expect(s.md5).to.equal(md5(all));
    expect((await buffer(s.open(123))).equals(all.subarray(123))).to.equal(true);
    await s.dispose();
    expect(files()).to.deep.equal([]);
  });

  it('handles the empty body', async () => {
    const s = await spool.spool(Readable.from([]));
    expect(s.size).to.equal(0);
    expect(s.md5).to.equal('d41d8cd98f00b204e9800998ecf8427e');
    expect((await buffer(s.open())).length).to.equal(0);
    await s.dispose();
  });

  it('removes the temp file when the body fails midway (client went away)', async () => {
    const body = new PassThrough();
    const done = spool.spool(body);
    body.write(bytes(2 * 1024 * 1024));
    await until(() => files().length === 1);
    body.destroy(new Error('socket hang up'));
    const err = await done.then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/socket hang up/);
    expect(files()).to.deep.equal([]);
    expect(spool.files).to.deep.equal([]);
  });

  it('removes the temp file when the caller aborts', async () => {
    const body = new PassThrough();
    const ac = new AbortController();
    const done = spool.spool(body, { signal: ac.signal });
    body.write(bytes(2 * 1024 * 1024));
    await until(() => files().length === 1);
    ac.abort();
    const err = await done.then(() => null, (e: Error) => e);
    expect(err?.name).to.equal('AbortError');
    expect(files()).to.deep.equal([]);
  });

  it('fails and keeps nothing when the byte count differs from the declared size', async () => {
    const err = await spool.spool(chunked(bytes(2 * 1024 * 1024)), { expectedSize: 5 }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(SizeMismatchError);
    expect(files()).to.deep.equal([]);
  });

  // Bodies on disk are hashed on another thread through a 2 MiB ring: bodies many times its size, chunks
  // bigger than it, odd chunk sizes that wrap around its end, and several bodies at once.
  it('hashes spilled bodies right whatever their chunking, also several at a time', async () => {
    const big = bytes(13 * 1024 * 1024 + 5, 3);
    const odd = bytes(9 * 1024 * 1024 + 333, 4);
    const [a, b, c, d] = await Promise.all([
      spool.spool(chunked(big)),
      spool.spool(chunked(big, 9 * 1024 * 1024)), // one chunk over twice the ring
      spool.spool(chunked(odd, 65_521)),
      spool.spool(Readable.from([odd])),
    ]);
    for (const [s, body] of [[a, big], [b, big], [c, odd], [d, odd]] as const) {
      expect(s.onDisk).to.equal(true);
      expect(s.size).to.equal(body.length);
      expect(s.md5).to.equal(md5(body));
      expect(s.hashMs).to.be.greaterThan(0);
      expect(md5(await buffer(s.open()))).to.equal(md5(body));
      await s.dispose();
    }
    expect(files()).to.deep.equal([]);
  });

  it('reuses at most two hashing rings; a body spilling while both are in use is hashed on the main thread', async () => {
    const thread = new HashThread();
    try {
      const a = thread.job();
      const b = thread.job();
      expect(a).to.not.equal(undefined);
      expect(b).to.not.equal(undefined);
      expect(thread.job()).to.equal(undefined);
      a!.drop();
      const c = thread.job()!;
      await c.feed([Buffer.from('abc')]);
      expect((await c.finish()).md5).to.equal(md5(Buffer.from('abc')));
      for (let i = 0; i < 20; i++) {
        const j = thread.job()!;
        await j.feed([bytes(1024 + i, i)]);
        expect((await j.finish()).md5).to.equal(md5(bytes(1024 + i, i)));
      }
      b!.drop();
      expect(thread.ringCount).to.equal(2);
    } finally {
      await thread.close();
    }
  });

  it('fails a body whose hashing thread ends under it, keeps nothing, and hashes the next body on a new thread', async () => {
    const body = new PassThrough();
    const done = spool.spool(body);
    body.write(bytes(2 * 1024 * 1024));
    await until(() => files().length === 1);
    await spool.close(); // ends the thread (and removes the file) with the body half received
    body.write(bytes(1024 * 1024));
    body.end();
    const err = await done.then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/MD5 thread/);
    expect(files()).to.deep.equal([]);
    expect(spool.files).to.deep.equal([]);

    const next = bytes(3 * 1024 * 1024, 7);
    const s = await spool.spool(chunked(next));
    expect(s.onDisk).to.equal(true);
    expect(s.md5).to.equal(md5(next));
    await s.dispose();
  });

  it('removes leftovers of dead processes at start but keeps files of running ones', async () => {
    const spoolDir = join(dir, 'spool');
    const dead = join(spoolDir, 'spool-2147483646-abcdef'); // no such pid
    const mine = join(spoolDir, `spool-${process.pid}-0123`); // our own pid from a previous life
    const alive = join(spoolDir, `spool-${process.ppid}-4567`); // a running process
    const other = join(spoolDir, 'unrelated.txt');
    for (const f of [dead, mine, alive, other]) writeFileSync(f, 'x');
    await Spool.open({ dir: spoolDir });
    expect(existsSync(dead)).to.equal(false);
    expect(existsSync(mine)).to.equal(false);
    expect(existsSync(alive)).to.equal(true);
    expect(existsSync(other)).to.equal(true);
  });

  describe('verifyingStream (client-declared MD5)', () => {
    it('passes a matching body through unchanged, hex or base64', async () => {
      const body = bytes(300_000);
      for (const declared of [md5(body), Buffer.from(md5(body), 'hex').toString('base64')]) {
        const out = new PassThrough();
        const collected = buffer(out);
        await pipeline(chunked(body), verifyingStream(declared, body.length), out);
        expect((await collected).equals(body)).to.equal(true);
      }
    });

    it('withholds the last chunk when the MD5 does not match, so the receiver never has the whole body', async () => {
      const body = bytes(300_000);
      const received: Buffer[] = [];
      const sink = new PassThrough();
      sink.on('data', (c: Buffer) => received.push(c));
      const err = await pipeline(chunked(body), verifyingStream(md5(bytes(300_000, 2)), body.length), sink).then(() => null, (e: Error) => e);
      expect(err).to.be.instanceOf(Md5MismatchError);
      expect(Buffer.concat(received).length).to.be.lessThan(body.length);
    });

    it('fails on too many or too few bytes', async () => {
      const body = bytes(1000);
      for (const declaredSize of [999, 1001]) {
        const err = await pipeline(chunked(body, 100), verifyingStream(md5(body), declaredSize), new PassThrough().resume()).then(() => null, (e: Error) => e);
        expect(err).to.be.instanceOf(SizeMismatchError);
      }
    });

    it('normalises declared MD5s and rejects other strings', () => {
      expect(normalizeMd5('D41D8CD98F00B204E9800998ECF8427E')).to.equal('d41d8cd98f00b204e9800998ecf8427e');
      expect(normalizeMd5('1B2M2Y8AsgTpgAmY7PhCfg==')).to.equal('d41d8cd98f00b204e9800998ecf8427e');
      expect(normalizeMd5('sha1:abc')).to.equal(undefined);
      expect(() => verifyingStream('nope', 1)).to.throw(/not an MD5/);
    });
  });
});
