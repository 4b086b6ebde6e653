// The name mapping: every special character, the `‛` escapes, `.`/`..`, invalid UTF-8, `%` (current
// rclone vs Debian's 1.60), the 255-character limit, and agreement with rclone's own encoder.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeName,
  encodeName,
  foldCase,
  nameFromBytes,
  nameToBytes,
  parentPath,
  pathKey,
  rclone160Encoding,
  splitPath,
} from '../../lib/storage/names.js';
import { InvalidName } from '../../lib/storage/types.js';
import { requireTool } from '../helpers/tools.js';

const Q = '\u201b'; // ‛

describe('storage/names', () => {
  describe('mapping of single characters', () => {
    const fullwidth: Array<[string, string]> = [
      ['"', '＂'],
      ['*', '＊'],
      [':', '：'],
      ['<', '＜'],
      ['>', '＞'],
      ['?', '？'],
      ['|', '｜'],
      ['%', '％'],
      ['/', '／'],
    ];
    for (const [ascii, look] of fullwidth) {
      it(`maps ${JSON.stringify(ascii)} to ${look} and back`, () => {
        expect(encodeName(`a${ascii}b`)).to.equal(`a${look}b`);
        expect(decodeName(`a${look}b`)).to.equal(`a${ascii}b`);
      });
      it(`escapes a literal ${look} with ‛ and reads it back as ${look}`, () => {
        expect(encodeName(`a${look}b`)).to.equal(`a${Q}${look}b`);
        expect(decodeName(`a${Q}${look}b`)).to.equal(`a${look}b`);
      });
    }

    it('maps every control character 0x01–0x1F to the SYMBOL FOR block and back', () => {
      for (let c = 1; c <= 0x1f; c++) {
        const raw = `x${String.fromCharCode(c)}y`;
        const stored = `x${String.fromCharCode(0x2400 + c)}y`;
        expect(encodeName(raw), `0x${c.toString(16)}`).to.equal(stored);
        expect(decodeName(stored)).to.equal(raw);
        // and the literal symbol is escaped
        expect(encodeName(stored)).to.equal(`x${Q}${String.fromCharCode(0x2400 + c)}y`);
        expect(decodeName(encodeName(stored))).to.equal(stored);
      }
    });

    it('maps NUL to ␀ and escapes a literal ␀', () => {
      expect(encodeName('a\0b')).to.equal('a␀b');
      expect(decodeName('a␀b')).to.equal('a\0b');
      expect(encodeName('a␀b')).to.equal(`a${Q}␀b`);
      expect(decodeName(`a${Q}␀b`)).to.equal('a␀b');
    });

    it('maps DEL to ␡ and escapes a literal ␡', () => {
      expect(encodeName('a\x7fb')).to.equal('a␡b');
      expect(decodeName('a␡b')).to.equal('a\x7fb');
      expect(encodeName('a␡b')).to.equal(`a${Q}␡b`);
      expect(decodeName(`a${Q}␡b`)).to.equal('a␡b');
    });

    it('escapes the quote character itself', () => {
      expect(encodeName(`${Q}x`)).to.equal(`${Q}${Q}x`);
      expect(decodeName(`${Q}${Q}x`)).to.equal(`${Q}x`);
      expect(encodeName(`${Q}${Q}`)).to.equal(`${Q}${Q}${Q}${Q}`);
    });

    it('reads a stray ‛ that no encoder wrote as a literal quote', () => {
      expect(decodeName(`a${Q}b`)).to.equal(`a${Q}b`);
      expect(decodeName(`ab${Q}`)).to.equal(`ab${Q}`);
      expect(decodeName(`${Q}Z9`)).to.equal(`${Q}Z9`);
    });

    it('leaves characters the service stores alone', () => {
      for (const name of ['plain.txt', 'with space', ' leading', 'trailing ', '#hash', 'a+b', 'semi;colon', 'æøå', '日本語', '😀', '\ufffd', '.hidden', 'a.', '...', "it's", '[x]', '~', 'a\\b']) {
        expect(encodeName(name), name).to.equal(name);
        expect(decodeName(name), name).to.equal(name);
      }
    });
  });

  describe('the names . and ..', () => {
    it('maps . and .. to full stops and back', () => {
      expect(encodeName('.')).to.equal('．');
      expect(encodeName('..')).to.equal('．．');
      expect(decodeName('．')).to.equal('.');
      expect(decodeName('．．')).to.equal('..');
    });
    it('escapes names that are already full stops', () => {
      expect(encodeName('．')).to.equal(`${Q}．`);
      expect(encodeName('．．')).to.equal(`${Q}．${Q}．`);
      expect(decodeName(`${Q}．`)).to.equal('．');
      expect(decodeName(`${Q}．${Q}．`)).to.equal('．．');
    });
    it('leaves dots inside longer names alone', () => {
      expect(encodeName('...')).to.equal('...');
      expect(encodeName('．x')).to.equal('．x');
      expect(decodeName('．x')).to.equal('．x');
    });
  });

  describe('invalid UTF-8', () => {
    it('keeps undecodable bytes as lone surrogates (surrogateescape) and back to the same bytes', () => {
      const bytes = Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x28, 0xed, 0xa0, 0x80]);
      const name = nameFromBytes(bytes);
      expect(name).to.equal('a\udcffb\udcc3(\udced\udca0\udc80');
      expect(nameToBytes(name).equals(bytes)).to.equal(true);
      expect(nameFromBytes(Buffer.from('é😀', 'utf8'))).to.equal('é😀');
    });
    it('stores each invalid byte as ‛ + two hex digits and decodes it back', () => {
      const name = nameFromBytes(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]));
      expect(encodeName(name)).to.equal(`bad${Q}FF${Q}FE`);
      expect(decodeName(`bad${Q}FF${Q}FE`)).to.equal(name);
      expect(decodeName(`bad${Q}ff`)).to.equal(name.slice(0, 4)); // lower-case hex is accepted too
    });
    it('escapes overlong and surrogate encodings byte by byte, as Go does', () => {
      expect(encodeName(nameFromBytes(Buffer.from([0xc0, 0xaf])))).to.equal(`${Q}C0${Q}AF`);
      expect(encodeName(nameFromBytes(Buffer.from([0xed, 0xa0, 0x80])))).to.equal(`${Q}ED${Q}A0${Q}80`);
    });
    it('a literal ‛ followed by hex digits survives the round trip', () => {
      expect(encodeName(`${Q}41`)).to.equal(`${Q}${Q}41`);
      expect(decodeName(`${Q}${Q}41`)).to.equal(`${Q}41`);
    });
    it('refuses a lone surrogate that escapes no byte', () => {
      expect(() => encodeName('a\ud800b')).to.throw(InvalidName, /surrogate/);
      expect(() => encodeName('a\udc41b')).to.throw(InvalidName);
    });
  });

  describe('% and rclone versions', () => {
    it('current rclone (≥ 1.74) maps % to ％; Debian rclone 1.60 stores it as is', () => {
      expect(encodeName('100%')).to.equal('100％');
      expect(encodeName('100%', rclone160Encoding)).to.equal('100%');
      // a literal ％ is escaped only by the mapping that knows about %
      expect(encodeName('100％')).to.equal(`100${Q}％`);
      expect(encodeName('100％', rclone160Encoding)).to.equal('100％');
    });
    it('shows how the two versions see each other’s names', () => {
      // written by 1.60, read here: unchanged
      expect(decodeName(encodeName('a%20b', rclone160Encoding))).to.equal('a%20b');
      // written here, read by 1.60: the look-alike shows
      expect(decodeName(encodeName('a%20b'), rclone160Encoding)).to.equal('a％20b');
    });
  });

  describe('round trip', () => {
    const specials = ['"', '*', ':', '<', '>', '?', '|', '%', '/', '\0', '\x01', '\x1f', '\x7f', '＂', '＊', '：', '＜', '＞', '？', '｜', '％', '／', '␀', '␁', '␟', '␡', Q, '．', '.', ' ', 'a', 'é', '😀', '\udcff', '0', 'F'];
    it('decode(encode(x)) === x for every pair and triple of special characters', () => {
      let n = 0;
      for (const a of specials) {
        for (const b of specials) {
          for (const name of [a, a + b, a + b + a, `x${a}${b}`]) {
            expect(decodeName(encodeName(name)), JSON.stringify(name)).to.equal(name);
            expect(decodeName(encodeName(name, rclone160Encoding), rclone160Encoding), JSON.stringify(name)).to.equal(name);
            n++;
          }
        }
      }
      expect(n).to.equal(specials.length * specials.length * 4);
    });
    it('the stored name contains none of the characters Jottacloud refuses', () => {
      for (const a of specials) {
        for (const b of specials) {
          const stored = encodeName(`${a}${b}x`);
          // eslint-disable-next-line no-control-regex -- control characters are exactly what must not be stored
          expect(stored, JSON.stringify(stored)).not.to.match(/["*:<>?|%/\x00-\x1f\x7f]/);
          expect(stored).not.to.match(/[\ud800-\udfff]/u);
        }
      }
    });
  });

  describe('length', () => {
    it('accepts 255 characters after mapping and refuses 256 before any request', () => {
      expect(encodeName('a'.repeat(255))).to.have.length(255);
      expect(() => encodeName('a'.repeat(256))).to.throw(InvalidName, /at most 255 characters/);
    });
    it('counts the mapped length: 128 control characters become 128 symbols, 128 look-alikes become 256', () => {
      expect(encodeName(':'.repeat(255))).to.have.length(255);
      expect(() => encodeName('＊'.repeat(128), undefined, '/dir/stars')).to.throw(InvalidName, /^\/dir\/stars: invalid name: .*256/);
    });
    it('counts characters, not UTF-16 units: 255 emoji are fine', () => {
      expect(() => encodeName('😀'.repeat(255))).not.to.throw();
      expect(() => encodeName('😀'.repeat(256))).to.throw(InvalidName);
    });
    it('refuses the empty name', () => {
      expect(() => encodeName('')).to.throw(InvalidName);
    });
  });

  describe('paths and case', () => {
    it('splits and joins user paths', () => {
      expect(splitPath('/')).to.deep.equal([]);
      expect(splitPath('/a//b/')).to.deep.equal(['a', 'b']);
      expect(splitPath('/a/./..')).to.deep.equal(['a', '.', '..']);
      expect(parentPath('/a/b')).to.equal('/a');
      expect(parentPath('/a')).to.equal('/');
      expect(parentPath('/')).to.equal('/');
    });
    it('folds case so names differing only in case share a key', () => {
      expect(foldCase('Report.PDF')).to.equal(foldCase('report.pdf'));
      expect(pathKey('/Docs/Report.PDF/')).to.equal(pathKey('/docs//report.pdf'));
      expect(foldCase('ÆØÅ')).to.equal('æøå');
      expect(foldCase('a')).not.to.equal(foldCase('b'));
    });
  });

  describe("agreement with rclone's own encoder", function () {
    this.timeout(60_000);
    // rclone's local backend can be told to store names with any encoding; giving it the Jottacloud mask
    // makes the real rclone binary write the names it would send to Jottacloud onto a local disk.
    // (Names with ␀, ‛ or a lone ． are left out: rclone's local *source* side reads those differently.)
    const mask160 = 'Slash,Ctl,Del,Dot,Colon,Question,DoubleQuote,Asterisk,LtGt,Pipe,InvalidUtf8';
    const rawNames: Buffer[] = [
      'a:b', 'q?', 'x*y', 'p|q', 'lt<gt>', 'dq"', '100%', 'x＊y', 'full：colon', 'pct％', '..x', '.', 'sym␁',
      'ctl\x01\x02\x1f', 'del\x7f', 'del␡', 'tab\tnl\n', ' lead', 'trail ', '#+;', 'æøå😀',
    ].map((s) => Buffer.from(s, 'utf8'));
    rawNames.push(Buffer.from([0x62, 0x61, 0x64, 0xff]), Buffer.from([0x6f, 0x76, 0xc0, 0xaf]));

    let dir = '';
    before(function () {
      requireTool(this, 'rclone');
      dir = mkdtempSync(join(tmpdir(), 'jottadav-names-'));
      mkdirSync(join(dir, 'src'));
      for (const raw of rawNames) {
        if (raw.toString() === '.') continue; // cannot be a local file; covered by the unit tests
        writeFileSync(Buffer.concat([Buffer.from(join(dir, 'src') + '/'), raw]), 'x');
      }
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    function storedByRclone(mask: string, target: string): Set<string> {
      const r = spawnSync('rclone', ['copy', join(dir, 'src'), `:local,encoding="${mask}":${join(dir, target)}`], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).to.equal(0);
      return new Set(readdirSync(join(dir, target), { encoding: 'buffer' }).map((b) => nameFromBytes(b)));
    }

    it('stores each name as rclone does with the mask of current rclone (incl. Percent)', () => {
      const stored = storedByRclone(`${mask160},Percent`, 'cur');
      const expected = new Set(rawNames.filter((b) => b.toString() !== '.').map((b) => encodeName(nameFromBytes(b))));
      expect([...stored].sort()).to.deep.equal([...expected].sort());
      for (const s of stored) expect(rawNames.some((b) => nameFromBytes(b) === decodeName(s)), s).to.equal(true);
    });

    it('stores each name as rclone does with the mask of rclone 1.60 (no Percent)', () => {
      const stored = storedByRclone(mask160, 'old');
      const expected = new Set(rawNames.filter((b) => b.toString() !== '.').map((b) => encodeName(nameFromBytes(b), rclone160Encoding)));
      expect([...stored].sort()).to.deep.equal([...expected].sort());
    });
  });
});
