// A HOT template parsed into definitions (sections checked, snippets parsed into function trees),
// plus the evaluation context functions run in. Validation of a whole stack (types, properties,
// references, nested templates) is in validate.ts.
import { checkDepth, errorAt, isMapping, joinPath, parseSource, type Json, type JsonMap, type SourceDoc } from './yaml-source.js';
import { Call, parseSnippet, resolve, type FnContext, type Node, PSEUDO_PARAMS } from './functions.js';
import { hotVersion, HOT_VERSIONS, VERSION_ALIASES, type HotVersion } from './versions.js';
import { parseParamSchema, convertParam, checkConstraints, type ParamSchema, type CustomConstraintLookup } from './parameters.js';
import type { Environment } from './environment.js';
import type { ValidationError } from '../common/errors.js';
import { MAX_RESOURCES_PER_STACK } from './limits.js';
import { PatternBudget } from './user-regex.js';
import { cachedTemplate } from './template-cache.js';

export interface ResourceDefn {
  name: string;
  type: string;
  properties: Node;
  metadata: Node;
  dependsOn: string[];
  updatePolicy: Node;
  deletionPolicy: 'Delete' | 'Retain' | 'Snapshot';
  condition?: Node;
  path: string;
}

export interface OutputDefn {
  name: string;
  value: Node;
  description?: string;
  condition?: Node;
  path: string;
}

export interface ParsedTemplate {
  doc: SourceDoc;
  version: HotVersion;
  description: string;
  params: Map<string, ParamSchema>;
  paramGroups: Json;
  resources: Map<string, ResourceDefn>;
  outputs: Map<string, OutputDefn>;
  conditions: Map<string, Node>;
}

const RESOURCE_KEYS = ['type', 'properties', 'metadata', 'depends_on', 'update_policy', 'deletion_policy', 'condition', 'external_id'];
const DELETION_POLICIES: Record<string, ResourceDefn['deletionPolicy']> = {
  Delete: 'Delete',
  delete: 'Delete',
  Retain: 'Retain',
  retain: 'Retain',
  Snapshot: 'Snapshot',
  snapshot: 'Snapshot',
};

export type Fail = (path: string, message: string) => never;

export function failer(doc: SourceDoc): Fail {
  return (path, message) => {
    throw errorAt(doc, path, message);
  };
}

export function loadTemplate(text: string | JsonMap, file: string): ParsedTemplate {
  // Text is parsed once per content (template-cache.ts); a map is the caller's own object.
  if (typeof text === 'string') return cachedTemplate('text', file, text, () => parseText(text, file));
  checkDepth(text, file);
  return parseTemplate({ file, data: text, lines: new Map() });
}

function parseText(text: string, file: string): ParsedTemplate {
  // heatclient sends nested templates as one-line JSON: its "line 1" would be noise.
  const doc: SourceDoc = text.includes('\n') || !text.trimStart().startsWith('{') ? parseSource(text, file) : { ...parseSource(text, file), lines: new Map() };
  return parseTemplate(doc);
}

export function parseTemplate(doc: SourceDoc): ParsedTemplate {
  const fail: Fail = failer(doc);
  const data = doc.data;
  if (!isMapping(data)) fail('', 'The template is not a JSON object or YAML mapping.');
  const m = data as JsonMap;
  if (m.heat_template_version === undefined) {
    if ('HeatTemplateFormatVersion' in m || 'AWSTemplateFormatVersion' in m) {
      fail('', 'CloudFormation-format templates (HeatTemplateFormatVersion/AWSTemplateFormatVersion) are not supported; use HOT (heat_template_version)');
    }
    fail('', 'Template format version not found: the template has no "heat_template_version"');
  }
  const found = hotVersion(m.heat_template_version);
  if (!found) {
    // Heat's wording leads (clients and heat-tempest-plugin match on it), then what is allowed.
    fail('heat_template_version', `The template version is invalid: "heat_template_version: ${String(m.heat_template_version)}" is not supported; valid versions: ${[...Object.keys(HOT_VERSIONS), ...Object.keys(VERSION_ALIASES)].join(', ')}`);
  }
  const version: HotVersion = found;
  for (const key of Object.keys(m)) {
    if (!version.sections.includes(key)) fail(key, `The template section is invalid: ${key}`);
  }
  const parse = (raw: Json | undefined, path: string): Node => parseSnippet(raw ?? null, version.functions, path, version.version, fail);

  const params = new Map<string, ParamSchema>();
  const rawParams = m.parameters ?? {};
  if (!isMapping(rawParams)) fail('parameters', 'The "parameters" section must be a map');
  for (const [name, raw] of Object.entries(rawParams as JsonMap)) {
    params.set(name, parseParamSchema(name, raw, joinPath('parameters', name), fail));
  }

  const conditions = new Map<string, Node>();
  const rawConds = m.conditions ?? {};
  if (!isMapping(rawConds)) fail('conditions', 'The "conditions" section must be a map');
  for (const [name, raw] of Object.entries(rawConds as JsonMap)) {
    const node = parse(raw, joinPath('conditions', name));
    checkConditionFunctions(node, version, fail);
    conditions.set(name, node);
  }

  const resources = new Map<string, ResourceDefn>();
  const rawRes = m.resources ?? {};
  if (!isMapping(rawRes)) fail('resources', 'The "resources" section must be a map');
  const resEntries = Object.entries(rawRes as JsonMap);
  // Checked before anything is done per resource; nested stacks count towards it too (validate.ts).
  if (resEntries.length > MAX_RESOURCES_PER_STACK) fail('resources', `a template may define at most ${MAX_RESOURCES_PER_STACK} resources (max_resources_per_stack), not ${resEntries.length}`);
  for (const [name, raw] of resEntries) {
    const path = joinPath('resources', name);
    if (!isMapping(raw)) fail(path, `Each resource must contain a type key; "${name}" is not a map`);
    const r = raw as JsonMap;
    for (const k of Object.keys(r)) {
      if (!RESOURCE_KEYS.includes(k) || (k === 'condition' && !version.sections.includes('conditions'))) {
        fail(joinPath(path, k), `"${k}" is not a valid keyword inside a resource definition`);
      }
    }
    if (typeof r.type !== 'string' || r.type === '') fail(joinPath(path, 'type'), `Resource ${name} type must be a string`);
    let dependsOn: string[] = [];
    if (r.depends_on !== undefined && r.depends_on !== null) {
      const d = r.depends_on;
      dependsOn = Array.isArray(d) ? (d as Json[]).map(String) : typeof d === 'string' ? [d] : fail(joinPath(path, 'depends_on'), 'depends_on must be a resource name or a list of them');
    }
    if (r.properties !== undefined && r.properties !== null && !isMapping(r.properties)) {
      const p = r.properties;
      // A function call returning the whole properties map is allowed (parsed below).
      if (!(isMapping(p) || (isMapping(p) && Object.keys(p).length === 1))) fail(joinPath(path, 'properties'), `"properties" of ${name} must be a map`);
    }
    const dp = r.deletion_policy === undefined ? 'Delete' : DELETION_POLICIES[String(r.deletion_policy)];
    if (!dp) return fail(joinPath(path, 'deletion_policy'), `Invalid deletion policy "${String(r.deletion_policy)}"; expected Delete, Retain or Snapshot`);
    if (r.metadata !== undefined && r.metadata !== null && !isMapping(r.metadata)) fail(joinPath(path, 'metadata'), '"metadata" must be a map');
    if (r.update_policy !== undefined && r.update_policy !== null && !isMapping(r.update_policy)) fail(joinPath(path, 'update_policy'), '"update_policy" must be a map');
    resources.set(name, {
      name,
      type: r.type as string,
      properties: parse(r.properties ?? {}, joinPath(path, 'properties')),
      metadata: parse(r.metadata ?? {}, joinPath(path, 'metadata')),
      dependsOn,
      updatePolicy: parse(r.update_policy ?? {}, joinPath(path, 'update_policy')),
      deletionPolicy: dp,
      condition: r.condition === undefined ? undefined : parse(r.condition, joinPath(path, 'condition')),
      path,
    });
  }

  const outputs = new Map<string, OutputDefn>();
  const rawOut = m.outputs ?? {};
  if (!isMapping(rawOut)) fail('outputs', 'The "outputs" section must be a map');
  for (const [name, raw] of Object.entries(rawOut as JsonMap)) {
    const path = joinPath('outputs', name);
    if (!isMapping(raw)) fail(path, `Output ${name} must be a map with a "value"`);
    const o = raw as JsonMap;
    for (const k of Object.keys(o)) if (!['value', 'description', 'condition'].includes(k)) fail(joinPath(path, k), `"${k}" is not a valid keyword inside an output definition`);
    outputs.set(name, {
      name,
      value: parse(o.value ?? null, joinPath(path, 'value')),
      description: typeof o.description === 'string' ? o.description : undefined,
      condition: o.condition === undefined ? undefined : parse(o.condition, joinPath(path, 'condition')),
      path,
    });
  }
  if (m.parameter_groups !== undefined && m.parameter_groups !== null && !Array.isArray(m.parameter_groups)) {
    fail('parameter_groups', '"parameter_groups" must be a list');
  }
  for (const [i, g] of ((m.parameter_groups ?? []) as Json[]).entries()) {
    const gp = joinPath('parameter_groups', i);
    if (!isMapping(g)) return fail(gp, 'a parameter group must be a map');
    const list = g.parameters;
    if (!Array.isArray(list)) return fail(joinPath(gp, 'parameters'), 'Parameters must be provided for each parameter group.');
    for (const p of list) if (!params.has(String(p))) fail(joinPath(gp, 'parameters'), `The grouped parameter ${String(p)} does not reference a valid parameter.`);
  }
  if (m.description !== undefined && typeof m.description !== 'string') fail('description', '"description" must be a string');
  return {
    doc,
    version,
    description: typeof m.description === 'string' ? m.description : '',
    params,
    paramGroups: m.parameter_groups ?? [],
    resources,
    outputs,
    conditions,
  };
}

function checkConditionFunctions(node: Node, version: HotVersion, fail: (p: string, m: string) => never): void {
  if (node instanceof Call) {
    if (!version.conditionFunctions.includes(node.name)) fail(node.path, `The function "${node.name}" is invalid in condition functions`);
    checkConditionFunctions(node.args, version, fail);
  } else if (Array.isArray(node)) node.forEach((n) => checkConditionFunctions(n, version, fail));
  else if (node !== null && typeof node === 'object') Object.values(node).forEach((n) => checkConditionFunctions(n, version, fail));
}

// ---- parameter values ----

export interface ParamValueOptions {
  /** Missing values (no default, none given) are errors (create) or null (validate). */
  requireValues: boolean;
  lookup?: CustomConstraintLookup;
  /** allowed_pattern work of the whole request (validation of all nested templates shares one). */
  budget?: PatternBudget;
  /** Nested stacks get values from properties, and env parameter_defaults; unknown env parameters are ignored there. */
  nested?: boolean;
}

/** Converted parameter values: given values, then parameter_defaults, then template defaults. */
export function parameterValues(tmpl: ParsedTemplate, env: Environment, given: JsonMap, opts: ParamValueOptions): Map<string, Json> {
  const fail: Fail = failer(tmpl.doc);
  const out = new Map<string, Json>();
  const budget = opts.budget ?? new PatternBudget();
  if (!opts.nested) {
    for (const name of Object.keys(given)) {
      if (!tmpl.params.has(name)) fail('parameters', `The Parameter (${name}) was not defined in template.`);
    }
  }
  for (const [name, schema] of tmpl.params) {
    const path = joinPath('parameters', name);
    let raw: Json | undefined = given[name];
    if (raw === undefined) raw = env.parameter_defaults[name];
    if (raw === undefined) raw = schema.default;
    if (raw === undefined || raw === null) {
      if (opts.requireValues) fail(path, `The Parameter (${name}) was not provided.`);
      out.set(name, null);
      continue;
    }
    const v = convertParam(schema, raw, path, fail);
    checkConstraints(schema, v, path, fail, opts.lookup, budget);
    out.set(name, v);
  }
  return out;
}

// ---- evaluation ----

export interface StackIdentity {
  id: string;
  name: string;
  projectId: string;
}

export interface ResourceView {
  has(name: string): boolean;
  attributeNames(name: string): readonly string[] | undefined;
  ref(name: string, path: string): Json;
  attr(name: string, attr: string | null, path: string): Json;
}

export interface Scope {
  tmpl: ParsedTemplate;
  params: Map<string, Json>;
  files: Record<string, string>;
  stack: StackIdentity;
  facade?: JsonMap;
  resources: ResourceView;
  validating: boolean;
  /** When set, a missing get_file target is reported here (and reads as '') instead of failing. */
  onMissingFile?: (err: ValidationError) => void;
}

/** Finds a file's content by its key, or relative to the template that asks for it. */
export function lookupFile(files: Record<string, string>, key: string, from: string): string | undefined {
  if (key in files) return files[key];
  try {
    const abs = new URL(key, from.includes('://') ? from : `file://${from.startsWith('/') ? '' : '/'}${from}`).href;
    return files[abs];
  } catch {
    return undefined;
  }
}

export function makeContext(scope: Scope): FnContext {
  const fail: Fail = failer(scope.tmpl.doc);
  const condCache = new Map<string, boolean>();
  const evaluating = new Set<string>();
  const ctx: FnContext = {
    version: scope.tmpl.version.version,
    validating: scope.validating,
    fail,
    hasParam: (name) => scope.tmpl.params.has(name) || PSEUDO_PARAMS.includes(name),
    param(name, path) {
      if (name === 'OS::stack_name') return scope.stack.name;
      if (name === 'OS::stack_id') return scope.stack.id;
      if (name === 'OS::project_id') return scope.stack.projectId;
      if (!scope.params.has(name)) fail(path, `The Parameter (${name}) was not defined in template.`);
      return scope.params.get(name) ?? null;
    },
    hasResource: (name) => scope.resources.has(name),
    attributeNames: (name) => scope.resources.attributeNames(name),
    resourceRef: (name, path) => scope.resources.ref(name, path),
    resourceAttr: (name, attr, path) => scope.resources.attr(name, attr, path),
    file(key, path) {
      const content = lookupFile(scope.files, key, scope.tmpl.doc.file);
      if (content !== undefined || !scope.onMissingFile) return content;
      scope.onMissingFile(errorAt(scope.tmpl.doc, path, missingFileMessage(key, scope.tmpl.doc.file)));
      return '';
    },
    facade(kind) {
      return (scope.facade?.[kind] ?? (kind === 'deletion_policy' ? 'Delete' : {})) as Json;
    },
    hasCondition: (name) => scope.tmpl.conditions.has(name),
    condition(name, path) {
      const cached = condCache.get(name);
      if (cached !== undefined) return cached;
      if (evaluating.has(name)) fail(path, `Circular condition "${name}"`);
      evaluating.add(name);
      const node = scope.tmpl.conditions.get(name);
      if (node === undefined) return fail(path, `Invalid condition "${name}"`);
      const v: Json = typeof node === 'string' ? ctx.condition(node, joinPath('conditions', name)) : resolve(node, ctx);
      evaluating.delete(name);
      if (typeof v !== 'boolean') fail(joinPath('conditions', name), `Condition "${name}" must evaluate to true or false`);
      condCache.set(name, v);
      return v;
    },
  };
  return ctx;
}

/** Whether a resource or output is enabled by its condition. */
export function conditionHolds(cond: Node | undefined, ctx: FnContext, path: string): boolean {
  if (cond === undefined || cond === null) return true;
  if (typeof cond === 'boolean') return cond;
  if (typeof cond === 'string') {
    if (!ctx.hasCondition(cond)) ctx.fail(path, `Invalid condition "${cond}"`);
    return ctx.condition(cond, path);
  }
  const v = resolve(cond, ctx);
  if (typeof v !== 'boolean') ctx.fail(path, 'a condition must evaluate to true or false');
  return v;
}

export function missingFileMessage(key: string, from: string): string {
  let where = key;
  try {
    where = new URL(key, from.includes('://') ? from : `file:///${from}`).href;
  } catch {
    /* keep the key */
  }
  return `get_file: no content found for "${key}" (looked for ${where}; the file is missing or was not sent in "files")`;
}
