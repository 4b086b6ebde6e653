// Bad input, by hand: malformed and huge XML (entity expansion and external entities too), bogus Depth, Overwrite,
// Timeout, If and Destination, broken Content-Length and Range, hostile paths, forged/expired/foreign lock tokens
// and slow clients — over the whole stack (a real emulator behind). Each gets a clear 4xx (or the RFC's answer
// where it names another: 502 for a Destination on another server), changes nothing on the service, leaks
// nothing, and the server keeps answering.
import { expect } from 'chai';
import { startStack, type TestStack } from '../helpers/stack.js';
import { counts } from '../reliability/support.js';
import { authLine, expectNoLeak, expectUnchangedAndAlive, LOCK_BODY, rawRequest, send, startFixture, type Answer, type Fixture } from './support.js';

interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  auth?: 'alice' | 'bob';
  /** Acceptable statuses. */
  status: number[];
}

const XML = { 'Content-Type': 'application/xml; charset=utf-8' };
const laughs =
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
  Array.from({ length: 8 }, (_, i) => `<!ENTITY lol${i + 2} "${`&lol${i + 1};`.repeat(10)}">`).join('') +
  ']><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname></D:prop></D:propfind>';
const xxe = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop><D:x>&x;</D:x></D:prop></D:propfind>';
const hugeXml = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>${'<D:displayname/>'.repeat(200_000)}</D:prop></D:propfind>`;
const deepXml = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>${'<x:a xmlns:x="urn:x">'.repeat(20_000)}${'</x:a>'.repeat(20_000)}</D:prop></D:set></D:propertyupdate>`;
const longName = 'n'.repeat(256);

const cases: Case[] = [
  // XML bodies
  { name: 'PROPFIND with unclosed XML', method: 'PROPFIND', path: 'docs/', headers: { ...XML, Depth: '1' }, body: '<D:propfind xmlns:D="DAV:"><D:prop>', status: [400] },
  { name: 'PROPFIND with a body that is not XML', method: 'PROPFIND', path: 'docs/', headers: { ...XML, Depth: '0' }, body: '\u0000\u0001garbage{}', status: [400] },
  { name: 'PROPFIND with the wrong root element', method: 'PROPFIND', path: 'docs/', headers: { ...XML, Depth: '0' }, body: '<D:lockinfo xmlns:D="DAV:"/>', status: [400, 422] },
  { name: 'PROPFIND over the body-size limit', method: 'PROPFIND', path: 'docs/', headers: { ...XML, Depth: '0' }, body: hugeXml, status: [413] },
  { name: 'PROPFIND with entity expansion (billion laughs)', method: 'PROPFIND', path: 'docs/', headers: { ...XML, Depth: '0' }, body: laughs, status: [400] },
  { name: 'PROPFIND with an external entity (XXE)', method: 'PROPFIND', path: 'docs/', headers: { ...XML, Depth: '0' }, body: xxe, status: [400] },
  { name: 'PROPPATCH with unclosed XML', method: 'PROPPATCH', path: 'docs/a.txt', headers: XML, body: '<D:propertyupdate xmlns:D="DAV:"><D:set>', status: [400] },
  { name: 'PROPPATCH with entity expansion', method: 'PROPPATCH', path: 'docs/a.txt', headers: XML, body: laughs.replace(/propfind/g, 'propertyupdate'), status: [400] },
  { name: 'PROPPATCH nested 20,000 levels deep', method: 'PROPPATCH', path: 'docs/a.txt', headers: XML, body: deepXml, status: [400, 413] },
  { name: 'PROPPATCH with an empty body', method: 'PROPPATCH', path: 'docs/a.txt', headers: XML, body: '', status: [400] },
  { name: 'LOCK with unclosed XML', method: 'LOCK', path: 'docs/a.txt', headers: XML, body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope>', status: [400] },
  { name: 'LOCK with entity expansion', method: 'LOCK', path: 'docs/a.txt', headers: XML, body: laughs.replace(/propfind/g, 'lockinfo'), status: [400] },
  { name: 'LOCK with an external entity', method: 'LOCK', path: 'docs/a.txt', headers: XML, body: xxe.replace(/propfind/g, 'lockinfo'), status: [400] },
  { name: 'LOCK with neither scope nor type', method: 'LOCK', path: 'docs/a.txt', headers: XML, body: '<D:lockinfo xmlns:D="DAV:"/>', status: [400, 422] },
  // Headers
  { name: 'PROPFIND Depth: 2', method: 'PROPFIND', path: 'docs/', headers: { Depth: '2' }, status: [400] },
  { name: 'PROPFIND Depth: banana', method: 'PROPFIND', path: 'docs/', headers: { Depth: 'banana' }, status: [400] },
  { name: 'COPY Depth: -1', method: 'COPY', path: 'docs/', headers: { Depth: '-1', Destination: '/dav/copy/' }, status: [400] },
  { name: 'COPY Overwrite: maybe', method: 'COPY', path: 'docs/a.txt', headers: { Overwrite: 'maybe', Destination: '/dav/docs/b.txt' }, status: [400] },
  { name: 'MOVE Overwrite: F onto an existing file', method: 'MOVE', path: 'docs/a.txt', headers: { Overwrite: 'F', Destination: '/dav/docs/locked.txt' }, status: [412] },
  { name: 'LOCK Timeout: Second-abc', method: 'LOCK', path: 'docs/a.txt', headers: { ...XML, Timeout: 'Second-abc' }, body: LOCK_BODY, status: [400] },
  { name: 'LOCK Timeout: -5', method: 'LOCK', path: 'docs/a.txt', headers: { ...XML, Timeout: 'Second--5' }, body: LOCK_BODY, status: [400] },
  { name: 'PUT with an If header that does not parse', method: 'PUT', path: 'docs/a.txt', headers: { If: '(<urn:uuid:x' }, body: 'changed', status: [400, 412] },
  { name: 'PUT with an If header naming a forged lock token', method: 'PUT', path: 'docs/locked.txt', headers: { If: '(<urn:uuid:00000000-0000-0000-0000-000000000000>)' }, body: 'x', status: [412, 423] },
  { name: 'DELETE with a tagged If for another resource', method: 'DELETE', path: 'docs/a.txt', headers: { If: '<http://elsewhere.example/x> (<urn:uuid:1>)' }, status: [412] },
  { name: 'COPY to another host', method: 'COPY', path: 'docs/a.txt', headers: { Destination: 'http://elsewhere.example/dav/docs/b.txt' }, status: [502, 400, 403] },
  { name: 'COPY outside the base path', method: 'COPY', path: 'docs/a.txt', headers: { Destination: '/elsewhere/b.txt' }, status: [400, 403, 502] },
  { name: 'MOVE onto itself', method: 'MOVE', path: 'docs/a.txt', headers: { Destination: '/dav/docs/a.txt' }, status: [403] },
  { name: 'COPY with a Destination that is not a URL', method: 'COPY', path: 'docs/a.txt', headers: { Destination: 'http://[::1' }, status: [400] },
  { name: 'COPY with a Destination climbing out with ..', method: 'COPY', path: 'docs/a.txt', headers: { Destination: '/dav/../../etc/passwd' }, status: [400, 403, 502] },
  { name: 'MOVE without a Destination', method: 'MOVE', path: 'docs/a.txt', status: [400] },
  { name: 'GET with a garbage Range', method: 'GET', path: 'docs/a.txt', headers: { Range: 'bytes=zz-top' }, status: [200, 416] },
  { name: 'GET with an unsatisfiable Range', method: 'GET', path: 'docs/a.txt', headers: { Range: 'bytes=999999-' }, status: [416] },
  { name: 'GET with a reversed Range', method: 'GET', path: 'docs/a.txt', headers: { Range: 'bytes=4-1' }, status: [200, 416] },
  // Paths
  { name: 'PUT to a path climbing out with ..', method: 'PUT', path: '/dav/docs/../../../etc/x.txt', body: 'x', status: [400, 403, 404] },
  { name: 'PUT to %2e%2e', method: 'PUT', path: '/dav/docs/%2e%2e/%2e%2e/x.txt', body: 'x', status: [400, 403, 404] },
  { name: 'PUT to a name with an encoded slash', method: 'PUT', path: '/dav/docs/a%2fb.txt', body: 'x', status: [400, 404, 409] },
  { name: 'PUT to a name with a NUL', method: 'PUT', path: '/dav/docs/a%00b.txt', body: 'x', status: [400] },
  { name: 'PUT to a name that is not UTF-8', method: 'PUT', path: '/dav/docs/a%ff%fe.txt', body: 'x', status: [400] },
  { name: 'MKCOL of a name over 255 characters', method: 'MKCOL', path: `docs/${longName}`, status: [400, 414] },
  { name: 'PUT of a name over 255 characters', method: 'PUT', path: `docs/${longName}.txt`, body: 'x', status: [400, 414] },
  { name: 'MOVE to a name over 255 characters', method: 'MOVE', path: 'docs/a.txt', headers: { Destination: `/dav/docs/${longName}` }, status: [400, 414] },
  // Locks
  { name: 'UNLOCK with a forged token', method: 'UNLOCK', path: 'docs/a.txt', headers: { 'Lock-Token': '<urn:uuid:11111111-2222-3333-4444-555555555555>' }, status: [409, 400, 412] },
  { name: 'LOCK on a file bob holds', method: 'LOCK', path: 'docs/locked.txt', headers: XML, body: LOCK_BODY, status: [423] },
  { name: 'PUT on a file bob holds, without his token', method: 'PUT', path: 'docs/locked.txt', body: 'mine now', status: [423] },
  { name: 'DELETE of a file bob holds', method: 'DELETE', path: 'docs/locked.txt', status: [423] },
  { name: 'MOVE of a file bob holds', method: 'MOVE', path: 'docs/locked.txt', headers: { Destination: '/dav/docs/stolen.txt' }, status: [423] },
  { name: 'PROPPATCH of a file bob holds', method: 'PROPPATCH', path: 'docs/locked.txt', headers: XML, body: '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>1</Z:p></D:prop></D:set></D:propertyupdate>', status: [423] },
];

describe('bad input (hand-written cases)', function () {
  this.timeout(60_000);
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f?.close());

  async function check(what: string, a: Answer, statuses: number[]): Promise<void> {
    counts.fuzzCases++;
    expect(statuses, `${what}: answered ${a.status} ${a.body.slice(0, 200)}`).to.include(a.status);
    expectNoLeak(f, a, what);
    await expectUnchangedAndAlive(f, what);
  }

  for (const c of cases) {
    it(`${c.name} → ${c.status.join('/')}`, async () => {
      const a = await send(f, c.method, c.path, { headers: c.headers, body: c.body, auth: c.auth === 'bob' ? f.bob.auth : undefined });
      await check(c.name, a, c.status);
    });
  }

  it("UNLOCK of bob's lock by alice → 403, and the lock still holds", async () => {
    const a = await send(f, 'UNLOCK', 'docs/locked.txt', { headers: { 'Lock-Token': `<${f.bobsLock}>` } });
    await check('UNLOCK by another user', a, [403]);
    const put = await send(f, 'PUT', 'docs/locked.txt', { body: 'x' });
    expect(put.status).to.equal(423);
  });

  it("PUT by alice naming bob's token in If → refused (a token does not pass between users)", async () => {
    const a = await send(f, 'PUT', 'docs/locked.txt', { headers: { If: `(<${f.bobsLock}>)` }, body: 'x' });
    await check("PUT with another user's token", a, [403, 412, 423]);
  });

  it('an expired lock token is not honoured', async () => {
    const lock = await send(f, 'LOCK', 'docs/a.txt', { headers: { ...XML, Timeout: 'Second-1' }, body: LOCK_BODY });
    expect(lock.status).to.equal(200);
    const token = /<([^>]+)>/.exec(lock.headers.get('lock-token') ?? '')?.[1];
    // Wait out the lock (an expiry, not a speed measurement).
    await new Promise((r) => setTimeout(r, 2100));
    await check('UNLOCK with an expired token', await send(f, 'UNLOCK', 'docs/a.txt', { headers: { 'Lock-Token': `<${token}>` } }), [409, 412]);
    await check('PUT with an expired token in If', await send(f, 'PUT', 'docs/a.txt', { headers: { If: `(<${token}>)` }, body: 'changed' }), [412]);
  });

  describe('raw HTTP', () => {
    const raw = async (what: string, text: Buffer | string, statuses: number[]) => {
      const r = await rawRequest(f.s.port, text);
      counts.fuzzCases++;
      expect(statuses, `${what}: answered ${r.status}: ${r.text.slice(0, 200)}`).to.include(r.status);
      expectNoLeak(f, { body: r.text }, what);
      await expectUnchangedAndAlive(f, what);
    };

    it('a negative Content-Length → 400', () =>
      raw('negative Content-Length', `PUT /dav/docs/neg.txt HTTP/1.1\r\nHost: x\r\n${authLine(f)}Content-Length: -5\r\n\r\nhello`, [400]));

    it('two different Content-Length headers → 400', () =>
      raw('conflicting Content-Length', `PUT /dav/docs/two.txt HTTP/1.1\r\nHost: x\r\n${authLine(f)}Content-Length: 5\r\nContent-Length: 7\r\n\r\nhello`, [400]));

    it('Content-Length and chunked together → 400', () =>
      raw('Content-Length with chunked', `PUT /dav/docs/cl-te.txt HTTP/1.1\r\nHost: x\r\n${authLine(f)}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, [400]));

    it('a Content-Length larger than the body, then the client goes away → nothing stored', async () => {
      const r = await rawRequest(f.s.port, `PUT /dav/docs/short.txt HTTP/1.1\r\nHost: x\r\n${authLine(f)}Content-Length: 100000\r\n\r\nonly a little`, { waitMs: 500 });
      counts.fuzzCases++;
      expect(r.status).to.equal(0);
      // The server notices the closed connection; the half body must never become a file.
      await new Promise((res) => setTimeout(res, 300));
      await expectUnchangedAndAlive(f, 'short body');
      expect((await send(f, 'GET', 'docs/short.txt')).status).to.equal(404);
    });

    it('an oversized Content-Length for a PROPFIND → 413 before the body is read', () =>
      raw('oversized PROPFIND', `PROPFIND /dav/docs/ HTTP/1.1\r\nHost: x\r\n${authLine(f)}Depth: 0\r\nContent-Length: 99999999999\r\n\r\n<x/>`, [413]));

    it('a NUL in the request line → 400', () => raw('NUL in the path', Buffer.from(`GET /dav/docs/a\u0000.txt HTTP/1.1\r\nHost: x\r\n${authLine(f)}\r\n`, 'latin1'), [400]));

    it('raw invalid UTF-8 bytes in the path → 4xx', () =>
      raw('invalid UTF-8 bytes', Buffer.concat([Buffer.from('PUT /dav/docs/'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(`.txt HTTP/1.1\r\nHost: x\r\n${authLine(f)}Content-Length: 1\r\n\r\nx`)]), [400, 404]));

    it('a header line without a colon → 400', () => raw('broken header', `GET /dav/docs/a.txt HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n`, [400]));
  });
});

describe('bad input: slow clients (slow-loris)', function () {
  this.timeout(60_000);
  let s: TestStack;
  before(async () => {
    // A short idle timeout so the bound shows within the test; the default is 120 s (headers: 60 s at most).
    s = await startStack({ server: { idleTimeoutSec: 2 } });
  });
  after(() => s?.close());

  it('a client dribbling its headers is cut before it finishes, and the server keeps answering others', async () => {
    const request = `PROPFIND / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${s.auth}\r\nDepth: 0\r\nX-Padding: ${'p'.repeat(40)}\r\n\r\n`;
    // Twenty such clients at once, one byte every 200 ms: each would need well over 30 s to finish its headers.
    const slow = Array.from({ length: 20 }, () => rawRequest(s.port, request, { paceMs: 200, waitMs: 45_000 }));
    await new Promise((r) => setTimeout(r, 500));
    const meanwhile = await fetch(s.url, { method: 'PROPFIND', headers: { Authorization: s.auth, Depth: '0' } });
    await meanwhile.arrayBuffer();
    expect(meanwhile.status, 'other clients are served while the slow ones hang on').to.equal(207);
    for (const r of await Promise.all(slow)) {
      counts.fuzzCases++;
      expect(r.closed, 'the server closed the connection').to.equal(true);
      expect(r.sent, 'before the headers were complete').to.be.lessThan(r.total);
      expect(r.status, 'answered 408 Request Timeout (or just closed)').to.be.oneOf([0, 408]);
    }
    const after = await fetch(s.url, { method: 'PROPFIND', headers: { Authorization: s.auth, Depth: '0' } });
    await after.arrayBuffer();
    expect(after.status).to.equal(207);
  });
});
