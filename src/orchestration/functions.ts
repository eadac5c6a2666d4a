// Intrinsic functions. A template snippet is parsed once into a tree where every function call is
// a `Call` holding its definition; definitions are objects with validate / resolve / dependencies
// (the shape of Heat's hot/functions.py), grouped per template version in versions.ts.
import { createHash } from 'node:crypto';
import { MAX_FUNCTION_RESULT, MAX_REPEAT_ITEMS, MAX_REPLACE_RESULT, MAX_REPLACE_WORK } from './limits.js';
import { isMapping, joinPath, type Json, type JsonMap } from './yaml-source.js';

export type Node = Json | Call | Node[] | { [k: string]: Node };

/** What functions may ask of the template and the stack they are evaluated in. */
export interface FnContext {
  version: string;
  /** Raises a located error. */
  fail(path: string, message: string): never;
  hasParam(name: string): boolean;
  param(name: string, path: string): Json;
  hasResource(name: string): boolean;
  /** Attribute names a resource declares, or undefined when any name is acceptable. */
  attributeNames(resource: string): readonly string[] | undefined;
  /** Null while validating (the resource does not exist yet). */
  resourceRef(name: string, path: string): Json;
  resourceAttr(name: string, attr: string | null, path: string): Json;
  file(key: string, path: string): string | undefined;
  facade(kind: string, path: string): Json;
  condition(name: string, path: string): boolean;
  hasCondition(name: string): boolean;
  /** True while validating: references are not resolvable and return placeholders. */
  validating: boolean;
}

export interface FnDef {
  validate?(call: Call, ctx: FnContext): void;
  resolve(call: Call, ctx: FnContext): Json;
  /** Resource names this call refers to directly. */
  dependencies?(call: Call): string[];
}

export class Call {
  constructor(
    readonly name: string,
    readonly def: FnDef,
    readonly args: Node,
    readonly path: string,
  ) {}
}

/** A function table for one template version; `removed` maps names to the advice given. */
export interface FunctionTable {
  functions: Record<string, FnDef>;
  removed: Record<string, string>;
}

/** Parses a raw snippet into a tree of Calls. */
export function parseSnippet(raw: Json, table: FunctionTable, path: string, version: string, fail: FnContext['fail']): Node {
  if (Array.isArray(raw)) return raw.map((v, i) => parseSnippet(v, table, joinPath(path, i), version, fail));
  if (!isMapping(raw)) return raw;
  const keys = Object.keys(raw);
  if (keys.length === 1) {
    const key = keys[0]!;
    const def = table.functions[key];
    const fpath = joinPath(path, key);
    if (def) return new Call(key, def, parseSnippet(raw[key]!, table, fpath, version, fail), fpath);
    const removed = table.removed[key];
    if (removed !== undefined) fail(fpath, `"${key}" is not supported in template version ${version}${removed ? `; ${removed}` : ''}`);
  }
  const out: { [k: string]: Node } = {};
  for (const k of keys) out[k] = parseSnippet(raw[k]!, table, joinPath(path, k), version, fail);
  return out;
}

/** Resolves a tree to plain data. */
export function resolve(node: Node, ctx: FnContext): Json {
  if (node instanceof Call) return node.def.resolve(node, ctx);
  if (Array.isArray(node)) return node.map((n) => resolve(n, ctx));
  if (node !== null && typeof node === 'object') {
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(node)) out[k] = resolve(v, ctx);
    return out;
  }
  return node;
}

/** Runs every call's validate in the tree. */
export function validateNode(node: Node, ctx: FnContext): void {
  walk(node, (c) => c.def.validate?.(c, ctx));
}

export function dependencies(node: Node): string[] {
  const out = new Set<string>();
  walk(node, (c) => c.def.dependencies?.(c).forEach((d) => out.add(d)));
  return [...out];
}

export function walk(node: Node, visit: (c: Call) => void): void {
  if (node instanceof Call) {
    visit(node);
    walk(node.args, visit);
  } else if (Array.isArray(node)) node.forEach((n) => walk(n, visit));
  else if (node !== null && typeof node === 'object') Object.values(node).forEach((n) => walk(n, visit));
}

export function hasCalls(node: Node): boolean {
  let found = false;
  walk(node, () => (found = true));
  return found;
}

// ---- helpers ----

function argList(call: Call, ctx: FnContext, min: number, max = min): Node[] {
  const a = call.args;
  if (!Array.isArray(a) || a.length < min || a.length > max) {
    const n = min === max ? `${min}` : `${min} to ${max}`;
    ctx.fail(call.path, `${call.name} takes a list of ${n} arguments`);
  }
  return a;
}

function asString(v: Json, call: Call, ctx: FnContext, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return ctx.fail(call.path, `${call.name}: ${what} must be a string, not ${JSON.stringify(v)?.slice(0, 80)}`);
}

/** Only checks shapes of literal args; calls inside are checked by their own validate. */
function literal(node: Node): node is Json {
  return !(node instanceof Call) && !hasCalls(node);
}

function jsonText(v: Json): string {
  if (typeof v === 'string') return v;
  if (v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function select(value: Json, path: Json[], call: Call, ctx: FnContext): Json {
  let cur: Json = value;
  for (const k of path) {
    if (cur === null) return null;
    if (Array.isArray(cur)) {
      const i = typeof k === 'number' ? k : Number(k);
      if (!Number.isInteger(i)) ctx.fail(call.path, `${call.name}: cannot index a list with ${JSON.stringify(k)}`);
      cur = cur[i] ?? null;
    } else if (isMapping(cur)) {
      cur = cur[String(k)] ?? null;
    } else if (typeof cur === 'string' && typeof k === 'number') {
      cur = cur[k] ?? null;
    } else {
      return ctx.fail(call.path, `${call.name}: cannot select ${JSON.stringify(k)} from ${JSON.stringify(cur)?.slice(0, 80)}`);
    }
  }
  return cur;
}

function truthy(v: Json): boolean {
  if (typeof v === 'string') return ['true', 'yes', 'on', 'y', 't', '1'].includes(v.toLowerCase());
  return Boolean(v) && !(Array.isArray(v) && v.length === 0);
}

// ---- definitions ----

export const PSEUDO_PARAMS = ['OS::stack_name', 'OS::stack_id', 'OS::project_id'];

export const getParam: FnDef = {
  validate(call, ctx) {
    const a = call.args;
    const name = Array.isArray(a) ? a[0] : a;
    if (Array.isArray(a) && a.length === 0) ctx.fail(call.path, 'get_param needs a parameter name');
    if (typeof name === 'string' && !ctx.hasParam(name)) ctx.fail(call.path, `The Parameter (${name}) was not defined in template.`);
    if (!(name instanceof Call) && typeof name !== 'string') ctx.fail(call.path, 'get_param: the parameter name must be a string');
  },
  resolve(call, ctx) {
    const a = call.args;
    const parts = (Array.isArray(a) ? a : [a]).map((n) => resolve(n, ctx));
    const name = asString(parts[0] ?? null, call, ctx, 'the parameter name');
    if (!ctx.hasParam(name)) ctx.fail(call.path, `The Parameter (${name}) was not defined in template.`);
    return select(ctx.param(name, call.path), parts.slice(1), call, ctx);
  },
};

export const getResource: FnDef = {
  validate(call, ctx) {
    if (typeof call.args !== 'string') return void ctx.fail(call.path, 'get_resource takes a resource name');
    if (!ctx.hasResource(call.args)) ctx.fail(call.path, `The specified reference "${call.args}" (in get_resource) is incorrect.`);
  },
  resolve(call, ctx) {
    return ctx.resourceRef(String(call.args), call.path);
  },
  dependencies: (call) => (typeof call.args === 'string' ? [call.args] : []),
};

/** get_attr: [resource, attribute, path...]; from 2015-10-15 the attribute may be omitted. */
export function getAttr(allAttributes: boolean): FnDef {
  return {
    validate(call, ctx) {
      const a = argList(call, ctx, allAttributes ? 1 : 2, 1000);
      const res = a[0];
      if (typeof res !== 'string') return void ctx.fail(call.path, 'get_attr: the resource name must be a string');
      if (!ctx.hasResource(res)) ctx.fail(call.path, `The specified reference "${res}" (in get_attr) is incorrect.`);
      const attr = a[1];
      const names = ctx.attributeNames(res);
      if (typeof attr === 'string' && names && !names.includes(attr) && attr !== 'show') {
        ctx.fail(call.path, `The Referenced Attribute (${res} ${attr}) is incorrect.`);
      }
    },
    resolve(call, ctx) {
      const a = call.args as Node[];
      const res = String(a[0]);
      const parts = a.slice(1).map((n) => resolve(n, ctx));
      if (parts.length === 0) return ctx.resourceAttr(res, null, call.path);
      const value = ctx.resourceAttr(res, asString(parts[0]!, call, ctx, 'the attribute name'), call.path);
      return select(value, parts.slice(1), call, ctx);
    },
    dependencies: (call) => (Array.isArray(call.args) && typeof call.args[0] === 'string' ? [call.args[0]] : []),
  };
}

export const getFile: FnDef = {
  validate(call, ctx) {
    if (typeof call.args !== 'string') return void ctx.fail(call.path, 'get_file takes a file path or URL');
    if (ctx.file(call.args, call.path) === undefined) {
      ctx.fail(call.path, `get_file: no content found for "${call.args}" (the file is missing or was not sent in "files")`);
    }
  },
  resolve(call, ctx) {
    const key = String(call.args);
    const content = ctx.file(key, call.path);
    if (content === undefined) return ctx.fail(call.path, `get_file: no content found for "${key}"`);
    return content;
  },
};

/** str_replace and its strict variants (strict: every key must occur; vstrict: and no empty value). */
export function strReplace(mode: 'plain' | 'strict' | 'vstrict', jsonValues: boolean): FnDef {
  return {
    validate(call, ctx) {
      const a = call.args;
      if (!isMapping(a as Json) || a instanceof Call) return void ctx.fail(call.path, `${call.name} takes a map with "template" and "params"`);
      const m = a as { [k: string]: Node };
      const extra = Object.keys(m).filter((k) => k !== 'template' && k !== 'params');
      if (extra.length || !('template' in m) || !('params' in m)) ctx.fail(call.path, `${call.name} takes a map with exactly "template" and "params"`);
      const params = m.params;
      if (params !== undefined && !(params instanceof Call) && !isMapping(params as Json)) ctx.fail(joinPath(call.path, 'params'), `${call.name}: "params" must be a map`);
    },
    resolve(call, ctx) {
      const m = call.args as { [k: string]: Node };
      const template = asString(resolve(m.template ?? null, ctx), call, ctx, '"template"');
      const params = resolve(m.params ?? null, ctx);
      if (!isMapping(params)) return ctx.fail(joinPath(call.path, 'params'), `${call.name}: "params" must be a map`);
      const keys = Object.keys(params);
      const values = new Map<string, string>();
      for (const k of keys) {
        const v = params[k]!;
        if (!jsonValues && v !== null && typeof v === 'object') ctx.fail(joinPath(call.path, `params.${k}`), `${call.name}: "${k}" must be a string or number`);
        const text = jsonText(v);
        if (mode === 'vstrict' && text === '') ctx.fail(joinPath(call.path, `params.${k}`), `${call.name}: the value of "${k}" is empty`);
        if (mode !== 'plain' && !template.includes(k)) ctx.fail(joinPath(call.path, `params.${k}`), `${call.name}: "${k}" does not occur in the template`);
        values.set(k, text);
      }
      return replaceKeys(template, values, (why) => ctx.fail(call.path, `${call.name}: ${why}`));
    },
  };
}

/**
 * Heat's replacement: split the text by the longest key, replace the other keys in the pieces,
 * join them with the key's value; replaced text is never scanned again. No regular expression is
 * built from the keys, and the work (keys × text) and the result are bounded.
 */
function replaceKeys(template: string, values: Map<string, string>, fail: (why: string) => never): string {
  const keys = [...values.keys()].filter((k) => k !== '').sort().sort((x, y) => y.length - x.length);
  if (keys.length * template.length > MAX_REPLACE_WORK) {
    fail(`${keys.length} parameters over ${template.length} characters is more replacing than allowed (${MAX_REPLACE_WORK.toLocaleString('en')} parameter-characters)`);
  }
  // Even places: text still to scan; odd places: values already put in.
  let parts = [template];
  let length = template.length;
  for (const k of keys) {
    const value = values.get(k)!;
    const next: string[] = [];
    parts.forEach((part, i) => {
      if (i % 2) return void next.push(part);
      const pieces = part.split(k);
      length += (pieces.length - 1) * (value.length - k.length);
      if (length > MAX_REPLACE_RESULT) fail(`the result would be longer than ${MAX_REPLACE_RESULT} characters`);
      pieces.forEach((piece, j) => (j ? next.push(value, piece) : next.push(piece)));
    });
    parts = next;
  }
  return parts.join('');
}

/** list_join: [delimiter, list] (2014-10-16) or [delimiter, list, list...] (2015-10-15). */
export function listJoin(multiple: boolean): FnDef {
  return {
    validate(call, ctx) {
      const a = argList(call, ctx, 2, multiple ? 1000 : 2);
      if (literal(a[0]!) && typeof a[0] !== 'string') ctx.fail(call.path, `${call.name}: the delimiter must be a string`);
    },
    resolve(call, ctx) {
      const a = (call.args as Node[]).map((n) => resolve(n, ctx));
      const delim = asString(a[0] ?? '', call, ctx, 'the delimiter');
      const items: string[] = [];
      let length = 0;
      for (const list of a.slice(1)) {
        if (list === null) continue;
        if (!Array.isArray(list)) return ctx.fail(call.path, `${call.name}: expected a list to join, got ${JSON.stringify(list)?.slice(0, 80)}`);
        for (const item of list) {
          if (!multiple && item !== null && typeof item === 'object') ctx.fail(call.path, `${call.name}: items must be strings`);
          const text = jsonText(item);
          length += text.length + delim.length;
          if (length > MAX_FUNCTION_RESULT) ctx.fail(call.path, `${call.name}: the result would be longer than ${MAX_FUNCTION_RESULT} characters`);
          items.push(text);
        }
      }
      return items.join(delim);
    },
  };
}

const DIGESTS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'];
export const digest: FnDef = {
  validate(call, ctx) {
    const a = argList(call, ctx, 2);
    if (typeof a[0] === 'string' && !DIGESTS.includes(a[0])) ctx.fail(call.path, `digest: algorithm must be one of ${DIGESTS.join(', ')}`);
  },
  resolve(call, ctx) {
    const [alg, value] = (call.args as Node[]).map((n) => resolve(n, ctx));
    const algorithm = asString(alg ?? null, call, ctx, 'the algorithm');
    if (!DIGESTS.includes(algorithm)) ctx.fail(call.path, `digest: algorithm must be one of ${DIGESTS.join(', ')}`);
    return createHash(algorithm).update(asString(value ?? null, call, ctx, 'the value')).digest('hex');
  },
};


export const repeat: FnDef = {
  validate(call, ctx) {
    const a = call.args;
    if (!isMapping(a as Json) || a instanceof Call) return void ctx.fail(call.path, 'repeat takes a map with "for_each" and "template"');
    const m = a as { [k: string]: Node };
    if (!('for_each' in m) || !('template' in m)) ctx.fail(call.path, 'repeat takes a map with "for_each" and "template"');
    const fe = m.for_each;
    if (!(fe instanceof Call) && !isMapping(fe as Json)) ctx.fail(joinPath(call.path, 'for_each'), 'repeat: "for_each" must be a map');
  },
  resolve(call, ctx) {
    const m = call.args as { [k: string]: Node };
    const forEach = resolve(m.for_each ?? null, ctx);
    if (!isMapping(forEach)) return ctx.fail(joinPath(call.path, 'for_each'), 'repeat: "for_each" must be a map');
    const perms = m.permutations === undefined ? true : truthy(resolve(m.permutations, ctx));
    const keys = Object.keys(forEach);
    const lists = keys.map((k): Json[] => {
      const v = forEach[k]!;
      if (!Array.isArray(v)) return ctx.fail(joinPath(call.path, `for_each.${k}`), `repeat: the values of "${k}" must be a list`);
      return v;
    });
    let combos: Json[][];
    const total = perms ? lists.reduce((n, l) => n * l.length, 1) : (lists[0]?.length ?? 0);
    if (total > MAX_REPEAT_ITEMS) ctx.fail(call.path, `repeat would produce ${total} items; the limit is ${MAX_REPEAT_ITEMS}`);
    if (perms) {
      combos = [[]];
      for (const list of lists) combos = combos.flatMap((c) => list.map((v) => [...c, v]));
    } else {
      const n = lists[0]?.length ?? 0;
      if (lists.some((l) => l.length !== n)) ctx.fail(call.path, 'repeat: with permutations false, all lists must have the same length');
      combos = Array.from({ length: n }, (_, i) => lists.map((l) => l[i]!));
    }
    const template = resolve(m.template ?? null, ctx);
    let length = 0;
    return combos.map((combo) => {
      const item = substitute(template, keys, combo);
      length += JSON.stringify(item).length;
      if (length > MAX_FUNCTION_RESULT) ctx.fail(call.path, `repeat: the items would be longer than ${MAX_FUNCTION_RESULT} characters of JSON`);
      return item;
    });
  },
};

function substitute(t: Json, keys: string[], values: Json[]): Json {
  if (typeof t === 'string') {
    let s = t;
    keys.forEach((k, i) => {
      s = s.split(k).join(jsonText(values[i]!));
    });
    return s;
  }
  if (Array.isArray(t)) return t.map((v) => substitute(v, keys, values));
  if (isMapping(t)) {
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(t)) out[substitute(k, keys, values) as string] = substitute(v, keys, values);
    return out;
  }
  return t;
}

export const resourceFacade: FnDef = {
  validate(call, ctx) {
    if (!['metadata', 'deletion_policy', 'update_policy'].includes(String(call.args))) {
      ctx.fail(call.path, `resource_facade: expected metadata, deletion_policy or update_policy`);
    }
  },
  resolve: (call, ctx) => ctx.facade(String(call.args), call.path),
};

export const strSplit: FnDef = {
  validate(call, ctx) {
    argList(call, ctx, 2, 3);
  },
  resolve(call, ctx) {
    const a = (call.args as Node[]).map((n) => resolve(n, ctx));
    const delim = asString(a[0] ?? null, call, ctx, 'the delimiter');
    const str = asString(a[1] ?? null, call, ctx, 'the string to split');
    const parts = str.split(delim);
    if (a.length === 3) {
      const i = Number(a[2]);
      if (!Number.isInteger(i) || i < 0 || i >= parts.length) ctx.fail(call.path, `str_split: index ${JSON.stringify(a[2])} out of range`);
      return parts[i]!;
    }
    return parts;
  },
};

export const mapMerge: FnDef = {
  validate(call, ctx) {
    if (!Array.isArray(call.args)) ctx.fail(call.path, 'map_merge takes a list of maps');
  },
  resolve(call, ctx) {
    const out: JsonMap = {};
    for (const m of (call.args as Node[]).map((n) => resolve(n, ctx))) {
      if (m === null) continue;
      if (!isMapping(m)) ctx.fail(call.path, `map_merge: ${JSON.stringify(m)?.slice(0, 80)} is not a map`);
      Object.assign(out, m);
    }
    return out;
  },
};

export const mapReplace: FnDef = {
  validate(call, ctx) {
    argList(call, ctx, 2);
  },
  resolve(call, ctx) {
    const [map, repl] = (call.args as Node[]).map((n) => resolve(n, ctx));
    if (!isMapping(map ?? null)) return ctx.fail(call.path, 'map_replace: the first argument must be a map');
    if (!isMapping(repl ?? null)) return ctx.fail(call.path, 'map_replace: the second argument must be a map with keys/values');
    const r = repl as JsonMap;
    const extra = Object.keys(r).filter((k) => k !== 'keys' && k !== 'values');
    if (extra.length) ctx.fail(call.path, `map_replace: unknown key(s) ${extra.join(', ')}; expected keys, values`);
    const keys = (r.keys ?? {}) as JsonMap;
    const values = (r.values ?? {}) as JsonMap;
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(map as JsonMap)) {
      const nk = typeof keys[k] === 'string' ? (keys[k] as string) : k;
      if (nk in out) ctx.fail(call.path, `map_replace: key "${nk}" would be duplicated`);
      const sv = typeof v === 'string' && v in values ? values[v]! : v;
      out[nk] = sv;
    }
    return out;
  },
};

export const equals: FnDef = {
  validate(call, ctx) {
    argList(call, ctx, 2);
  },
  resolve(call, ctx) {
    const [a, b] = (call.args as Node[]).map((n) => resolve(n, ctx));
    return JSON.stringify(a) === JSON.stringify(b);
  },
};

function conditionValue(node: Node, ctx: FnContext, path: string): boolean {
  if (typeof node === 'string') {
    if (!ctx.hasCondition(node)) ctx.fail(path, `Invalid condition "${node}"`);
    return ctx.condition(node, path);
  }
  if (typeof node === 'boolean') return node;
  const v = resolve(node, ctx);
  if (typeof v !== 'boolean') ctx.fail(path, `a condition must evaluate to true or false, got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v;
}

export const ifFn: FnDef = {
  validate(call, ctx) {
    const a = argList(call, ctx, 2, 3);
    if (typeof a[0] === 'string' && !ctx.hasCondition(a[0])) ctx.fail(call.path, `Invalid condition "${a[0]}"`);
  },
  resolve(call, ctx) {
    const a = call.args as Node[];
    return conditionValue(a[0]!, ctx, call.path) ? resolve(a[1]!, ctx) : a.length > 2 ? resolve(a[2]!, ctx) : null;
  },
};

export const notFn: FnDef = {
  resolve: (call, ctx) => !conditionValue(Array.isArray(call.args) && call.args.length === 1 ? call.args[0]! : call.args, ctx, call.path),
};

export function logical(kind: 'and' | 'or'): FnDef {
  return {
    validate(call, ctx) {
      argList(call, ctx, 2, 1000);
    },
    resolve(call, ctx) {
      const vals = (call.args as Node[]).map((n, i) => conditionValue(n, ctx, joinPath(call.path, i)));
      return kind === 'and' ? vals.every(Boolean) : vals.some(Boolean);
    },
  };
}

export const contains: FnDef = {
  validate(call, ctx) {
    argList(call, ctx, 2);
  },
  resolve(call, ctx) {
    const [v, seq] = (call.args as Node[]).map((n) => resolve(n, ctx));
    if (!Array.isArray(seq)) return ctx.fail(call.path, 'contains: the second argument must be a list');
    return seq.some((x) => JSON.stringify(x) === JSON.stringify(v));
  },
};

export const filter: FnDef = {
  validate(call, ctx) {
    argList(call, ctx, 2);
  },
  resolve(call, ctx) {
    const [remove, list] = (call.args as Node[]).map((n) => resolve(n, ctx));
    if (!Array.isArray(list)) return ctx.fail(call.path, 'filter: the second argument must be a list');
    const drop = new Set((Array.isArray(remove) ? remove : [remove ?? null]).map((x) => JSON.stringify(x)));
    return list.filter((x) => !drop.has(JSON.stringify(x)));
  },
};

const URL_KEYS = ['scheme', 'username', 'password', 'host', 'port', 'path', 'query', 'fragment'];
export const makeUrl: FnDef = {
  validate(call, ctx) {
    const a = call.args;
    if (!isMapping(a as Json) || a instanceof Call) return void ctx.fail(call.path, 'make_url takes a map');
    const bad = Object.keys(a as object).filter((k) => !URL_KEYS.includes(k));
    if (bad.length) ctx.fail(call.path, `make_url: unknown key(s) ${bad.join(', ')}; allowed: ${URL_KEYS.join(', ')}`);
  },
  resolve(call, ctx) {
    const m = resolve(call.args, ctx) as JsonMap;
    const enc = (v: Json | undefined) => encodeURIComponent(jsonText(v ?? ''));
    let url = m.scheme ? `${jsonText(m.scheme)}://` : '';
    if (m.username) url += enc(m.username) + (m.password ? `:${enc(m.password)}` : '') + '@';
    const host = jsonText(m.host ?? '');
    url += host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    if (m.port !== undefined && m.port !== null && m.port !== '') {
      const port = Number(m.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) ctx.fail(call.path, `make_url: invalid port ${JSON.stringify(m.port)}`);
      url += `:${port}`;
    }
    const path = jsonText(m.path ?? '');
    url += path && !path.startsWith('/') ? `/${path}` : path;
    if (isMapping(m.query ?? null) && Object.keys(m.query as JsonMap).length) {
      url += '?' + Object.entries(m.query as JsonMap).map(([k, v]) => `${encodeURIComponent(k)}=${enc(v)}`).join('&');
    }
    if (m.fragment) url += `#${encodeURIComponent(jsonText(m.fragment))}`;
    return url;
  },
};

export function listConcat(unique: boolean): FnDef {
  return {
    validate(call, ctx) {
      if (!Array.isArray(call.args)) ctx.fail(call.path, `${call.name} takes a list of lists`);
    },
    resolve(call, ctx) {
      const out: Json[] = [];
      const seen = new Set<string>();
      for (const list of (call.args as Node[]).map((n) => resolve(n, ctx))) {
        if (list === null) continue;
        if (!Array.isArray(list)) return ctx.fail(call.path, `${call.name}: ${JSON.stringify(list)?.slice(0, 80)} is not a list`);
        for (const x of list) {
          const k = JSON.stringify(x);
          if (unique && seen.has(k)) continue;
          seen.add(k);
          out.push(x);
        }
      }
      return out;
    },
  };
}

/** yaql is a whole query language; we refuse it at validation with the location rather than guess. */
export const yaqlRefused: FnDef = {
  validate(call, ctx) {
    ctx.fail(call.path, 'yaql expressions are not supported by this engine; rewrite with map_merge, filter, list_concat, repeat or if');
  },
  resolve(call, ctx) {
    return ctx.fail(call.path, 'yaql expressions are not supported by this engine');
  },
};

// ---- CloudFormation-style functions accepted by HOT 2013-05-23 (and Fn::Select up to 2015-10-15) ----

export const cfnSelect: FnDef = {
  validate(call, ctx) {
    argList(call, ctx, 2);
  },
  resolve(call, ctx) {
    const [index, coll] = (call.args as Node[]).map((n) => resolve(n, ctx));
    if (coll === null || coll === undefined) return '';
    if (Array.isArray(coll)) {
      const i = Number(index);
      if (!Number.isInteger(i)) ctx.fail(call.path, `Fn::Select: index ${JSON.stringify(index)} is not an integer`);
      return coll[i] ?? '';
    }
    if (isMapping(coll)) return coll[String(index)] ?? '';
    if (typeof coll === 'string') {
      const parsed = tryJson(coll);
      if (Array.isArray(parsed)) return parsed[Number(index)] ?? '';
      if (isMapping(parsed)) return parsed[String(index)] ?? '';
    }
    return ctx.fail(call.path, `Fn::Select: cannot select from ${JSON.stringify(coll)?.slice(0, 80)}`);
  },
};

function tryJson(s: string): Json {
  try {
    return JSON.parse(s) as Json;
  } catch {
    return s;
  }
}

export const cfnRef: FnDef = {
  validate(call, ctx) {
    const n = call.args;
    if (typeof n !== 'string') return;
    if (!ctx.hasParam(n) && !ctx.hasResource(n)) ctx.fail(call.path, `The specified reference "${n}" (in Ref) is incorrect.`);
  },
  resolve(call, ctx) {
    const n = String(resolve(call.args, ctx));
    return ctx.hasResource(n) ? ctx.resourceRef(n, call.path) : ctx.param(n, call.path);
  },
  dependencies: (call) => (typeof call.args === 'string' ? [call.args] : []),
};

export const cfnGetAtt: FnDef = getAttr(false);

export const cfnJoin: FnDef = listJoin(false);

export const cfnBase64: FnDef = { resolve: (call, ctx) => resolve(call.args, ctx) };

export const cfnSplit: FnDef = strSplit;

export const cfnReplace: FnDef = {
  validate(call, ctx) {
    argList(call, ctx, 2);
  },
  resolve(call, ctx) {
    const [map, str] = (call.args as Node[]).map((n) => resolve(n, ctx));
    if (!isMapping(map ?? null)) return ctx.fail(call.path, 'Fn::Replace: the first argument must be a map');
    let s = asString(str ?? null, call, ctx, 'the string');
    const entries = Object.entries(map as JsonMap).sort((x, y) => y[0].length - x[0].length);
    // The same bounds as str_replace: this one rescans replaced text, so the result must be checked as it grows.
    if (entries.length * s.length > MAX_REPLACE_WORK) ctx.fail(call.path, `Fn::Replace: ${entries.length} keys over ${s.length} characters is more replacing than allowed`);
    for (const [k, v] of entries) {
      const pieces = s.split(k);
      const value = jsonText(v);
      if (s.length + (pieces.length - 1) * (value.length - k.length) > MAX_REPLACE_RESULT) ctx.fail(call.path, `Fn::Replace: the result would be longer than ${MAX_REPLACE_RESULT} characters`);
      s = pieces.join(value);
    }
    return s;
  },
};

export const cfnMemberListToMap: FnDef = {
  resolve(call, ctx) {
    const [keyName, valueName, list] = (Array.isArray(call.args) ? call.args : []).map((n) => resolve(n, ctx));
    const out: JsonMap = {};
    if (!Array.isArray(list)) return out;
    const entries = new Map<string, Map<string, string>>();
    for (const item of list) {
      const m = /^\.member\.(\d+)\.(.+)=(.*)$/.exec(String(item));
      if (!m) continue;
      const e = entries.get(m[1]!) ?? new Map<string, string>();
      e.set(m[2]!, m[3]!);
      entries.set(m[1]!, e);
    }
    for (const e of entries.values()) {
      const k = e.get(String(keyName));
      if (k !== undefined) out[k] = e.get(String(valueName)) ?? null;
    }
    return out;
  },
};

export const cfnResourceFacade: FnDef = resourceFacade;

export const cfnGetAZs: FnDef = { resolve: () => ['nova'] };
