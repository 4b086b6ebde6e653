// `jottadav warm` against a shared (Redis) cache: it lists every folder once — printing plain progress lines
// when its output is not a terminal — and afterwards a serving instance answers PROPFINDs of the whole tree
// without asking Jottacloud for a single listing.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createClient } from '@keyv/redis';
import { startTestEmulator, type RunningEmulator } from '../helpers/emulator.js';
import { childEnv, cliPath } from '../helpers/serve-process.js';
import { repoRoot, requireTool } from '../helpers/tools.js';
import { dav, listNames, startCluster, startRedis, type Cluster, type RedisServer } from './support.js';

function runCli(args: string[], home: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: childEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

describe('jottadav warm on a shared cache', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let emu: RunningEmulator;
  let cluster: Cluster;

  before(async function () {
    requireTool(this, 'redis-server', 'redis-server');
    redis = await startRedis();
    emu = await startTestEmulator();
    cluster = await startCluster({ emu, redisUrl: redis.url, count: 1, storage: { cacheTtlSec: 600 } });
  });

  after(async () => {
    await cluster?.close();
    await emu?.close();
    await redis?.stop();
  });

  it('lists every folder once, with plain progress lines, and leaves the tree in the cache', async () => {
    const [inst] = cluster.instances;
    const folders = ['t/', 't/a/', 't/b/', 't/a/x/', 't/a/y/', 't/b/z/'];
    for (const f of folders) expect((await dav(inst, cluster.auth, 'MKCOL', f)).status).to.equal(201);
    for (const f of folders) await dav(inst, cluster.auth, 'PUT', `${f}file.txt`, { body: `in ${f}` });

    // Start from a cold cache: only the token set stays.
    const client = createClient({ url: redis.url });
    await client.connect();
    for (const key of await client.keys('*')) if (!key.endsWith(':tokens')) await client.del(key);

    const r = await runCli(['warm', '--config', cluster.configFile], cluster.home);
    expect(r.code, r.out + r.err).to.equal(0);
    // Root + t + the six folders below it (t counted among them) = 7 folders, 6 files of 7–10 bytes.
    expect(r.out).to.match(/^Listed 7 folder\(s\): 6 file\(s\), \d+ B; cached for 600 s\.$/m);
    expect(r.err).to.match(/^warm: 1\/\d+ folders, \d+ files$/m);
    expect(r.err).to.match(/^warm: 7\/7 folders, 6 files$/m);
    expect(r.err).to.not.include('\r').and.not.include('\u001b');
    expect((await client.keys('*')).length).to.be.greaterThan(7);
    await client.close();

    emu.resetStats();
    for (const f of ['', ...folders]) await listNames(inst, cluster.auth, f);
    const jfsReads = Object.entries(emu.stats().routes).filter(([route]) => route.startsWith('GET jfs'));
    expect(jfsReads, 'listings asked of the service after warm').to.deep.equal([]);
  });
});
