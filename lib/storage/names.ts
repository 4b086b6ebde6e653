// Names: the reversible mapping between the user's file names and the names Jottacloud can store, the
// same mapping rclone's Jottacloud backend applies (so a tree written through jottadav reads back with the
// same names in rclone, and the other way round), plus path splitting and case folding.
//
// The mapping (rclone's default `encoding` for jottacloud: Display | Win | InvalidUtf8 | Percent):
//   - `" * : < > ? |` and `%` and `/` → their FULLWIDTH look-alikes (code point + 0xFEE0): ＂＊：＜＞？｜％／
//   - NUL and control characters 0x01–0x1F → the SYMBOL FOR block (U+2400 + code): ␀ ␁ … ␟
//   - DEL (0x7F) → ␡ (U+2421)
//   - the names `.` and `..` → `．` and `．．` (FULLWIDTH FULL STOP)
//   - every byte of invalid UTF-8 → `‛` + two upper-case hex digits (e.g. `‛FF`)
//   - a name that already contains one of the look-alikes (or `␀`, or the quote `‛` itself) gets `‛` in front of
//     that character, so decoding turns it back into the look-alike and not into the ASCII original.
// Everything else (including a literal U+FFFD, `#`, `+`, `;`, leading/trailing spaces) is stored as it is.
//
// `%` is the one difference between rclone versions: rclone ≥ 1.74 maps it (the service answers 400 to
// metadata reads of names like `Pinus%20palustris.jpg`, rclone issue #9153), Debian's rclone 1.60 stores it
// as is. We follow current rclone. Consequence for a tree shared with rclone 1.60: a name with `%` written by
// 1.60 reads back unchanged here, but a `%` written here shows up as `％` in 1.60, and a `％` written by 1.60
// shows up as `%` here. `rclone160Encoding` reproduces the old behaviour for tests and comparisons.
//
// Invalid UTF-8 in a JavaScript string: a WebDAV URL can carry percent-encoded bytes that are not UTF-8. The
// WebDAV layer turns them into a string with `nameFromBytes`, which keeps each undecodable byte 0xXX as the
// lone surrogate U+DCXX (the "surrogateescape" convention, as Python does), and `nameToBytes` reverses it.
// Those lone surrogates are what `encodeName` stores as `‛XX`.
import { InvalidName } from './types.js';

/** The character classes a mapping covers (a subset of rclone's encoder flags, the ones Jottacloud uses). */
export interface NameEncoding {
  /** Map `%` ↔ `％` (rclone ≥ 1.74). */
  percent: boolean;
}

/** What current rclone (≥ 1.74) does for jottacloud. */
export const rcloneEncoding: NameEncoding = Object.freeze({ percent: true });
/** What Debian's rclone 1.60 does: the same without `%`. */
export const rclone160Encoding: NameEncoding = Object.freeze({ percent: false });

/** Jottacloud refuses longer names (`InvalidArgumentException: JFS file names may not be longer than 255 characters`). */
export const maxNameLength = 255;

const QUOTE = 0x201b; // ‛ SINGLE HIGH-REVERSED-9 QUOTATION MARK
const SYMBOL_NULL = 0x2400; // ␀
const SYMBOL_DEL = 0x2421; // ␡
const FULL_OFFSET = 0xfee0;
const FULL_STOP = '\uff0e'; // ．
const Q = String.fromCodePoint(QUOTE);
/** Any character decodeName may change: ‛, ␀–␡, everything above FULL_OFFSET, and surrogates (astral or lone). */
const MAPPED_OR_SURROGATE = /[\u201b\u2400-\u2421\ufee1-\uffff\ud800-\udfff]/;

/** ASCII characters replaced by their FULLWIDTH look-alike, per encoding. */
function fullwidthSet(enc: NameEncoding): Set<number> {
  const chars = '"*:<>?|/' + (enc.percent ? '%' : '');
  return new Set([...chars].map((c) => c.charCodeAt(0)));
}
const fullwidthCache = new WeakMap<NameEncoding, Set<number>>();
function fullwidth(enc: NameEncoding): Set<number> {
  let set = fullwidthCache.get(enc);
  if (!set) {
    set = fullwidthSet(enc);
    fullwidthCache.set(enc, set);
  }
  return set;
}

// ---------------------------------------------------------------------------------------------------------
// Bytes ↔ strings with surrogateescape

/** Decodes bytes as UTF-8, keeping every byte that is not part of a valid sequence as U+DC00 + byte. */
export function nameFromBytes(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const [cp, len] = decodeUtf8(bytes, i);
    out += cp < 0 ? String.fromCharCode(0xdc00 + bytes[i]) : String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

/** The bytes a name stands for: UTF-8, with U+DC80–U+DCFF turned back into the raw bytes they escape. */
export function nameToBytes(name: string): Buffer {
  const parts: number[] = [];
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xdc80 && cp <= 0xdcff) parts.push(cp - 0xdc00);
    else if (cp >= 0xd800 && cp <= 0xdfff) throw new Error('lone UTF-16 surrogate');
    else for (const b of Buffer.from(ch, 'utf8')) parts.push(b);
  }
  return Buffer.from(parts);
}

/**
 * One code point from `bytes` at `i` as strict UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF):
 * `[codePoint, length]`, or `[-1, 1]` for a byte that does not start a valid sequence — the same
 * rule as Go's utf8.DecodeRune, so invalid input is escaped byte by byte exactly as rclone does.
 */
function decodeUtf8(bytes: Uint8Array, i: number): [number, number] {
  const b0 = bytes[i];
  if (b0 < 0x80) return [b0, 1];
  const cont = (k: number): number => (i + k < bytes.length && (bytes[i + k] & 0xc0) === 0x80 ? bytes[i + k] & 0x3f : -1);
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    return c1 < 0 ? [-1, 1] : [((b0 & 0x1f) << 6) | c1, 2];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(1);
    const c2 = cont(2);
    if (c1 < 0 || c2 < 0) return [-1, 1];
    const cp = ((b0 & 0x0f) << 12) | (c1 << 6) | c2;
    if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return [-1, 1];
    return [cp, 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1);
    const c2 = cont(2);
    const c3 = cont(3);
    if (c1 < 0 || c2 < 0 || c3 < 0) return [-1, 1];
    const cp = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
    if (cp < 0x10000 || cp > 0x10ffff) return [-1, 1];
    return [cp, 4];
  }
  return [-1, 1];
}

// ---------------------------------------------------------------------------------------------------------
// The mapping

/**
 * The name Jottacloud stores for the user's `name`. Throws `InvalidName` for an empty name, a name with a
 * UTF-16 surrogate that escapes no byte, or one longer than 255 characters after mapping — before any request.
 */
export function encodeName(name: string, enc: NameEncoding = rcloneEncoding, path = name): string {
  if (name === '') throw new InvalidName(path, 'a name cannot be empty');
  let bytes: Buffer;
  try {
    bytes = nameToBytes(name);
  } catch {
    throw new InvalidName(path, 'the name contains a broken UTF-16 surrogate');
  }
  const stored = encodeBytes(bytes, enc);
  // Characters = code points (an emoji is one), as the emulator counts; should the service count UTF-16
  // units instead, its own 400 still arrives as InvalidName, just after a request.
  const length = [...stored].length;
  if (length > maxNameLength) {
    throw new InvalidName(path, `names are at most ${maxNameLength} characters on Jottacloud (this one is ${length} after mapping)`);
  }
  return stored;
}

function encodeBytes(bytes: Buffer, enc: NameEncoding): string {
  const text = bytes.toString('utf8');
  // `.` and `..` are not file names anywhere; their look-alikes must then be quoted to stay distinct.
  if (text === '.') return FULL_STOP;
  if (text === '..') return FULL_STOP + FULL_STOP;
  if (text === FULL_STOP) return Q + FULL_STOP;
  if (text === FULL_STOP + FULL_STOP) return Q + FULL_STOP + Q + FULL_STOP;

  const full = fullwidth(enc);
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const [cp, len] = decodeUtf8(bytes, i);
    i += len;
    if (cp < 0) {
      out += Q + bytes[i - 1].toString(16).toUpperCase().padStart(2, '0');
    } else if (cp === 0) {
      out += String.fromCodePoint(SYMBOL_NULL);
    } else if (cp >= 0x01 && cp <= 0x1f) {
      out += String.fromCodePoint(SYMBOL_NULL + cp);
    } else if (cp === 0x7f) {
      out += String.fromCodePoint(SYMBOL_DEL);
    } else if (full.has(cp)) {
      out += String.fromCodePoint(cp + FULL_OFFSET);
    } else if (needsQuote(cp, full)) {
      out += Q + String.fromCodePoint(cp);
    } else {
      out += String.fromCodePoint(cp);
    }
  }
  return out;
}

/** Characters that are themselves results of the mapping, so a literal one must be marked as literal. */
function needsQuote(cp: number, full: Set<number>): boolean {
  if (cp === QUOTE || cp === SYMBOL_NULL || cp === SYMBOL_DEL) return true;
  if (cp > SYMBOL_NULL && cp <= SYMBOL_NULL + 0x1f) return true;
  return cp > FULL_OFFSET && full.has(cp - FULL_OFFSET);
}

/** The user's name for a name Jottacloud stores (any string the service lists). Never throws. */
export function decodeName(stored: string, enc: NameEncoding = rcloneEncoding): string {
  if (stored === FULL_STOP) return '.';
  if (stored === FULL_STOP + FULL_STOP) return '..';
  if (stored === Q + FULL_STOP) return FULL_STOP;
  if (stored === Q + FULL_STOP + Q + FULL_STOP) return FULL_STOP + FULL_STOP;

  // Most stored names hold none of the characters the mapping uses (‛, ␀–␡, the full-width forms) and no
  // surrogate: they decode to themselves, and a listing of 10,000 such names skips the byte-by-byte walk below.
  if (!MAPPED_OR_SURROGATE.test(stored)) return stored;

  const full = fullwidth(enc);
  const chars = [...stored];
  const out: number[] = []; // bytes, because `‛XX` yields raw bytes
  const push = (s: string): void => {
    for (const b of Buffer.from(s, 'utf8')) out.push(b);
  };
  let quoted = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    const cp = ch.codePointAt(0)!;
    const literal = quoted;
    quoted = false;
    if (cp === QUOTE) {
      if (literal) push(ch);
      else quoted = true;
      continue;
    }
    if (cp === SYMBOL_NULL) {
      if (literal) push(ch);
      else out.push(0);
      continue;
    }
    if (cp > FULL_OFFSET && full.has(cp - FULL_OFFSET)) {
      push(literal ? ch : String.fromCodePoint(cp - FULL_OFFSET));
      continue;
    }
    if (cp === SYMBOL_DEL) {
      if (literal) push(ch);
      else out.push(0x7f);
      continue;
    }
    if (cp > SYMBOL_NULL && cp <= SYMBOL_NULL + 0x1f) {
      if (literal) push(ch);
      else out.push(cp - SYMBOL_NULL);
      continue;
    }
    if (literal) {
      // `‛` + two hex digits is one escaped byte of invalid UTF-8; any other `‛` was a literal quote
      // that a foreign client stored without escaping it, and stays as it is.
      const next = chars[i + 1];
      if (next !== undefined && isHex(ch) && isHex(next)) {
        out.push(parseInt(ch + next, 16));
        i++;
        continue;
      }
      push(Q);
    }
    push(ch);
  }
  if (quoted) push(Q);
  return nameFromBytes(Uint8Array.from(out));
}

function isHex(ch: string): boolean {
  return /^[0-9A-Fa-f]$/.test(ch);
}

// ---------------------------------------------------------------------------------------------------------
// Paths and case

/**
 * The segments of a user path (`/a/b/c.txt` → `['a','b','c.txt']`; `/` → `[]`). Empty segments from doubled
 * or trailing slashes are dropped; `.` and `..` are names like any other (the WebDAV layer has already
 * resolved dot-segments of the URL, so a segment that is still `.` names a file called `.`).
 */
export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** The canonical user path for segments: `/` + joined, `/` for the root. */
export function joinPath(segments: readonly string[]): string {
  return '/' + segments.join('/');
}

/** `/a/b` → `/a`; the root's parent is the root. */
export function parentPath(path: string): string {
  return joinPath(splitPath(path).slice(0, -1));
}

/** The last segment of a path, `''` for the root. */
export function baseName(path: string): string {
  const segments = splitPath(path);
  return segments.length ? segments[segments.length - 1] : '';
}

/**
 * The key two names share when Jottacloud treats them as one entry. The service compares names without
 * regard to case; we fold with the locale-independent Unicode lower-casing (Java's `equalsIgnoreCase`
 * differs only for a handful of characters whose upper and lower forms do not round trip).
 */
export function foldCase(name: string): string {
  return name.toLowerCase();
}

/** `foldCase` over a whole path, with the path normalised first. */
export function pathKey(path: string): string {
  return foldCase(joinPath(splitPath(path)));
}
