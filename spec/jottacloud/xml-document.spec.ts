// The JFS document scanner (lib/jottacloud/xml.ts parseDocument) on the XML features the service's answers can
// use, and on the malformed input it must refuse (the client turns a refusal into "unreadable XML answer").
import { expect } from 'chai';
import { folderFromNode, parseDocument } from '../../lib/jottacloud/xml.js';

describe('jottacloud: reading JFS documents', () => {
  it('reads attributes, leaf text, entities, character references, CDATA and comments', () => {
    const { root, node } = parseDocument(
      '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- a comment -->\n' +
        `<folder name="A &amp; B &lt;&gt;&quot;&apos; &#233;&#x1F600;" time='t'>\r\n` +
        '  <path xml:space="preserve">  /u/Jotta/Archive  </path>\n' +
        '  <abspath><![CDATA[/u/<raw> & co]]></abspath>\n' +
        '  <files><!-- none --></files>\n' +
        '  <folders>\n    <folder name="x"/>\n    <folder name="y" deleted="2017-03-04-T19:09:21Z"></folder>\n  </folders>\n' +
        '</folder>\n',
    );
    expect(root).to.equal('folder');
    expect(node.attrs).to.deep.equal({ name: 'A & B <>"\' é😀', time: 't' });
    const folder = folderFromNode(root, node);
    expect(folder.name).to.equal('A & B <>"\' é😀');
    expect(folder.parentPath).to.equal('  /u/Jotta/Archive  ');
    expect(folder.abspath).to.equal('/u/<raw> & co');
    expect(folder.files).to.deep.equal([]);
    expect(folder.folders.map((f) => [f.name, f.deleted])).to.deep.equal([
      ['x', false],
      ['y', true],
    ]);
  });

  it('normalises line ends in text and white space in attribute values, as XML does', () => {
    const { node } = parseDocument('<file name="a\tb\r\nc"><path>l1\r\nl2\rl3</path></file>');
    expect(node.attrs['name']).to.equal('a b c');
    expect(node.kids?.[0]?.text).to.equal('l1\nl2\nl3');
  });

  it('keeps only a leaf text: the white space around child elements is dropped', () => {
    const { node } = parseDocument('<a>\n  <b> x </b>\n  <c></c>\n</a>');
    expect(node.text).to.equal('');
    expect(node.kids?.map((k) => [k.name, k.text])).to.deep.equal([
      ['b', ' x '],
      ['c', ''],
    ]);
  });

  it('matches closing tags in place: white space before ">" is allowed, a longer or shorter name is not', () => {
    const { node } = parseDocument('<files >\n<file\tname="a"></file  >\n<file/></files\n>');
    expect(node.kids?.map((k) => [k.name, k.attrs])).to.deep.equal([
      ['file', { name: 'a' }],
      ['file', {}],
    ]);
    expect(() => parseDocument('<ab></a>')).to.throw(/does not match/);
    expect(() => parseDocument('<a></ab>')).to.throw(/does not match/);
    expect(() => parseDocument('<a></a b>')).to.throw(/does not match/);
  });

  it('keeps the text of a leaf around comments, and none of an element whose child follows its text', () => {
    const { node } = parseDocument('<r><a> x <!-- c --> y</a><b>text before a child<c>t</c></b><d>x<?pi?>y</d></r>');
    expect(node.kids?.map((k) => [k.name, k.text])).to.deep.equal([
      ['a', ' x  y'],
      ['b', ''],
      ['d', 'xy'],
    ]);
  });

  it('reads a listing entry by entry (listing: true) into the same folder as the whole tree gives', () => {
    const rev = (state: string, size: string, md5: string) =>
      `<number>2</number><state>${state}</state><created>2018-07-05-T15:08:02Z</created>` +
      `<modified>2018-07-05-T15:08:03Z</modified><mime>text/plain</mime>${size}<md5>${md5}</md5><updated>2018-07-05-T15:08:04Z</updated>`;
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><mountPoint name="Archive"><path>/u/Jotta</path>' +
      '<folders><folder name="sub"><path>/u/Jotta/Archive</path></folder><folder name="gone" deleted="2017-03-04-T19:09:21Z"/>' +
      '<note>not a folder</note></folders>' +
      `<files><file name="a &amp; b.txt" uuid="u1"><currentRevision>${rev('COMPLETED', '<size>12</size>', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')}</currentRevision></file>` +
      `<file name="half" uuid="u2"><latestRevision>${rev('INCOMPLETE', '', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb')}</latestRevision></file>` +
      '<file name="empty"/>' +
      `<file name="old" uuid="u3"><currentRevision>${rev('COMPLETED', '<size>1</size>', 'cccccccccccccccccccccccccccccccc')}</currentRevision>` +
      `<revisions><revision>${rev('COMPLETED', '<size>9</size>', 'dddddddddddddddddddddddddddddddd')}</revision></revisions></file></files>` +
      // a second <files> is not read as the listing (the tree's reading takes the first one only)
      '<files><file name="second"/></files>' +
      '<metadata total="6" num_folders="2" num_files="4"/></mountPoint>';
    const tree = parseDocument(xml);
    const streamed = parseDocument(xml, { listing: true });
    expect(streamed.root).to.equal('mountPoint');
    const expected = folderFromNode(tree.root, tree.node);
    expect(folderFromNode(streamed.root, streamed.node, streamed.listing)).to.deep.equal(expected);
    expect(expected.files.map((f) => [f.name, f.complete, f.size, f.md5])).to.deep.equal([
      ['a & b.txt', true, 12, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
      ['half', false, undefined, undefined],
      ['empty', false, undefined, undefined],
      ['old', true, 1, 'cccccccccccccccccccccccccccccccc'],
    ]);
    expect(expected.files[3]!.revisions.map((r) => r.size)).to.deep.equal([9]);
    expect(expected.folders.map((f) => [f.name, f.deleted])).to.deep.equal([
      ['sub', false],
      ['gone', true],
    ]);
    // the entries were not kept in the tree as well
    const files = streamed.node.kids?.find((k) => k.name === 'files');
    expect(files?.kids).to.equal(undefined);
  });

  it('leaves documents that are not listings as they were (listing: true)', () => {
    const xml = '<file name="f"><revisions><revision><number>1</number></revision></revisions></file>';
    const { node, listing } = parseDocument(xml, { listing: true });
    expect(listing).to.deep.equal({ files: [], folders: [] });
    expect(node).to.deep.equal(parseDocument(xml).node);
  });

  for (const [what, xml] of [
    ['a mismatched closing tag', '<a><b></a></b>'],
    ['an unclosed element', '<a><b></b>'],
    ['a closing tag with nothing open', '</a>'],
    ['a duplicate attribute', '<a x="1" x="2"/>'],
    ['an unquoted attribute', '<a x=1/>'],
    ['an attribute without a value', '<a x/>'],
    ['attributes without white space between them', '<a x="1"y="2"/>'],
    ['"<" in an attribute value', '<a x="<"/>'],
    ['an unknown entity', '<a>&nbsp;</a>'],
    ['an unterminated entity', '<a>AT&T</a>'],
    ['a bad character reference', '<a>&#0;</a>'],
    ['text outside the root', 'junk<a/>'],
    ['a second root element', '<a/><b/>'],
    ['a DOCTYPE', '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'],
    ['an unterminated comment', '<a><!-- </a>'],
    ['an unterminated CDATA section', '<a><![CDATA[ </a>'],
    ['no element at all', '<?xml version="1.0"?>'],
    ['an empty answer', ''],
    ['a __proto__ attribute', '<a __proto__="x"/>'],
  ] as const) {
    it(`refuses ${what}`, () => {
      expect(() => parseDocument(xml)).to.throw();
    });
  }
});
