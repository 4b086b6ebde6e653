// No request can take the process down. One test per crash known in webdav-server 2.6.x
// (shared/research/webdav-server-measured.md, its issues #60 and PR #112) and per malformed input we
// could think of; each is followed by a request that must still be answered. Mocha fails a test on any
// uncaught exception, so a crash fails here even when the follow-up request happens to work.
import net from 'node:net';
import http from 'node:http';
import { expect } from 'chai';
import { dav, basic, startDav, type Harness } from './harness.js';
import { MemoryStorage } from './memory-storage.js';

async function stillAlive(h: Harness): Promise<void> {
  const r = await dav(h, { method: 'PROPFIND', path: '/', headers: { Depth: '0' } });
  expect(r.status).to.equal(207);
}

/** Sends raw bytes and returns the status line of the answer (or '' if the connection just closed). */
function raw(h: Harness, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(h.port, '127.0.0.1', () => sock.write(text));
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        sock.destroy();
        resolve(got.split('\r\n')[0] as string);
      }
    });
    sock.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
    sock.on('error', () => resolve(''));
  });
}

async function lockFile(h: Harness): Promise<string> {
  const lock = await dav(h, {
    method: 'LOCK',
    path: '/f.txt',
    body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
  });
  return /<([^>]+)>/.exec(lock.headers['lock-token'] as string)?.[1] as string;
}

describe('webdav: requests that must not crash the process', function () {
  let storage: MemoryStorage;
  let h: Harness;

  beforeEach(async () => {
    storage = new MemoryStorage();
    h = await startDav(storage);
    await dav(h, { method: 'PUT', path: '/f.txt', body: 'data' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('PROPPATCH setting many properties (webdav-server died after answering: ERR_HTTP_HEADERS_SENT)', async () => {
    const props = Array.from({ length: 10 }, (_, i) => `<ns:prop${i} xmlns:ns="http://example.com/neon/litmus/">value${i}</ns:prop${i}>`).join('');
    const r = await dav(h, { method: 'PROPPATCH', path: '/f.txt', body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>${props}</D:prop></D:set></D:propertyupdate>` });
    expect(r.status).to.equal(207);
    await stillAlive(h);
  });

  it('PUT with an untagged If list naming a corrupt token (webdav-server died in IfParser/getFileSystemSync)', async () => {
    const token = await lockFile(h);
    const r = await dav(h, { method: 'PUT', path: '/f.txt', body: 'x', headers: { If: `(<${token}x>) (Not <DAV:no-lock>)` } });
    expect(r.status).to.equal(423);
    await stillAlive(h);
  });

  it("Windows' PROPPATCH of Win32 times with an untagged If: (<token>) (killed webdav-server)", async () => {
    const token = await lockFile(h);
    const r = await dav(h, {
      method: 'PROPPATCH',
      path: '/f.txt',
      headers: { If: `(<${token}>)` },
      body: '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Thu, 09 Oct 2025 17:54:43 GMT</Z:Win32LastModifiedTime></D:prop></D:set></D:propertyupdate>',
    });
    expect(r.status).to.equal(207);
    await stillAlive(h);
  });

  it('malformed If headers on every method', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']) {
      for (const If of ['(', '<>', '(<>)', '([)', '(Not)', 'x'.repeat(5000), '(<a> [W/"b"]', '<http://127.0.0.1/%ZZ> (<t>)']) {
        const r = await dav(h, { method, path: '/f.txt', headers: { If, Destination: `${h.url}/g.txt`, 'Lock-Token': '<t>' } });
        expect(r.status, `${method} ${If.slice(0, 20)}`).to.be.within(400, 499);
      }
    }
    await stillAlive(h);
  });

  it('malformed request URLs (webdav-server PR #112)', async () => {
    for (const path of ['/%ZZ', '/%', '/a%2', '/%E0%A4%A', '/..%2f..%2f', '/a\\..\\..\\b']) {
      const line = await raw(h, `PROPFIND ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('alice')}\r\nDepth: 0\r\nContent-Length: 0\r\n\r\n`);
      expect(line, path).to.match(/^HTTP\/1.1 4\d\d/);
    }
    await stillAlive(h);
  });

  it('bad XML bodies, bad depths, bad Destination, unknown methods', async () => {
    const cases: Array<[string, Record<string, string>, string | undefined]> = [
      ['PROPFIND', { Depth: '0' }, '<D:propfind xmlns:D="DAV:"><D:prop>'],
      ['PROPFIND', { Depth: 'banana' }, undefined],
      ['PROPPATCH', {}, '<<<'],
      ['PROPPATCH', {}, '<D:propertyupdate xmlns:D="DAV:"/>'],
      ['PROPPATCH', {}, ''],
      ['LOCK', {}, '<lockinfo/>'],
      ['LOCK', {}, '&bogus;'],
      ['LOCK', { Timeout: 'Second-abc' }, '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope></D:lockinfo>'],
      ['COPY', { Destination: 'http://[::1' }, undefined],
      ['MOVE', { Destination: '/%ZZ' }, undefined],
      ['COPY', { Destination: `${h.url}/x`, Depth: '1' }, undefined],
      ['COPY', { Destination: `${h.url}/x`, Overwrite: 'maybe' }, undefined],
      ['BREW', {}, undefined],
      ['SEARCH', {}, '<x/>'],
    ];
    for (const [method, headers, body] of cases) {
      const r = await dav(h, { method, path: '/f.txt', headers, body });
      expect(r.status, `${method} ${JSON.stringify(headers)} ${body}`).to.be.within(400, 599);
    }
    await stillAlive(h);
  });

  it('a chunked PROPFIND body is read (webdav-server treated it as empty) and an oversized one is refused', async () => {
    const r = await dav(h, {
      method: 'PROPFIND',
      path: '/f.txt',
      headers: { Depth: '0' },
      chunked: true,
      body: [Buffer.from('<D:propfind xmlns:D="DAV:"><D:prop>'), Buffer.from('<D:getcontentlength/></D:prop></D:propfind>')],
    });
    expect(r.status).to.equal(207);
    expect(r.body).to.include('<D:getcontentlength>4</D:getcontentlength>');
    expect(r.body).not.to.include('<D:getlastmodified>');
    const line = await raw(h, `PROPFIND /f.txt HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('alice')}\r\nDepth: 0\r\nContent-Length: 99999999999\r\n\r\n<x/>`);
    expect(line).to.match(/^HTTP\/1.1 413/);
    await stillAlive(h);
  });

  it('a client that disconnects in the middle of a GET (webdav-server #60) or a PUT', async () => {
    await dav(h, { method: 'PUT', path: '/big.bin', body: Buffer.alloc(8 * 1024 * 1024, 7) });
    await new Promise<void>((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port: h.port, path: '/big.bin', headers: { Authorization: basic('alice'), Range: 'bytes=10-' }, agent: false },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => undefined);
      req.end();
    });
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: '127.0.0.1',
        port: h.port,
        method: 'PUT',
        path: '/half.bin',
        headers: { Authorization: basic('alice'), 'Content-Length': 1000 },
        agent: false,
      });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(100));
      setImmediate(() => {
        req.destroy();
        resolve();
      });
    });
    await stillAlive(h);
    expect((await dav(h, { method: 'GET', path: '/half.bin' })).status).to.equal(404);
  });
});
