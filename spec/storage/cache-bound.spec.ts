// The in-process metadata cache is bounded by entry count (an LRU weighing a listing by its children): old
// listings make room for new ones, a recently used one stays, a listing larger than the whole bound is not
// kept, and a write into a listing that was pushed out is simply not cached (never stale).
import { expect } from 'chai';
import { DEFAULT_MAX_ENTRIES, MetadataCache, type CachedEntry } from '../../lib/storage/cache.js';

function files(prefix: string, n: number): CachedEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${i}.txt`,
    stored: `${prefix}-${i}.txt`,
    kind: 'file' as const,
    size: i,
    modified: 1_700_000_000_000,
    created: 1_700_000_000_000,
  }));
}

describe('storage/cache bound', () => {
  let cache: MetadataCache;
  beforeEach(() => {
    cache = new MetadataCache({ ttlMs: 60_000, maxEntries: 100 });
  });
  afterEach(() => cache.close());

  it('pushes out the least recently used listings once their entries exceed the bound', async () => {
    await cache.storeListing(cache.begin(), '/a', files('a', 40));
    await cache.storeListing(cache.begin(), '/b', files('b', 40));
    // /a used again: /b is now the oldest
    expect(await cache.listing('/a')).to.have.length(40);
    await cache.storeListing(cache.begin(), '/c', files('c', 40));
    expect(await cache.listing('/a')).to.have.length(40);
    expect(await cache.listing('/b')).to.equal(undefined);
    expect(await cache.listing('/c')).to.have.length(40);
    // what was pushed out is unknown again, not "absent"
    expect(await cache.lookup('/b/b-1.txt')).to.equal(undefined);
    expect((await cache.lookup('/c/c-1.txt'))?.size).to.equal(1);
  });

  it('does not keep a listing larger than the whole bound, nor an older copy of it', async () => {
    await cache.storeListing(cache.begin(), '/big', files('x', 10));
    expect(await cache.listing('/big')).to.have.length(10);
    await cache.storeListing(cache.begin(), '/big', files('x', 150));
    expect(await cache.listing('/big')).to.equal(undefined);
    expect(await cache.lookup('/big/x-3.txt')).to.equal(undefined);
  });

  it('a write into a listing that was pushed out leaves nothing stale behind', async () => {
    await cache.storeListing(cache.begin(), '/old', files('o', 60));
    await cache.storeListing(cache.begin(), '/new', files('n', 60));
    expect(await cache.listing('/old')).to.equal(undefined);
    await cache.put('/old', { ...files('o', 1)[0]!, size: 99 });
    expect((await cache.lookup('/old/o-0.txt'))?.size).to.equal(99);
    expect(await cache.listing('/old')).to.equal(undefined);
  });

  it('holds many listings by default', async () => {
    expect(DEFAULT_MAX_ENTRIES).to.be.at.least(50_000);
    const big = new MetadataCache({ ttlMs: 60_000 });
    try {
      for (let i = 0; i < 5; i++) await big.storeListing(big.begin(), `/f${i}`, files(`f${i}`, 10_000));
      for (let i = 0; i < 5; i++) expect(await big.listing(`/f${i}`)).to.have.length(10_000);
    } finally {
      await big.close();
    }
  });
});
