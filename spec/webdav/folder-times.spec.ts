// Jottacloud's listings carry no folder times. A folder's PROPFIND then leaves getlastmodified/creationdate out
// (a 404 propstat) instead of claiming 1 January 1970; files keep theirs.
import { expect } from 'chai';
import { startStack, type TestStack } from '../helpers/stack.js';

describe('webdav: folders without times', () => {
  let s: TestStack;
  before(async () => {
    s = await startStack();
    expect((await fetch(`${s.url}docs`, { method: 'MKCOL', headers: { authorization: s.auth } })).status).to.equal(201);
    expect((await fetch(`${s.url}docs/a.txt`, { method: 'PUT', headers: { authorization: s.auth }, body: 'a' })).status).to.equal(201);
  });
  after(async () => s?.close());

  it('lists a folder with no made-up dates and its file with real ones', async () => {
    const res = await fetch(`${s.url}docs`, { method: 'PROPFIND', headers: { authorization: s.auth, depth: '1' } });
    expect(res.status).to.equal(207);
    const xml = await res.text();
    expect(xml).to.not.include('1970');
    const [folder, file] = xml.split('<D:response>').slice(1);
    const okPart = (r: string) => r.split('<D:propstat>').find((p) => p.includes('200 OK')) ?? '';
    expect(okPart(folder)).to.not.include('getlastmodified');
    expect(okPart(folder)).to.include('<D:collection/>');
    expect(okPart(file)).to.match(/<D:getlastmodified>\w{3}, \d{2} \w{3} 20\d\d \d\d:\d\d:\d\d GMT<\/D:getlastmodified>/);
  });

  it('names the missing folder times as not found when asked for them', async () => {
    const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/><D:creationdate/></D:prop></D:propfind>';
    const res = await fetch(`${s.url}docs`, { method: 'PROPFIND', headers: { authorization: s.auth, depth: '0', 'content-type': 'application/xml' }, body });
    expect(res.status).to.equal(207);
    const xml = await res.text();
    expect(xml).to.match(/<D:getlastmodified\/>[\s\S]*404 Not Found/);
  });
});
