// The `webdav` config section reaches the WebDAV layer through the wiring module (what `jottadav serve` runs).
import { expect } from 'chai';
import { startStack, type TestStack } from '../helpers/stack.js';

describe('server: webdav settings from the config', () => {
  let st: TestStack;
  before(async () => {
    st = await startStack({ webdav: { ignoreMacMetadata: true, lockTimeoutDefaultSec: 120, lockTimeoutMaxSec: 600 } });
  });
  after(async () => st?.close());

  const lockBody =
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>';

  it('webdav.ignoreMacMetadata keeps ._ files out of Jottacloud', async () => {
    const put = await fetch(`${st.url}._report.txt`, { method: 'PUT', headers: { authorization: st.auth }, body: 'apple double' });
    expect(put.status).to.be.within(200, 299);
    const normal = await fetch(`${st.url}report.txt`, { method: 'PUT', headers: { authorization: st.auth }, body: 'content' });
    expect(normal.status).to.equal(201);
    const entries = await st.stack.storage.list('/');
    expect(entries.map((e) => e.name)).to.deep.equal(['report.txt']);
  });

  it('webdav.lockTimeoutDefaultSec and lockTimeoutMaxSec bound lock timeouts', async () => {
    const plain = await fetch(`${st.url}report.txt`, { method: 'LOCK', headers: { authorization: st.auth, 'content-type': 'application/xml' }, body: lockBody });
    expect(plain.status).to.equal(200);
    expect(await plain.text()).to.include('Second-120');
    await fetch(`${st.url}report.txt`, { method: 'UNLOCK', headers: { authorization: st.auth, 'lock-token': plain.headers.get('lock-token')! } });
    const long = await fetch(`${st.url}report.txt`, {
      method: 'LOCK',
      headers: { authorization: st.auth, 'content-type': 'application/xml', timeout: 'Infinite' },
      body: lockBody,
    });
    expect(long.status).to.equal(200);
    expect(await long.text()).to.include('Second-600');
  });
});
