// Configuration: bootstack.yaml, then BOOTSTACK_* environment variables, then command-line
// flags, validated by one schema. Unknown or mistyped keys are refused with their path and,
// for the file, the line they are on.
import { readFileSync, existsSync } from 'node:fs';
import { parseDocument, LineCounter, isMap, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { config as zodConfig, type z } from 'zod';
import { ConfigError } from './errors.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Tree = { [k: string]: unknown };

// Configuration is parsed a few times per process: zod's JIT (code generated per object schema
// and compiled with new Function) costs more at start-up than it can save on so few parses.
zodConfig({ jitless: true });

/** Where each dotted key of the file came from (for error messages). */
type LineIndex = Map<string, number>;

function indexLines(node: YamlNode | null | undefined, counter: LineCounter, prefix: string, out: LineIndex): void {
  if (!node || !isMap(node)) return;
  for (const item of node.items) {
    if (!isPair(item) || !isScalar(item.key)) continue;
    const key = `${prefix}${String(item.key.value)}`;
    const offset = item.key.range?.[0];
    if (offset !== undefined) out.set(key, counter.linePos(offset).line);
    indexLines(item.value as YamlNode | null, counter, `${key}.`, out);
  }
}

export interface LoadedFile {
  data: Tree;
  file: string;
  lines: LineIndex;
}

export function readConfigFile(file: string): LoadedFile {
  const text = readFileSync(file, 'utf8');
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: ${e.message.split('\n')[0]}`, {
      fields: { file, line },
    });
  }
  const data = (doc.toJS() ?? {}) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`${file}: the configuration must be a mapping of keys to values`, { fields: { file } });
  }
  const lines: LineIndex = new Map();
  indexLines(doc.contents as YamlNode, counter, '', lines);
  return { data: data as Tree, file, lines };
}

/**
 * BOOTSTACK_LISTEN__PORT=8000 sets listen.port. Values are parsed as YAML scalars so numbers and
 * booleans keep their type. Variables without a double underscore (BOOTSTACK_LOG_LEVEL) are
 * not configuration keys and are ignored here.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): Tree {
  const out: Tree = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('BOOTSTACK_') || !name.includes('__') || raw === undefined) continue;
    const path = name.slice('BOOTSTACK_'.length).toLowerCase().split('__');
    setPath(out, path, parseScalar(raw));
  }
  return out;
}

function parseScalar(raw: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}

export function setPath(tree: Tree, path: string[], value: unknown): void {
  let at = tree;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) at[key] = {};
    at = at[key] as Tree;
  }
  at[path[path.length - 1]!] = value;
}

/** Deep merge: later sources win; mappings merge key by key, everything else is replaced. */
export function mergeConfig(...sources: Tree[]): Tree {
  const out: Tree = {};
  for (const src of sources) {
    for (const [k, v] of Object.entries(src)) {
      const prev = out[k];
      out[k] =
        isPlain(prev) && isPlain(v) ? mergeConfig(prev as Tree, v as Tree) : v;
    }
  }
  return out;
}

function isPlain(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface LoadConfigOptions<T> {
  schema: z.ZodType<T>;
  /** Path to bootstack.yaml; when absent, ./bootstack.yaml is used if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, as a tree (e.g. { listen: { port: 8000 } }). */
  flags?: Tree;
}

/** Loads and validates configuration; throws ConfigError naming the key path (and file line). */
export function loadConfig<T>(options: LoadConfigOptions<T>): T {
  const file = options.file ?? (existsSync('bootstack.yaml') ? 'bootstack.yaml' : undefined);
  const loaded = file ? readConfigFile(file) : undefined;
  const merged = mergeConfig(loaded?.data ?? {}, configFromEnv(options.env ?? process.env), options.flags ?? {});
  return validateConfig(options.schema, merged, loaded);
}

export function validateConfig<T>(schema: z.ZodType<T>, data: unknown, source?: LoadedFile): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => {
    let path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => [...path, k].join('.'));
      return keys
        .map((k) => `${where(source, k)}unknown configuration key "${k}"`)
        .join('; ');
    }
    const key = path.join('.') || '(top level)';
    path = [];
    return `${where(source, key)}${key}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${messages.join('; ')}`, {
    fields: { file: source?.file, issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

function where(source: LoadedFile | undefined, key: string): string {
  if (!source) return '';
  const line = source.lines.get(key);
  return line === undefined ? '' : `${source.file}:${line}: `;
}
