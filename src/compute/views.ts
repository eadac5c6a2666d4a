// JSON shapes of the compute API, per microversion (Nova's view builders).
import type { FastifyRequest } from 'fastify';
import { fromJson } from '../common/db.js';
import type { AuthContext } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import type { KeypairRow, ServerRow } from './db.js';
import type { Flavor } from './flavors.js';
import type { ServerGroup } from './groups.js';
import type { Hypervisor } from './virt-driver.js';
import { atLeast } from './microversion.js';
import { hostIdOf, hostnameOf, statusOf } from './servers.js';

type Req = FastifyRequest;
const link = (base: string, kind: string, id: string) => [
  { rel: 'self', href: `${base}/v2.1/${kind}/${id}` },
  { rel: 'bookmark', href: `${base}/${kind}/${id}` },
];

export function flavorView(req: Req, base: string, f: Flavor, detail: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = { id: f.id, name: f.name, links: link(base, 'flavors', f.id) };
  if (atLeast(req, '2.55')) v.description = f.description;
  if (!detail) return v;
  Object.assign(v, {
    ram: f.ram,
    disk: f.disk,
    vcpus: f.vcpus,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
    'OS-FLV-DISABLED:disabled': false,
    // Nova sends "" for no swap before 2.75.
    swap: f.swap === 0 ? '' : f.swap,
    rxtx_factor: f.rxtx_factor,
    'os-flavor-access:is_public': f.is_public,
  });
  if (atLeast(req, '2.61')) v.extra_specs = f.extra_specs;
  return v;
}

export function keypairView(req: Req, k: KeypairRow & { private_key?: string }, kind: 'create' | 'list' | 'show'): Record<string, unknown> {
  const v: Record<string, unknown> = { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint };
  if (atLeast(req, '2.2')) v.type = k.type;
  if (kind === 'create') {
    v.user_id = k.user_id;
    if (k.private_key) v.private_key = k.private_key;
  }
  if (kind === 'show') Object.assign(v, { user_id: k.user_id, id: 0, created_at: k.created_at, updated_at: null, deleted: false, deleted_at: null });
  return v;
}

export function groupView(req: Req, g: ServerGroup): Record<string, unknown> {
  const v: Record<string, unknown> = { id: g.id, name: g.name, members: g.members, project_id: g.project_id };
  if (atLeast(req, '2.13')) v.user_id = g.user_id;
  if (atLeast(req, '2.64')) {
    v.policy = g.policy;
    v.rules = fromJson<Record<string, unknown>>(g.rules, {});
  } else {
    v.policies = [g.policy];
    v.metadata = {};
  }
  return v;
}

export function hypervisorView(req: Req, h: Hypervisor, detail: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = { id: h.id, hypervisor_hostname: h.hypervisorHostname, state: h.state, status: h.status };
  if (!detail) return v;
  Object.assign(v, {
    hypervisor_type: h.hypervisorType,
    hypervisor_version: 1,
    host_ip: h.hostIp,
    vcpus: h.vcpus,
    vcpus_used: h.vcpusUsed,
    memory_mb: h.memoryMb,
    memory_mb_used: h.memoryMbUsed,
    local_gb: h.localGb,
    local_gb_used: h.localGbUsed,
    free_ram_mb: h.memoryMb - h.memoryMbUsed,
    free_disk_gb: h.localGb - h.localGbUsed,
    current_workload: 0,
    running_vms: h.runningVms,
    disk_available_least: h.localGb - h.localGbUsed,
    cpu_info: atLeast(req, '2.28') ? {} : '{}',
    service: { host: h.hypervisorHostname, id: h.id, disabled_reason: null },
  });
  return v;
}

export interface ServerViewContext {
  base: string;
  auth: AuthContext;
  /** Image base URL for image links. */
  imageBase: string;
}

/**
 * Flavor snapshots parsed once per distinct text: a 1,000-server list mostly repeats a few
 * flavors, and parsing each copy was a measurable share of the list's time. Bounded.
 */
const flavorCache = new Map<string, Flavor>();
function parsedFlavor(text: string): Flavor {
  let f = flavorCache.get(text);
  if (!f) {
    f = fromJson<Flavor>(text, { extra_specs: {} } as unknown as Flavor);
    if (flavorCache.size >= 256) flavorCache.delete(flavorCache.keys().next().value!);
    flavorCache.set(text, f);
  }
  return f;
}

/**
 * Nova's server view, minimal (id, name, links) or full (detail, show). One object literal of a
 * fixed shape: fields a microversion or role does not get are `undefined`, which JSON leaves
 * out. (Adding them conditionally sent V8's objects into dictionary mode, tripling the cost of
 * a 1,000-server list.)
 */
export function serverView(req: Req, ctx: ServerViewContext, s: ServerRow, full: boolean): Record<string, unknown> {
  const links = link(ctx.base, 'servers', s.id);
  if (!full) return { id: s.id, name: s.name, links };
  const admin = isAdmin(ctx.auth);
  const flavor = parsedFlavor(s.flavor);
  const v23 = admin && atLeast(req, '2.3');
  let fault: Record<string, unknown> | undefined;
  if (s.vm_state === 'error' && s.fault) {
    const f = fromJson<{ code: number; message: string; created: string; details?: string }>(s.fault, { code: 500, message: '', created: s.updated_at });
    fault = { code: f.code, message: f.message, created: isoSeconds(f.created), details: admin && f.details ? f.details : undefined };
  }
  return {
    id: s.id,
    name: s.name,
    links,
    status: statusOf(s.vm_state, s.task_state),
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: s.metadata === '{}' ? {} : fromJson<Record<string, string>>(s.metadata, {}),
    hostId: hostIdOf(s.project_id, s.host),
    image: { id: s.image_id, links: [{ rel: 'bookmark', href: `${ctx.imageBase}/images/${s.image_id}` }] },
    flavor: atLeast(req, '2.47')
      ? { vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk, ephemeral: flavor.ephemeral, swap: flavor.swap, original_name: flavor.name, extra_specs: flavor.extra_specs ?? {} }
      : { id: s.flavor_id, links: [{ rel: 'bookmark', href: `${ctx.base}/flavors/${s.flavor_id}` }] },
    created: isoSeconds(s.created_at),
    updated: isoSeconds(s.updated_at),
    addresses: s.addresses === '{}' ? {} : fromJson<Record<string, unknown>>(s.addresses, {}),
    accessIPv4: '',
    accessIPv6: '',
    'OS-DCF:diskConfig': 'MANUAL',
    progress: 0,
    'OS-EXT-AZ:availability_zone': 'nova',
    config_drive: s.config_drive ? 'True' : '',
    key_name: s.key_name,
    'OS-SRV-USG:launched_at': s.launched_at ? s.launched_at.slice(0, -1) : null,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': s.task_state,
    'OS-EXT-STS:vm_state': s.vm_state,
    'OS-EXT-STS:power_state': s.power_state,
    'os-extended-volumes:volumes_attached': [],
    security_groups: [{ name: 'default' }],
    'OS-EXT-SRV-ATTR:host': admin ? s.host : undefined,
    'OS-EXT-SRV-ATTR:hypervisor_hostname': admin ? s.host : undefined,
    'OS-EXT-SRV-ATTR:instance_name': admin ? `instance-${s.id.slice(0, 8)}` : undefined,
    'OS-EXT-SRV-ATTR:reservation_id': v23 ? `r-${s.id.slice(0, 8)}` : undefined,
    'OS-EXT-SRV-ATTR:launch_index': v23 ? 0 : undefined,
    'OS-EXT-SRV-ATTR:hostname': v23 ? hostnameOf(s.name) : undefined,
    'OS-EXT-SRV-ATTR:kernel_id': v23 ? '' : undefined,
    'OS-EXT-SRV-ATTR:ramdisk_id': v23 ? '' : undefined,
    'OS-EXT-SRV-ATTR:root_device_name': v23 ? null : undefined,
    'OS-EXT-SRV-ATTR:user_data': v23 ? (s.user_data === null ? null : Buffer.from(s.user_data).toString('base64')) : undefined,
    fault,
    locked: atLeast(req, '2.9') ? false : undefined,
    host_status: admin && atLeast(req, '2.16') ? (s.host ? 'UP' : '') : undefined,
    description: atLeast(req, '2.19') ? s.description : undefined,
    tags: atLeast(req, '2.26') ? [] : undefined,
    trusted_image_certificates: atLeast(req, '2.63') ? null : undefined,
    server_groups: atLeast(req, '2.71') ? (s.group_id ? [s.group_id] : []) : undefined,
    locked_reason: atLeast(req, '2.73') ? null : undefined,
  };
}

/** "2026-12-07T03:25:19.123Z" → "2026-12-07T03:25:19Z" (Nova's second precision). */
function isoSeconds(t: string): string {
  return t.length > 20 ? `${t.slice(0, 19)}Z` : t;
}
