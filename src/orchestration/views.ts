// Heat v1 wire shapes for stacks, resources, events and software configs.
import { fromJson } from '../common/db.js';
import type { EventTable, ResourceTable, StackTable } from './migrations.js';
import type { ParamSchema } from './parameters.js';
import type { ParsedTemplate } from './template.js';
import type { Json, JsonMap } from './yaml-source.js';

export function stackStatus(row: { action: string; status: string }): string {
  return `${row.action}_${row.status}`;
}

export function stackView(row: StackTable, base: string, description = ''): JsonMap {
  return {
    id: row.id,
    stack_name: row.name,
    description,
    creation_time: row.created_at.replace(/\.\d+Z$/, 'Z'),
    updated_time: row.updated_at?.replace(/\.\d+Z$/, 'Z') ?? null,
    deletion_time: row.deleted_at?.replace(/\.\d+Z$/, 'Z') ?? null,
    stack_status: stackStatus(row),
    stack_status_reason: row.status_reason,
    stack_owner: null,
    parent: row.owner_id,
    stack_user_project_id: row.project_id,
    project: row.project_id,
    tags: fromJson<string[]>(row.tags, []).length ? fromJson<string[]>(row.tags, []) : null,
    links: [{ href: `${base}/stacks/${row.name}/${row.id}`, rel: 'self' }],
  };
}

/** `nestedName`: the name of the nested stack the resource is (its link is name/id, as Heat's). */
export function resourceView(row: ResourceTable, stack: StackTable, base: string, requiredBy: string[], nestedName?: string): JsonMap {
  const stackHref = `${base}/stacks/${stack.name}/${stack.id}`;
  const links: JsonMap[] = [
    { href: `${stackHref}/resources/${row.name}`, rel: 'self' },
    { href: stackHref, rel: 'stack' },
  ];
  if (nestedName !== undefined && row.physical_id) links.push({ href: `${base}/stacks/${nestedName}/${row.physical_id}`, rel: 'nested' });
  return {
    resource_name: row.name,
    logical_resource_id: row.name,
    physical_resource_id: row.physical_id ?? '',
    resource_type: row.type,
    resource_status: stackStatus(row),
    resource_status_reason: row.status_reason,
    creation_time: row.created_at.replace(/\.\d+Z$/, 'Z'),
    updated_time: (row.updated_at ?? row.created_at).replace(/\.\d+Z$/, 'Z'),
    required_by: requiredBy,
    stack_name: stack.name,
    links,
  };
}

export function eventView(e: EventTable, stack: StackTable, base: string): JsonMap {
  const stackHref = `${base}/stacks/${stack.name}/${stack.id}`;
  return {
    id: e.id,
    event_time: e.created_at.replace(/\.\d+Z$/, 'Z'),
    resource_name: e.resource_name,
    logical_resource_id: e.resource_name,
    physical_resource_id: e.physical_id ?? '',
    resource_status: `${e.action}_${e.status}`,
    resource_status_reason: e.reason,
    resource_type: e.resource_type,
    stack_name: stack.name,
    links: [
      { href: `${stackHref}/resources/${e.resource_name}/events/${e.id}`, rel: 'self' },
      { href: `${stackHref}/resources/${e.resource_name}`, rel: 'resource' },
      { href: stackHref, rel: 'stack' },
    ],
  };
}

const HEAT_TYPES: Record<string, string> = {
  string: 'String',
  number: 'Number',
  json: 'Json',
  comma_delimited_list: 'CommaDelimitedList',
  boolean: 'Boolean',
};

function paramView(p: ParamSchema, value?: Json, envDefault?: Json): JsonMap {
  const out: JsonMap = {
    Type: HEAT_TYPES[p.type] ?? p.type,
    Description: p.description ?? '',
    Label: p.label ?? p.name,
    NoEcho: p.hidden ? 'true' : 'false',
  };
  // The environment's parameter_defaults replace the template's default, as at create.
  const dflt = envDefault ?? p.default;
  if (dflt !== undefined) out.Default = dflt;
  if (value !== undefined) out.Value = value;
  for (const c of p.constraints) {
    if (c.allowed_values) out.AllowedValues = c.allowed_values;
    if (c.allowed_pattern) out.AllowedPattern = c.allowed_pattern;
    if (c.length) Object.assign(out, isMinMax(c.length, 'Length'));
    if (c.range) Object.assign(out, isMinMax(c.range, 'Value'));
    if (c.description) out.ConstraintDescription = c.description;
  }
  return out;
}

function isMinMax(v: Json, what: string): JsonMap {
  const m = (v ?? {}) as JsonMap;
  const out: JsonMap = {};
  if (m.min !== undefined) out[`Min${what}`] = m.min;
  if (m.max !== undefined) out[`Max${what}`] = m.max;
  return out;
}

/**
 * A template's part of POST /validate's answer, as Heat returns it: `values` are what the caller
 * set (reported as Value), `defaults` the environment's parameter_defaults.
 */
export function validationView(t: ParsedTemplate, values?: Map<string, Json>, defaults?: JsonMap): JsonMap {
  const params: JsonMap = {};
  for (const p of t.params.values()) params[p.name] = paramView(p, values?.get(p.name) ?? undefined, defaults?.[p.name] ?? undefined);
  const out: JsonMap = { Description: t.description || 'No description', Parameters: params };
  if (Array.isArray(t.paramGroups) && t.paramGroups.length) out.ParameterGroups = t.paramGroups;
  return out;
}
