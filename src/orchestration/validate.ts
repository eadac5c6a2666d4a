// Whole-stack validation: parameters, conditions, resource types (through the environment's
// registry), properties against each type's schema, function references, the dependency graph,
// outputs, and nested templates (template resources and ResourceGroup members) recursively.
import { toposort } from '../common/toposort.js';
import { CycleError, type ValidationError } from '../common/errors.js';
import { Call, dependencies, validateNode, hasCalls, resolve, type Node, type FnContext } from './functions.js';
import { resolveType, type Environment } from './environment.js';
import type { ResourceRegistry, ResourceType, PropSchema } from './registry.js';
import {
  conditionHolds,
  failer,
  loadTemplate,
  lookupFile,
  makeContext,
  parameterValues,
  type Fail,
  type ParsedTemplate,
  type ResourceDefn,
} from './template.js';
import { isMapping, joinPath, type Json, type JsonMap } from './yaml-source.js';
import { checkDefault, type CustomConstraintLookup } from './parameters.js';
import { MAX_GROUP_COUNT, MAX_NESTED_DEPTH, MAX_RESOURCES_PER_STACK } from './limits.js';
import { PatternBudget } from './user-regex.js';

/** The stack a template is checked in before any exists (Heat's validate calls it 'None'). */
export const VALIDATION_STACK = { id: 'None', name: 'validation', projectId: 'None' } as const;

export interface ValidateOptions {
  registry: ResourceRegistry;
  env: Environment;
  files: Record<string, string>;
  params?: JsonMap;
  lookup?: CustomConstraintLookup;
  /** Collects missing get_file targets instead of stopping at the first (corpus checks). */
  onMissingFile?: (err: ValidationError) => void;
}

interface Run extends ValidateOptions {
  parsed: Map<string, ParsedTemplate>;
  /** Nested templates already validated with the same values, and their resource counts. */
  validated: Map<string, number>;
  budget: PatternBudget;
}

/** The type a resource definition resolves to: a registry entry or a nested template. */
export type ResolvedType = { kind: 'plugin'; type: ResourceType } | { kind: 'template'; key: string; tmpl: ParsedTemplate };

export function resolveResourceType(
  defn: { name: string; type: string; path: string },
  owner: ParsedTemplate,
  opts: { registry: ResourceRegistry; env: Environment; files: Record<string, string> },
  cache?: Map<string, ParsedTemplate>,
): ResolvedType {
  const fail: Fail = failer(owner.doc);
  let target;
  try {
    target = resolveType(opts.env, defn.type, defn.name);
  } catch (err) {
    return fail(joinPath(defn.path, 'type'), (err as Error).message);
  }
  if (target.kind === 'type') {
    const t = opts.registry.get(target.type);
    if (!t) return fail(joinPath(defn.path, 'type'), `The Resource Type (${target.type}) could not be found.`);
    return { kind: 'plugin', type: t };
  }
  const key = keyFor(target.file, owner.doc.file, opts.files);
  const hit = cache?.get(key);
  if (hit) return { kind: 'template', key, tmpl: hit };
  const content = lookupFile(opts.files, target.file, owner.doc.file);
  if (content === undefined) return fail(joinPath(defn.path, 'type'), `Could not fetch remote template "${target.file}": it is not in the files sent with the request`);
  const tmpl = loadTemplate(content, key);
  cache?.set(key, tmpl);
  return { kind: 'template', key, tmpl };
}

/** The canonical files key a template resource refers to. */
export function keyFor(file: string, from: string, files: Record<string, string>): string {
  if (file in files) return file;
  try {
    const abs = new URL(file, from.includes('://') ? from : `file://${from.startsWith('/') ? '' : '/'}${from}`).href;
    if (abs in files) return abs;
  } catch {
    /* not a URL: keep the name */
  }
  return file;
}

/** Validates a template and everything it nests; throws a located ValidationError. */
export function validateStack(tmpl: ParsedTemplate, opts: ValidateOptions): void {
  const run: Run = { ...opts, parsed: new Map(), validated: new Map(), budget: new PatternBudget() };
  validateOne(tmpl, run, opts.params ?? {}, false, [tmpl.doc.file]);
}

/** Validates one template; returns how many resources it makes, counting nested stacks and group members. */
function validateOne(tmpl: ParsedTemplate, run: Run, given: JsonMap, nested: boolean, chain: string[]): number {
  const fail: Fail = failer(tmpl.doc);
  for (const schema of tmpl.params.values()) checkDefault(schema, fail, run.budget, run.lookup);
  const params = parameterValues(tmpl, run.env, given, { requireValues: false, lookup: run.lookup, nested, budget: run.budget });
  const types = new Map<string, ResolvedType>();
  const typeOf = (name: string): ResolvedType | undefined => {
    let t = types.get(name);
    if (!t) {
      const d = tmpl.resources.get(name);
      if (!d) return undefined;
      t = resolveResourceType(d, tmpl, run, run.parsed);
      types.set(name, t);
    }
    return t;
  };
  const ctx = makeContext({
    tmpl,
    params,
    files: run.files,
    stack: VALIDATION_STACK,
    validating: true,
    onMissingFile: run.onMissingFile,
    resources: {
      has: (n) => tmpl.resources.has(n),
      attributeNames(n) {
        const t = typeOf(n);
        if (!t) return undefined;
        if (t.kind === 'template') return [...t.tmpl.outputs.keys(), 'OS::stack_id'];
        return t.type.attributes;
      },
      ref: () => null,
      attr: () => null,
    },
  });
  for (const [name, node] of tmpl.conditions) {
    validateNode(node, ctx);
    ctx.condition(name, joinPath('conditions', name));
  }
  const graph = new Map<string, string[]>();
  let total = 0;
  for (const defn of tmpl.resources.values()) {
    for (const d of defn.dependsOn) {
      if (!tmpl.resources.has(d) || d === defn.name) fail(joinPath(defn.path, 'depends_on'), `"${d}" is not a valid resource to depend on`);
    }
    let enabled = true;
    if (defn.condition !== undefined) {
      validateNode(defn.condition, ctx);
      enabled = conditionHolds(defn.condition, ctx, joinPath(defn.path, 'condition'));
    }
    validateNode(defn.properties, ctx);
    validateNode(defn.metadata, ctx);
    validateNode(defn.updatePolicy, ctx);
    const t = typeOf(defn.name)!;
    const size = validateDefinition(defn, t, tmpl, run, ctx, chain);
    if (enabled) total += size;
    if (total > MAX_RESOURCES_PER_STACK) {
      const isGroup = t.kind === 'plugin' && t.type.countedMembers === true;
      fail(isGroup ? joinPath(defn.path, 'properties.count') : defn.path, `with ${defn.name} the stack has ${total} resources counting nested stacks and group members, more than ${MAX_RESOURCES_PER_STACK} (max_resources_per_stack)`);
    }
    const refs = [...new Set([...defn.dependsOn, ...dependencies(defn.properties), ...dependencies(defn.metadata)])].filter((d) => tmpl.resources.has(d));
    if (refs.includes(defn.name)) fail(defn.path, `resource "${defn.name}" refers to itself`);
    graph.set(defn.name, refs);
  }
  try {
    toposort(graph);
  } catch (err) {
    if (err instanceof CycleError) fail('resources', `Circular Dependency Found: ${err.cycle.join(' -> ')}`);
    throw err;
  }
  for (const out of tmpl.outputs.values()) {
    validateNode(out.value, ctx);
    if (out.condition !== undefined) validateNode(out.condition, ctx);
  }
  return total;
}

/** Checks a resource definition; returns how many resources it makes (itself, nested stacks' and members'). */
function validateDefinition(
  defn: Pick<ResourceDefn, 'name' | 'path' | 'properties'>,
  t: ResolvedType,
  tmpl: ParsedTemplate,
  run: Run,
  ctx: FnContext,
  chain: string[],
): number {
  const fail: Fail = failer(tmpl.doc);
  const ppath = joinPath(defn.path, 'properties');
  const props = defn.properties;
  if (props instanceof Call) return 1;
  if (!isMapping(props as Json) && !(props !== null && typeof props === 'object' && !Array.isArray(props))) {
    fail(ppath, `"properties" of ${defn.name} must be a map`);
  }
  const pm = props as { [k: string]: Node };
  if (t.kind === 'template') {
    for (const k of Object.keys(pm)) {
      if (!t.tmpl.params.has(k)) fail(joinPath(ppath, k), `Unknown Property ${k} (the template ${t.key} has no parameter "${k}")`);
    }
    if (chain.length > MAX_NESTED_DEPTH) fail(defn.path, `Recursion depth exceeds ${MAX_NESTED_DEPTH}.`);
    if (chain.includes(t.key)) fail(defn.path, `template ${t.key} includes itself (${[...chain, t.key].join(' -> ')})`);
    const given: JsonMap = {};
    for (const [k, v] of Object.entries(pm)) if (!hasCalls(v) && t.tmpl.params.has(k)) given[k] = v as Json;
    const memo = `${t.key}|${JSON.stringify(given)}`;
    let inside = run.validated.get(memo);
    if (inside === undefined) {
      inside = validateOne(t.tmpl, run, given, true, [...chain, t.key]);
      run.validated.set(memo, inside);
    }
    return 1 + inside;
  }
  const schema = t.type.properties;
  if (schema) {
    for (const [k, v] of Object.entries(pm)) {
      const s = schema[k];
      if (!s) return fail(joinPath(ppath, k), `Unknown Property ${k}`);
      if (!hasCalls(v)) checkPropType(k, s, v as Json, joinPath(ppath, k), fail);
    }
    for (const [k, s] of Object.entries(schema)) {
      if (s.required && !(k in pm)) fail(ppath, `Property ${k} not assigned`);
    }
  }
  // Checks across properties (RandomString's classes against its length), on what is known now:
  // a property the template leaves out has its default, as the engine will give it.
  if (t.type.check) {
    const known = knownProps(pm, ctx);
    for (const [k, s] of Object.entries(t.type.properties ?? {})) if (!(k in pm) && s.default !== undefined) known[k] = s.default as Json;
    t.type.check(known, (k, message) => fail(k ? joinPath(ppath, k) : ppath, message));
  }
  if (!t.type.countedMembers) return 1;
  // Group types carry a member definition that is validated like a resource of its own.
  let count: Json = 1; // the default
  if (pm.count !== undefined) {
    try {
      count = resolve(pm.count, ctx);
    } catch {
      count = null; // depends on something only known at create time: the engine checks it then
    }
    if (count !== null && (!Number.isInteger(Number(count)) || Number(count) < 0 || Number(count) > MAX_GROUP_COUNT)) {
      fail(joinPath(ppath, 'count'), `count must be an integer from 0 to ${MAX_GROUP_COUNT} (max_resources_per_stack is ${MAX_RESOURCES_PER_STACK}), not ${JSON.stringify(count)}`);
    }
  }
  let member = 1;
  const def = pm.resource_def;
  if (def !== undefined && !(def instanceof Call) && isMapping(def as Json)) {
    const d = def as { [k: string]: Node };
    const dpath = joinPath(ppath, 'resource_def');
    const typeName = d.type instanceof Call ? resolve(d.type, ctx) : d.type;
    if (typeof typeName !== 'string') return fail(joinPath(dpath, 'type'), 'resource_def needs a type');
    // As Heat does, the member is validated as member "0" (index_var replaced).
    const indexVar = typeof pm.index_var === 'string' ? pm.index_var : '%index%';
    const m = { name: defn.name, type: typeName, path: dpath, properties: replaceIndex(d.properties ?? {}, indexVar) };
    const mt = resolveResourceType(m, tmpl, run, run.parsed);
    member = validateDefinition(m, mt, tmpl, run, ctx, chain);
  }
  const size = 1 + Number(count ?? 1) * member;
  if (size > MAX_RESOURCES_PER_STACK) {
    fail(joinPath(ppath, 'count'), `count ${String(count)} makes ${defn.name} ${size} resources counting its members' nested resources, more than ${MAX_RESOURCES_PER_STACK} (max_resources_per_stack)`);
  }
  return size;
}

/** The properties whose values are known at validation: no resource attribute, no missing parameter. */
export function knownProps(pm: { [k: string]: Node }, ctx: FnContext): JsonMap {
  const out: JsonMap = {};
  for (const [k, v] of Object.entries(pm)) {
    if (!hasCalls(v)) out[k] = v as Json;
    else if (!dependencies(v).length) {
      try {
        const value = resolve(v, ctx);
        if (value !== null) out[k] = value;
      } catch {
        // known only at create time
      }
    }
  }
  return out;
}

export function checkPropType(name: string, s: PropSchema, v: Json, path: string, fail: (p: string, m: string) => never): void {
  if (v === null) return;
  const bad = (what: string) => fail(path, `Property error: ${name}: Value must be ${what}, not ${JSON.stringify(v).slice(0, 60)}`);
  switch (s.type) {
    case 'string':
      if (typeof v === 'object') bad('a string');
      break;
    case 'integer':
      if (!Number.isInteger(typeof v === 'string' ? Number(v) : v)) bad('an integer');
      break;
    case 'number':
      if (typeof v === 'string' ? !Number.isFinite(Number(v)) : typeof v !== 'number') bad('a number');
      break;
    case 'boolean':
      if (typeof v !== 'boolean' && !['true', 'false', 'True', 'False'].includes(String(v))) bad('a boolean');
      break;
    case 'map':
      if (!isMapping(v)) bad('a map');
      break;
    case 'list':
      if (!Array.isArray(v) && typeof v !== 'string') bad('a list');
      break;
    case 'any':
      break;
  }
  if (s.allowed && !s.allowed.some((a) => a === v)) fail(path, `Property error: ${name}: "${String(v)}" is not an allowed value [${s.allowed.join(', ')}]`);
}

export function replaceIndex(node: Node, indexVar: string): Node {
  if (typeof node === 'string') return node.split(indexVar).join('0');
  if (node instanceof Call || node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map((n) => replaceIndex(n, indexVar));
  const out: { [k: string]: Node } = {};
  for (const [k, v] of Object.entries(node)) out[k] = replaceIndex(v, indexVar);
  return out;
}
