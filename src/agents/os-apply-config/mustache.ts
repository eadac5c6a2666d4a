// Mustache with the semantics os-apply-config's templates were written against (pystache, as the
// original configures it): no HTML escaping, missing names render as nothing, non-string values
// are written as JSON (Python's json.dumps), Python truthiness for sections ({} and 0 are false),
// a section over a list repeats, over anything else pushes it once; dotted names resolve their
// first part up the context stack and the rest strictly inside dictionaries. Standalone tag lines
// are removed as pystache removes them, quirks included (an unclosed section keeps only its body).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PyValue, isDict, truthy, dumps } from '../common/py-json.js';

export type MustacheNode =
  | string
  | { kind: 'var'; key: string }
  | { kind: 'section'; key: string; children: MustacheNode[] }
  | { kind: 'inverted'; key: string; children: MustacheNode[] }
  | { kind: 'partial'; key: string; indent: string };

export class MustacheSyntaxError extends Error {}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function tagRegExp(open: string, close: string): RegExp {
  return new RegExp(
    `([ \\t]*)${escapeRe(open)}\\s*(?:(=)\\s*(.+?)\\s*=|(\\{)\\s*(.+?)\\s*\\}|([!>&/#^]?)\\s*([\\s\\S]+?))\\s*${escapeRe(close)}`,
    'g',
  );
}

export function parse(template: string, delimiters: [string, string] = ['{{', '}}']): MustacheNode[] {
  let re = tagRegExp(...delimiters);
  let start = 0;
  let current: MustacheNode[] = [];
  let sectionKey: string | null = null;
  const states: { type: string; key: string | null; nodes: MustacheNode[] }[] = [];
  for (;;) {
    re.lastIndex = start;
    const m = re.exec(template);
    if (!m) break;
    let matchIndex = m.index;
    let end = matchIndex + m[0].length;
    let type: string;
    let key: string;
    if (m[2] !== undefined) [type, key] = ['=', m[3] as string];
    else if (m[4] !== undefined) [type, key] = ['&', m[5] as string];
    else [type, key] = [m[6] as string, m[7] as string];
    let indent = m[1] as string;
    const beginsLine = matchIndex === 0 || template[matchIndex - 1] === '\n' || template[matchIndex - 1] === '\r';
    const endsLine = end === template.length || template[end] === '\n' || template[end] === '\r';
    if (beginsLine && endsLine && type !== '' && type !== '&') {
      if (template[end] === '\r') end++;
      if (template[end] === '\n') end++;
    } else if (indent) {
      matchIndex += indent.length;
      indent = '';
    }
    if (start !== matchIndex) current.push(template.slice(start, matchIndex));
    start = end;
    if (type === '#' || type === '^') {
      states.push({ type, key: sectionKey, nodes: current });
      sectionKey = key;
      current = [];
      continue;
    }
    if (type === '/') {
      if (key !== sectionKey) throw new MustacheSyntaxError(`Section end tag mismatch: ${key} != ${sectionKey}`);
      const body = current;
      const outer = states.pop() as { type: string; key: string | null; nodes: MustacheNode[] };
      sectionKey = outer.key;
      current = outer.nodes;
      current.push({ kind: outer.type === '#' ? 'section' : 'inverted', key, children: body });
      continue;
    }
    if (type === '=') {
      const parts = key.split(/\s+/).filter((p) => p);
      if (parts.length !== 2) throw new MustacheSyntaxError(`bad delimiters: ${key}`);
      re = tagRegExp(parts[0] as string, parts[1] as string);
    } else if (type === '>') current.push({ kind: 'partial', key, indent });
    else if (type === '' || type === '&') current.push({ kind: 'var', key });
    // '!' comments render nothing.
  }
  if (start !== template.length) current.push(template.slice(start));
  return current;
}

const MISSING = Symbol('missing');

function lookup(stack: PyValue[], name: string): PyValue | typeof MISSING {
  if (name === '.') return stack.length ? (stack[stack.length - 1] as PyValue) : MISSING;
  const parts = name.split('.');
  let result: PyValue | typeof MISSING = MISSING;
  for (let i = stack.length - 1; i >= 0; i--) {
    const item = stack[i];
    if (isDict(item) && Object.prototype.hasOwnProperty.call(item, parts[0] as string)) {
      result = item[parts[0] as string] as PyValue;
      break;
    }
  }
  for (const part of parts.slice(1)) {
    if (result === MISSING) return MISSING;
    result = isDict(result) && Object.prototype.hasOwnProperty.call(result, part) ? (result[part] as PyValue) : MISSING;
  }
  return result;
}

export interface RenderOptions {
  /** Where `{{>name}}` looks for name.mustache (pystache searches the current directory). */
  partialsDir?: string;
}

function renderNodes(nodes: MustacheNode[], stack: PyValue[], opts: RenderOptions): string {
  let out = '';
  for (const node of nodes) {
    if (typeof node === 'string') {
      out += node;
      continue;
    }
    if (node.kind === 'var') {
      const v = lookup(stack, node.key);
      if (v === MISSING || v === null) continue;
      out += typeof v === 'string' ? v : dumps(v);
    } else if (node.kind === 'section') {
      const v = lookup(stack, node.key);
      if (v === MISSING || !truthy(v)) continue;
      for (const item of Array.isArray(v) ? v : [v]) {
        stack.push(item);
        out += renderNodes(node.children, stack, opts);
        stack.pop();
      }
    } else if (node.kind === 'inverted') {
      const v = lookup(stack, node.key);
      if (v === MISSING || !truthy(v)) out += renderNodes(node.children, stack, opts);
    } else {
      let text: string;
      try {
        text = readFileSync(join(opts.partialsDir ?? process.cwd(), `${node.key}.mustache`), 'utf8');
      } catch {
        continue;
      }
      const indent = node.indent;
      out += renderNodes(parse(text.replace(/^(.)/gm, `${indent}$1`)), stack, opts);
    }
  }
  return out;
}

export function render(template: string, context: PyValue, opts: RenderOptions = {}): string {
  return renderNodes(parse(template), context === null ? [] : [context], opts);
}
