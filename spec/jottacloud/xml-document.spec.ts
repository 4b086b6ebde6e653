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
