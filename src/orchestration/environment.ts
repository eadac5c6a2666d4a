// Environments: parameters, parameter_defaults and the resource registry (type aliases, template
// resources from files, per-resource overrides). Several environments merge the way heatclient's
// deep_update merges `-e` files: maps merge key by key, later files win, a null never erases a map.
import { ValidationError } from '../common/errors.js';
import { badHooks } from './hooks.js';
import { errorAt, isMapping, parseSource, joinPath, type Json, type JsonMap, type SourceDoc } from './yaml-source.js';

export const ENV_SECTIONS = [
  'parameters',
  'parameter_defaults',
  'resource_registry',
  'encrypted_param_names',
  'event_sinks',
  'parameter_merge_strategies',
];

export interface Environment {
  parameters: JsonMap;
  parameter_defaults: JsonMap;
  resource_registry: JsonMap;
  [k: string]: Json;
}

export function emptyEnvironment(): Environment {
  return { parameters: {}, parameter_defaults: {}, resource_registry: {} };
}

/** Checks an environment document's shape; errors name the file, line and path. */
export function checkEnvironment(doc: SourceDoc): Environment {
  const data = doc.data ?? {};
  if (!isMapping(data)) throw errorAt(doc, '', 'The environment is not a valid YAML mapping data type.');
  for (const key of Object.keys(data)) {
    if (!ENV_SECTIONS.includes(key)) throw errorAt(doc, key, `environment has wrong section "${key}"`);
  }
  for (const key of ['parameters', 'parameter_defaults', 'resource_registry']) {
    const v = data[key];
    if (v !== undefined && v !== null && !isMapping(v)) throw errorAt(doc, key, `"${key}" must be a map`);
  }
  const rr = (data.resource_registry ?? {}) as JsonMap;
  for (const [k, v] of Object.entries(rr)) {
    if (k === 'resources') {
      if (!isMapping(v)) throw errorAt(doc, 'resource_registry.resources', '"resources" must be a map of resource names');
      const bad = badHooks(v);
      if (bad) throw errorAt(doc, bad.path, bad.message);
      continue;
    }
    if (k === 'base_url') continue;
    if (v !== null && typeof v !== 'string') throw errorAt(doc, joinPath('resource_registry', k), 'a registry entry maps a type to a type name or a template file');
  }
  return { ...emptyEnvironment(), ...(data as JsonMap), parameters: (data.parameters ?? {}) as JsonMap, parameter_defaults: (data.parameter_defaults ?? {}) as JsonMap, resource_registry: rr } as Environment;
}

export function parseEnvironment(text: string, file: string): Environment {
  return checkEnvironment(parseSource(text, file));
}

/** heatclient's deep_update. */
export function deepUpdate(old: JsonMap, next: JsonMap): JsonMap {
  const out: JsonMap = { ...old };
  for (const [k, v] of Object.entries(next)) {
    if (isMapping(v)) out[k] = deepUpdate(isMapping(out[k] ?? null) ? (out[k] as JsonMap) : {}, v);
    else if (v === null && isMapping(out[k] ?? null)) continue;
    else out[k] = v;
  }
  return out;
}

export function mergeEnvironments(envs: Environment[]): Environment {
  let out: JsonMap = emptyEnvironment() as unknown as JsonMap;
  for (const e of envs) out = deepUpdate(out, e as unknown as JsonMap);
  return out as unknown as Environment;
}

/** What a type name maps to after the registry: a built-in type, or a template file. */
export type RegistryTarget = { kind: 'type'; type: string } | { kind: 'template'; file: string };

function isTemplateFile(name: string): boolean {
  return /\.(ya?ml|template|json)$/.test(name) || /^[a-z]+:\/\//.test(name);
}

function globMatch(pattern: string, name: string): string | undefined {
  if (!pattern.endsWith('*')) return undefined;
  const prefix = pattern.slice(0, -1);
  return name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
}

/** Follows registry aliases (resource-specific entries first) to a built-in type or a template. */
export function resolveType(env: Environment, type: string, resourceName?: string): RegistryTarget {
  const rr = env.resource_registry;
  let current = type;
  const seen = new Set<string>();
  for (let depth = 0; depth < 20; depth++) {
    if (seen.has(current)) throw new ValidationError(`resource_registry: alias loop for type "${type}": ${[...seen, current].join(' -> ')}`);
    seen.add(current);
    const perResource = resourceName !== undefined ? ((rr.resources as JsonMap | undefined)?.[resourceName] as JsonMap | undefined) : undefined;
    let next: Json | undefined = isMapping(perResource ?? null) ? (perResource as JsonMap)[current] : undefined;
    if (next === undefined) next = rr[current];
    if (next === undefined) {
      for (const [pattern, target] of Object.entries(rr)) {
        const rest = typeof target === 'string' ? globMatch(pattern, current) : undefined;
        if (rest !== undefined && typeof target === 'string') {
          next = target.endsWith('*') ? target.slice(0, -1) + rest : target;
          break;
        }
      }
    }
    if (next === undefined || next === null || next === current) {
      return isTemplateFile(current) ? { kind: 'template', file: current } : { kind: 'type', type: current };
    }
    if (typeof next !== 'string') throw new ValidationError(`resource_registry: entry for "${current}" must be a string`);
    if (isTemplateFile(next)) return { kind: 'template', file: next };
    current = next;
  }
  throw new ValidationError(`resource_registry: aliases for "${type}" are nested too deeply`);
}
