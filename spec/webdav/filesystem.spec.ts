// JottaFileSystem through webdav-server's own resource API (what the library and any code using it sees):
// types, sizes, dates, listings, reads, writes that finish only after storage committed (and fail the
// stream when storage refuses — webdav-server issue #115), create, copy, move, delete.
import { Readable } from 'node:stream';
import { expect } from 'chai';
import webdavServer from 'webdav-server';
import type { v2 as V2 } from 'webdav-server';
import { BackendError } from '../../lib/storage/types.js';
import { JottaFileSystem } from '../../lib/webdav/filesystem.js';
import { MemoryStorage } from './memory-storage.js';

const { v2 } = webdavServer;

async function writeThrough(fs: V2.FileSystem, ctx: V2.RequestContext, path: string, data: string): Promise<void> {
  const { stream } = await fs.openWriteStreamAsync(ctx, path, 'canCreate');
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', () => resolve());
    Readable.from([Buffer.from(data)]).pipe(stream);
  });
}

describe('webdav: JottaFileSystem hooks through the webdav-server API', function () {
  let storage: MemoryStorage;
  let fs: V2.FileSystem;
  let ctx: V2.RequestContext;

  beforeEach(async () => {
    storage = new MemoryStorage();
    const server = new v2.WebDAVServer({ rootFileSystem: new JottaFileSystem(storage, () => undefined) });
    fs = server.rootFileSystem();
    ctx = server.createExternalContext();
    await storage.mkdir('/docs');
  });

  it('reports types, sizes, dates, etags and listings from storage', async () => {
    await writeThrough(fs, ctx, '/docs/a.txt', 'hello');
    expect((await fs.typeAsync(ctx, '/docs')).isDirectory).to.equal(true);
    expect((await fs.typeAsync(ctx, '/docs/a.txt')).isFile).to.equal(true);
    expect(await fs.sizeAsync(ctx, '/docs/a.txt')).to.equal(5);
    expect(await fs.readDirAsync(ctx, '/docs')).to.deep.equal(['a.txt']);
    const entry = await storage.stat('/docs/a.txt');
    expect(await fs.lastModifiedDateAsync(ctx, '/docs/a.txt')).to.equal(entry.modified.getTime());
    expect(await fs.etagAsync(ctx, '/docs/a.txt')).to.equal(entry.etag);
    let missing: unknown;
    await fs.typeAsync(ctx, '/nope').catch((e: unknown) => (missing = e));
    expect(missing).to.equal(v2.Errors.ResourceNotFound);
  });

  it('finishes a write only after storage committed it, and reads it back', async () => {
    await writeThrough(fs, ctx, '/docs/b.txt', 'committed');
    expect(storage.calls.write).to.equal(1);
    // the library's *Async wrappers mis-handle omitted arguments; call the callback forms with all of them
    const stream = await new Promise<Readable>((resolve, reject) =>
      fs.openReadStream(ctx, '/docs/b.txt', false, -1, (e?: Error, s?: Readable) => (e ? reject(e) : resolve(s as Readable))),
    );
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
    expect(Buffer.concat(chunks).toString()).to.equal('committed');
  });

  it('fails the write stream when storage refuses the upload (issue #115)', async () => {
    storage.failNextWrite = new BackendError('/docs/c.txt', 'refused');
    let failure: unknown;
    await writeThrough(fs, ctx, '/docs/c.txt', 'data').catch((e: unknown) => (failure = e));
    expect(failure).to.be.instanceOf(BackendError);
    await storage.stat('/docs/c.txt').then(
      () => expect.fail('the file must not exist'),
      () => undefined,
    );
  });

  it('creates, copies, moves and deletes through storage, server-side', async () => {
    await fs.createAsync(ctx, '/docs/sub', v2.ResourceType.Directory);
    await writeThrough(fs, ctx, '/docs/sub/x.txt', 'x');
    const writes = storage.calls.write;
    const copied = await new Promise<boolean>((resolve, reject) =>
      fs.copy(ctx, '/docs/sub', '/copy', false, -1, (e?: Error, o?: boolean) => (e ? reject(e) : resolve(!!o))),
    );
    expect(copied).to.equal(false);
    expect(await fs.moveAsync(ctx, '/copy', '/moved', false)).to.equal(false);
    expect(storage.calls.write).to.equal(writes);
    expect((await storage.stat('/moved/x.txt')).size).to.equal(1);
    await fs.deleteAsync(ctx, '/moved');
    expect(await fs.readDirAsync(ctx, '/')).to.deep.equal(['docs']);
  });
});
