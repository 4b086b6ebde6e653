// The JFS tree over HTTP: listing shapes (incl. trashed entries and failed uploads), the POST verbs, the Trash
// view, liststream and mode=list, case-insensitive names, name rules and the trash interactions the notes describe.
import { expect } from 'chai';
import { withEmulator } from '../helpers/emulator.js';
import { Client, list, md5, parser, rawRequest } from './support.js';

describe('emulator: tree', () => {
  const ctx = withEmulator();
  const c = () => new Client(ctx.emu, ctx.token);
  const u = () => ctx.emu.user;

  describe('listings', () => {
    before(async () => {
      await c().post(c().p('L/sub'), 'mkDir=true');
      await c().upload('L/a.txt', 'alpha');
      await c().upload('L/b.bin', 'beta');
      await c().post(c().p('L/b.bin'), 'dl=true');
    });

    it('lists one level in the sample shape, with a trashed file marked deleted and carrying <abspath>', async () => {
      const res = await c().fetch(c().p('L'));
      const text = await res.text();
      expect(text).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<folder name="L" time="[^"]+" host="dn-\d+">/);
      expect(text).to.include(`<path xml:space="preserve">/${u()}/Jotta/Archive</path>`);
      expect(text).to.include('<folder name="sub"/>');
      expect(text).to.match(/<metadata first="" max="" total="3" num_folders="1" num_files="2"\/>/);
      const f = parser.parse(text).folder;
      const files = list(f.files.file);
      const a = files.find((x: { '@name': string }) => x['@name'] === 'a.txt');
      const b = files.find((x: { '@name': string }) => x['@name'] === 'b.bin');
      expect(a['@uuid']).to.match(/^[0-9a-f-]{36}$/);
      expect(a['@deleted']).to.equal(undefined);
      expect(a.currentRevision.md5).to.equal(md5('alpha'));
      expect(a.currentRevision.size).to.equal('5');
      expect(a.currentRevision.created).to.equal('2024-01-02-T03:04:05Z');
      expect(b['@deleted']).to.match(/^\d{4}-\d\d-\d\d-T\d\d:\d\d:\d\dZ$/);
      expect(b.abspath['#text']).to.equal(`/${u()}/Jotta/Archive/L`);
    });

    it('writes revision children in the service order', async () => {
      const text = await (await c().fetch(c().p('L/a.txt'))).text();
      const order = ['number', 'state', 'created', 'modified', 'mime', 'mstyle', 'size', 'md5', 'updated'].map((k) => text.indexOf(`<${k}>`));
      expect(order.every((p) => p > 0)).to.equal(true);
      expect(order).to.deep.equal([...order].sort((x, y) => x - y));
      expect(text).to.include('<mime>text/plain</mime>');
      expect(text).to.include('<mstyle>TEXT_PLAIN</mstyle>');
    });

    it('answers a mountpoint root as <mountPoint> with path = the device', async () => {
      const m = (await c().xml(c().p())).mountPoint;
      expect(m.name['#text']).to.equal('Archive');
      expect(m.path['#text']).to.equal(`/${u()}/Jotta`);
      expect(m.device).to.equal('Jotta');
      expect(m.user).to.equal(u());
    });

    it('answers 404 NoSuchPathException for a missing path and <folder> for a folder path', async () => {
      const res = await c().fetch(c().p('L/missing'));
      expect(res.status).to.equal(404);
      expect(parser.parse(await res.text()).error.message).to.match(/^no\.jotta\.backup\.errors\.NoSuchPathException: /);
      expect((await c().xml(c().p('L/sub'))).folder['@name']).to.equal('sub');
    });

    it('streams the live subtree with mode=liststream, folders before their files, stats that match', async () => {
      await c().upload('L/sub/c.txt', 'gamma');
      const text = await (await c().fetch(`${c().p('L')}?mode=liststream`)).text();
      const s = parser.parse(text).stream;
      const folders = list(s.folder).map((f: { path: string }) => f.path);
      const files = list(s.file);
      expect(folders).to.deep.equal(['/Archive/L', '/Archive/L/sub']);
      expect(files.map((f: { path: string; filename: string }) => `${f.path}/${f.filename}`)).to.deep.equal(['/Archive/L/a.txt', '/Archive/L/sub/c.txt']);
      expect(files[0].modified).to.equal('2024-01-02T03:04:05.000Z');
      expect(files[0].md5).to.equal(md5('alpha'));
      expect(s.stats).to.deep.equal({ folders: '2', files: '2' });
      expect(text.indexOf('<folder><path>/Archive/L/sub</path>')).to.be.lessThan(text.indexOf('<filename>c.txt'));
    });

    it('lists the subtree flat with mode=list, the root first', async () => {
      const l = (await c().xml(`${c().p('L')}?mode=list`)).filedirlist;
      expect(list(l.folders.folder).map((f: { '@name': string }) => f['@name'])).to.deep.equal(['L', 'sub']);
    });
  });

  describe('verbs', () => {
    it('mkDir answers 200 also when the folder exists, and creates missing parents', async () => {
      const first = await c().post(c().p('M/x/y'), 'mkDir=true');
      expect(first.folder['@name']).to.equal('y');
      expect(first.folder.metadata).to.equal(undefined);
      await c().post(c().p('M/x/y'), 'mkDir=true');
      expect((await c().xml(c().p('M/x'))).folder['@name']).to.equal('x');
    });

    it('mv renames a file and keeps its uuid; a retried mv answers 404 "Source file … does not exist"', async () => {
      await c().upload('V/one.txt', 'one');
      const before = (await c().xml(c().p('V/one.txt'))).file;
      const moved = await c().post(c().p('V/one.txt'), `mv=${encodeURIComponent(`/${u()}/Jotta/Archive/V/new/two.txt`)}`);
      expect(moved.file['@name']).to.equal('two.txt');
      expect(moved.file['@uuid']).to.equal(before['@uuid']);
      expect(moved.file.path['#text']).to.equal(`/${u()}/Jotta/Archive/V/new`);
      const again = await c().fetch(`${c().p('V/one.txt')}?mv=${encodeURIComponent(`/${u()}/Jotta/Archive/V/new/two.txt`)}`, { method: 'POST' });
      expect(again.status).to.equal(404);
      expect(parser.parse(await again.text()).error.message).to.match(/NoSuchFileException: Source file .* does not exist/);
      expect((await c().bytes('V/new/two.txt')).body.toString()).to.equal('one');
    });

    it('mv can change only the case of a name (same entry)', async () => {
      await c().upload('V/case.txt', 'c');
      const r = await c().post(c().p('V/case.txt'), `mv=${encodeURIComponent(`/${u()}/Jotta/Archive/V/CASE.txt`)}`);
      expect(r.file['@name']).to.equal('CASE.txt');
      const names = list((await c().xml(c().p('V'))).folder.files.file).map((f: { '@name': string }) => f['@name']);
      expect(names).to.include('CASE.txt');
      expect(names).not.to.include('case.txt');
    });

    it('cp copies a file server-side (new uuid, same content)', async () => {
      await c().upload('C/src.txt', 'copy me');
      const r = await c().post(c().p('C/src.txt'), `cp=${encodeURIComponent(`/${u()}/Jotta/Archive/C/dst.txt`)}`);
      expect(r.file['@name']).to.equal('dst.txt');
      expect(r.file.currentRevision.md5).to.equal(md5('copy me'));
      expect((await c().bytes('C/dst.txt')).body.toString()).to.equal('copy me');
      expect((await c().bytes('C/src.txt')).body.toString()).to.equal('copy me');
    });

    it('mvDir moves a folder given with a trailing slash, contents included', async () => {
      await c().upload('D/inner/f.txt', 'f');
      const r = await c().post(`${c().p('D')}/`, `mvDir=${encodeURIComponent(`/${u()}/Jotta/Archive/D2`)}`);
      expect(r.folder['@name']).to.equal('D2');
      expect((await c().bytes('D2/inner/f.txt')).body.toString()).to.equal('f');
      expect((await c().fetch(c().p('D'))).status).to.equal(404);
    });

    it('mvDir onto a folder that sits in trash fails (empty the trash and it works)', async () => {
      await c().post(c().p('T1'), 'mkDir=true');
      await c().post(c().p('T1'), 'dlDir=true');
      await c().post(c().p('T2'), 'mkDir=true');
      const res = await c().fetch(`${c().p('T2')}/?mvDir=${encodeURIComponent(`/${u()}/Jotta/Archive/T1`)}`, { method: 'POST' });
      expect(res.status).to.equal(409);
      await c().post(c().p('T1'), 'rmDir=true');
      await c().post(`${c().p('T2')}/`, `mvDir=${encodeURIComponent(`/${u()}/Jotta/Archive/T1`)}`);
    });

    it('dl trashes a file (answer has deleted=); again → 404 NoSuchFileException; dl of a missing path succeeds', async () => {
      await c().upload('R/gone.txt', 'x');
      const r = await c().post(c().p('R/gone.txt'), 'dl=true');
      expect(r.file['@deleted']).to.match(/-T/);
      const again = await c().fetch(`${c().p('R/gone.txt')}?dl=true`, { method: 'POST' });
      expect(again.status).to.equal(404);
      expect(parser.parse(await again.text()).error.message).to.match(/^no\.jotta\.backup\.errors\.NoSuchFileException/);
      const missing = await c().fetch(`${c().p('R/never-was.txt')}?dl=true`, { method: 'POST' });
      expect(missing.status).to.equal(200);
    });

    it('rm hard-deletes a file; rm of a missing path or of a folder → 404', async () => {
      await c().upload('H/x.txt', 'x');
      await c().post(c().p('H/x.txt'), 'rm=true');
      expect((await c().fetch(c().p('H/x.txt'))).status).to.equal(404);
      expect((await c().fetch(`${c().p('H/x.txt')}?rm=true`, { method: 'POST' })).status).to.equal(404);
      expect((await c().fetch(`${c().p('H')}?rm=true`, { method: 'POST' })).status).to.equal(404);
      const trash = (await c().xml(`/jfs/${u()}/Jotta/Trash`)).mountPoint;
      expect(JSON.stringify(trash)).not.to.include('"x.txt"');
    });

    it('dlDir trashes a folder and its contents; only rmDir on the original path reaches it then', async () => {
      await c().upload('F/in/a.txt', 'a');
      const r = await c().post(c().p('F'), 'dlDir=true');
      expect(r.folder['@deleted']).to.match(/-T/);
      const tomb = (await c().xml(c().p('F'))).folder;
      expect(tomb['@deleted'], 'a trashed folder is still readable at its path').to.match(/-T/);
      expect(list(tomb.folders.folder)[0]['@deleted']).to.match(/-T/);
      for (const verb of ['dlDir=true', `mvDir=${encodeURIComponent(`/${u()}/Jotta/Archive/F9`)}`]) {
        expect((await c().fetch(`${c().p('F')}/?${verb}`, { method: 'POST' })).status, verb).to.equal(404);
      }
      const trash = (await c().xml(`/jfs/${u()}/Jotta/Trash`)).mountPoint;
      const entry = list(trash.folders.folder).find((f: { '@name': string }) => f['@name'] === 'F');
      expect(entry['@contextType']).to.equal('TRASH');
      expect(entry.abspath['#text']).to.equal(`/${u()}/Jotta/Archive`);
      expect(JSON.stringify(trash), 'contents of a trashed folder are not listed on their own').not.to.include('"in"');
      await c().post(c().p('F'), 'rmDir=true');
      expect((await c().fetch(c().p('F'))).status).to.equal(404);
    });

    it('liststream leaves out trashed entries and never-completed files', async () => {
      await c().upload('S/keep.txt', 'k');
      await c().upload('S/drop.txt', 'd');
      await c().post(c().p('S/drop.txt'), 'dl=true');
      await c().allocate({ bytes: 10, md5: md5('0123456789'), path: '/jfs/Jotta/Archive/S/pending.bin' });
      const s = (await c().xml(`${c().p('S')}?mode=liststream`)).stream;
      expect(list(s.file).map((f: { filename: string }) => f.filename)).to.deep.equal(['keep.txt']);
      expect(s.stats).to.deep.equal({ folders: '1', files: '1' });
    });

    it('treats Trash entries as unaddressable: mv/mvDir on Trash/<name> → 404, restore → 500', async () => {
      await c().upload('TV/t.txt', 't');
      await c().post(c().p('TV/t.txt'), 'dl=true');
      const trash = `/jfs/${u()}/Jotta/Trash/t.txt`;
      const mv = await c().fetch(`${trash}?mv=${encodeURIComponent(`/${u()}/Jotta/Archive/TV/t.txt`)}`, { method: 'POST' });
      expect(mv.status).to.equal(404);
      expect(parser.parse(await mv.text()).error.message).to.match(/NoSuchFileException: Source file .* does not exist/);
      const mvDir = await c().fetch(`${trash}/?mvDir=${encodeURIComponent(`/${u()}/Jotta/Archive/TV2`)}`, { method: 'POST' });
      expect(parser.parse(await mvDir.text()).error.message).to.match(/NoSuchPathException: Source directory/);
      expect((await c().fetch(`${trash}?restore=true`, { method: 'POST' })).status).to.equal(500);
      expect((await c().fetch(trash)).status).to.equal(404);
    });

    it('answers an unknown POST command with the service’s 500', async () => {
      await c().upload('Q/q.txt', 'q');
      const res = await c().fetch(`${c().p('Q/q.txt')}?restore=true`, { method: 'POST' });
      expect(res.status).to.equal(500);
      expect(parser.parse(await res.text()).error.message).to.include('missing multipart content');
    });

    it('enableShare adds a 32-hex publicURI, Links lists it, disableShare removes it', async () => {
      await c().upload('P/pub.txt', 'public');
      const on = (await c().xml(`${c().p('P/pub.txt')}?mode=enableShare`)).file;
      expect(on.publicURI).to.match(/^[0-9a-f]{32}$/);
      const links = (await c().xml(`/jfs/${u()}/Jotta/Links`)).searchresult;
      expect(list(links.files.file).map((f: { '@name': string }) => f['@name'])).to.include('pub.txt');
      const off = (await c().xml(`${c().p('P/pub.txt')}?mode=disableShare`)).file;
      expect(off.publicURI).to.equal(undefined);
    });
  });

  describe('names', () => {
    it('looks names up case-insensitively and keeps the first-created case (a.txt lands on A.txt)', async () => {
      await c().upload('N/A.txt', 'upper');
      const r = await c().upload('N/a.txt', 'lower');
      expect(r.path).to.equal(`/${u()}/Jotta/Archive/N/A.txt`);
      const f = (await c().xml(c().p('N'))).folder;
      expect(list(f.files.file).map((x: { '@name': string }) => x['@name'])).to.deep.equal(['A.txt']);
      expect((await c().bytes('n/A.TXT')).body.toString()).to.equal('lower');
      await c().post(c().p('n/SUB'), 'mkDir=true');
      await c().post(c().p('N/sub'), 'mkDir=true');
      expect(list((await c().xml(c().p('N'))).folder.folders.folder).map((x: { '@name': string }) => x['@name'])).to.deep.equal(['SUB']);
    });

    it('refuses names longer than 255 characters with the service message', async () => {
      const res = await c().fetch(`${c().p('X'.repeat(256))}?mkDir=true`, { method: 'POST' });
      expect(res.status).to.equal(400);
      expect(parser.parse(await res.text()).error.message).to.equal(
        'no.jotta.backup.errors.InvalidArgumentException: JFS file names may not be longer than 255 characters',
      );
      expect((await c().fetch(`${c().p('X'.repeat(255))}?mkDir=true`, { method: 'POST' })).status).to.equal(200);
    });

    it('refuses characters the service cannot store, and the names . and ..', async () => {
      for (const bad of ['a"b', 'a*b', 'a:b', 'a<b', 'a>b', 'a?b', 'a|b', 'a\u0001b', 'a\u007fb']) {
        const res = await c().fetch(`${c().p()}/${encodeURIComponent(bad)}?mkDir=true`, { method: 'POST' });
        expect(res.status, JSON.stringify(bad)).to.equal(400);
        expect(parser.parse(await res.text()).error.message).to.match(/InvalidArgumentException/);
      }
      // fetch() would resolve `.`/`..` segments itself; node:http sends the path as written.
      for (const bad of ['.', '..']) {
        const r = await rawRequest(ctx.emu.url, 'POST', `${c().p()}/${bad}?mkDir=true`, { Authorization: `Bearer ${ctx.token}` });
        expect(r.status, bad).to.equal(400);
        expect(r.body).to.match(/InvalidArgumentException/);
      }
      const a = await c().fetch('/files/v1/allocate', {
        method: 'POST',
        body: JSON.stringify({ bytes: 1, md5: md5('x'), path: '/jfs/Jotta/Archive/bad:name.txt' }),
      });
      expect(a.status).to.equal(400);
      expect(((await a.json()) as { error_id: string }).error_id).to.equal('InvalidArgumentException');
    });

    it('answers 400 for a name with % and two hex digits (rclone #9153), but stores +, #, ; and leading spaces', async () => {
      const res = await c().fetch(`${c().p()}/${encodeURIComponent('Pinus%20palustris.jpg')}`);
      expect(res.status).to.equal(400);
      for (const name of ['a+b.txt', 'c#d.txt', 'e;f.txt', ' lead.txt', '100%.txt']) {
        await c().upload(`Odd/${name}`, name);
        expect((await c().bytes(`Odd/${name}`)).body.toString(), name).to.equal(name);
      }
    });
  });

  describe('trash interactions', () => {
    it('cp onto a path whose file is in trash "succeeds" but the result stays deleted (rclone #6112); cphash restores it', async () => {
      await c().upload('Z/src.txt', 'new content');
      await c().upload('Z/dst.txt', 'old content');
      await c().post(c().p('Z/dst.txt'), 'dl=true');
      const r = await c().post(c().p('Z/src.txt'), `cp=${encodeURIComponent(`/${u()}/Jotta/Archive/Z/dst.txt`)}`);
      expect(r.file['@deleted']).to.match(/-T/);
      expect(r.file.currentRevision.md5).to.equal(md5('new content'));
      const restored = await c().post(c().p('Z/dst.txt'), 'cphash=true', 200, {
        JMd5: md5('new content'),
        JSize: String('new content'.length),
        JCreated: '2020-01-01-T00:00:00Z',
        JModified: '2020-01-02-T00:00:00Z',
      });
      expect(restored.file['@deleted']).to.equal(undefined);
      expect(restored.file.currentRevision.modified).to.equal('2020-01-02-T00:00:00Z');
    });

    it('an upload onto a trashed file brings it back with a new revision', async () => {
      await c().upload('Y/f.txt', 'v1');
      await c().post(c().p('Y/f.txt'), 'dl=true');
      await c().upload('Y/f.txt', 'v2');
      const f = (await c().xml(c().p('Y/f.txt'))).file;
      expect(f['@deleted']).to.equal(undefined);
      expect(f.currentRevision.number).to.equal('2');
      expect(list(f.revisions.revision)[0].md5).to.equal(md5('v1'));
    });

    it('mkDir on a trashed folder brings the folder back; its trashed contents stay in trash, listed on their own', async () => {
      await c().upload('W/inner.txt', 'i');
      await c().post(c().p('W'), 'dlDir=true');
      await c().post(c().p('W'), 'mkDir=true');
      const w = (await c().xml(c().p('W'))).folder;
      expect(w['@deleted']).to.equal(undefined);
      expect(list(w.files.file)[0]['@deleted']).to.match(/-T/);
      const trash = (await c().xml(`/jfs/${u()}/Jotta/Trash`)).mountPoint;
      const entry = list(trash.files?.file).find((f: { '@name': string }) => f['@name'] === 'inner.txt');
      expect(entry.abspath['#text']).to.equal(`/${u()}/Jotta/Archive/W`);
    });
  });

  describe('cphash', () => {
    it('only updates the times when the content matches', async () => {
      await c().upload('H2/t.txt', 'same');
      const r = await c().post(c().p('H2/t.txt'), 'cphash=true', 200, {
        JMd5: md5('same'),
        JSize: '4',
        JCreated: '2019-05-05-T05:05:05Z',
        JModified: '2019-06-06-T06:06:06Z',
      });
      expect(r.file.currentRevision.number).to.equal('1');
      expect(r.file.currentRevision.modified).to.equal('2019-06-06-T06:06:06Z');
      expect(r.file.currentRevision.created).to.equal('2019-05-05-T05:05:05Z');
    });

    it('builds a file by deduplication when the account holds the content elsewhere', async () => {
      await c().upload('H2/orig.bin', 'dedup me');
      const r = await c().post(c().p('H2/clone.bin'), 'cphash=true', 200, { JMd5: md5('dedup me'), JSize: '8', JModified: '2021-01-01T00:00:00Z' });
      expect(r.file.currentRevision.state).to.equal('COMPLETED');
      expect((await c().bytes('H2/clone.bin')).body.toString()).to.equal('dedup me');
    });

    it('answers 404 when an upload is needed', async () => {
      const res = await c().fetch(`${c().p('H2/unknown.bin')}?cphash=true`, { method: 'POST', headers: { JMd5: md5('nowhere'), JSize: '7' } });
      expect(res.status).to.equal(404);
    });
  });

  it('purge_trash empties the trash and counts what the Trash view listed', async () => {
    await c().upload('PT/a.txt', 'a');
    await c().upload('PT/d/b.txt', 'b');
    await c().post(c().p('PT/a.txt'), 'dl=true');
    await c().post(c().p('PT/d'), 'dlDir=true');
    const before = (await c().xml(`/jfs/${u()}/Jotta/Trash`)).mountPoint;
    const expected = { folders: list(before.folders?.folder).length, files: list(before.files?.file).length };
    const res = await c().fetch('/files/v1/purge_trash', { method: 'POST' });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal(expected);
    const after = (await c().xml(`/jfs/${u()}/Jotta/Trash`)).mountPoint;
    expect(after.metadata['@total']).to.equal('0');
    expect((await c().fetch(c().p('PT/d'))).status).to.equal(404);
  });
});
