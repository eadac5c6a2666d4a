// OS::Nova::Server (through the ComputeProvider the server injects), OS::Nova::Flavor and
// OS::Nova::ServerGroup (the provider's optional flavor and server group calls), and
// OS::Nova::KeyPair.
import { generateKeyPair, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { ResourceType, RuntimeResource } from '../registry.js';
import type { ServerNic, ServerStatus } from '../compute-provider.js';
import { isMapping, type Json, type JsonMap } from '../yaml-source.js';

const SERVER_PROPS: ResourceType['properties'] = {
  name: { type: 'string', updateAllowed: true },
  // image, flavor and user_data replace the server (see REPLACING below): not updatable in place.
  image: { type: 'string' },
  flavor: { type: 'string', required: true },
  key_name: { type: 'string' },
  user_data: { type: 'string', default: '' },
  user_data_format: { type: 'string', default: 'HEAT_CFNTOOLS', allowed: ['HEAT_CFNTOOLS', 'RAW', 'SOFTWARE_CONFIG'] },
  software_config_transport: { type: 'string', default: 'POLL_SERVER_CFN', allowed: ['POLL_SERVER_CFN', 'POLL_SERVER_HEAT', 'POLL_TEMP_URL', 'ZAQAR_MESSAGE'], updateAllowed: true },
  metadata: { type: 'map', updateAllowed: true },
  // A machine's NICs are its own: new networks are a new server (see REPLACING).
  networks: { type: 'list' },
  admin_pass: { type: 'string', updateAllowed: true },
  admin_user: { type: 'string' },
  availability_zone: { type: 'string' },
  block_device_mapping: { type: 'list' },
  block_device_mapping_v2: { type: 'list' },
  config_drive: { type: 'boolean' },
  diskConfig: { type: 'string' },
  flavor_update_policy: { type: 'string', default: 'RESIZE', updateAllowed: true },
  image_update_policy: { type: 'string', default: 'REBUILD', updateAllowed: true },
  personality: { type: 'map' },
  reservation_id: { type: 'string' },
  scheduler_hints: { type: 'map' },
  security_groups: { type: 'list' },
  tags: { type: 'list', updateAllowed: true },
  user_data_update_policy: { type: 'string', default: 'REPLACE', updateAllowed: true },
  deployment_swift_data: { type: 'map' },
};

// Changing these on bare metal means a new machine: Heat rebuilds/resizes in place (and attaches
// and detaches interfaces), we replace.
const REPLACING = new Set(['image', 'flavor', 'user_data', 'networks']);

const NIC_KEYS = ['network', 'port', 'fixed_ip', 'subnet', 'uuid', 'port_extra_properties', 'tag', 'allocate_network', 'floating_ip'];

/** `networks` → the spec's NICs; errors name the entry. */
function serverNics(v: Json | undefined): ServerNic[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new Error('properties.networks: must be a list');
  const out: ServerNic[] = [];
  for (const [i, e] of v.entries()) {
    const f = `properties.networks[${i}]`;
    if (!isMapping(e)) throw new Error(`${f}: must be a map with network, port, subnet and/or fixed_ip`);
    const unknown = Object.keys(e).find((k) => !NIC_KEYS.includes(k));
    if (unknown) throw new Error(`${f}.${unknown}: unknown key; expected one of ${NIC_KEYS.join(', ')}`);
    const text = (k: string): string | undefined => {
      const x = e[k];
      if (x === undefined || x === null || x === '') return undefined;
      if (typeof x !== 'string') throw new Error(`${f}.${k}: must be a string`);
      return x;
    };
    if (text('floating_ip')) throw new Error(`${f}.floating_ip: floating IPs are not supported by this cloud`);
    // port_extra_properties (the port Heat would create for a network entry) is ignored: the
    // compute provider makes that port, with the network service's defaults.
    // tag (device tagging) is ignored: bare-metal NICs carry no tags.
    const alloc = text('allocate_network');
    const nic: ServerNic = {};
    const network = text('network') ?? text('uuid');
    if (network !== undefined) nic.network = network;
    const port = text('port');
    if (port !== undefined) nic.port = port;
    const fixedIp = text('fixed_ip');
    if (fixedIp !== undefined) nic.fixedIp = fixedIp;
    const subnet = text('subnet');
    if (subnet !== undefined) nic.subnet = subnet;
    if (alloc !== undefined) {
      if (alloc !== 'none' && alloc !== 'auto') throw new Error(`${f}.allocate_network: must be none or auto`);
      if (Object.keys(nic).length) throw new Error(`${f}.allocate_network: cannot be combined with network, port, subnet or fixed_ip`);
      // none/auto: no NIC of our choosing (the provider's default network for auto).
      continue;
    }
    if (nic.port === undefined && nic.network === undefined && nic.subnet === undefined) throw new Error(`${f}: one of network, port or subnet is required`);
    if (nic.port !== undefined && (nic.network !== undefined || nic.fixedIp !== undefined || nic.subnet !== undefined)) throw new Error(`${f}.port: a port entry takes its network and addresses from the port; leave out network, subnet and fixed_ip`);
    out.push(nic);
  }
  return out;
}

function serverGroupHint(v: Json | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isMapping(v)) throw new Error('properties.scheduler_hints: must be a map');
  // Other hints (capabilities:node, ...) are ignored by this scheduler.
  const g = v.group;
  if (g === undefined || g === null) return undefined;
  if (typeof g !== 'string' || !g) throw new Error('properties.scheduler_hints.group: must be a server group id');
  return g;
}

/** Heat's `networks` attribute: addresses by network name, and the same by network id. */
function networksAttr(st: ServerStatus): JsonMap {
  const out: JsonMap = {};
  for (const [name, list] of Object.entries(st.addresses)) {
    out[name] = list.map((a) => a.addr);
    const id = st.networkIds?.[name];
    if (id && !(id in out)) out[id] = list.map((a) => a.addr);
  }
  return out;
}

/** Nova's `addresses`, keyed by network name (and by id, as Heat's attribute is). */
function addressesAttr(st: ServerStatus): JsonMap {
  const out: JsonMap = {};
  for (const [name, list] of Object.entries(st.addresses)) {
    out[name] = list.map((a) => ({ ...a }));
    const id = st.networkIds?.[name];
    if (id && !(id in out)) out[id] = list.map((a) => ({ ...a }));
  }
  return out;
}

/** The first address of the first network that has one (Heat's first_address), else ''. */
function firstAddress(st: ServerStatus): string {
  for (const list of Object.values(st.addresses)) if (list[0]) return list[0].addr;
  return st.firstAddress ?? '';
}

async function userData(r: RuntimeResource): Promise<string> {
  const raw = String(r.properties.user_data ?? '');
  if (r.properties.user_data_format !== 'SOFTWARE_CONFIG' || !raw) return raw;
  // Only a config of the stack's own project: an id seen elsewhere must not pull its script in.
  const cfg = await r.engine.software.getConfig(raw, r.projectId);
  if (!cfg) return raw;
  return typeof cfg.config === 'string' ? cfg.config : JSON.stringify(cfg.config);
}

/**
 * What os-collect-config on the machine reads (Heat's "os-collect-config" metadata section; the
 * config drive carries it too, and an os-apply-config template renders /etc/os-collect-config.conf
 * from it):
 *   POLL_SERVER_HEAT: the heat collector with a stack user's credentials (made here, once);
 *   POLL_TEMP_URL, POLL_SERVER_CFN: the request collector with a signed metadata URL served by
 *   orchestration (no Swift and no CFN API here: both are served the same way).
 * ZAQAR_MESSAGE is not supported: no section.
 */
async function collectConfig(r: RuntimeResource, transport: string): Promise<JsonMap | undefined> {
  if (transport === 'POLL_SERVER_HEAT') {
    if (typeof r.data.stack_user_id !== 'string') {
      const u = await r.engine.stackUsers.create({ projectId: r.projectId, stackId: r.stackId, resourceName: r.name });
      r.data.stack_user_id = u.userId;
      r.data.stack_user_password = u.password;
      await r.save();
    }
    return {
      collectors: ['heat_local', 'heat'],
      polling_interval: 30,
      heat: {
        auth_url: r.engine.publicUrl('/identity/v3'),
        user_id: String(r.data.stack_user_id),
        password: String(r.data.stack_user_password),
        project_id: r.projectId,
        stack_id: `${r.stackName}/${r.stackId}`,
        resource_name: r.name,
      },
    };
  }
  if (transport === 'POLL_TEMP_URL' || transport === 'POLL_SERVER_CFN') {
    if (typeof r.data.metadata_token !== 'string') r.data.metadata_token = randomBytes(24).toString('hex');
    return {
      collectors: ['heat_local', 'request'],
      polling_interval: 30,
      request: { metadata_url: r.engine.publicUrl(`/orchestration/metadata/${r.id}/${r.data.metadata_token}`) },
    };
  }
  return undefined;
}

/** Puts the section into the server's metadata (saved) and drops a stack user no longer used. */
async function applyCollectConfig(r: RuntimeResource, transport: string): Promise<JsonMap | undefined> {
  const cc = await collectConfig(r, transport);
  if (cc) r.metadata['os-collect-config'] = cc;
  else delete r.metadata['os-collect-config'];
  if (transport !== 'POLL_SERVER_HEAT') await deleteStackUser(r);
  await r.save();
  return cc;
}

async function deleteStackUser(r: RuntimeResource): Promise<void> {
  if (typeof r.data.stack_user_id !== 'string') return;
  await r.engine.stackUsers.delete(r.data.stack_user_id);
  delete r.data.stack_user_id;
  delete r.data.stack_user_password;
}

async function waitActive(r: RuntimeResource): Promise<void> {
  for (;;) {
    const st = await r.engine.compute.status(r.physicalId!, r.projectId);
    if (st.status === 'ACTIVE') return;
    if (st.status === 'ERROR') throw new Error(`Went to status ERROR due to "${st.reason ?? 'unknown'}"`);
    if (st.status === 'DELETED') throw new Error('the server disappeared while building');
    await r.engine.sleep(250, r.signal);
  }
}

export const serverType: ResourceType = {
  name: 'OS::Nova::Server',
  properties: SERVER_PROPS,
  attributes: ['first_address', 'addresses', 'networks', 'name', 'show', 'accessIPv4', 'accessIPv6', 'instance_name', 'os_collect_config', 'console_urls'],
  plugin: {
    async create(r) {
      const name = String(r.properties.name ?? `${r.stackName}-${r.name}`);
      const transport = String(r.properties.software_config_transport ?? 'POLL_SERVER_CFN');
      const networks = serverNics(r.properties.networks);
      const serverGroup = serverGroupHint(r.properties.scheduler_hints);
      const cc = await applyCollectConfig(r, transport);
      r.physicalId = await r.engine.compute.create({
        projectId: r.projectId,
        ...(r.userId ? { userId: r.userId } : {}),
        name,
        image: String(r.properties.image ?? ''),
        flavor: String(r.properties.flavor ?? ''),
        keyName: r.properties.key_name ? String(r.properties.key_name) : undefined,
        ...(networks?.length ? { networks } : {}),
        ...(typeof r.properties.config_drive === 'boolean' ? { configDrive: r.properties.config_drive } : {}),
        ...(serverGroup !== undefined ? { serverGroup } : {}),
        userData: await userData(r),
        metadata: Object.fromEntries(Object.entries((r.properties.metadata ?? {}) as JsonMap).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
        collectConfig: cc,
      });
      await r.save();
      await waitActive(r);
    },
    resume: (r) => (r.physicalId ? waitActive(r) : serverType.plugin!.create(r)),
    async update(r, _old, changed) {
      if (changed.some((c) => REPLACING.has(c))) throw new Error('internal: replacing property updated in place');
      // A new transport: the machine reads the new section through the old one and switches.
      if (changed.includes('software_config_transport')) await applyCollectConfig(r, String(r.properties.software_config_transport ?? 'POLL_SERVER_CFN'));
    },
    async delete(r) {
      if (r.physicalId) await deleteServer(r, r.physicalId);
      // The machine is gone: so is its Keystone user.
      await deleteStackUser(r);
    },
    async attribute(r, name) {
      if (!r.physicalId) return null;
      const st = await r.engine.compute.status(r.physicalId, r.projectId);
      switch (name) {
        case 'first_address':
        case 'accessIPv4':
          return firstAddress(st);
        case 'accessIPv6':
          return '';
        case 'addresses':
          return addressesAttr(st);
        case 'networks':
          return networksAttr(st);
        case 'name':
        case 'instance_name':
          return st.name;
        case 'os_collect_config':
          // The stack's project may read it, credentials included, as in Heat.
          return (r.metadata['os-collect-config'] ?? null) as Json;
        default:
          return { id: r.physicalId, name: st.name, status: st.status, addresses: addressesAttr(st) };
      }
    },
  },
};
export const SERVER_REPLACING_PROPERTIES = REPLACING;

async function deleteServer(r: RuntimeResource, id: string): Promise<void> {
  // Asked again each round: a provider may leave a busy machine (mid-deploy) until it settles.
  for (let i = 0; i < 1200; i++) {
    await r.engine.compute.delete(id, r.projectId);
    if ((await r.engine.compute.status(id, r.projectId)).status === 'DELETED') return;
    await r.engine.sleep(250, r.signal);
  }
  throw new Error(`server ${id} was not deleted in time`);
}

/** OpenSSH "ssh-rsa" public key text from a JWK's modulus and exponent. */
function opensshRsa(n: Buffer, e: Buffer, comment: string): string {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0].map((_, i) => (b.length >> (24 - 8 * i)) & 255)), b]);
  const mpint = (b: Buffer) => str(b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
  return `ssh-rsa ${Buffer.concat([str(Buffer.from('ssh-rsa')), mpint(e), mpint(n)]).toString('base64')} ${comment}`;
}

export const keyPairType: ResourceType = {
  name: 'OS::Nova::KeyPair',
  properties: {
    name: { type: 'string', required: true },
    public_key: { type: 'string' },
    save_private_key: { type: 'boolean', default: false },
    type: { type: 'string', allowed: ['ssh', 'x509'] },
    user: { type: 'string' },
  },
  attributes: ['public_key', 'private_key', 'show'],
  plugin: {
    async create(r) {
      const name = String(r.properties.name);
      if (r.properties.public_key) {
        r.data.public_key = String(r.properties.public_key);
      } else {
        // Off the event loop: a 2048-bit RSA key takes tens to hundreds of ms to find.
        const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
        const jwk = publicKey.export({ format: 'jwk' });
        r.data.public_key = opensshRsa(Buffer.from(jwk.n!, 'base64url'), Buffer.from(jwk.e!, 'base64url'), name);
        if (r.properties.save_private_key === true) r.data.private_key = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      }
      r.physicalId = name;
      r.data.id = randomUUID();
    },
    async delete() {},
    attribute(r, name) {
      if (name === 'public_key') return (r.data.public_key ?? null) as Json;
      if (name === 'private_key') return (r.data.private_key ?? '') as Json;
      return { name: r.physicalId, public_key: (r.data.public_key ?? null) as Json };
    },
  },
};

// ---------- OS::Nova::Flavor and OS::Nova::ServerGroup ----------

function num(v: Json | undefined, field: string, def: number, integer = true): number {
  if (v === undefined || v === null) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new Error(`properties.${field}: must be a non-negative ${integer ? 'integer' : 'number'}, not ${JSON.stringify(v)}`);
  return n;
}

export const flavorType: ResourceType = {
  name: 'OS::Nova::Flavor',
  properties: {
    name: { type: 'string' },
    flavorid: { type: 'string' },
    ram: { type: 'integer', required: true },
    vcpus: { type: 'integer', required: true },
    disk: { type: 'integer', default: 0 },
    swap: { type: 'integer', default: 0 },
    ephemeral: { type: 'integer', default: 0 },
    rxtx_factor: { type: 'number', default: 1.0 },
    is_public: { type: 'boolean', default: true },
    extra_specs: { type: 'map' },
    tenants: { type: 'list', default: [] },
    description: { type: 'string' },
  },
  attributes: ['is_public', 'extra_specs', 'show'],
  plugin: {
    async create(r) {
      const c = r.engine.compute;
      if (!c.createFlavor) throw new Error(`the compute provider "${c.name}" cannot create flavors`);
      const p = r.properties;
      if (p.flavorid !== undefined && p.flavorid !== null) throw new Error('properties.flavorid: choosing the flavor id is not supported; leave it out');
      const extra: Record<string, string> = {};
      if (p.extra_specs !== undefined && p.extra_specs !== null) {
        if (!isMapping(p.extra_specs)) throw new Error('properties.extra_specs: must be a map');
        for (const [k, v] of Object.entries(p.extra_specs)) extra[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
      const tenants = p.tenants ?? [];
      if (!Array.isArray(tenants) || tenants.some((t) => typeof t !== 'string')) throw new Error('properties.tenants: must be a list of project ids');
      r.physicalId = await c.createFlavor({
        projectId: r.projectId,
        name: p.name ? String(p.name) : `${r.stackName}-${r.name}`,
        ram: num(p.ram, 'ram', 0),
        vcpus: num(p.vcpus, 'vcpus', 0),
        disk: num(p.disk, 'disk', 0),
        swap: num(p.swap, 'swap', 0),
        ephemeral: num(p.ephemeral, 'ephemeral', 0),
        rxtxFactor: num(p.rxtx_factor, 'rxtx_factor', 1, false),
        isPublic: p.is_public !== false,
        extraSpecs: extra,
        tenants: tenants as string[],
        ...(p.description ? { description: String(p.description) } : {}),
      });
    },
    async delete(r) {
      if (r.physicalId) await r.engine.compute.deleteFlavor?.(r.physicalId, r.projectId);
    },
    attribute(r, name) {
      const p = r.properties;
      if (name === 'is_public') return p.is_public !== false;
      if (name === 'extra_specs') return (p.extra_specs ?? {}) as Json;
      return { id: r.physicalId, name: (p.name ?? `${r.stackName}-${r.name}`) as Json, ram: p.ram ?? null, vcpus: p.vcpus ?? null, disk: p.disk ?? 0, is_public: p.is_public !== false, extra_specs: (p.extra_specs ?? {}) as Json };
    },
  },
};

const GROUP_POLICIES = ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'];

export const serverGroupType: ResourceType = {
  name: 'OS::Nova::ServerGroup',
  properties: {
    name: { type: 'string' },
    policies: { type: 'list', default: ['anti-affinity'] },
    rules: { type: 'map' },
  },
  attributes: ['show'],
  plugin: {
    async create(r) {
      const c = r.engine.compute;
      if (!c.createServerGroup) throw new Error(`the compute provider "${c.name}" cannot create server groups`);
      const policies = r.properties.policies ?? ['anti-affinity'];
      if (!Array.isArray(policies) || policies.length !== 1 || typeof policies[0] !== 'string' || !GROUP_POLICIES.includes(policies[0])) {
        throw new Error(`properties.policies: must be one policy of ${GROUP_POLICIES.join(', ')}, not ${JSON.stringify(policies)}`);
      }
      const rules: Record<string, number> = {};
      const raw = r.properties.rules;
      if (raw !== undefined && raw !== null) {
        if (!isMapping(raw)) throw new Error('properties.rules: must be a map');
        for (const [k, v] of Object.entries(raw)) {
          if (k !== 'max_server_per_host') throw new Error(`properties.rules.${k}: unknown rule; only max_server_per_host exists`);
          if (policies[0] !== 'anti-affinity') throw new Error('properties.rules.max_server_per_host: only with the anti-affinity policy');
          rules[k] = num(v, `rules.${k}`, 1);
        }
      }
      r.physicalId = await c.createServerGroup({ projectId: r.projectId, name: r.properties.name ? String(r.properties.name) : `${r.stackName}-${r.name}`, policy: policies[0], rules });
    },
    async delete(r) {
      if (r.physicalId) await r.engine.compute.deleteServerGroup?.(r.physicalId, r.projectId);
    },
    attribute(r) {
      return { id: r.physicalId, name: (r.properties.name ?? `${r.stackName}-${r.name}`) as Json, policies: (r.properties.policies ?? ['anti-affinity']) as Json };
    },
  },
};
