// Two jottadav instances over one emulator, sharing Redis (`store: redis://…`): what one does, the other sees
// at once — a LOCK taken through one is honoured by the other, a PUT through one is listed by the other
// immediately, 100 forced token expiries lead to exactly 100 refreshes (counted at the emulator) with no
// invalid_grant, and killing one instance loses nothing it acknowledged.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createClient } from '@keyv/redis';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { childEnv, cliPath } from '../helpers/serve-process.js';
import { requireTool } from '../helpers/tools.js';
import { dav, listNames, startCluster, startRedis, type Cluster, type Instance, type RedisServer } from './support.js';

const TOKEN_ROUTE = 'POST /auth/realms/*/protocol/openid-connect/token';
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const lockBody =
  '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>spec</D:owner></D:lockinfo>';

describe('two instances sharing Redis', function () {
  this.timeout(180_000);
  let redis: RedisServer;
  let emu: RunningEmulator;
  let cluster: Cluster;
  let a: Instance;
  let b: Instance;

  before(async function () {
    requireTool(this, 'redis-server', 'redis-server');
    redis = await startRedis();
    emu = await startTestEmulator();
    cluster = await startCluster({ emu, redisUrl: redis.url });
    [a, b] = cluster.instances;
  });

  after(async () => {
    await cluster?.close();
    await emu?.close();
    await redis?.stop();
  });

  it('keeps the token set in Redis, not in a file, and config check finds it there', async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const keys = await client.keys('*:tokens');
      expect(keys).to.have.length(1);
      const stored = JSON.parse((await client.get(keys[0]))!) as { version: number; tokens: { refreshToken: string } };
      expect(stored.version).to.equal(1);
      expect(stored.tokens.refreshToken).to.be.a('string').with.length.greaterThan(10);
    } finally {
      await client.close();
    }
    const check = spawnSync(process.execPath, [cliPath, 'config', 'check', '--config', cluster.configFile], { env: childEnv(cluster.home), encoding: 'utf8', timeout: 30_000 });
    expect(check.status, check.stdout + check.stderr).to.equal(0);
    expect(check.stdout).to.match(/^ok {4}store: Redis at redis:\/\/127\.0\.0\.1:\d+\/? answers$/m);
    expect(check.stdout).to.match(/^ok {4}token set saved in Redis \(jottadav-spec-\w+:tokens\)$/m);
  });

  it('honours a LOCK taken through one instance in the other', async () => {
    expect((await dav(a, cluster.auth, 'PUT', 'locked.txt', { body: 'v1' })).status).to.be.oneOf([200, 201, 204]);
    const lock = await dav(a, cluster.auth, 'LOCK', 'locked.txt', { headers: { Timeout: 'Second-600' }, body: lockBody });
    expect(lock.status).to.equal(200);
    const token = /<([^>]+)>/.exec(lock.headers.get('lock-token') ?? '')![1];

    // B refuses a write without the token, a second exclusive lock, and shows the lock in lockdiscovery.
    expect((await dav(b, cluster.auth, 'PUT', 'locked.txt', { body: 'intruder' })).status).to.equal(423);
    expect((await dav(b, cluster.auth, 'DELETE', 'locked.txt')).status).to.equal(423);
    expect((await dav(b, cluster.auth, 'LOCK', 'locked.txt', { body: lockBody })).status).to.equal(423);
    const discovery = await dav(b, cluster.auth, 'PROPFIND', 'locked.txt', {
      headers: { Depth: '0' },
      body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>',
    });
    expect(discovery.body).to.include(token);

    // With the token B may write, and B may unlock what A locked; then A writes freely again.
    expect((await dav(b, cluster.auth, 'PUT', 'locked.txt', { headers: { If: `(<${token}>)` }, body: 'v2' })).status).to.be.oneOf([200, 201, 204]);
    expect((await dav(b, cluster.auth, 'UNLOCK', 'locked.txt', { headers: { 'Lock-Token': `<${token}>` } })).status).to.equal(204);
    expect((await dav(a, cluster.auth, 'PUT', 'locked.txt', { body: 'v3' })).status).to.be.oneOf([200, 201, 204]);
    expect((await dav(b, cluster.auth, 'GET', 'locked.txt')).body).to.equal('v3');
  });

  it('gives one exclusive lock when both instances are asked at the same moment', async () => {
    await dav(a, cluster.auth, 'PUT', 'race.txt', { body: 'x' });
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all([a, b, a, b].map((i) => dav(i, cluster.auth, 'LOCK', 'race.txt', { body: lockBody })));
      const granted = answers.filter((r) => r.status === 200);
      expect(granted, `round ${round}: ${answers.map((r) => r.status).join(',')}`).to.have.length(1);
      expect(answers.filter((r) => r.status === 423)).to.have.length(3);
      const token = /<([^>]+)>/.exec(granted[0].headers.get('lock-token')!)![1];
      expect((await dav(round % 2 ? a : b, cluster.auth, 'UNLOCK', 'race.txt', { headers: { 'Lock-Token': `<${token}>` } })).status).to.equal(204);
    }
  });

  it('lists a PUT through one instance in the other immediately, though the other had the folder cached', async () => {
    expect((await dav(a, cluster.auth, 'MKCOL', 'shared/')).status).to.equal(201);
    for (let i = 0; i < 20; i++) {
      const [writer, reader] = i % 2 ? [b, a] : [a, b];
      await listNames(reader, cluster.auth, 'shared/'); // the reader's listing is now cached
      const body = `file ${i} ${randomBytes(8).toString('hex')}`;
      expect((await dav(writer, cluster.auth, 'PUT', `shared/f${i}.txt`, { body })).status).to.equal(201);
      expect(await listNames(reader, cluster.auth, 'shared/')).to.include(`f${i}.txt`);
      expect((await dav(reader, cluster.auth, 'GET', `shared/f${i}.txt`)).body).to.equal(body);
    }
    // Deletes, renames and overwrites travel the same way.
    expect((await dav(a, cluster.auth, 'DELETE', 'shared/f0.txt')).status).to.equal(204);
    expect(await listNames(b, cluster.auth, 'shared/')).to.not.include('f0.txt');
    expect((await dav(b, cluster.auth, 'MOVE', 'shared/f1.txt', { headers: { Destination: `${b.url}shared/renamed.txt` } })).status).to.equal(201);
    expect(await listNames(a, cluster.auth, 'shared/')).to.include('renamed.txt').and.not.include('f1.txt');
    await dav(b, cluster.auth, 'PUT', 'shared/f2.txt', { body: 'overwritten' });
    expect((await dav(a, cluster.auth, 'GET', 'shared/f2.txt')).body).to.equal('overwritten');
    const sizes = await dav(a, cluster.auth, 'PROPFIND', 'shared/f2.txt', { headers: { Depth: '0' } });
    expect(sizes.body).to.match(/getcontentlength>11</);
  });

  it('shares dead properties', async () => {
    const set = await dav(a, cluster.auth, 'PROPPATCH', 'shared/f3.txt', {
      body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:spec"><D:set><D:prop><Z:colour>teal</Z:colour></D:prop></D:set></D:propertyupdate>',
    });
    expect(set.status).to.equal(207);
    const got = await dav(b, cluster.auth, 'PROPFIND', 'shared/f3.txt', {
      headers: { Depth: '0' },
      body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:spec"><D:prop><Z:colour/></D:prop></D:propfind>',
    });
    expect(got.body).to.match(/colour[^>]*>teal</);
  });

  it('turns 100 forced token expiries into exactly 100 refreshes, with no invalid_grant', async () => {
    await dav(a, cluster.auth, 'PUT', 'token.txt', { body: 'token test' });
    emu.resetStats();
    for (let i = 0; i < 100; i++) {
      emu.auth.expireAccessTokens();
      // Both instances hit the expired token at once; a download always reaches the service.
      const answers = await Promise.all([a, b, a, b].map((inst) => dav(inst, cluster.auth, 'GET', 'token.txt')));
      for (const r of answers) expect(r.status, `round ${i}: ${r.body}`).to.equal(200);
    }
    expect(emu.stats().routes[TOKEN_ROUTE]).to.equal(100);
    for (const inst of [a, b]) expect(inst.output()).to.not.match(/invalid_grant|log in again|refused/i);
  });

  it('loses nothing acknowledged when one instance is killed mid-traffic', async () => {
    await dav(a, cluster.auth, 'MKCOL', 'crash/');
    const acknowledged = new Map<string, string>();
    let killed = false;
    const writer = async (inst: Instance, prefix: string) => {
      for (let i = 0; i < 30; i++) {
        const body = randomBytes(1024 + Math.floor(Math.random() * 64 * 1024));
        const name = `crash/${prefix}-${i}.bin`;
        try {
          const res = await dav(inst, cluster.auth, 'PUT', name, { body });
          if (res.status === 201 || res.status === 204) acknowledged.set(name, md5(body));
        } catch {
          if (!killed) throw new Error(`${inst.name} failed before it was killed`);
          return; // the connection died with the instance: not acknowledged
        }
      }
    };
    await dav(a, cluster.auth, 'PUT', 'crash/held.txt', { body: 'held' });
    const held = await dav(a, cluster.auth, 'LOCK', 'crash/held.txt', { headers: { Timeout: 'Second-600' }, body: lockBody });
    expect(held.status).to.equal(200);
    const victimWork = writer(a, 'a');
    const survivorWork = writer(b, 'b');
    while (acknowledged.size < 10) await new Promise((r) => setTimeout(r, 10));
    killed = true;
    await a.kill('SIGKILL');
    await Promise.all([victimWork, survivorWork]);
    expect([...acknowledged.keys()].filter((k) => k.startsWith('crash/a-')).length).to.be.greaterThan(0);

    const listed = await listNames(b, cluster.auth, 'crash/');
    for (const [name, sum] of acknowledged) {
      expect(listed, name).to.include(name.slice('crash/'.length));
      const got = await fetch(b.url + name, { headers: { Authorization: cluster.auth } });
      expect(got.status, name).to.equal(200);
      expect(md5(Buffer.from(await got.arrayBuffer())), name).to.equal(sum);
    }

    // A lock taken through the dead instance is still honoured, and the instance comes back on the same state.
    expect((await dav(b, cluster.auth, 'PUT', 'crash/held.txt', { body: 'intruder' })).status).to.equal(423);
    await a.restart();
    expect((await dav(a, cluster.auth, 'PUT', 'crash/held.txt', { body: 'intruder' })).status).to.equal(423);
    expect(await listNames(a, cluster.auth, 'crash/')).to.include.members(listed);
  });
});
