// Parsed templates by content. A nested stack's template is the same text for every member of a
// group (1,000 nested stacks: 1,000 identical member files), and the engine prepares a stack
// again for each output, attribute and show; parsing it each time was most of the work.
// ParsedTemplate is never modified after parsing, so one parse can be shared.
import { createHash } from 'node:crypto';
import type { ParsedTemplate } from './template.js';

/** Entries kept; TripleO's whole template tree is a few hundred files. */
export const TEMPLATE_CACHE_ENTRIES = 512;
/** Source bytes kept (a parse holds several times its text); the least recently used go first. */
export const TEMPLATE_CACHE_BYTES = 16 * 1024 * 1024;

const entries = new Map<string, { tmpl: ParsedTemplate; bytes: number }>();
let bytes = 0;

/**
 * The parse of `source` named `file` (the name is part of the key: errors and nested files are
 * located by it), parsed by `parse` when not cached. Failures are not cached: they throw again.
 * `kind` separates sources that look alike but parse differently (YAML text, stored JSON).
 */
export function cachedTemplate(kind: string, file: string, source: string, parse: () => ParsedTemplate): ParsedTemplate {
  const key = `${kind}\u0000${file}\u0000${createHash('sha256').update(source).digest('base64')}`;
  const hit = entries.get(key);
  if (hit) {
    // Most recently used last: Map iteration order is the eviction order.
    entries.delete(key);
    entries.set(key, hit);
    return hit.tmpl;
  }
  const tmpl = parse();
  if (source.length > TEMPLATE_CACHE_BYTES) return tmpl;
  entries.set(key, { tmpl, bytes: source.length });
  bytes += source.length;
  for (const [k, e] of entries) {
    if (entries.size <= TEMPLATE_CACHE_ENTRIES && bytes <= TEMPLATE_CACHE_BYTES) break;
    entries.delete(k);
    bytes -= e.bytes;
  }
  return tmpl;
}

/** For tests: how many parses are kept and their source bytes. */
export function templateCacheSize(): { entries: number; bytes: number } {
  return { entries: entries.size, bytes };
}
