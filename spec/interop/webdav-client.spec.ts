// Node's `webdav` client package (v5) against `jottadav serve` over the embedded emulator: its common
// operations — directories, upload/download (buffer, text, stream, ranged stream), stat, listings, copy,
// move, delete, exists, quota, lock/unlock — each checked against what the server then holds.
import { expect } from 'chai';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import { startServe, type ServeProcess } from './webdav-client-serve.js';

async function streamToBuffer(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

describe("interop: Node's webdav client against jottadav serve", function () {
  this.timeout(120_000);
  let serve: ServeProcess;
  let client: WebDAVClient;

  before(async () => {
    serve = await startServe({ basePath: '/dav' });
    client = createClient(serve.url, { username: serve.user, password: serve.pass });
  });
  after(async () => {
    await serve?.close();
  });
  afterEach(() => {
    expect(serve.alive(), `server PID ${serve.pid} died`).to.equal(true);
  });

  it('creates directories (recursively) and lists them', async () => {
    await client.createDirectory('/projects/2025/q3', { recursive: true });
    const top = (await client.getDirectoryContents('/projects')) as FileStat[];
    expect(top.map((e) => [e.basename, e.type])).to.deep.equal([['2025', 'directory']]);
    expect(await client.exists('/projects/2025/q3')).to.equal(true);
    expect(await client.exists('/projects/nope')).to.equal(false);
  });

  it('uploads and downloads buffers and text, with stat reporting size, type, etag and mtime', async () => {
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    expect(await client.putFileContents('/projects/data.bin', data)).to.equal(true);
    await client.putFileContents('/projects/notes.txt', 'æøå and more\n');
    const back = (await client.getFileContents('/projects/data.bin')) as Buffer;
    expect(Buffer.from(back).equals(data)).to.equal(true);
    expect(await client.getFileContents('/projects/notes.txt', { format: 'text' })).to.equal('æøå and more\n');
    const st = (await client.stat('/projects/data.bin')) as FileStat;
    expect(st.size).to.equal(70_000);
    expect(st.type).to.equal('file');
    expect(st.etag).to.be.a('string').and.not.equal('');
    expect(Number.isNaN(Date.parse(st.lastmod))).to.equal(false);
    const dir = (await client.stat('/projects')) as FileStat;
    expect(dir.type).to.equal('directory');
  });

  it('streams uploads and ranged downloads', async () => {
    const body = Buffer.alloc(200_000, 9);
    body.write('THE END', body.length - 7);
    await new Promise<void>((resolve, reject) => {
      const ws = client.createWriteStream('/projects/stream.bin', {}, () => resolve()) as unknown as NodeJS.WritableStream;
      ws.on('error', reject);
      ws.end(body);
    });
    expect(((await client.stat('/projects/stream.bin')) as FileStat).size).to.equal(200_000);
    const tail = await streamToBuffer(client.createReadStream('/projects/stream.bin', { range: { start: 199_993, end: 199_999 } }) as unknown as NodeJS.ReadableStream);
    expect(tail.toString()).to.equal('THE END');
  });

  it('copies, moves and deletes files and folders', async () => {
    await client.copyFile('/projects/notes.txt', '/projects/2025/notes-copy.txt');
    await client.moveFile('/projects/2025', '/projects/archive-2025');
    expect(await client.exists('/projects/2025')).to.equal(false);
    expect(await client.getFileContents('/projects/archive-2025/notes-copy.txt', { format: 'text' })).to.equal('æøå and more\n');
    await client.deleteFile('/projects/archive-2025');
    expect(await client.exists('/projects/archive-2025')).to.equal(false);
    const names = ((await client.getDirectoryContents('/projects')) as FileStat[]).map((e) => e.basename).sort();
    expect(names).to.deep.equal(['data.bin', 'notes.txt', 'stream.bin']);
  });

  it('reads the quota', async () => {
    const q = (await client.getQuota()) as { used: number; available: number | string };
    // storage caches the quota briefly, so `used` may not count the files just written yet
    expect(q.used).to.be.a('number').and.at.least(0);
    expect(Number(q.available)).to.be.greaterThan(0);
  });

  it('locks and unlocks; a locked file refuses a write without the token', async () => {
    const lock = await client.lock('/projects/notes.txt');
    expect(lock.token).to.match(/^opaquelocktoken:/);
    const other = createClient(serve.url, { username: serve.user, password: serve.pass });
    let status: number | undefined;
    try {
      await other.putFileContents('/projects/notes.txt', 'intruder');
    } catch (err) {
      status = (err as { status?: number }).status;
    }
    expect(status).to.equal(423);
    await client.putFileContents('/projects/notes.txt', 'owner edit', { headers: { If: `(<${lock.token}>)` } });
    await client.unlock('/projects/notes.txt', lock.token);
    await other.putFileContents('/projects/notes.txt', 'after unlock');
    expect(await client.getFileContents('/projects/notes.txt', { format: 'text' })).to.equal('after unlock');
  });
});
