// The metadata cache on its own: listings and lookups, case-insensitive keys, our writes visible at once,
// subtree removal, and a fetch overtaken by a write never storing stale state. Request counts against the
// emulator are in provider.spec.ts.
import { expect } from 'chai';
import { MetadataCache, type CachedEntry } from '../../lib/storage/cache.js';

function file(name: string, size = 1): CachedEntry {
  return { name, stored: name, kind: 'file', size, modified: 1_700_000_000_000, created: 1_700_000_000_000 };
}
function folder(name: string): CachedEntry {
  return { name, stored: name, kind: 'folder', size: 0, modified: 1_700_000_000_000, created: 1_700_000_000_000 };
}

describe('storage/cache', () => {
  let cache: MetadataCache;
  beforeEach(() => {
    cache = new MetadataCache({ ttlMs: 60_000 });
  });
  afterEach(() => cache.close());

  it('answers lookups of children of a cached listing, including "known absent", case-insensitively', async () => {
    expect(await cache.lookup('/Docs/a.txt')).to.equal(undefined);
    await cache.storeListing(cache.begin(), '/Docs', [file('A.txt'), folder('Sub')]);
    expect((await cache.lookup('/docs/a.TXT'))?.name).to.equal('A.txt');
    expect((await cache.lookup('/DOCS/sub'))?.kind).to.equal('folder');
    expect(await cache.lookup('/Docs/missing')).to.equal(null);
    expect((await cache.listing('/dOcS'))?.map((e) => e.name).sort()).to.deep.equal(['A.txt', 'Sub']);
  });

  it('keeps names such as __proto__ and constructor as plain data', async () => {
    await cache.storeListing(cache.begin(), '/', [file('__proto__'), file('constructor')]);
    expect((await cache.lookup('/__proto__'))?.name).to.equal('__proto__');
    expect((await cache.lookup('/constructor'))?.name).to.equal('constructor');
    expect(await cache.lookup('/toString')).to.equal(null);
    expect(await cache.listing('/')).to.have.length(2);
  });

  it('makes our own write visible at once in the listing and to lookups, replacing a case variant', async () => {
    await cache.storeListing(cache.begin(), '/d', [file('report.pdf', 1)]);
    await cache.put('/d', file('Report.PDF', 2));
    const listing = await cache.listing('/d');
    expect(listing).to.have.length(1);
    expect(listing?.[0]).to.include({ name: 'Report.PDF', size: 2 });
    expect((await cache.lookup('/d/REPORT.pdf'))?.size).to.equal(2);
  });

  it('remembers a written entry even when its folder was never listed', async () => {
    await cache.put('/x', file('new.txt', 5));
    expect((await cache.lookup('/x/new.txt'))?.size).to.equal(5);
    expect(await cache.listing('/x')).to.equal(undefined);
  });

  it('remove drops the entry and everything cached below it', async () => {
    await cache.storeListing(cache.begin(), '/', [folder('a'), file('b')]);
    await cache.storeListing(cache.begin(), '/a', [folder('deep'), file('f')]);
    await cache.storeListing(cache.begin(), '/a/deep', [file('g')]);
    await cache.storeEntry(cache.begin(), '/a/deep/h', file('h'));
    await cache.remove('/A');
    expect(await cache.lookup('/a')).to.equal(null);
    expect(await cache.listing('/a')).to.equal(undefined);
    expect(await cache.listing('/a/deep')).to.equal(undefined);
    expect(await cache.lookup('/a/deep/h')).to.equal(undefined);
    expect((await cache.listing('/'))?.map((e) => e.name)).to.deep.equal(['b']);
  });

  it('does not store a listing whose fetch was overtaken by a write to that folder', async () => {
    const ticket = cache.begin();
    await cache.put('/d', file('new.txt')); // our write lands while the (old) listing is on its way
    await cache.storeListing(ticket, '/d', [file('old.txt')]);
    expect(await cache.listing('/d')).to.equal(undefined);
    expect((await cache.lookup('/d/new.txt'))?.name).to.equal('new.txt');
  });

  it('does not store a listing overtaken by the removal of an ancestor', async () => {
    const ticket = cache.begin();
    await cache.remove('/a');
    await cache.storeListing(ticket, '/a/b', [file('x')]);
    expect(await cache.listing('/a/b')).to.equal(undefined);
  });

  it('does not store a lookup overtaken by a write to that path', async () => {
    const ticket = cache.begin();
    await cache.remove('/d/f');
    await cache.storeEntry(ticket, '/d/f', file('f'));
    expect(await cache.lookup('/d/f')).to.equal(null);
  });

  it('serialises concurrent writes into one listing without losing any', async () => {
    await cache.storeListing(cache.begin(), '/many', []);
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.put('/many', file(`f${i}`))));
    expect(await cache.listing('/many')).to.have.length(50);
  });

  it('invalidate forgets a path and its parent listing', async () => {
    await cache.storeListing(cache.begin(), '/d', [file('f')]);
    await cache.remove('/d/g'); // known absent …
    await cache.invalidate('/d/g'); // … then unknown again
    expect(await cache.lookup('/d/g')).to.equal(undefined);
    await cache.invalidate('/d/f');
    expect(await cache.lookup('/d/f')).to.equal(undefined);
    expect(await cache.listing('/d')).to.equal(undefined);
  });

  it('forgets listings after the TTL', async () => {
    const short = new MetadataCache({ ttlMs: 30 });
    try {
      await short.storeListing(short.begin(), '/d', [file('f')]);
      expect(await short.listing('/d')).to.have.length(1);
      await new Promise((r) => setTimeout(r, 80));
      expect(await short.listing('/d')).to.equal(undefined);
    } finally {
      await short.close();
    }
  });

  it('caches nothing with TTL 0', async () => {
    const off = new MetadataCache({ ttlMs: 0 });
    await off.storeListing(off.begin(), '/d', [file('f')]);
    await off.put('/d', file('g'));
    expect(await off.listing('/d')).to.equal(undefined);
    expect(await off.lookup('/d/g')).to.equal(undefined);
    await off.close();
  });
});
