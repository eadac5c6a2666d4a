// What the read routes answer for a stack: resource list, event list and stack show, as
// functions of the engine so the API and the benchmark run the same code.
import { fromJson } from '../common/db.js';
import type { Engine } from './engine.js';
import type { EventTable, ResourceTable, StackTable } from './migrations.js';
import { eventView, resourceView, stackView } from './views.js';
import type { JsonMap } from './yaml-source.js';

/** The template's description ('' when the stored template no longer parses). */
export function stackDescription(engine: Engine, row: StackTable): string {
  try {
    return engine.prepare(row, false).tmpl.description;
  } catch {
    return '';
  }
}

/**
 * required_by of every resource of one stack: each row's `requires` is parsed once and inverted
 * (filtering all rows for each resource made a 1,000-resource list quadratic).
 */
export function requiredByMap(rows: readonly ResourceTable[]): Map<string, string[]> {
  const out = new Map<string, string[]>(rows.map((r) => [r.name, []]));
  for (const x of rows) {
    for (const name of new Set(fromJson<string[]>(x.requires, []))) out.get(name)?.push(x.name);
  }
  return out;
}

/** GET .../resources: the stack's resources, and those of nested stacks down to `depth`. */
export async function resourceList(engine: Engine, stack: StackTable, depth: number, base: string): Promise<JsonMap[]> {
  const out: JsonMap[] = [];
  const visit = async (s: StackTable, level: number, parentName?: string) => {
    const rows = await engine.resources(s.id);
    const requiredBy = requiredByMap(rows);
    const children = await engine.childStackNames(s.id);
    for (const r of rows) {
      const v = resourceView(r, s, base, requiredBy.get(r.name) ?? [], r.physical_id ? children.get(r.physical_id) : undefined);
      if (parentName) v.parent_resource = parentName;
      out.push(v);
      if (level < depth && r.physical_id) {
        const child = await engine.getStack(r.physical_id);
        if (child && child.owner_id === s.id) await visit(child, level + 1, r.name);
      }
    }
  };
  await visit(stack, 0);
  return out;
}

const RESOURCE_FILTERS = ['name', 'status', 'action', 'type', 'id', 'physical_resource_id'] as const;

/**
 * Heat's resource list filters (`?name=a&name=b&status=COMPLETE`): each given key must match one
 * of its values; `status` and `action` are the two halves of resource_status, `id` the physical id.
 */
export function filterResources(list: JsonMap[], query: Record<string, unknown>): JsonMap[] {
  const wanted = RESOURCE_FILTERS.flatMap((k) => {
    const v = query[k];
    if (v === undefined) return [];
    return [[k, (Array.isArray(v) ? v : [v]).map(String)] as const];
  });
  if (!wanted.length) return list;
  const field = (r: JsonMap, k: (typeof RESOURCE_FILTERS)[number]): ((v: string) => boolean) => {
    const st = String(r.resource_status);
    if (k === 'name') return (v) => r.resource_name === v;
    if (k === 'type') return (v) => r.resource_type === v;
    if (k === 'status') return (v) => st.endsWith(`_${v}`);
    if (k === 'action') return (v) => st.startsWith(`${v}_`);
    return (v) => r.physical_resource_id === v;
  };
  return list.filter((r) => wanted.every(([k, vs]) => vs.some(field(r, k))));
}

export interface EventQuery {
  resource_status?: string;
  sort_dir?: string;
  marker?: string;
  limit?: string;
}

/** GET .../events (or a resource's events): Heat's filters, order, marker and limit. */
export async function eventList(engine: Engine, stack: StackTable, resourceName: string | undefined, q: EventQuery, base: string): Promise<JsonMap[]> {
  let list: EventTable[] = await engine.events(stack.id, resourceName);
  if (q.resource_status) list = list.filter((e) => `${e.action}_${e.status}`.includes(String(q.resource_status)));
  if (q.sort_dir === 'desc') list = list.reverse();
  if (q.marker) {
    const i = list.findIndex((e) => e.id === q.marker);
    if (i >= 0) list = list.slice(i + 1);
  }
  if (q.limit) list = list.slice(0, Number(q.limit));
  return list.map((e) => eventView(e, stack, base));
}

/** GET .../stacks/<name>/<id>: the stack with its parameters and (when settled) outputs. */
export async function stackShow(engine: Engine, row: StackTable, base: string): Promise<JsonMap> {
  // One preparation for the description and the parameters ('' and none when it no longer parses).
  let description = '';
  let parameters: JsonMap = {};
  try {
    const p = engine.prepare(row, false);
    description = p.tmpl.description;
    for (const [k, v] of p.params) parameters[k] = p.tmpl.params.get(k)?.hidden ? '******' : typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    parameters = {};
  }
  const view = stackView(row, base, description);
  const outputs = row.status === 'COMPLETE' || row.status === 'FAILED' ? await engine.outputs(row) : [];
  Object.assign(parameters, { 'OS::stack_name': row.name, 'OS::stack_id': row.id, 'OS::project_id': row.project_id });
  return {
    ...view,
    parameters,
    outputs,
    template_description: description,
    disable_rollback: row.disable_rollback === 1,
    timeout_mins: row.timeout_mins,
    capabilities: [],
    notification_topics: [],
  };
}
