// OS::Nova::Server on bare metal (through the ComputeProvider the server injects) and
// OS::Nova::KeyPair.
import { generateKeyPair, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { ResourceType, RuntimeResource } from '../registry.js';
import type { Json, JsonMap } from '../yaml-source.js';
import type { SoftwareServices } from './software.js';

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
  networks: { type: 'list', updateAllowed: true },
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

// Changing these on bare metal means a new machine: Heat rebuilds/resizes in place, we replace.
const REPLACING = new Set(['image', 'flavor', 'user_data']);

async function userData(r: RuntimeResource): Promise<string> {
  const raw = String(r.properties.user_data ?? '');
  if (r.properties.user_data_format !== 'SOFTWARE_CONFIG' || !raw) return raw;
  // Only a config of the stack's own project: an id seen elsewhere must not pull its script in.
  const cfg = await (r.engine as unknown as SoftwareServices).software.getConfig(raw, r.projectId);
  if (!cfg) return raw;
  return typeof cfg.config === 'string' ? cfg.config : JSON.stringify(cfg.config);
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
      r.physicalId = await r.engine.compute.create({
        projectId: r.projectId,
        name,
        image: String(r.properties.image ?? ''),
        flavor: String(r.properties.flavor ?? ''),
        keyName: r.properties.key_name ? String(r.properties.key_name) : undefined,
        userData: await userData(r),
        metadata: Object.fromEntries(Object.entries((r.properties.metadata ?? {}) as JsonMap).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
        softwareConfigTransport: String(r.properties.software_config_transport ?? 'POLL_SERVER_CFN'),
        stackId: r.stackId,
        resourceName: r.name,
        collectConfig:
          r.properties.software_config_transport === 'POLL_SERVER_HEAT'
            ? { heat: { auth_url: r.engine.publicUrl('/identity/v3'), project_id: r.projectId, stack_id: `${r.stackName}/${r.stackId}`, resource_name: r.name } }
            : undefined,
      });
      await r.save();
      await waitActive(r);
    },
    resume: (r) => (r.physicalId ? waitActive(r) : serverType.plugin!.create(r)),
    async update(r, _old, changed) {
      if (changed.some((c) => REPLACING.has(c))) throw new Error('internal: replacing property updated in place');
    },
    async delete(r) {
      if (!r.physicalId) return;
      // Asked again each round: a provider may leave a busy machine (mid-deploy) until it settles.
      for (let i = 0; i < 1200; i++) {
        await r.engine.compute.delete(r.physicalId, r.projectId);
        if ((await r.engine.compute.status(r.physicalId, r.projectId)).status === 'DELETED') return;
        await r.engine.sleep(250, r.signal);
      }
      throw new Error(`server ${r.physicalId} was not deleted in time`);
    },
    async attribute(r, name) {
      if (!r.physicalId) return null;
      const st = await r.engine.compute.status(r.physicalId, r.projectId);
      switch (name) {
        case 'first_address':
        case 'accessIPv4':
          return st.firstAddress ?? '';
        case 'addresses':
        case 'networks':
          return st.addresses as unknown as Json;
        case 'name':
        case 'instance_name':
          return st.name;
        case 'os_collect_config':
          return { heat: { stack_id: r.stackId, resource_name: r.name, auth_url: r.engine.publicUrl('/identity/v3') } };
        default:
          return { id: r.physicalId, name: st.name, status: st.status, addresses: st.addresses } as unknown as Json;
      }
    },
  },
};
export const SERVER_REPLACING_PROPERTIES = REPLACING;

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
