// Request XML in, response XML out. Request bodies are parsed with saxes (namespace-aware, strict), into
// a small element tree whose names carry resolved namespace URIs, so `<D:prop>` and `<prop xmlns="DAV:">`
// are the same thing; anything not well-formed, or with a broken namespace declaration, is a 400.
// Dead property values are kept as XML text re-serialised with their own namespace declarations, so they
// come back well-formed whatever prefixes the response uses.
import { SaxesParser } from 'saxes';
import { DavError, xmlEscape } from './errors.js';

export interface XmlElement {
  ns: string;
  local: string;
  /** Attributes other than namespace declarations, keyed `{ns}local` (ns empty for plain attributes). */
  attrs: Map<string, string>;
  children: Array<XmlElement | string>;
}

export const DAV = 'DAV:';

/**
 * Deepest element nesting accepted in a request body. Real PROPPATCH values nest a few levels; the tree is walked
 * recursively (serialising dead properties, collecting text), so a body nested thousands deep would overflow the
 * stack and answer 500 instead of a clear 400.
 */
export const MAX_XML_DEPTH = 200;

export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  parser.on('opentag', (node) => {
    if (stack.length >= MAX_XML_DEPTH) throw new DavError(400, `the XML request body nests elements more than ${MAX_XML_DEPTH} levels deep`);
    const attrs = new Map<string, string>();
    for (const attr of Object.values(node.attributes)) {
      if (typeof attr === 'string') continue;
      if (attr.prefix === 'xmlns' || (attr.prefix === '' && attr.local === 'xmlns')) continue;
      attrs.set(`{${attr.uri}}${attr.local}`, attr.value);
    }
    const el: XmlElement = { ns: node.uri ?? '', local: node.local ?? node.name, attrs, children: [] };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', (t) => {
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(t);
  });
  parser.on('cdata', (t) => {
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(t);
  });
  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof DavError) throw err;
    throw new DavError(400, `the XML request body is not well-formed: ${(err as Error).message}`);
  }
  if (!root) throw new DavError(400, 'the XML request body has no root element');
  return root;
}

export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

export function findChild(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return childElements(el).find((c) => c.ns === ns && c.local === local);
}

export function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}

/** `{ns}local`, the key a property is known by. */
export function clark(ns: string, local: string): string {
  return `{${ns}}${local}`;
}

/**
 * The element's content (children, not the element itself) as XML text, each element declaring the
 * namespace it uses, so the text can be inserted anywhere in a response and stay well-formed.
 */
export function serialiseContent(el: XmlElement): string {
  return el.children.map((c) => (typeof c === 'string' ? xmlEscape(c) : serialiseElement(c, ''))).join('');
}

function serialiseElement(el: XmlElement, inheritedNs: string): string {
  const nsDecl = el.ns !== inheritedNs ? ` xmlns="${xmlEscape(el.ns)}"` : '';
  let attrs = '';
  let n = 0;
  for (const [key, value] of el.attrs) {
    const close = key.indexOf('}');
    const ns = key.slice(1, close);
    const local = key.slice(close + 1);
    if (ns) {
      const prefix = `a${n++}`;
      attrs += ` xmlns:${prefix}="${xmlEscape(ns)}" ${prefix}:${local}="${xmlEscape(value)}"`;
    } else {
      attrs += ` ${local}="${xmlEscape(value)}"`;
    }
  }
  const inner = el.children.map((c) => (typeof c === 'string' ? xmlEscape(c) : serialiseElement(c, el.ns))).join('');
  return inner ? `<${el.local}${nsDecl}${attrs}>${inner}</${el.local}>` : `<${el.local}${nsDecl}${attrs}/>`;
}

/**
 * Writes one property element `{ns}local` with the given inner XML. DAV: properties use the `D:` prefix
 * declared on the multistatus root; others declare their namespace on the element itself (Windows needs a
 * real prefix for `urn:schemas-microsoft-com:`, not the URN as element name), and the empty namespace gets
 * `xmlns=""`.
 */
export function propElement(ns: string, local: string, innerXml: string | null): string {
  let open: string;
  let close: string;
  if (ns === DAV) {
    open = `D:${local}`;
    close = open;
  } else if (ns === '') {
    open = `${local} xmlns=""`;
    close = local;
  } else {
    open = `X:${local} xmlns:X="${xmlEscape(ns)}"`;
    close = `X:${local}`;
  }
  return innerXml === null || innerXml === '' ? `<${open}/>` : `<${open}>${innerXml}</${close}>`;
}

export const XML_HEADER = '<?xml version="1.0" encoding="utf-8"?>\n';
