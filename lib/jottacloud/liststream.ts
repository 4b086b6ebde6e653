// Reading a `mode=liststream` answer as it arrives: the whole subtree below a folder in one response,
//   <stream>
//     <folder><path>/Archive/a</path></folder>
//     <file><path>/Archive/a</path><filename>x.txt</filename><md5/><size/><modified/><created/></file>
//     …
//     <stats><folders>N</folders><files>M</files></stats>
//   </stream>
// Entries are handed out one by one through an async generator driven by a SAX parser (saxes), so a
// 100,000-entry tree never sits in memory as one string or one object tree; at most one network chunk's
// worth of entries waits at a time, and the HTTP body is only read as fast as the consumer iterates.
//
// The final `<stats>` must match what was read — a cut-off answer otherwise looks like a smaller tree.
// Counting follows the rule the service's answers satisfy for rclone (its `parseListRStream`): every
// `<folder>` element counts as a folder, and so does every distinct file parent not announced by one.
import { SaxesParser } from 'saxes';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { UnexpectedResponseError, networkError, type ErrorContext } from './errors.js';
import { parseServiceTime } from './xml.js';
import type { ListStreamEntry, ListStreamStats } from './types.js';

export interface ListStreamOptions extends ErrorContext {
  /** How many leading path segments name the listed folder (the mountpoint counts as one). */
  rootDepth: number;
}

const FILE_FIELDS = new Set(['path', 'filename', 'md5', 'size', 'modified', 'created', 'deleted']);

/**
 * Yields the entries of a liststream body in document order (the listed folder itself has `segments: []`)
 * and returns the checked stats. Throws UnexpectedResponseError on malformed XML, a missing `<stats>` or
 * counts that do not match. Stopping the iteration early destroys the body.
 */
export async function* parseListStream(
  body: Readable,
  options: ListStreamOptions,
): AsyncGenerator<ListStreamEntry, ListStreamStats, undefined> {
  const context = { operation: options.operation, path: options.path };
  const fail = (why: string) => new UnexpectedResponseError(why, { ...context, status: 200 });

  const parser = new SaxesParser({ xmlns: false });
  const queue: ListStreamEntry[] = [];
  const uniqueFolders = new Set<string>();
  const actual: ListStreamStats = { folders: 0, files: 0 };
  let expected: ListStreamStats | undefined;
  let parseError: Error | undefined;

  // Parser state: the element stack, and the fields of the entry being read.
  const stack: string[] = [];
  let entry: Record<string, string> | undefined;
  let entryAttrs: Record<string, string> = {};
  let field: string | undefined;
  let stats: Record<string, string> | undefined;

  const segmentsOf = (p: string) => p.split('/').filter((s) => s !== '').slice(options.rootDepth);

  parser.on('opentag', (tag) => {
    stack.push(tag.name);
    const depth = stack.length;
    if (depth === 2 && (tag.name === 'file' || tag.name === 'folder')) {
      entry = {};
      entryAttrs = tag.attributes as Record<string, string>;
    } else if (depth === 2 && tag.name === 'stats') {
      stats = {};
    } else if (depth === 3 && (entry || stats)) {
      field = tag.name;
      if (entry && FILE_FIELDS.has(tag.name)) entry[tag.name] = '';
      if (stats) stats[tag.name] = '';
    }
  });
  const onText = (t: string) => {
    if (field === undefined || stack.length !== 3) return;
    if (entry && FILE_FIELDS.has(field)) entry[field] += t;
    else if (stats) stats[field] += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', (tag) => {
    const depth = stack.length;
    stack.pop();
    if (depth === 3) field = undefined;
    if (depth !== 2) return;
    if (tag.name === 'stats' && stats) {
      expected = { folders: toCount(stats.folders), files: toCount(stats.files) };
      stats = undefined;
    } else if (entry && (tag.name === 'file' || tag.name === 'folder')) {
      const path = own(entry.path ?? '');
      const deleted = entryAttrs.deleted !== undefined || (entry.deleted ?? '') !== '';
      if (tag.name === 'folder') {
        uniqueFolders.add(path);
        actual.folders++;
        queue.push({ kind: 'folder', path, segments: segmentsOf(path), deleted });
      } else {
        actual.files++;
        if (!uniqueFolders.has(path)) {
          uniqueFolders.add(path);
          actual.folders++;
        }
        const name = own(entry.filename ?? '');
        const md5 = entry.md5 === undefined ? undefined : own(entry.md5.trim());
        const size = entry.size?.trim();
        queue.push({
          kind: 'file',
          path,
          name,
          segments: [...segmentsOf(path), name],
          md5: md5 ? md5.toLowerCase() : undefined,
          size: size ? Number(size) : undefined,
          modified: parseServiceTime(entry.modified),
          created: parseServiceTime(entry.created),
          deleted,
        });
      }
      entry = undefined;
    }
  });
  parser.on('error', (e) => {
    parseError ??= e;
  });

  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of body) {
      parser.write(decoder.write(chunk as Buffer));
      if (parseError) throw fail(`malformed liststream answer: ${parseError.message}`);
      while (queue.length) yield queue.shift()!;
    }
    parser.write(decoder.end());
    parser.close();
    if (parseError) throw fail(`malformed liststream answer: ${parseError.message}`);
    while (queue.length) yield queue.shift()!;
  } catch (e) {
    if (e instanceof UnexpectedResponseError) throw e;
    // The connection broke (or the caller aborted) mid-answer: the entries so far were already handed out.
    throw networkError(e, context);
  } finally {
    // Reached on normal end, error, and when the consumer stops early (`break`, `return()`).
    if (!body.destroyed) body.destroy();
  }
  if (!expected) throw fail('liststream answer ended without <stats>: the listing is incomplete');
  if (expected.folders !== actual.folders || expected.files !== actual.files) {
    throw fail(
      `liststream counts do not match: the service announced ${expected.folders} folders and ${expected.files} files, ` +
        `the answer held ${actual.folders} and ${actual.files}`,
    );
  }
  return expected;
}

/**
 * A copy of `s` that owns its characters. Strings cut out of a parsed chunk are V8 slices that keep the
 * whole chunk (tens of KB) alive; an entry kept by the consumer — or a folder path kept in the count set —
 * would otherwise pin every chunk it came from, and memory would grow with the answer after all.
 */
function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

function toCount(s: string | undefined): number {
  const n = Number((s ?? '').trim());
  return Number.isInteger(n) && n >= 0 ? n : -1;
}
