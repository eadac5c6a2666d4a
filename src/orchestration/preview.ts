// POST …/stacks/preview: the stack and resources a create would make, without making them, in
// the shape heatclient's `stack create --dry-run` reads. The stack has no id yet ('None', as
// Heat writes it); properties are evaluated with the parameters (references to other resources
// and their attributes are null: nothing exists yet) and filled with the types' defaults.
import { dependencies, resolve, type Node } from './functions.js';
import type { Environment } from './environment.js';
import type { ResourceRegistry } from './registry.js';
import { conditionHolds, makeContext, parameterValues, type ParsedTemplate } from './template.js';
import { resolveResourceType } from './validate.js';
import type { Json, JsonMap } from './yaml-source.js';

const NO_ID = 'None';

export interface PreviewInput {
  tmpl: ParsedTemplate;
  env: Environment;
  files: Record<string, string>;
  given: JsonMap;
  registry: ResourceRegistry;
  stackName: string;
  projectId: string;
}

export function previewStack(input: PreviewInput): { parameters: JsonMap; resources: JsonMap[] } {
  const { tmpl, env, files, registry, stackName, projectId } = input;
  const params = parameterValues(tmpl, env, input.given, { requireValues: false });
  const ctx = makeContext({
    tmpl,
    params,
    files,
    stack: { id: NO_ID, name: stackName, projectId },
    validating: false,
    resources: { has: (n) => tmpl.resources.has(n), attributeNames: () => undefined, ref: () => null, attr: () => null },
  });
  const defs = [...tmpl.resources.values()].filter((d) => conditionHolds(d.condition, ctx, `${d.path}.condition`));
  const requiredBy = new Map<string, string[]>(defs.map((d) => [d.name, []]));
  for (const d of defs) {
    for (const dep of new Set([...d.dependsOn, ...dependencies(d.properties as Node)])) requiredBy.get(dep)?.push(d.name);
  }
  const stackIdentity = { stack_name: stackName, stack_id: NO_ID, tenant: projectId, path: '' };
  const resources = defs.map((d) => {
    const resolved = resolveResourceType(d, tmpl, { registry, env, files });
    const schema = resolved.kind === 'plugin' ? resolved.type.properties : undefined;
    const value = resolve(d.properties as Node, ctx);
    const properties: JsonMap = value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...value } : {};
    for (const [k, s] of Object.entries(schema ?? {})) if (properties[k] === undefined && s.default !== undefined) properties[k] = s.default;
    const attrNames = resolved.kind === 'plugin' ? (resolved.type.attributes ?? []) : [...resolved.tmpl.outputs.keys()];
    const attributes: Record<string, Json> = Object.fromEntries(attrNames.map((a) => [a, null]));
    return {
      stack_name: stackName,
      resource_name: d.name,
      resource_type: d.type,
      resource_action: 'INIT',
      resource_status: 'COMPLETE',
      resource_status_reason: '',
      physical_resource_id: '',
      description: '',
      creation_time: null,
      updated_time: null,
      required_by: requiredBy.get(d.name) ?? [],
      properties,
      attributes,
      metadata: {},
      resource_identity: { ...stackIdentity, path: `/resources/${d.name}` },
      stack_identity: stackIdentity,
    } as JsonMap;
  });
  const parameters: JsonMap = { 'OS::stack_id': NO_ID, 'OS::stack_name': stackName, 'OS::project_id': projectId };
  // As stack show writes them: text, hidden ones masked.
  for (const [k, v] of params) parameters[k] = tmpl.params.get(k)?.hidden ? '******' : typeof v === 'string' ? v : JSON.stringify(v);
  return { parameters, resources };
}
