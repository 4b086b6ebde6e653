// The emulator's memory blob store: bytes copied into growing slabs. A body arriving in uneven chunks, cut and
// resumed from an offset inside a slab, reads back the same whole and in any range, and its running MD5 is
// the MD5 of what it holds.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { MemoryBlobStore } from '../../lib/emulator/blobs.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** `data` as chunks of uneven sizes (1 byte to 100 KiB), as a socket hands them over. */
async function* chunks(data: Buffer): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = [1, 16_384, 65_536, 100_000, 777][i % 5] as number;
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function read(store: MemoryBlobStore, key: string, start: number, endInclusive: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of store.read(key, start, endInclusive)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('emulator: memory blob store', () => {
  it('keeps a body that arrived in pieces, was cut and resumed, byte for byte', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 12_345); // over six slabs (64 KiB, doubling)
    const store = new MemoryBlobStore();
    const cutAt = 1_500_001;
    // A first attempt sends more than it keeps: the resume starts at cutAt and drops the rest.
    await store.append('u1', 0, chunks(data.subarray(0, 2_000_000)));
    expect(await store.partialSize('u1')).to.equal(2_000_000);
    await store.append('u1', cutAt, chunks(data.subarray(cutAt)));
    expect(await store.partialSize('u1')).to.equal(data.length);
    expect(await store.partialMd5('u1')).to.equal(md5(data));
    await store.commit('u1', md5(data));

    expect(md5(await read(store, md5(data), 0, data.length - 1))).to.equal(md5(data));
    for (const [s, e] of [[0, 0], [65_535, 65_536], [196_607, 1_000_000], [cutAt - 3, cutAt + 3], [data.length - 10, data.length - 1]] as const) {
      expect((await read(store, md5(data), s, e)).equals(data.subarray(s, e + 1)), `${s}-${e}`).to.equal(true);
    }
  });

  it('keeps a small body as it is, and an empty one', async () => {
    const store = new MemoryBlobStore();
    const small = Buffer.from('0123456789');
    await store.append('s', 0, chunks(small));
    await store.commit('s', md5(small));
    expect((await read(store, md5(small), 2, 5)).toString()).to.equal('2345');
    await store.append('e', 0, chunks(Buffer.alloc(0)));
    expect(await store.partialMd5('e')).to.equal(md5(Buffer.alloc(0)));
    await store.commit('e', md5(Buffer.alloc(0)));
    expect((await read(store, md5(Buffer.alloc(0)), 0, -1)).length).to.equal(0);
  });
});
