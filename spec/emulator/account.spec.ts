// The emulator's account surface over HTTP: customer JSON, the <user> and <device> documents, device and
// mountpoint creation, bearer-token checks and their error bodies, and the admin routes.
import { expect } from 'chai';
import { withEmulator } from '../helpers/emulator.js';
import { Client, list, parser } from './support.js';

describe('emulator: account', () => {
  const ctx = withEmulator({ capacityBytes: 1_000_000 });
  const c = () => new Client(ctx.emu, ctx.token);

  it('answers customer info with the JFS user name and quota', async () => {
    const res = await c().fetch('/account/v1/customer');
    expect(res.status).to.equal(200);
    const j = (await res.json()) as Record<string, unknown>;
    expect(j.username).to.equal('jottadav-user');
    expect(j.quota).to.equal(1_000_000);
    for (const k of ['email', 'name', 'country_code', 'language_code', 'brand_code', 'account_type', 'subscription_type', 'usage', 'write_locked', 'read_locked']) {
      expect(j, k).to.have.property(k);
    }
  });

  it('answers the <user> document with capacity, usage and the Jotta device, in the sample shape', async () => {
    const res = await c().fetch(`/jfs/${ctx.emu.user}`);
    const text = await res.text();
    expect(res.status).to.equal(200);
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<user time="')).to.equal(true);
    expect(text).to.match(/<user time="\d{4}-\d\d-\d\d-T\d\d:\d\d:\d\dZ" host="dn-\d{3}">/);
    const u = parser.parse(text).user;
    expect(u.username).to.equal('jottadav-user');
    expect(u.capacity).to.equal('1000000');
    expect(u.usage).to.equal('0');
    const order = ['username', 'account-type', 'locked', 'capacity', 'max-devices', 'max-mobile-devices', 'usage', 'read-locked', 'write-locked', 'quota-write-locked'];
    const positions = order.map((k) => text.indexOf(`<${k}>`));
    expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
    const jotta = list(u.devices.device)[0];
    expect(jotta.name['#text']).to.equal('Jotta');
    expect(jotta.name['@xml:space']).to.equal('preserve');
    expect(jotta.type).to.equal('JOTTA');
  });

  it('lists the Jotta device with Archive, Shared and Sync (views such as Trash are not mountpoints)', async () => {
    const d = (await c().xml(`/jfs/${ctx.emu.user}/Jotta`)).device;
    const names = list(d.mountPoints.mountPoint).map((m: { name: { '#text': string } }) => m.name['#text']);
    expect(names).to.deep.equal(['Archive', 'Shared', 'Sync']);
    expect(d.metadata['@num_mountpoints']).to.equal('3');
    expect(d.user).to.equal('jottadav-user');
  });

  it('creates a device (201) and a mountpoint on it (201, then 200), and refuses one on Jotta', async () => {
    const u = ctx.emu.user;
    const dev = await c().post(`/jfs/${u}/Laptop1`, 'type=WORKSTATION', 201);
    expect(dev.device.type).to.equal('WORKSTATION');
    const again = await c().fetch(`/jfs/${u}/laptop1?type=WORKSTATION`, { method: 'POST' });
    expect(again.status, 'JaFS saw 201 even when it exists').to.equal(201);
    const mp = await c().post(`/jfs/${u}/Laptop1/Docs`, '', 201);
    expect(mp.mountPoint.name['#text']).to.equal('Docs');
    expect(mp.mountPoint.path['#text']).to.equal(`/${u}/Laptop1`);
    await c().post(`/jfs/${u}/Laptop1/docs`, '', 200);
    const refused = await c().fetch(`/jfs/${u}/Jotta/Photos`, { method: 'POST' });
    expect(refused.status).to.equal(403);
    const d = (await c().xml(`/jfs/${u}/Laptop1`)).device;
    expect(list(d.mountPoints.mountPoint).map((m: { name: { '#text': string } }) => m.name['#text'])).to.deep.equal(['Docs']);
    const user = (await c().xml(`/jfs/${u}`)).user;
    expect(list(user.devices.device).map((x: { name: { '#text': string } }) => x.name['#text'])).to.include('Laptop1');
  });

  it('answers 404 NoSuchMountPointException for an unknown mountpoint', async () => {
    const res = await c().fetch(`/jfs/${ctx.emu.user}/Jotta/Nope/x`);
    expect(res.status).to.equal(404);
    const e = parser.parse(await res.text()).error;
    expect(e.message).to.equal('no.jotta.backup.errors.NoSuchMountPointException');
  });

  it('refuses requests without a valid bearer token: 401 XML on JFS, 401 JSON on the API', async () => {
    const jfs = await fetch(`${ctx.emu.url}/jfs/${ctx.emu.user}`, { headers: { Authorization: 'Bearer nonsense' } });
    expect(jfs.status).to.equal(401);
    const text = await jfs.text();
    const e = parser.parse(text).error;
    expect(e.code).to.equal('401');
    expect(e.message).to.equal('org.springframework.security.authentication.BadCredentialsException: Bad credentials');
    expect(e.reason).to.equal('Unauthorized');
    expect(e['x-id']).to.match(/^\d{12}$/);
    expect(text.indexOf('<code>')).to.be.lessThan(text.indexOf('<message>'));
    for (const k of ['<reason>', '<cause>', '<hostname>', '<x-id>']) expect(text).to.include(k);

    const api = await fetch(`${ctx.emu.url}/files/v1/allocate`, { method: 'POST', body: '{}' });
    expect(api.status).to.equal(401);
    const j = (await api.json()) as Record<string, unknown>;
    expect(Object.keys(j)).to.deep.equal(['code', 'message', 'cause', 'error_id', 'x-id']);
    expect(j.error_id).to.equal('BadCredentialsException');
  });

  it("refuses another user's tree", async () => {
    const res = await c().fetch('/jfs/someone-else/Jotta/Archive');
    expect(res.status).to.equal(403);
  });

  it('serves admin routes only without X-Forwarded-Host (never through the MITM proxy)', async () => {
    const direct = await fetch(`${ctx.emu.url}/__emulator/stats`);
    expect(direct.status).to.equal(200);
    const viaProxy = await fetch(`${ctx.emu.url}/__emulator/stats`, { headers: { 'X-Forwarded-Host': 'jfs.jottacloud.com' } });
    expect(viaProxy.status).to.equal(404);
    const token = await fetch(`${ctx.emu.url}/__emulator/login-token`, { method: 'POST' });
    const lt = JSON.parse(Buffer.from((await token.text()).trim(), 'base64url').toString('utf8')) as Record<string, string>;
    expect(lt.username).to.equal('jottadav-user');
    expect(lt.auth_token).to.be.a('string');
  });

  it('counts requests per route for the benchmark', async () => {
    ctx.emu.resetStats();
    await c().fetch(`/jfs/${ctx.emu.user}/Jotta/Archive`);
    await c().fetch(`/jfs/${ctx.emu.user}/Jotta/Archive?mode=liststream`);
    await c().fetch(`/jfs/${ctx.emu.user}/Jotta/Archive/x?mkDir=true`, { method: 'POST' });
    const s = (await (await fetch(`${ctx.emu.url}/__emulator/stats`)).json()) as { total: number; routes: Record<string, number> };
    expect(s.total).to.equal(3);
    expect(s.routes).to.deep.equal({ 'GET jfs': 1, 'GET jfs mode=liststream': 1, 'POST jfs mkDir': 1 });
  });
});
