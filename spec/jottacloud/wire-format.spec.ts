// The client's readers and writers of the wire format, on literal bodies from the wire samples
// (research/jottacloud-wire-samples.md): path encoding, time formats, XML documents, error bodies,
// and the redaction of secrets. The calls themselves are tested against the emulator in client*.spec.ts.
import { expect } from 'chai';
import {
  AlreadyExistsError,
  BadRequestError,
  CorruptUploadError,
  ForbiddenNameError,
  IncompleteUploadError,
  InvalidPathError,
  NotFoundError,
  QuotaExceededError,
  ServerError,
  UnauthorizedError,
  allocatePath,
  encodeSegment,
  errorFromResponse,
  formatJottaTime,
  formatRfc3339,
  jfsUrlPath,
  moveTarget,
  parseErrorBody,
  parseServiceTime,
  redactSecrets,
  resolveLocation,
  toSegments,
} from '../../lib/jottacloud/index.js';
import { driveInfoFromNode, fileFromNode, folderFromNode, deviceFromNode, parseDocument } from '../../lib/jottacloud/xml.js';

const defaults = { device: 'Jotta', mountpoint: 'Archive' };

describe('jottacloud wire format', () => {
  describe('paths', () => {
    it('encodes every RFC 3986 reserved character in a segment, + as %2B', () => {
      expect(encodeSegment('a+b#c;d e')).to.equal('a%2Bb%23c%3Bd%20e');
      expect(encodeSegment("!'()*")).to.equal('%21%27%28%29%2A');
      expect(encodeSegment(':/?[]@$&,=')).to.equal('%3A%2F%3F%5B%5D%40%24%26%2C%3D');
      expect(encodeSegment('ø æ ☺')).to.equal('%C3%B8%20%C3%A6%20%E2%98%BA');
      expect(encodeSegment('%41')).to.equal('%2541');
      expect(encodeSegment('a-b_c.d~e')).to.equal('a-b_c.d~e');
    });

    it('keeps a leading space and treats the string form as /-joined names', () => {
      expect(toSegments('/ lead/b c/')).to.deep.equal([' lead', 'b c']);
      expect(toSegments('')).to.deep.equal([]);
      expect(toSegments(['a/b'.replace('/', '∕'), ' x'])).to.deep.equal(['a∕b', ' x']);
    });

    it('refuses segments no JFS name can be', () => {
      expect(() => toSegments(['a', ''])).to.throw(InvalidPathError);
      expect(() => toSegments(['a/b'])).to.throw(InvalidPathError);
      expect(() => toSegments('a/../b')).to.throw(InvalidPathError);
      expect(() => toSegments(['.'])).to.throw(InvalidPathError);
    });

    it('spells one location the three ways the service wants', () => {
      const loc = resolveLocation(['dir one', 'a+b.txt'], defaults);
      expect(jfsUrlPath('jc123', loc)).to.equal('jc123/Jotta/Archive/dir%20one/a%2Bb.txt');
      expect(allocatePath(loc)).to.equal('/jfs/Jotta/Archive/dir one/a+b.txt');
      expect(moveTarget('jc123', loc)).to.equal('/jc123/Jotta/Archive/dir one/a+b.txt');
      const other = resolveLocation({ device: 'PC', mountpoint: 'Docs', path: 'x' }, defaults);
      expect(jfsUrlPath('u', other)).to.equal('u/PC/Docs/x');
    });
  });

  describe('times', () => {
    it('parses the dash-T format, its offsets, RFC 3339 and empty values', () => {
      expect(parseServiceTime('2018-07-05-T15:08:02Z')?.toISOString()).to.equal('2018-07-05T15:08:02.000Z');
      expect(parseServiceTime('2018-07-05-T15:08:02+0200')?.toISOString()).to.equal('2018-07-05T13:08:02.000Z');
      expect(parseServiceTime('2018-07-05T15:08:02.123Z')?.toISOString()).to.equal('2018-07-05T15:08:02.123Z');
      expect(parseServiceTime('2018-07-05T15:08:02-01:30')?.toISOString()).to.equal('2018-07-05T16:38:02.000Z');
      expect(parseServiceTime('')).to.equal(undefined);
      expect(parseServiceTime('yesterday')).to.equal(undefined);
    });

    it('writes the dash-T format for JFS headers and whole-second RFC 3339 for the JSON API', () => {
      const d = new Date('2020-05-16T10:46:05.789Z');
      expect(formatJottaTime(d)).to.equal('2020-05-16-T10:46:05Z');
      expect(formatRfc3339(d)).to.equal('2020-05-16T10:46:05Z');
    });
  });

  describe('XML documents', () => {
    it('reads a mountpoint root with a never-completed file (latestRevision only)', () => {
      const { root, node } = parseDocument(`<?xml version="1.0" encoding="UTF-8"?>
<mountPoint time="2015-09-13-T00:16:31Z" host="dn-097.site-000.jotta.no">
  <name xml:space="preserve">Sync</name>
  <path xml:space="preserve">/havardgulldahl/Jotta</path>
  <abspath xml:space="preserve">/havardgulldahl/Jotta</abspath>
  <size>39851461616</size>
  <modified>2015-07-26-T22:26:54Z</modified>
  <device>Jotta</device>
  <user>havardgulldahl</user>
  <folders>
    <folder name="folder1"/>
  </folders>
  <files>
    <file name="bigfile" uuid="7a36a217-88d5-4804-99df-bbc42eb4a9f2">
      <latestRevision>
        <number>1</number>
        <state>INCOMPLETE</state>
        <created>2015-05-29-T09:02:53Z</created>
        <modified>2015-05-29-T09:02:53Z</modified>
        <mime>application/octet-stream</mime>
        <mstyle>APPLICATION_OCTET_STREAM</mstyle>
        <md5>4d710d3a12699730976216836a5217a8</md5>
        <updated>2015-05-29-T09:02:53Z</updated>
      </latestRevision>
    </file>
    <file name="007" uuid="1caec763-2ed0-4e88-9d3c-650f3babecc4">
      <currentRevision>
        <number>3</number>
        <state>COMPLETED</state>
        <created>2015-07-26-T22:26:54Z</created>
        <modified>2015-07-26-T22:26:54Z</modified>
        <mime>application/pdf</mime>
        <mstyle>APPLICATION_PDF</mstyle>
        <size>116153</size>
        <md5>138396327A51EA6BF20CAA72CF6D6667</md5>
        <updated>2015-07-26-T22:26:54Z</updated>
      </currentRevision>
    </file>
  </files>
  <metadata first="" max="" total="9" num_folders="7" num_files="2"/>
</mountPoint>`);
      const f = folderFromNode(root, node);
      expect(f.kind).to.equal('mountPoint');
      expect(f.name).to.equal('Sync');
      expect(f.parentPath).to.equal('/havardgulldahl/Jotta');
      expect(f.folders.map((x) => x.name)).to.deep.equal(['folder1']);
      expect(f.counts).to.deep.equal({ total: 9, numFolders: 7, numFiles: 2 });
      const [big, pdf] = f.files;
      expect(big!.complete).to.equal(false);
      expect(big!.currentRevision).to.equal(undefined);
      expect(big!.latestRevision?.state).to.equal('INCOMPLETE');
      expect(big!.latestRevision?.size).to.equal(undefined);
      expect(pdf!.name).to.equal('007');
      expect(pdf!.complete).to.equal(true);
      expect(pdf!.size).to.equal(116153);
      expect(pdf!.md5).to.equal('138396327a51ea6bf20caa72cf6d6667');
      expect(pdf!.modified?.toISOString()).to.equal('2015-07-26T22:26:54.000Z');
    });

    it('serves the good current revision of a file whose newer upload failed, and sees deleted timestamps', () => {
      const { root, node } = parseDocument(`<folder name=" Test &amp; co" deleted="2017-03-04-T19:09:21Z" time="2017-03-04-T19:23:35Z" host="dn-098">
  <path xml:space="preserve">/user01/Jotta/Archive</path>
  <abspath xml:space="preserve">/user01/Jotta/Archive</abspath>
  <folders>
    <folder name="Sub" deleted="2017-03-04-T19:09:21Z"><abspath xml:space="preserve">/user01/Jotta/Archive/ Test &amp; co</abspath></folder>
  </folders>
  <files>
    <file name="_previously_corrupt_file_" uuid="aece9b73-7cef-41e5-80ef-5ab5f3b11e92">
      <currentRevision><number>2</number><state>COMPLETED</state><created>2017-03-10-T12:02:23Z</created><modified>2017-03-10-T12:02:23Z</modified><mime>application/octet-stream</mime><mstyle>application/octet-stream</mstyle><size>7</size><md5>68EACB97D86F0C4621FA2B0E17CABD8C</md5><updated>2017-03-10-T12:02:23Z</updated></currentRevision>
      <latestRevision><number>3</number><state>CORRUPT</state><created>2017-03-10-T12:02:23Z</created><modified>2017-03-10-T12:02:23Z</modified><mime>application/octet-stream</mime><mstyle>application/octet-stream</mstyle><md5>68EACB97D86F0C462fff2B0E17CABD8C</md5><updated>2017-03-10-T12:02:23Z</updated></latestRevision>
    </file>
  </files>
  <metadata first="" max="" total="2" num_folders="1" num_files="1"/>
</folder>`);
      const f = folderFromNode(root, node);
      expect(f.kind).to.equal('folder');
      expect(f.name).to.equal(' Test & co');
      expect(f.deleted).to.equal(true);
      expect(f.deletedAt?.toISOString()).to.equal('2017-03-04T19:09:21.000Z');
      expect(f.folders[0]).to.include({ name: 'Sub', deleted: true, abspath: '/user01/Jotta/Archive/ Test & co' });
      const file = f.files[0]!;
      expect(file.complete).to.equal(true);
      expect(file.size).to.equal(7);
      expect(file.currentRevision?.state).to.equal('COMPLETED');
      expect(file.latestRevision?.state).to.equal('CORRUPT');
      expect(file.latestRevision?.size).to.equal(undefined);
      expect(file.deleted).to.equal(false);
    });

    it('reads a file detail with older revisions and a public link', () => {
      const { root, node } = parseDocument(`<file name="testimage.jpg" uuid="9ebcfe1a" time="2015-09-13-T21:22:46Z" host="dn-094">
  <path xml:space="preserve">/u/Jotta/Archive</path>
  <abspath xml:space="preserve">/u/Jotta/Archive</abspath>
  <publicURI>c8d5d14fa0b7458a8221452e0ff60bda</publicURI>
  <currentRevision><number>5</number><state>COMPLETED</state><created>2015-07-25-T21:18:49Z</created><modified>2015-07-25-T21:18:49Z</modified><mime>image/jpeg</mime><size>1816221</size><md5>125073533339a616b99bc53efc509561</md5><updated>2015-07-25-T21:18:50Z</updated></currentRevision>
  <revisions>
    <revision><number>4</number><state>COMPLETED</state><size>1816221</size><md5>125073533339a616b99bc53efc509561</md5></revision>
    <revision><number>1</number><state>COMPLETED</state><size>10</size></revision>
  </revisions>
</file>`);
      expect(root).to.equal('file');
      const f = fileFromNode(node);
      expect(f.revisions.map((r) => r.number)).to.deep.equal([4, 1]);
      expect(f.publicUri).to.equal('c8d5d14fa0b7458a8221452e0ff60bda');
      expect(f.parentPath).to.equal('/u/Jotta/Archive');
      expect(f.updated?.toISOString()).to.equal('2015-07-25T21:18:50.000Z');
    });

    it('reads the account document (quota source) and a device with mountpoints', () => {
      const user = parseDocument(`<user time="2015-09-12-T23:14:23Z" host="dn-093">
  <username>havardgulldahl</username><account-type>unlimited</account-type><locked>false</locked>
  <capacity>-1</capacity><max-devices>-1</max-devices><usage>2039672393219</usage>
  <read-locked>false</read-locked><write-locked>true</write-locked><quota-write-locked>false</quota-write-locked>
  <devices><device><name xml:space="preserve">My funky iphone</name><type>IPHONE</type><sid>0d01</sid><size>4280452534</size><modified>2015-01-04-T08:03:09Z</modified></device></devices>
</user>`);
      const drive = driveInfoFromNode(user.node);
      expect(drive.username).to.equal('havardgulldahl');
      expect(drive.quota).to.deep.equal({ capacity: undefined, usage: 2039672393219, unlimited: true, free: undefined, exceeded: false });
      expect(drive.writeLocked).to.equal(true);
      expect(drive.devices[0]).to.include({ name: 'My funky iphone', type: 'IPHONE', size: 4280452534 });
      const full = driveInfoFromNode(parseDocument('<user><username>u</username><capacity>100</capacity><usage>100</usage></user>').node);
      expect(full.quota).to.include({ capacity: 100, free: 0, exceeded: true, unlimited: false });

      const dev = deviceFromNode(parseDocument(`<device time="x" host="y"><name xml:space="preserve">Jotta</name><type>JOTTA</type><sid>ee93</sid><size>58</size><modified></modified><user>u</user>
  <mountPoints><mountPoint><name xml:space="preserve">Archive</name><size>18</size><modified>2015-09-12-T23:10:51Z</modified></mountPoint></mountPoints>
  <metadata first="" max="" total="1" num_mountpoints="1"/></device>`).node);
      expect(dev.name).to.equal('Jotta');
      expect(dev.modified).to.equal(undefined);
      expect(dev.mountPoints.map((m) => m.name)).to.deep.equal(['Archive']);
    });
  });

  describe('error bodies', () => {
    it('reads the JFS XML error and takes the exception from the message', () => {
      const body = parseErrorBody(`<error>
    <code>401</code>
    <message>org.springframework.security.authentication.BadCredentialsException: Bad credentials</message>
    <reason>Unauthorized</reason>
    <cause></cause>
    <hostname>dn-125</hostname>
    <x-id>096492164813</x-id>
</error>`);
      expect(body).to.include({ code: 401, exception: 'BadCredentialsException', reason: 'Unauthorized', hostname: 'dn-125', xId: '096492164813' });
      expect(body.cause).to.equal(undefined);
      const bare = parseErrorBody('<?xml version="1.0"?><error><code>404</code><message>no.jotta.backup.errors.NoSuchMountPointException</message><reason>Not Found</reason><cause></cause><hostname></hostname><x-id>156394042147</x-id></error>');
      expect(bare.exception).to.equal('NoSuchMountPointException');
    });

    it('reads JSON API and OAuth error bodies', () => {
      expect(parseErrorBody('{"code":420,"message":"Incomplete","cause":"","error_id":"IncompleteUploadOpenApiException","x-id":"Z0Jw"}')).to.include({
        code: 420,
        exception: 'IncompleteUploadOpenApiException',
        xId: 'Z0Jw',
      });
      expect(parseErrorBody('{"error":"invalid_grant","error_description":"Session doesn\'t have required client"}')).to.include({
        exception: 'invalid_grant',
      });
      expect(parseErrorBody('not a body')).to.deep.equal({});
    });

    it('maps status and exception to one error type each, with the path in the message', () => {
      const ctx = { operation: 'metadata', path: '/Jotta/Archive/x' };
      const cases: Array<[number, string | undefined, string, new (...a: never[]) => Error]> = [
        [404, 'no.jotta.backup.errors.NoSuchFileException: /u/Jotta/Archive/x', 'NoSuchFileException', NotFoundError],
        [400, 'no.jotta.backup.errors.InvalidArgumentException: JFS file names may not be longer than 255 characters', 'InvalidArgumentException', ForbiddenNameError],
        [400, 'no.jotta.backup.errors.InvalidArgumentException: bad query', 'InvalidArgumentException', BadRequestError],
        [409, 'no.jotta.backup.errors.UniqueFileException: exists', 'UniqueFileException', AlreadyExistsError],
        [401, 'org.springframework.security.authentication.BadCredentialsException: Bad credentials', 'BadCredentialsException', UnauthorizedError],
        [503, undefined, '', ServerError],
      ];
      for (const [status, message, exception, type] of cases) {
        const xml = message ? `<error><code>${status}</code><message>${message}</message><reason>r</reason><cause/><hostname/><x-id>1</x-id></error>` : '';
        const e = errorFromResponse(status, parseErrorBody(xml), ctx);
        expect(e, `${status} ${exception}`).to.be.instanceOf(type);
        expect(e.status).to.equal(status);
        expect(e.path).to.equal('/Jotta/Archive/x');
        expect(e.message).to.contain('/Jotta/Archive/x');
        if (exception) expect(e.exception).to.equal(exception);
      }
      const json = (id: string) => parseErrorBody(`{"code":1,"message":"m","error_id":"${id}"}`);
      expect(errorFromResponse(420, json('IncompleteUploadOpenApiException'), ctx)).to.be.instanceOf(IncompleteUploadError);
      expect(errorFromResponse(421, json('CorruptUploadOpenApiException'), ctx)).to.be.instanceOf(CorruptUploadError);
      expect(errorFromResponse(460, {}, ctx, { quotaExceeded: true })).to.be.instanceOf(QuotaExceededError);
      const busy = errorFromResponse(460, {}, ctx, { quotaExceeded: false });
      expect(busy).to.be.instanceOf(ServerError);
      expect(busy.transient).to.equal(true);
    });

    it('redacts tokens, passwords and Authorization values wherever they appear', () => {
      const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
      const text = [
        'Authorization: Bearer abc.def-ghi',
        'url?access_token=SECRET1&x=1',
        'grant_type=refresh_token&refresh_token=SECRET2&password=SECRET3',
        '{"access_token":"SECRET4","refresh_token":"SECRET5"}',
        `token ${jwt}`,
        "headers: { authorization: 'Basic am90dGFjbGk6' }",
      ].join('\n');
      const out = redactSecrets(text);
      for (const secret of ['abc.def-ghi', 'SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', 'SECRET5', jwt, 'am90dGFjbGk6']) {
        expect(out).not.to.contain(secret);
      }
      expect(out).to.contain('x=1');
      const e = errorFromResponse(500, parseErrorBody(`<error><code>500</code><message>java.lang.IllegalStateException: token=${jwt} password=hunter2</message><reason>x</reason></error>`), { operation: 'list' });
      expect(e.message).not.to.contain(jwt);
      expect(e.message).not.to.contain('hunter2');
    });
  });
});
