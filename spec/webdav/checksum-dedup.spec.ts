// PUT with a declared MD5 over the real stack (emulator → client → storage → webdav): a wrong
// `OC-Checksum` / `Content-MD5` answers 400 whether the service would deduplicate the declared content
// (allocate answers COMPLETED, no byte is sent) or the bytes are uploaded and refused — and the old content
// stays in both cases, as a fresh stack on the same account reads it.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { request, startStack, type TestStack } from '../helpers/stack.js';

const md5 = (s: string) => createHash('md5').update(s).digest();

describe('webdav PUT with a declared MD5 over the real stack', function () {
  this.timeout(60_000);
  let emu: RunningEmulator;
  let s: TestStack;

  before(async () => {
    emu = await startTestEmulator();
    s = await startStack({ emulator: emu });
    expect((await request(s, 'PUT', 'held.txt', { body: 'abcdef' })).status).to.equal(201);
    expect((await request(s, 'PUT', 'doc.txt', { body: 'old content here' })).status).to.equal(201);
  });
  after(async () => {
    await s?.close();
    await emu?.close();
  });

  async function freshGet(path: string): Promise<{ status: number; body: string }> {
    const fresh = await startStack({ emulator: emu });
    try {
      return await request(fresh, 'GET', path);
    } finally {
      await fresh.close();
    }
  }

  it('a stale OC-Checksum of content the account holds: 400, the old content stays', async () => {
    const r = await request(s, 'PUT', 'doc.txt', { body: 'ghijkl', headers: { 'OC-Checksum': `MD5:${md5('abcdef').toString('hex')}` } });
    expect(r.status).to.equal(400);
    expect((await request(s, 'GET', 'doc.txt')).body).to.equal('old content here');
    expect((await freshGet('doc.txt')).body).to.equal('old content here');
  });

  it('a stale Content-MD5 onto a new path: 400, and 404 after', async () => {
    const r = await request(s, 'PUT', 'new.txt', { body: 'ghijkl', headers: { 'Content-MD5': md5('abcdef').toString('base64') } });
    expect(r.status).to.equal(400);
    expect((await request(s, 'GET', 'new.txt')).status).to.equal(404);
    expect((await freshGet('new.txt')).status).to.equal(404);
  });

  it('a wrong OC-Checksum whose bytes are uploaded: 400, the old content stays', async () => {
    const r = await request(s, 'PUT', 'doc.txt', { body: 'zzzzzz', headers: { 'OC-Checksum': `MD5:${md5('yyyyyy').toString('hex')}` } });
    expect(r.status).to.equal(400);
    expect((await freshGet('doc.txt')).body).to.equal('old content here');
  });

  it('a correct OC-Checksum of held content: 201 and the content', async () => {
    const r = await request(s, 'PUT', 'dup.txt', { body: 'abcdef', headers: { 'OC-Checksum': `MD5:${md5('abcdef').toString('hex')}` } });
    expect(r.status).to.equal(201);
    expect((await freshGet('dup.txt')).body).to.equal('abcdef');
  });
});
