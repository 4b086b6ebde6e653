// Authentication over real HTTP against the whole stack: Basic, Digest (MD5, SHA-256, -sess, stale nonces,
// nc replay, URI binding), wrong passwords, failed-login limiting, no anonymous access unless configured (and
// then read-only), read-only users refused on every write method, users from config hashes and htpasswd/htdigest.
import bcrypt from 'bcryptjs';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basicAuth, request, startStack, type TestStack } from '../helpers/stack.js';
import { digestAuthorization, digestChallenges } from './digest-client.js';

const propfind0 = { Depth: '0' };

describe('server: authentication', function () {
  this.timeout(60_000);
  let s: TestStack;
  before(async () => {
    s = await startStack({ server: { auth: { maxFailures: 1000 } } });
  });
  after(() => s?.close());

  it('answers OPTIONS without credentials, with the DAV headers Windows probes for', async () => {
    const r = await request(s, 'OPTIONS', '', { auth: null });
    expect(r.status).to.equal(200);
    expect(r.headers.get('dav')).to.match(/\b1\b.*\b2\b/);
    expect(r.headers.get('ms-author-via')).to.equal('DAV');
  });

  it('refuses a request without credentials: 401 with Basic and Digest (SHA-256, MD5) challenges', async () => {
    for (const method of ['PROPFIND', 'GET', 'PUT', 'MKCOL', 'DELETE']) {
      const r = await request(s, method, method === 'PUT' ? 'x.txt' : '', { auth: null, headers: propfind0, body: method === 'PUT' ? 'x' : undefined });
      expect(r.status, method).to.equal(401);
      const challenge = r.headers.get('www-authenticate') ?? '';
      expect(challenge, method).to.match(/Basic realm="jottadav"/);
      expect(digestChallenges(challenge).map((c) => c.algorithm)).to.deep.equal(['SHA-256', 'MD5']);
    }
  });

  it('lets the user in with Basic', async () => {
    const r = await request(s, 'PROPFIND', '', { headers: propfind0 });
    expect(r.status).to.equal(207);
  });

  it('refuses a wrong password and an unknown user with 401 and a challenge', async () => {
    for (const auth of [basicAuth(s.user!.name, 'wrong'), basicAuth('mallory', s.user!.password), 'Basic !!!notbase64', 'Bearer abc']) {
      const r = await request(s, 'PROPFIND', '', { auth, headers: propfind0 });
      expect(r.status, auth).to.equal(401);
      expect(r.headers.get('www-authenticate'), auth).to.include('Basic');
    }
  });

  it('accepts the DOMAIN\\user form Windows sends', async () => {
    const r = await request(s, 'PROPFIND', '', { auth: basicAuth(`WORKGROUP\\${s.user!.name}`, s.user!.password), headers: propfind0 });
    expect(r.status).to.equal(207);
  });

  async function challenge(path = '') {
    const r = await request(s, 'PROPFIND', path, { auth: null, headers: propfind0 });
    return digestChallenges(r.headers.get('www-authenticate'));
  }

  it('lets the user in with Digest MD5, SHA-256 and their -sess variants', async () => {
    const uri = new URL(s.url).pathname;
    for (const algorithm of ['MD5', 'SHA-256', 'MD5-sess', 'SHA-256-sess']) {
      const ch = (await challenge()).find((c) => algorithm.startsWith(c.algorithm))!;
      const auth = digestAuthorization(ch, { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri, algorithm });
      const r = await request(s, 'PROPFIND', '', { auth, headers: propfind0 });
      expect(r.status, algorithm).to.equal(207);
    }
  });

  it('Digest: a replayed nonce count is refused, the next count is accepted', async () => {
    const uri = new URL(s.url).pathname;
    const [ch] = await challenge();
    const first = digestAuthorization(ch, { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri, nc: 1, cnonce: 'c1' });
    expect((await request(s, 'PROPFIND', '', { auth: first, headers: propfind0 })).status).to.equal(207);
    const replay = await request(s, 'PROPFIND', '', { auth: first, headers: propfind0 });
    expect(replay.status).to.equal(401);
    expect(digestChallenges(replay.headers.get('www-authenticate')).every((c) => !c.stale)).to.equal(true);
    const second = digestAuthorization(ch, { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri, nc: 2, cnonce: 'c1' });
    expect((await request(s, 'PROPFIND', '', { auth: second, headers: propfind0 })).status).to.equal(207);
  });

  it('Digest: a response computed for another URI or method does not open this one', async () => {
    const [ch] = await challenge();
    const forOther = digestAuthorization(ch, { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri: '/elsewhere/' });
    expect((await request(s, 'PROPFIND', '', { auth: forOther, headers: propfind0 })).status).to.equal(401);
    const uri = new URL(s.url).pathname;
    const forGet = digestAuthorization(ch, { user: s.user!.name, password: s.user!.password, method: 'GET', uri, nc: 5 });
    expect((await request(s, 'PROPFIND', '', { auth: forGet, headers: propfind0 })).status).to.equal(401);
  });

  it('Digest: a nonce this server never issued gets stale=true with the right password, a plain 401 with a wrong one', async () => {
    const uri = new URL(s.url).pathname;
    const [real] = await challenge();
    const forged = { ...real, nonce: 'lzzzzzzz.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB' };
    const right = await request(s, 'PROPFIND', '', {
      auth: digestAuthorization(forged, { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri }),
      headers: propfind0,
    });
    expect(right.status).to.equal(401);
    expect(digestChallenges(right.headers.get('www-authenticate')).every((c) => c.stale)).to.equal(true);
    const wrong = await request(s, 'PROPFIND', '', {
      auth: digestAuthorization(forged, { user: s.user!.name, password: 'nope', method: 'PROPFIND', uri }),
      headers: propfind0,
    });
    expect(wrong.status).to.equal(401);
    expect(digestChallenges(wrong.headers.get('www-authenticate')).some((c) => c.stale)).to.equal(false);
  });
});

describe('server: Digest nonce expiry', function () {
  this.timeout(60_000);
  let s: TestStack;
  before(async () => {
    s = await startStack({ server: { auth: { nonceLifetimeSec: 1 } } });
  });
  after(() => s?.close());

  it('answers an expired nonce with stale=true, and the fresh nonce works', async () => {
    const uri = new URL(s.url).pathname;
    const first = await request(s, 'PROPFIND', '', { auth: null, headers: propfind0 });
    const [ch] = digestChallenges(first.headers.get('www-authenticate'));
    const ok = await request(s, 'PROPFIND', '', {
      auth: digestAuthorization(ch, { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri, nc: 1 }),
      headers: propfind0,
    });
    expect(ok.status).to.equal(207);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const late = await request(s, 'PROPFIND', '', {
      auth: digestAuthorization(ch, { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri, nc: 2 }),
      headers: propfind0,
    });
    expect(late.status).to.equal(401);
    const fresh = digestChallenges(late.headers.get('www-authenticate'));
    expect(fresh.length).to.be.greaterThan(0);
    expect(fresh.every((c) => c.stale)).to.equal(true);
    const again = await request(s, 'PROPFIND', '', {
      auth: digestAuthorization(fresh[0], { user: s.user!.name, password: s.user!.password, method: 'PROPFIND', uri, nc: 1 }),
      headers: propfind0,
    });
    expect(again.status).to.equal(207);
  });
});

describe('server: failed-login limiting', function () {
  this.timeout(60_000);
  let s: TestStack;
  before(async () => {
    s = await startStack({ server: { auth: { maxFailures: 3, windowSec: 60, blockSec: 120 } } });
  });
  after(() => s?.close());

  it('blocks an address after repeated wrong passwords, even for the right one, with 429 and Retry-After', async () => {
    expect((await request(s, 'PROPFIND', '', { headers: propfind0 })).status).to.equal(207);
    for (let i = 0; i < 4; i++) {
      const r = await request(s, 'PROPFIND', '', { auth: basicAuth(s.user!.name, `guess-${i}`), headers: propfind0 });
      expect(r.status, `attempt ${i}`).to.equal(401);
    }
    const blocked = await request(s, 'PROPFIND', '', { headers: propfind0 });
    expect(blocked.status).to.equal(429);
    expect(Number(blocked.headers.get('retry-after'))).to.be.within(1, 120);
    // Asking without credentials is no guess: it still gets the challenge.
    expect((await request(s, 'PROPFIND', '', { auth: null, headers: propfind0 })).status).to.equal(401);
    const metrics = await (await fetch(`${s.server.ops!.url}/metrics`)).text();
    expect(metrics).to.match(/jottadav_login_failures_total\{scheme="basic"\} 4/);
  });
});

describe('server: anonymous access', function () {
  this.timeout(60_000);

  it('is off by default: nothing without credentials', async () => {
    const s = await startStack();
    try {
      expect((await request(s, 'PROPFIND', '', { auth: null, headers: propfind0 })).status).to.equal(401);
      expect((await request(s, 'GET', '', { auth: null })).status).to.equal(401);
    } finally {
      await s.close();
    }
  });

  it('when configured, lets visitors read but asks them to log in for every write', async () => {
    const s = await startStack({ server: { anonymous: 'read-only' } });
    try {
      expect((await request(s, 'PUT', 'shared.txt', { body: 'hello' })).status).to.equal(201);
      expect((await request(s, 'PROPFIND', '', { auth: null, headers: { Depth: '1' } })).status).to.equal(207);
      const get = await request(s, 'GET', 'shared.txt', { auth: null });
      expect(get.status).to.equal(200);
      expect(get.body).to.equal('hello');
      for (const method of ['PUT', 'DELETE', 'MKCOL', 'PROPPATCH', 'LOCK', 'MOVE', 'COPY']) {
        const r = await request(s, method, method === 'MKCOL' ? 'newdir' : 'shared.txt', {
          auth: null,
          body: method === 'PUT' ? 'changed' : undefined,
          headers: { Destination: `${s.url}copy.txt` },
        });
        expect(r.status, method).to.equal(401);
        expect(r.headers.get('www-authenticate'), method).to.include('Basic');
      }
      expect((await request(s, 'GET', 'shared.txt', { auth: null })).body).to.equal('hello');
    } finally {
      await s.close();
    }
  });
});

describe('server: read-only users and users from files', function () {
  this.timeout(90_000);
  let s: TestStack;
  let dir: string;
  const realm = 'jottadav';
  const reader = { name: 'reader', password: 'read-only-pw' };
  const bob = { name: 'bob', password: 'bob-bcrypt-pw' };
  const carol = { name: 'carol', password: 'carol-apr1-pw' };
  const dave = { name: 'dave', password: 'dave-sha-pw' };
  const erin = { name: 'erin', password: 'erin-digest-pw' };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jottadav-users-'));
    // htpasswd's own formats: bcrypt as `htpasswd -B` writes it ($2y$), APR1 from openssl, {SHA}.
    const apr1 = execFileSync('openssl', ['passwd', '-apr1', carol.password], { encoding: 'utf8' }).trim();
    const sha = `{SHA}${createHash('sha1').update(dave.password).digest('base64')}`;
    writeFileSync(
      join(dir, 'htpasswd'),
      `# users\n${bob.name}:${bcrypt.hashSync(bob.password, 8).replace(/^\$2b\$/, '$2y$')}\n${carol.name}:${apr1}\n${dave.name}:${sha}\n`,
    );
    const ha1 = createHash('md5').update(`${erin.name}:${realm}:${erin.password}`).digest('hex');
    writeFileSync(join(dir, 'htdigest'), `${erin.name}:${realm}:${ha1}\n${erin.name}:other-realm:${'0'.repeat(32)}\n`);
    s = await startStack({
      server: {
        htpasswd: join(dir, 'htpasswd'),
        htdigest: join(dir, 'htdigest'),
        users: [{ name: reader.name, passwordHash: bcrypt.hashSync(reader.password, 8), readOnly: true }],
      },
    });
    expect((await request(s, 'PUT', 'keep.txt', { body: 'original' })).status).to.equal(201);
    expect((await request(s, 'MKCOL', 'folder')).status).to.equal(201);
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets bcrypt ($2y$), APR1 and {SHA} users from the htpasswd file in with Basic', async () => {
    for (const u of [bob, carol, dave]) {
      expect((await request(s, 'PROPFIND', '', { auth: basicAuth(u.name, u.password), headers: propfind0 })).status, u.name).to.equal(207);
      expect((await request(s, 'PROPFIND', '', { auth: basicAuth(u.name, 'x'), headers: propfind0 })).status, u.name).to.equal(401);
    }
  });

  it('lets an htdigest user in with Digest; a bcrypt-only user cannot use Digest', async () => {
    const uri = new URL(s.url).pathname;
    const first = await request(s, 'PROPFIND', '', { auth: null, headers: propfind0 });
    const md5 = digestChallenges(first.headers.get('www-authenticate')).find((c) => c.algorithm === 'MD5')!;
    const ok = digestAuthorization(md5, { user: erin.name, password: erin.password, method: 'PROPFIND', uri, nc: 1 });
    expect((await request(s, 'PROPFIND', '', { auth: ok, headers: propfind0 })).status).to.equal(207);
    const bcryptUser = digestAuthorization(md5, { user: bob.name, password: bob.password, method: 'PROPFIND', uri, nc: 2 });
    expect((await request(s, 'PROPFIND', '', { auth: bcryptUser, headers: propfind0 })).status).to.equal(401);
  });

  it('lets a read-only user read, and refuses every write method with 403, changing nothing', async () => {
    const auth = basicAuth(reader.name, reader.password);
    expect((await request(s, 'PROPFIND', '', { auth, headers: { Depth: '1' } })).status).to.equal(207);
    expect((await request(s, 'GET', 'keep.txt', { auth })).body).to.equal('original');
    const lockBody =
      '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';
    const propBody =
      '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x">1</x:a></D:prop></D:set></D:propertyupdate>';
    const attempts: [string, string, Record<string, string>, string?][] = [
      ['PUT', 'keep.txt', {}, 'overwritten'],
      ['PUT', 'new.txt', {}, 'new'],
      ['DELETE', 'keep.txt', {}],
      ['DELETE', 'folder', {}],
      ['MKCOL', 'made', {}],
      ['MOVE', 'keep.txt', { Destination: `${s.url}moved.txt` }],
      ['COPY', 'keep.txt', { Destination: `${s.url}copied.txt` }],
      ['PROPPATCH', 'keep.txt', { 'Content-Type': 'application/xml' }, propBody],
      ['LOCK', 'keep.txt', { 'Content-Type': 'application/xml', Timeout: 'Second-60' }, lockBody],
      ['UNLOCK', 'keep.txt', { 'Lock-Token': '<opaquelocktoken:00000000-0000-0000-0000-000000000000>' }],
      ['POST', 'folder/', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'folder=x'],
    ];
    for (const [method, path, headers, body] of attempts) {
      const r = await request(s, method, path, { auth, headers, body });
      expect(r.status, `${method} ${path}`).to.equal(403);
    }
    const listing = await request(s, 'PROPFIND', '', { headers: { Depth: '1' } });
    for (const gone of ['new.txt', 'made', 'moved.txt', 'copied.txt']) expect(listing.body, gone).to.not.include(gone);
    expect((await request(s, 'GET', 'keep.txt')).body).to.equal('original');
    expect((await request(s, 'PROPFIND', 'folder', { headers: propfind0 })).status).to.equal(207);
  });
});

describe('server: --read-only', function () {
  this.timeout(60_000);
  it('makes even the command-line user read-only', async () => {
    const s = await startStack({ server: { readOnly: true } });
    try {
      expect((await request(s, 'PROPFIND', '', { headers: propfind0 })).status).to.equal(207);
      expect((await request(s, 'PUT', 'x.txt', { body: 'x' })).status).to.equal(403);
      expect((await request(s, 'MKCOL', 'd')).status).to.equal(403);
    } finally {
      await s.close();
    }
  });
});
