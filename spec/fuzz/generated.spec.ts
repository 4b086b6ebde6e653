// Generated bad input (fast-check): random methods, hostile paths, bogus header values and malformed XML bodies,
// sent as raw HTTP (so nothing normalises `..` or escapes on the way) to the whole stack. Properties: no request
// makes the server answer 500 or leak a secret or stack trace, and it keeps answering; every malformed XML body
// and every unusable Depth/Overwrite/Timeout/Destination gets a 4xx and changes nothing on the service.
// The seed is fixed (FUZZ_SEED overrides it) and the runs bounded (FUZZ_RUNS, default 150 per property); every
// failure fast-check has found is kept below as an `examples` entry, replayed on every run.
import { expect } from 'chai';
import fc from 'fast-check';
import { counts } from '../reliability/support.js';
import { authLine, expectNoLeak, expectUnchangedAndAlive, LOCK_BODY, rawRequest, startFixture, type Fixture } from './support.js';

const seed = Number(process.env.FUZZ_SEED ?? 20260811);
const numRuns = Number(process.env.FUZZ_RUNS ?? 150);
const params = { seed, numRuns, endOnFailure: true };

/** Control characters cannot travel in a request line or header value at all (the parser refuses them first). */
const noControls = (t: string, by: string) => [...t].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? by : c)).join('');

const methods = ['PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'GET', 'HEAD', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'OPTIONS'] as const;

/** Path segments that have broken WebDAV servers, plus arbitrary text percent-encoded or raw. */
const segment = fc.oneof(
  fc.constantFrom('..', '.', '%2e%2e', '%2E%2e', '%2f', '%2F..%2F', '%00', '%ff', '%c3%28', '%', '%zz', '%25', '~', ';x', 'a%5cb', 'docs', 'a.txt', 'locked.txt', 'n'.repeat(300)),
  fc.string({ maxLength: 12 }).map((t) => encodeURIComponent(t)),
  fc.string({ unit: 'binary', maxLength: 6 }).map((t) => Buffer.from(t, 'utf8').toString('latin1').replace(/\s/g, '_')).map((t) => noControls(t, '_')),
);
const hostilePath = fc.array(segment, { minLength: 0, maxLength: 5 }).map((segs) => `/dav/${segs.join('/')}`);

const validXml = {
  PROPFIND: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/><D:getetag/></D:prop></D:propfind>',
  PROPPATCH: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>1</Z:p></D:prop></D:set></D:propertyupdate>',
  LOCK: LOCK_BODY,
} as const;

/**
 * XML that is certainly not acceptable: cut short, with junk that is illegal anywhere (in content and in attribute
 * values alike — `]]>` or `"` would be legal in one of them), declaring entities, or not XML at all.
 */
const malformedXml = (valid: string) =>
  fc.oneof(
    fc.integer({ min: 1, max: valid.length - 2 }).map((n) => valid.slice(0, n)),
    fc.tuple(fc.integer({ min: 1, max: valid.length - 1 }), fc.constantFrom('<', '</x>', '<a', '& ', '&bogus;', '<!--')).map(([at, junk]) => valid.slice(0, at) + junk + valid.slice(at)),
    fc.string({ maxLength: 40 }).map((name) => `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "${name.replace(/["&%<]/g, '')}">]>${valid.replace('<D:', '&e;<D:')}`),
    fc.string({ minLength: 1, maxLength: 60 }).map((t) => `<${t}`),
  );

/** A header value from a grammar's neighbourhood: near misses, junk, huge numbers. */
const junkValue = fc.oneof(
  fc.constantFrom('', ' ', '-1', '2', 'infinity2', '1.5', 'T F', 'yes', 'Second-', 'Second-x', 'Infinite-ish', '99999999999999999999', '\u00ff', 'Second--1'),
  fc.string({ maxLength: 20 }).map((t) => noControls(t, '')),
);

function requestText(f: Fixture, method: string, path: string, headers: Record<string, string>, body: string): Buffer {
  const head =
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${f.s.port}\r\n${authLine(f)}Connection: close\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'utf8')]);
}

describe('bad input (generated with fast-check)', function () {
  this.timeout(300_000);
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f?.close());

  it('any method on a hostile path with a hostile body: never a 500, never a leak, always still serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), hostilePath, fc.option(malformedXml(validXml.PROPFIND), { nil: '' }), async (method, path, body) => {
        counts.fuzzCases++;
        const r = await rawRequest(f.s.port, requestText(f, method, path, { Depth: '0', Destination: `/dav/docs/fuzz-target` }, body), { waitMs: 15_000 });
        expect(r.status, `${method} ${path}: ${r.text.slice(0, 300)}`).to.be.within(100, 599);
        // 5xx only where the RFC names it (502: a Destination the server cannot reach) — never an internal error.
        expect(r.status === 500 || r.status === 503 || r.status === 504, `${method} ${path} answered ${r.status}`).to.equal(false);
        expectNoLeak(f, { body: r.text }, `${method} ${path}`);
        const alive = await fetch(`${f.s.url}docs/`, { method: 'PROPFIND', headers: { Authorization: f.s.auth, Depth: '0' } });
        await alive.arrayBuffer();
        expect(alive.status).to.equal(207);
      }),
      {
        ...params,
        examples: [
          // Kept from earlier runs and reviews: encoded dot-segments, a lone %, a NUL, invalid UTF-8, a long name.
          ['PUT', '/dav/docs/%2e%2e/%2e%2e/x', ''],
          ['MKCOL', '/dav/%', ''],
          ['PROPFIND', '/dav/docs/%00', ''],
          ['COPY', '/dav/docs/%c3%28', ''],
          ['MOVE', `/dav/docs/${'n'.repeat(300)}`, ''],
        ],
      },
    );
  });
});

describe('bad input (generated with fast-check): nothing changes', function () {
  this.timeout(300_000);
  // A fixture of its own: the property above may legitimately create or delete things.
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f?.close());

  for (const method of ['PROPFIND', 'PROPPATCH', 'LOCK'] as const) {
    it(`malformed ${method} bodies: 4xx, nothing changed`, async () => {
      const target = method === 'PROPFIND' ? '/dav/docs/' : '/dav/docs/a.txt';
      await fc.assert(
        fc.asyncProperty(malformedXml(validXml[method]), async (body) => {
          counts.fuzzCases++;
          const r = await rawRequest(f.s.port, requestText(f, method, target, { Depth: '0', 'Content-Type': 'application/xml' }, body), { waitMs: 15_000 });
          expect(r.status, `${method} ${JSON.stringify(body)}: ${r.text.slice(0, 300)}`).to.be.within(400, 499);
          expectNoLeak(f, { body: r.text }, method);
          await expectUnchangedAndAlive(f, `${method} ${JSON.stringify(body)}`);
        }),
        { ...params, examples: [[validXml[method].slice(0, 10)], [`${validXml[method].slice(0, 30)}&bogus;${validXml[method].slice(30)}`]] },
      );
    });
  }

  it('unusable Depth, Overwrite, Timeout and Destination values: 4xx (502 for another server), nothing changed', async () => {
    const grammar: Record<string, RegExp> = {
      Depth: /^(0|1|infinity)$/i,
      Overwrite: /^[TF]$/,
      Timeout: /(^|,)\s*(Infinite|Second-\d+)\s*(,|$)/i,
    };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('Depth', 'Overwrite', 'Timeout', 'Destination'), junkValue, async (header, value) => {
        fc.pre(!grammar[header]?.test(value.trim()));
        counts.fuzzCases++;
        const req: { method: string; path: string; headers: Record<string, string>; body: string } =
          header === 'Depth'
            ? { method: 'PROPFIND', path: '/dav/docs/', headers: { Depth: value }, body: '' }
            : header === 'Overwrite'
              ? { method: 'COPY', path: '/dav/docs/a.txt', headers: { Overwrite: value, Destination: '/dav/docs/copy-target.txt' }, body: '' }
              : header === 'Timeout'
                ? { method: 'LOCK', path: '/dav/docs/a.txt', headers: { Timeout: value, 'Content-Type': 'application/xml' }, body: LOCK_BODY }
                : { method: 'MOVE', path: '/dav/docs/a.txt', headers: { Destination: `http://[${value}` }, body: '' };
        // An empty Depth or Timeout is the same as none (the default applies): not bad input.
        fc.pre(!((header === 'Depth' || header === 'Timeout') && value.trim() === ''));
        const r = await rawRequest(f.s.port, requestText(f, req.method, req.path, req.headers, req.body), { waitMs: 15_000 });
        expect(r.status, `${header}: ${JSON.stringify(value)} → ${r.text.slice(0, 300)}`).to.satisfy((s: number) => (s >= 400 && s < 500) || s === 502);
        expectNoLeak(f, { body: r.text }, header);
        await expectUnchangedAndAlive(f, `${header}: ${JSON.stringify(value)}`);
      }),
      { ...params, examples: [['Timeout', 'Second-abc'], ['Timeout', 'Second--5'], ['Depth', '2'], ['Overwrite', 'maybe']] },
    );
  });
});
