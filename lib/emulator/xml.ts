// A minimal XML writer for JFS answers. The documents are small and their shape is fixed by the wire samples,
// so writing them as text keeps the exact element order, the `xml:space="preserve"` markers and the empty
// elements (`<modified></modified>`) that the real service emits — things a generic serializer would reorder or collapse.

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

export type Attrs = Record<string, string | number | undefined>;

function attrText(attrs: Attrs | undefined): string {
  if (!attrs) return '';
  let out = '';
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out += ` ${k}="${escapeXml(String(v))}"`;
  return out;
}

/** One element tree node; text and children are exclusive. */
export interface XmlNode {
  name: string;
  attrs?: Attrs;
  text?: string | number;
  children?: XmlNode[];
  /** Leave out the end tag (`<folder name="x"/>`). */
  selfClose?: boolean;
}

export function el(name: string, text?: string | number, attrs?: Attrs): XmlNode {
  return { name, text: text ?? '', attrs };
}

/** A name-like text element: the service marks these `xml:space="preserve"`. */
export function preserved(name: string, text: string): XmlNode {
  return { name, text, attrs: { 'xml:space': 'preserve' } };
}

export function parent(name: string, children: XmlNode[], attrs?: Attrs): XmlNode {
  return { name, children, attrs };
}

export function render(node: XmlNode, indent = ''): string {
  const open = `${indent}<${node.name}${attrText(node.attrs)}`;
  if (node.selfClose) return `${open}/>\n`;
  if (node.children) {
    if (node.children.length === 0) return `${open}></${node.name}>\n`;
    let out = `${open}>\n`;
    for (const c of node.children) out += render(c, indent + '  ');
    return `${out}${indent}</${node.name}>\n`;
  }
  return `${open}>${escapeXml(String(node.text ?? ''))}</${node.name}>\n`;
}

export function document(root: XmlNode): string {
  return XML_DECLARATION + render(root);
}
