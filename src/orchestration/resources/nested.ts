// Resources that are nested stacks: template resources (a type mapped to a template file by the
// environment, or a file name as type) and OS::Heat::ResourceGroup.
import { MAX_GROUP_COUNT, MAX_GROUP_TEMPLATE_BYTES } from '../limits.js';
import type { ResourcePlugin, ResourceType, RuntimeResource } from '../registry.js';
import { isMapping, type Json, type JsonMap } from '../yaml-source.js';

/** The plugin behind every template resource; `file` is the nested template's files key. */
export function templateResourcePlugin(file: string, content: string): ResourcePlugin {
  const spec = (r: RuntimeResource) => ({ template: content, params: r.properties, file });
  return {
    async create(r) {
      r.physicalId = await r.engine.applyNested(r, spec(r));
    },
    async update(r) {
      r.physicalId = await r.engine.applyNested(r, spec(r));
    },
    delete: (r) => r.engine.deleteNested(r),
    async attribute(r, name) {
      const outputs = await r.engine.nestedOutputs(r);
      if (name === 'OS::stack_id') return r.physicalId;
      if (name === null || name === 'show') return outputs as Json;
      return (outputs[name] ?? null) as Json;
    },
    reference: (r) => r.physicalId,
  };
}

function substituteIndex(v: Json, indexVar: string, index: string): Json {
  if (typeof v === 'string') return v.split(indexVar).join(index);
  if (Array.isArray(v)) return v.map((x) => substituteIndex(x, indexVar, index));
  if (isMapping(v)) {
    const out: JsonMap = {};
    for (const [k, x] of Object.entries(v)) out[k] = substituteIndex(x, indexVar, index);
    return out;
  }
  return v;
}

/** Member names for `count`, skipping names removed by removal_policies. */
export function memberNames(count: number, blacklist: readonly string[]): string[] {
  const out: string[] = [];
  const removed = new Set(blacklist);
  for (let i = 0; out.length < count; i++) if (!removed.has(String(i))) out.push(String(i));
  return out;
}

function groupSpec(r: RuntimeResource, updatePolicy: JsonMap | undefined, creating: boolean) {
  const count = Number(r.properties.count ?? 1);
  if (!Number.isInteger(count) || count < 0 || count > MAX_GROUP_COUNT) throw new Error(`count must be an integer from 0 to ${MAX_GROUP_COUNT}, not ${String(r.properties.count)}`);
  const def = (r.properties.resource_def ?? {}) as JsonMap;
  // Checked before any member is built: the generated template would be count copies of def.
  const defBytes = JSON.stringify(def).length;
  if (defBytes * count > MAX_GROUP_TEMPLATE_BYTES) {
    throw new Error(`the group would generate ${count} × ${defBytes} bytes of member definitions, more than ${MAX_GROUP_TEMPLATE_BYTES}; use fewer members or a smaller resource_def (put large values in a nested template's files)`);
  }
  const indexVar = String(r.properties.index_var ?? '%index%');
  // removal_policies: names (or physical ids) removed from the group are never reused.
  const blacklist = new Set((r.data.blacklist ?? []) as string[]);
  for (const p of (r.properties.removal_policies ?? []) as JsonMap[]) {
    for (const name of (p.resource_list ?? []) as Json[]) blacklist.add(String(name));
  }
  const ids = (r.data.member_ids ?? {}) as Record<string, string>;
  for (const [name, id] of Object.entries(ids)) if (blacklist.has(id)) blacklist.add(name);
  r.data.blacklist = [...blacklist].filter((b) => /^\d+$/.test(b));
  const resources: JsonMap = {};
  for (const name of memberNames(count, r.data.blacklist as string[])) {
    const member: JsonMap = { type: def.type ?? 'OS::Heat::None' };
    if (def.properties) member.properties = substituteIndex(def.properties, indexVar, name);
    if (def.metadata) member.metadata = substituteIndex(def.metadata, indexVar, name);
    resources[name] = member;
  }
  const policy = (creating ? updatePolicy?.batch_create : updatePolicy?.rolling_update) as JsonMap | undefined;
  const batch = policy
    ? { size: Number(policy.max_batch_size ?? 1), pauseMs: Number(policy.pause_time ?? 0) * 1000, minInService: Number(policy.min_in_service ?? 0), rolling: !creating }
    : undefined;
  return { template: { heat_template_version: '2015-04-30', resources } as JsonMap, params: {}, batch };
}

async function saveIds(r: RuntimeResource): Promise<void> {
  r.data.member_ids = (await r.engine.nestedResourceIds(r)) as JsonMap;
}

export const resourceGroupType: ResourceType = {
  name: 'OS::Heat::ResourceGroup',
  nested: true,
  countedMembers: true,
  // batch_create / rolling_update
  usesUpdatePolicy: true,
  properties: {
    count: { type: 'integer', default: 1, updateAllowed: true },
    resource_def: { type: 'map', required: true, updateAllowed: true },
    removal_policies: { type: 'list', default: [], updateAllowed: true },
    removal_policies_mode: { type: 'string', default: 'append', allowed: ['append', 'update'], updateAllowed: true },
    index_var: { type: 'string', default: '%index%', updateAllowed: true },
  },
  plugin: {
    async create(r) {
      r.physicalId = await r.engine.applyNested(r, groupSpec(r, r.data.update_policy as JsonMap | undefined, true));
      await saveIds(r);
    },
    async update(r) {
      r.physicalId = await r.engine.applyNested(r, groupSpec(r, r.data.update_policy as JsonMap | undefined, false));
      await saveIds(r);
    },
    delete: (r) => r.engine.deleteNested(r),
    async attribute(r, name) {
      const refs = await r.engine.nestedMemberAttr(r, null, []);
      const order = Object.keys(refs).sort((a, b) => Number(a) - Number(b));
      if (name === null || name === 'refs') return order.map((k) => refs[k] ?? null);
      if (name === 'refs_map') return refs as JsonMap;
      if (name === 'removed_rsrc_list') return (r.data.blacklist ?? []) as Json;
      if (name === 'attributes') return null; // needs a path: handled by attributePath
      const m = /^resource\.([^.]+)(?:\.(.+))?$/.exec(name);
      if (m) {
        if (!m[2]) return refs[m[1]!] ?? null;
        const vals = await r.engine.nestedMemberAttr(r, m[2], []);
        return vals[m[1]!] ?? null;
      }
      const vals = await r.engine.nestedMemberAttr(r, name, []);
      return order.map((k) => vals[k] ?? null);
    },
  },
};
