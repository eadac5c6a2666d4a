// The parts of POST /validate's answer beyond the template's own parameters: the environment as
// the request set it (`Environment`) and, with show_nested, the parameters of every nested
// template (`NestedParameters`). Called only after validateStack has accepted the whole tree, so
// nesting depth, cycles and sizes are already within the limits validation enforces.
import { Call, resolve, type FnContext, type Node } from './functions.js';
import type { Environment } from './environment.js';
import type { ResourceRegistry } from './registry.js';
import { conditionHolds, makeContext, parameterValues, type ParsedTemplate } from './template.js';
import { knownProps, replaceIndex, resolveResourceType, VALIDATION_STACK } from './validate.js';
import { validationView } from './views.js';
import { isMapping, joinPath, type Json, type JsonMap } from './yaml-source.js';

export interface ReportOptions {
  registry: ResourceRegistry;
  env: Environment;
  files: Record<string, string>;
}

/** Heat names a template file as a type by these endings (and then registers it as itself). */
function isTemplateTypeName(type: string): boolean {
  return type.endsWith('.yaml') || type.endsWith('.template');
}

/**
 * The user environment as Heat reports it: its four user sections only, the registry without
 * null (erased) entries and always with `resources`, plus each template file the top-level
 * template uses directly as a type, mapped to itself (Heat registers those while loading it;
 * nested templates get a copy of the environment, so theirs do not show).
 */
export function userEnvironment(env: Environment, tmpl: ParsedTemplate): JsonMap {
  const registry: JsonMap = {};
  for (const [k, v] of Object.entries(env.resource_registry)) if (v !== null) registry[k] = v;
  if (!isMapping(registry.resources ?? null)) registry.resources = {};
  for (const defn of tmpl.resources.values()) {
    if (isTemplateTypeName(defn.type) && registry[defn.type] === undefined) registry[defn.type] = defn.type;
  }
  const sinks = env.event_sinks;
  return {
    event_sinks: Array.isArray(sinks) ? sinks : [],
    parameter_defaults: env.parameter_defaults,
    parameters: env.parameters,
    resource_registry: registry,
  };
}

/** The values a caller set for a template's parameters (Heat's "Value"), by name. */
export function givenValues(tmpl: ParsedTemplate, given: JsonMap): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [k, v] of Object.entries(given)) if (tmpl.params.has(k) && v !== null && v !== undefined) out.set(k, v);
  return out;
}

/**
 * NestedParameters: per enabled template resource, its type, the nested template's description,
 * parameters (Value: what the resource's properties pass, where known without creating
 * anything), parameter groups, and its own nested templates; per resource group, its member
 * "0" the same way. Undefined when there are none.
 */
export function nestedParameters(tmpl: ParsedTemplate, opts: ReportOptions, given: JsonMap = {}, nested = false): JsonMap | undefined {
  const cache = new Map<string, ParsedTemplate>();
  return walk(tmpl, opts, given, nested, cache);
}

function walk(tmpl: ParsedTemplate, opts: ReportOptions, given: JsonMap, nested: boolean, cache: Map<string, ParsedTemplate>): JsonMap | undefined {
  const params = parameterValues(tmpl, opts.env, given, { requireValues: false, nested });
  const ctx = makeContext({
    tmpl,
    params,
    files: opts.files,
    stack: VALIDATION_STACK,
    validating: true,
    // Only literal and parameter-derived property values are reported: resources do not exist.
    resources: { has: (n) => tmpl.resources.has(n), attributeNames: () => undefined, ref: () => null, attr: () => null },
  });
  for (const name of tmpl.conditions.keys()) ctx.condition(name, joinPath('conditions', name));
  const out: JsonMap = {};
  for (const defn of tmpl.resources.values()) {
    if (!conditionHolds(defn.condition, ctx, joinPath(defn.path, 'condition'))) continue;
    const entry = entryFor(defn, tmpl, opts, ctx, cache);
    if (entry) out[defn.name] = entry;
  }
  return Object.keys(out).length ? out : undefined;
}

type Defn = { name: string; type: string; path: string; properties: Node };

function entryFor(defn: Defn, tmpl: ParsedTemplate, opts: ReportOptions, ctx: FnContext, cache: Map<string, ParsedTemplate>): JsonMap | undefined {
  const t = resolveResourceType(defn, tmpl, opts, cache);
  const props = defn.properties instanceof Call || !isMapping(defn.properties as Json) ? {} : (defn.properties as { [k: string]: Node });
  if (t.kind === 'plugin') {
    // A group reports the stack Heat validates it with: one member, named "0", in a template
    // of its own (no description, no parameters).
    if (!t.type.countedMembers) return undefined;
    const def = props.resource_def;
    if (def === undefined || def instanceof Call || !isMapping(def as Json)) return undefined;
    const d = def as { [k: string]: Node };
    let type: Json;
    try {
      type = d.type instanceof Call ? resolve(d.type, ctx) : (d.type as Json);
    } catch {
      return undefined; // known only at create time
    }
    if (typeof type !== 'string') return undefined;
    const indexVar = typeof props.index_var === 'string' ? props.index_var : '%index%';
    const member = entryFor({ name: '0', type, path: joinPath(defn.path, 'properties.resource_def'), properties: replaceIndex(d.properties ?? {}, indexVar) }, tmpl, opts, ctx, cache);
    const entry: JsonMap = { Type: defn.type, Description: 'No description', Parameters: {} };
    if (member) entry.NestedParameters = { '0': member };
    return entry;
  }
  const values = givenValues(t.tmpl, knownProps(props, ctx));
  const entry: JsonMap = { Type: defn.type, ...validationView(t.tmpl, values, opts.env.parameter_defaults) };
  const deeper = walk(t.tmpl, opts, Object.fromEntries(values), true, cache);
  if (deeper) entry.NestedParameters = deeper;
  return entry;
}
