// Template and environment documents parsed with their source positions, so that every error can
// say "file:line: resources.web.properties.image: ...". Heat's own loader is YAML with dates kept
// as text (heat_template_version: 2015-04-30 is a string); the `yaml` library's core schema does
// exactly that. JSON documents are YAML too.
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { ValidationError } from '../common/errors.js';
import { MAX_DOCUMENT_DEPTH, MAX_TEMPLATE_BYTES } from './limits.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonMap = { [k: string]: Json };

/** A parsed document: its data plus where each dotted path started. */
export interface SourceDoc {
  file: string;
  data: Json;
  lines: Map<string, number>;
}

export function joinPath(base: string, key: string | number): string {
  return base ? `${base}.${key}` : String(key);
}

function index(node: YamlNode | null | undefined, counter: LineCounter, path: string, out: Map<string, number>): void {
  if (!node) return;
  const start = node.range?.[0];
  if (start !== undefined && !out.has(path)) out.set(path, counter.linePos(start).line);
  if (isMap(node)) {
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
      const p = joinPath(path, key);
      const off = (item.key as YamlNode | null)?.range?.[0];
      if (off !== undefined) out.set(p, counter.linePos(off).line);
      index(item.value as YamlNode | null, counter, p, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => index(item as YamlNode, counter, joinPath(path, i), out));
  }
}

/** Parses YAML/JSON text; syntax errors become a ValidationError with file and line. */
export function parseSource(text: string, file: string): SourceDoc {
  // Heat's max_template_size; parsing is synchronous, so this also bounds how long it blocks.
  if (Buffer.byteLength(text) > MAX_TEMPLATE_BYTES) {
    throw new ValidationError(`document is larger than ${MAX_TEMPLATE_BYTES} bytes (max_template_size)`, { file });
  }
  let counter = new LineCounter();
  // Duplicate keys are accepted (the last wins), as PyYAML and so Heat accept them.
  const opts = { prettyErrors: true, uniqueKeys: false } as const;
  let doc;
  try {
    doc = parseDocument(text, { ...opts, lineCounter: counter });
  } catch (err) {
    // The parser recurses: absurd nesting ends here instead of crashing the request.
    throw new ValidationError(`the document cannot be parsed: ${(err as Error).message}`, { file }, { cause: err });
  }
  if (doc.errors.some((e) => e.code === 'MISSING_CHAR')) {
    // PyYAML accepts continuation lines of a quoted scalar at the key's own indentation; retry
    // with those lines indented (folding makes the value identical).
    const relaxed = relaxQuotedIndent(text);
    if (relaxed !== text) {
      const c2 = new LineCounter();
      const d2 = parseDocument(relaxed, { ...opts, lineCounter: c2 });
      if (!d2.errors.length) {
        doc = d2;
        counter = c2;
      }
    }
  }
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new ValidationError(e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'invalid YAML', { file, line });
  }
  let data: Json;
  const lines = new Map<string, number>();
  try {
    // maxAliasCount bounds "billion laughs" alias expansion.
    data = (doc.toJS({ maxAliasCount: 100 }) ?? null) as Json;
    index(doc.contents as YamlNode, counter, '', lines);
  } catch (err) {
    throw new ValidationError((err as Error).message, { file }, { cause: err });
  }
  checkDepth(data, file, lines);
  return { file, data, lines };
}

/** A document built from data that came without text (JSON request bodies). */
export function sourceFromData(data: Json, file: string): SourceDoc {
  return { file, data, lines: new Map() };
}

/** The line of the path, or of its nearest ancestor that has one. */
export function lineOf(doc: { lines: Map<string, number> }, path: string): number | undefined {
  let p = path;
  for (;;) {
    const line = doc.lines.get(p);
    if (line !== undefined) return line;
    const cut = p.lastIndexOf('.');
    if (cut < 0) return doc.lines.get('');
    p = p.slice(0, cut);
  }
}

/** A ValidationError located at `path` in `doc`. */
export function errorAt(doc: { file: string; lines: Map<string, number> }, path: string, message: string): ValidationError {
  return new ValidationError(message, { file: doc.file, line: lineOf(doc, path), path: path || undefined });
}

export function isMapping(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Indents the continuation lines of multi-line quoted scalars past their key's indentation. */
export function relaxQuotedIndent(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(?:- )?[^\s#'"][^:#]*:\s+(["'])(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const quote = m[2]!;
    if (closes(m[3]!, quote)) continue;
    const indent = m[1]!.length;
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j]!;
      const lead = line.length - line.trimStart().length;
      if (line.trim() !== '' && lead <= indent) lines[j] = ' '.repeat(indent + 1 - lead) + line;
      if (closes(line, quote)) {
        i = j;
        break;
      }
    }
  }
  return lines.join('\n');
}

function closes(rest: string, quote: string): boolean {
  for (let k = 0; k < rest.length; k++) {
    const ch = rest[k];
    if (quote === '"' && ch === '\\') {
      k++;
      continue;
    }
    if (ch === quote) {
      if (quote === "'" && rest[k + 1] === "'") {
        k++;
        continue;
      }
      return true;
    }
  }
  return false;
}

/** Refuses documents nested deeper than MAX_DOCUMENT_DEPTH (iteratively, so it cannot overflow itself). */
export function checkDepth(data: Json, file: string, lines: Map<string, number> = new Map()): void {
  // Paths are built only for the error: building one per element was most of the cost of
  // checking a 5,000-member group's template.
  const stack: [Json, number][] = [[data, 0]];
  let visited = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > MAX_DOCUMENT_DEPTH) throw errorAt({ file, lines }, pathAtDepth(data, depth) ?? '', `nested more than ${MAX_DOCUMENT_DEPTH} levels deep`);
    const children = Array.isArray(v) ? v : isMapping(v) ? Object.values(v) : [];
    visited += children.length;
    if (visited > 2_000_000) throw errorAt({ file, lines }, '', 'the document has too many elements');
    for (const x of children) if (x !== null && typeof x === 'object') stack.push([x, depth + 1]);
  }
}

/** The path of the first element `depth` levels down (depth is at most MAX_DOCUMENT_DEPTH + 1). */
function pathAtDepth(v: Json, depth: number, path = ''): string | undefined {
  if (depth === 0) return path;
  const entries: [string | number, Json][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : isMapping(v) ? Object.entries(v) : [];
  for (const [k, x] of entries) {
    const found = pathAtDepth(x, depth - 1, joinPath(path, k));
    if (found !== undefined) return found;
  }
  return undefined;
}
