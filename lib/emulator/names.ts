// What the service accepts as a name, how it compares names, and the MIME type it derives from one.
import { errors } from './errors.js';

/** Names compare case-insensitively; the stored case is the one first created. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}

// `" * : < > ? |`, DEL and control characters: the service cannot store them.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /["*:<>?|\u0000-\u001f\u007f]/;
// A `%` followed by two hex digits: the service decodes the path once more and answers 400 (rclone #9153).
const PERCENT_ESCAPE = /%[0-9a-fA-F]{2}/;

/** Checks a path segment the service would have to read; throws its kind of 400. */
export function checkReadableName(name: string): void {
  if (PERCENT_ESCAPE.test(name)) throw errors.invalidArgument('Bad request');
  if (name === '.' || name === '..') throw errors.invalidArgument(`Invalid file name: '${name}'`);
}

/** Checks a name that is about to be created. */
export function checkNewName(name: string): void {
  checkReadableName(name);
  if ([...name].length > 255) throw errors.nameTooLong();
  if (name === '' || name === '.' || name === '..') throw errors.invalidArgument(`Invalid file name: '${name}'`);
  if (FORBIDDEN.test(name)) throw errors.invalidArgument(`Invalid file name: '${name}'`);
  if (name.includes('/')) throw errors.invalidArgument(`Invalid file name: '${name}'`);
}

const MIME: Record<string, string> = {
  txt: 'text/plain', md: 'text/markdown', html: 'text/html', htm: 'text/html', css: 'text/css', csv: 'text/csv',
  xml: 'application/xml', json: 'application/json', js: 'application/javascript', pdf: 'application/pdf',
  zip: 'application/zip', gz: 'application/gzip', tar: 'application/x-tar', doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml',
  mp3: 'audio/mpeg', wav: 'audio/wav', mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/quicktime', mkv: 'video/x-matroska',
};

export function mimeFor(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot > 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** `<mstyle>`: the MIME type in upper snake case (`APPLICATION_OCTET_STREAM`), as in the older samples. */
export function mstyleFor(mime: string): string {
  return mime.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}
