// Reading and merging metadata files as os-apply-config does: files that do not exist are skipped,
// every file must be JSON, top-level values that are not non-empty objects are ignored, and later
// files deep-merge over earlier ones (objects merge key by key, anything else replaces).
import { existsSync, readFileSync } from 'node:fs';
import { type PyDict, type PyValue, isDict, parse } from '../common/py-json.js';
import { ConfigError } from './errors.js';

export function deepMerge(a: PyValue, b: PyValue): PyValue {
  if (!isDict(b)) return b;
  const out: PyDict = isDict(a) ? { ...a } : {};
  for (const [k, v] of Object.entries(b)) {
    const cur = Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined;
    out[k] = isDict(cur) ? deepMerge(cur, v) : v;
  }
  return out;
}

export function collectMetadata(files: readonly string[], fallback: readonly string[] = []): PyDict {
  let merged: PyDict = {};
  for (const path of [...fallback, ...files]) {
    if (!path || !existsSync(path)) continue;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`Could not open ${path} for reading. ${(err as Error).message}`);
    }
    let doc: PyValue;
    try {
      doc = parse(text, path);
    } catch (err) {
      throw new ConfigError(`Could not parse metadata file: ${(err as Error).message}`);
    }
    if (isDict(doc) && Object.keys(doc).length > 0) merged = deepMerge(merged, doc) as PyDict;
  }
  return merged;
}

/** --key lookup: dotted path through objects, with numeric parts indexing lists. */
export function extractKey(config: PyValue, key: string): PyValue | undefined {
  let cur: PyValue = config;
  for (const part of key.split('.')) {
    let next: PyValue | undefined;
    if (isDict(cur)) next = Object.prototype.hasOwnProperty.call(cur, part) ? cur[part] : undefined;
    else if (Array.isArray(cur) && /^\s*[-+]?\d+\s*$/.test(part)) {
      const n = Number(part);
      next = n < 0 ? cur[cur.length + n] : cur[n];
    }
    if (next === undefined || next === null) return undefined;
    cur = next;
  }
  return cur;
}
