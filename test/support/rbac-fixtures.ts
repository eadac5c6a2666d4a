// The world the RBAC matrix (test/rbac-matrix.test.ts) runs in: a seed with every service, two
// projects A and B with an admin, a member and a reader in A and a member and a reader in B,
// records of project A in every service, makers of fresh records for destructive routes, the
// list of every registered route, and one HTTP call per matrix cell.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BootService } from '../../src/boot/index.js';
import { CMDLINE } from '../../src/boot/ipxe-script.js';
import { startSeed, userWithRole, type TestSeed } from './seed.js';

/** The callers of every cell, in the order of the matrix columns. */
export const WHO = ['anon', 'adminA', 'memberA', 'readerA', 'memberB', 'readerB'] as const;
export type Who = (typeof WHO)[number];

/** Records the matrix acts on: project A's unless the name says otherwise. */
export interface Fixtures {
  projectA: string;
  projectB: string;
  userIds: Record<Exclude<Who, 'anon'>, string>;
  /** Identity targets: a project (A), a user of A who is none of the callers, a role (reader). */
  project: string;
  user: string;
  role: string;
  /** A group with `user` in it, holding `role` on project A, the default domain and the system. */
  group: string;
  /** A global role that `role` implies (an inference rule). */
  impliedRole: string;
  service: string;
  endpoint: string;
  region: string;
  /** An OS-EP-FILTER endpoint group given to project A; project A also holds `endpoint` one by one. */
  endpointGroup: string;
  /** A domain: the default one, or a fresh disabled one for the delete row. */
  domain: string;
  /** A credential (type totp) of `user` on A, the access key of an EC2 credential of `user`, a (stored) policy. */
  credential: string;
  ec2Access: string;
  policy: string;
  /** A token of memberA: the X-Subject-Token of the token routes. */
  subjectToken: string;
  /** A private image of A with data and the tag "rbac". */
  image: string;
  /** A node owned by A (trait CUSTOM_RBAC), its port, its allocation (owner A) and a history event. */
  node: string;
  port: string;
  allocation: string;
  historyEvent: string;
  /** A port group of the node of A, and a deploy template (the operator's: templates have no project). */
  portgroup: string;
  deployTemplate: string;
  /** A chassis (the operator's) holding the node of A. */
  chassis: string;
  /** A volume connector and a volume target of a powered-off node of A (changes need it off). */
  volumeConnector: string;
  volumeTarget: string;
  /** A stack of A (a wait handle, a random string, output "out"), and an event of its resource "handle". */
  stackName: string;
  stackId: string;
  eventId: string;
  /** A software config and deployment of A, and the server id the deployment is for. */
  config: string;
  deployment: string;
  server: string;
  /** Signal URL paths (credential in the path) of a wait handle and a software deployment of A. */
  waitSignal: string;
  deploySignal: string;
  /** Path of the deploy stack's server's signed metadata URL (POLL_SERVER_CFN → request collector). */
  metadataUrl: string;
  /** Boot service credentials: a deploy-image download token, an agent session, a running command, a boot secret (and its MAC). */
  bootImageToken: string;
  agentNode: string;
  agentToken: string;
  command: string;
  bootMac: string;
  bootSecret: string;
  /** Neutron: a private network of A, a subnet on it (10.123.0.0/24) and a port of A on it. */
  networkA: string;
  subnetA: string;
  neutronPortA: string;
  /**
   * Nova: a public flavor with the extra spec hw:rbac, a private flavor A has access to, memberA's
   * key pair "rbac-key", an anti-affinity server group of A, an ACTIVE server of A (on a
   * fake-hardware node of the shared pool), its create request id, and a hypervisor (node uuid).
   */
  flavor: string;
  flavorPrivate: string;
  keypair: string;
  serverGroup: string;
  novaServer: string;
  instanceAction: string;
  hypervisor: string;
  /** What a server is created from: a public active image and a public flavor matching the fake nodes. */
  publicImage: string;
  serverFlavor: string;
}

/** Records a destructive route gets fresh for each cell that is expected to succeed. */
export type FreshKind =
  | 'project' | 'user' | 'role' | 'grant' | 'group' | 'implication' | 'subjectToken'
  | 'service' | 'endpoint' | 'region' | 'domain' | 'credential' | 'ec2Credential' | 'policy' | 'endpointGroup'
  | 'image' | 'sharedImage' | 'activeImage' | 'node' | 'port' | 'allocation' | 'chassis'
  | 'stack' | 'config' | 'deployment'
  | 'portgroup' | 'deployTemplate' | 'volumeConnector' | 'volumeTarget'
  | 'bootSecret' | 'command'
  | 'network' | 'subnet' | 'neutronPort'
  | 'flavor' | 'keypair' | 'serverGroup' | 'novaServer';

export interface World {
  seed: TestSeed;
  app: FastifyInstance;
  /** X-Auth-Token of each caller (null: none sent). */
  tokens: Record<Who, string | null>;
  f: Fixtures;
  fresh: Record<FreshKind, () => Promise<Partial<Fixtures>>>;
  /** Identifiers of project A's records that another project's listing must not contain. */
  secretsOfA: string[];
  stop(): Promise<void>;
}

export const SMALL_TEMPLATE = {
  heat_template_version: '2018-08-31',
  parameters: { p: { type: 'string', default: 'one' } },
  resources: {
    handle: { type: 'OS::Heat::WaitConditionHandle' },
    rand: { type: 'OS::Heat::RandomString', properties: { length: 8 } },
  },
  outputs: { out: { value: { get_param: 'p' } }, signal: { value: { get_attr: ['handle', 'endpoint'] } } },
};

const DEPLOY_TEMPLATE = {
  heat_template_version: '2018-08-31',
  resources: {
    server: { type: 'OS::Nova::Server', properties: { flavor: 'baremetal', image: 'rbac' } },
    config: { type: 'OS::Heat::SoftwareConfig', properties: { group: 'script', config: 'true' } },
    deploy: { type: 'OS::Heat::SoftwareDeployment', properties: { config: { get_resource: 'config' }, server: { get_resource: 'server' } } },
  },
};

/** A Keystone password authentication body for a user made by userWithRole() (password "<name>-pw"). */
export function passwordAuth(user: string, projectId: string) {
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password: `${user}-pw` } } },
      scope: { project: { id: projectId } },
    },
  };
}

/** A tag longer than a path parameter may be (100): Glance's tag routes take it through a wildcard twin. */
export const LONG_TAG = `rbac-${'x'.repeat(120)}`;
/** A node trait longer than a path parameter may be: Ironic's trait routes take it through a wildcard twin too. */
export const LONG_TRAIT = `CUSTOM_RBAC_${'X'.repeat(120)}`;

export const IRONIC_LATEST = { 'x-openstack-ironic-api-version': 'latest' };

export interface CallResult {
  status: number;
  text: string;
  headers: Record<string, unknown>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * One request to the running server's Fastify app (app.inject: every hook, parser and route of
 * the real server, without a socket, at a quarter of fetch's cost). JSON bodies are encoded,
 * redirects are not followed, the text is kept for leak checks.
 */
export async function request(
  app: FastifyInstance,
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; raw?: { type: string; data: string | Buffer }; headers?: Record<string, string> } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...(path.startsWith('/baremetal') ? IRONIC_LATEST : {}), ...(opts.headers ?? {}) };
  if (opts.token) headers['x-auth-token'] = opts.token;
  let payload: string | Buffer | undefined;
  if (opts.raw) {
    headers['content-type'] = opts.raw.type;
    payload = opts.raw.data;
  } else if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    payload = JSON.stringify(opts.body);
  }
  const res = await app.inject({ method: method as 'GET', url: path, headers, payload });
  const text = res.body;
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.statusCode, text, headers: res.headers, body: parsed as never };
}

let counter = 0;
/** A name no other cell uses. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** An IPv4 /24 no other cell uses (10.200.0.0/24 and up). */
export function cidr(): string {
  counter += 1;
  return `10.${200 + ((counter >> 8) & 0x3f)}.${counter & 0xff}.0/24`;
}

/** A fresh ed25519 public key in OpenSSH form (importing it costs nothing, unlike generating an RSA pair). */
export function sshKey(): string {
  const x = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(x)]).toString('base64')} rbac`;
}

/** A MAC address no other cell uses. */
export function mac(): string {
  counter += 1;
  const n = counter;
  return `52:54:00:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
}

function must(res: CallResult, what: string, ok: number[] = [200, 201, 202, 204]): CallResult {
  if (!ok.includes(res.status)) throw new Error(`fixture ${what}: ${res.status} ${res.text.slice(0, 300)}`);
  return res;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`fixture: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Fake-hardware nodes of the shared pool (no owner) that Nova servers land on, one per server the
 * matrix creates: the fixture server, three from POST /servers (adminA, memberA, memberB), and three
 * fresh ones each for the server DELETE and action rows (two callers succeed, one victim); one spare.
 * Project A then holds 9 servers at most, under Nova's default quota of 10 instances.
 */
const COMPUTE_NODES = 11;
const COMPUTE_CLASS = 'rbac-metal';

export async function buildWorld(): Promise<World> {
  const seed = await startSeed({
    log: { level: 'error' },
    orchestration: { compute_provider: 'fake' },
    // The matrix fetches boot scripts from 127.0.0.1 more often than a machine would.
    boot: { script_fetch_limit: { per_address_per_min: 1000 } },
    // Nova servers deploy on fake-hardware nodes: the conductor and compute loops run fast.
    baremetal: { conductor: { sync_power_state_interval: 0, check_interval: 0.2 } },
    compute: { sync_interval_ms: 100 },
  });
  try {
    return await populate(seed);
  } catch (err) {
    await seed.stop();
    throw err;
  }
}

async function populate(seed: TestSeed): Promise<World> {
  const app = seed.server.app;
  const admin = await seed.token();
  const call = (method: string, path: string, opts: Parameters<typeof request>[3] = {}) => request(app, method, path, { token: admin, ...opts });

  // --- identity: two projects, five callers, and a third user of A that the user routes target.
  must(await call('POST', '/identity/v3/projects', { body: { project: { name: 'rbac-a' } } }), 'project A');
  must(await call('POST', '/identity/v3/projects', { body: { project: { name: 'rbac-b' } } }), 'project B');
  // In parallel: password hashing runs on libuv's threads.
  const [adminA, memberA, readerA, memberB, readerB] = await Promise.all([
    userWithRole(seed, admin, 'rbac-a', 'rbac-a-admin', 'admin'),
    userWithRole(seed, admin, 'rbac-a', 'rbac-a-member', 'member'),
    userWithRole(seed, admin, 'rbac-a', 'rbac-a-reader', 'reader'),
    userWithRole(seed, admin, 'rbac-b', 'rbac-b-member', 'member'),
    userWithRole(seed, admin, 'rbac-b', 'rbac-b-reader', 'reader'),
  ]);
  const projectA = adminA.projectId;
  const projectB = memberB.projectId;
  const tokens: Record<Who, string | null> = {
    anon: null, adminA: adminA.token, memberA: memberA.token, readerA: readerA.token, memberB: memberB.token, readerB: readerB.token,
  };
  const roles = must(await call('GET', '/identity/v3/roles'), 'roles').body.roles as Array<{ id: string; name: string }>;
  const roleId = (name: string) => roles.find((r) => r.name === name)!.id;
  // A member of A who is none of the callers (no password: it never logs in).
  const userA = must(await call('POST', '/identity/v3/users', { body: { user: { name: 'rbac-a-other' } } }), 'user A').body.user.id as string;
  must(await call('PUT', `/identity/v3/projects/${projectA}/users/${userA}/roles/${roleId('member')}`), 'grant user A');
  const newGroup = async (): Promise<string> => {
    const group = must(await call('POST', '/identity/v3/groups', { body: { group: { name: unique('rbac-grp') } } }), 'group').body.group.id as string;
    must(await call('PUT', `/identity/v3/groups/${group}/users/${userA}`), 'group member');
    for (const target of [`projects/${projectA}`, 'domains/default', 'system']) {
      must(await call('PUT', `/identity/v3/${target}/groups/${group}/roles/${roleId('reader')}`), `group grant on ${target}`);
    }
    for (const target of [`projects/${projectA}`, 'domains/default']) {
      must(await call('PUT', `/identity/v3/OS-INHERIT/${target}/groups/${group}/roles/${roleId('reader')}/inherited_to_projects`), `inherited group grant on ${target}`);
    }
    return group;
  };
  const group = await newGroup();
  const newImplication = async (): Promise<string> => {
    const implied = must(await call('POST', '/identity/v3/roles', { body: { role: { name: unique('rbac-implied') } } }), 'implied role').body.role.id as string;
    must(await call('PUT', `/identity/v3/roles/${roleId('reader')}/implies/${implied}`), 'inference rule');
    return implied;
  };
  const impliedRole = await newImplication();
  const services = must(await call('GET', '/identity/v3/services'), 'services').body.services as Array<{ id: string }>;
  const endpoints = must(await call('GET', '/identity/v3/endpoints'), 'endpoints').body.endpoints as Array<{ id: string }>;
  const regions = must(await call('GET', '/identity/v3/regions'), 'regions').body.regions as Array<{ id: string }>;
  // Keystone credentials of user A; their secrets are in secretsOfA (no other user may list them).
  const credentialSecret = unique('rbac-totp-seed');
  const newCredential = async (): Promise<string> =>
    must(await call('POST', '/identity/v3/credentials', { body: { credential: { user_id: userA, project_id: projectA, type: 'totp', blob: credentialSecret } } }), 'credential').body.credential.id as string;
  const newEc2 = async (): Promise<{ access: string; secret: string }> =>
    must(await call('POST', `/identity/v3/users/${userA}/credentials/OS-EC2`, { body: { tenant_id: projectA } }), 'ec2 credential').body.credential as { access: string; secret: string };
  const newPolicy = async (): Promise<string> =>
    must(await call('POST', '/identity/v3/policies', { body: { policy: { type: 'application/json', blob: '{}' } } }), 'policy').body.policy.id as string;
  const credential = await newCredential();
  const ec2 = await newEc2();
  const policy = await newPolicy();
  // An endpoint group given to A, and an endpoint given to A one by one (their delete rows get fresh ones).
  const newEndpointGroup = async (endpoint: string): Promise<string> => {
    const g = must(await call('POST', '/identity/v3/OS-EP-FILTER/endpoint_groups', { body: { endpoint_group: { name: unique('rbac-eg'), filters: { interface: 'admin' } } } }), 'endpoint group').body.endpoint_group.id as string;
    must(await call('PUT', `/identity/v3/OS-EP-FILTER/endpoint_groups/${g}/projects/${projectA}`), 'endpoint group project');
    must(await call('PUT', `/identity/v3/OS-EP-FILTER/projects/${projectA}/endpoints/${endpoint}`), 'project endpoint');
    return g;
  };
  const endpointGroup = await newEndpointGroup(endpoints[0]!.id);
  const issueToken = async (): Promise<string> =>
    String(must(await request(app, 'POST', '/identity/v3/auth/tokens?nocatalog', { body: passwordAuth('rbac-a-member', projectA) }), 'token').headers['x-subject-token']);

  // --- images: a private image of A, with data and a tag.
  const newImage = async (withData: boolean, visibility = 'private'): Promise<string> => {
    const img = must(await call('POST', '/image/v2/images', { body: { name: unique('rbac-img'), owner: projectA, visibility, disk_format: 'raw', container_format: 'bare', tags: ['rbac', LONG_TAG] } }), 'image');
    const id = img.body.id as string;
    if (withData) must(await call('PUT', `/image/v2/images/${id}/file`, { raw: { type: 'application/octet-stream', data: 'rbac image bytes' } }), 'image data');
    return id;
  };

  // --- baremetal: a node of A with a trait, a port, an allocation, history.
  const newNode = async (): Promise<string> => {
    const n = must(await call('POST', '/baremetal/v1/nodes', { body: { driver: 'fake-hardware', name: unique('rbac-node'), owner: projectA, driver_info: { fake_delay_ms: 0 } } }), 'node');
    const uuid = n.body.uuid as string;
    must(await call('PUT', `/baremetal/v1/nodes/${uuid}/traits`, { body: { traits: ['CUSTOM_RBAC', LONG_TRAIT] } }), 'traits');
    return uuid;
  };
  const newPort = async (node: string): Promise<string> =>
    must(await call('POST', '/baremetal/v1/ports', { body: { node_uuid: node, address: mac() } }), 'port').body.uuid as string;
  const newPortgroup = async (node: string): Promise<string> =>
    must(await call('POST', '/baremetal/v1/portgroups', { body: { node_uuid: node, address: mac(), name: unique('rbac-pg') } }), 'portgroup').body.uuid as string;
  const newDeployTemplate = async (): Promise<string> =>
    must(await call('POST', '/baremetal/v1/deploy_templates', { body: { name: unique('CUSTOM_RBAC_').toUpperCase().replace(/[^A-Z0-9_]/g, '_'), steps: [{ interface: 'bios', step: 'apply_configuration', args: {}, priority: 10 }] } }), 'deploy template').body.uuid as string;
  // A node of A powered off, for the volume records (Ironic changes them only on such a node).
  const newVolumeNode = async (): Promise<string> => {
    const uuid = await newNode();
    must(await call('PUT', `/baremetal/v1/nodes/${uuid}/states/power`, { body: { target: 'power off' } }), 'volume node power off');
    await until(`node ${uuid} powered off`, async () => {
      const n = (await call('GET', `/baremetal/v1/nodes/${uuid}`)).body;
      return n?.power_state === 'power off' && !n.reservation ? true : undefined;
    }, 30_000, 50);
    return uuid;
  };
  const newVolumeConnector = async (node: string): Promise<string> =>
    must(await call('POST', '/baremetal/v1/volume/connectors', { body: { node_uuid: node, type: 'iqn', connector_id: unique('iqn.2026-12.rbac:') } }), 'volume connector').body.uuid as string;
  let bootIndex = 0;
  const newVolumeTarget = async (node: string): Promise<string> =>
    must(await call('POST', '/baremetal/v1/volume/targets', { body: { node_uuid: node, volume_type: 'iscsi', volume_id: unique('rbac-vol'), boot_index: bootIndex++ } }), 'volume target').body.uuid as string;
  const newChassis = async (): Promise<string> =>
    must(await call('POST', '/baremetal/v1/chassis', { body: { description: 'rbac' } }), 'chassis').body.uuid as string;
  const newAllocation = async (node?: string): Promise<string> =>
    must(await call('POST', '/baremetal/v1/allocations', { body: node ? { node, owner: projectA } : { resource_class: 'rbac-none', owner: projectA } }), 'allocation').body.uuid as string;

  // --- orchestration (as memberA, so the records are project A's).
  const heatA = (method: string, path: string, body?: unknown) => request(app, method, `/orchestration${path}`, { token: memberA.token, body });
  const newStack = async (): Promise<Partial<Fixtures>> => {
    const name = unique('rbac-stack');
    const id = must(await heatA('POST', '/stacks', { stack_name: name, template: SMALL_TEMPLATE }), 'stack').body.stack.id as string;
    await until(`stack ${name}`, async () => {
      const s = (await heatA('GET', `/stacks/${name}/${id}`)).body?.stack;
      if (s?.stack_status === 'CREATE_FAILED') throw new Error(`fixture stack failed: ${s.stack_status_reason}`);
      return s?.stack_status === 'CREATE_COMPLETE' ? true : undefined;
    });
    return { stackName: name, stackId: id };
  };
  const newConfig = async (): Promise<string> =>
    must(await heatA('POST', '/software_configs', { name: unique('rbac-config'), group: 'script', config: 'echo secret-of-a' }), 'config').body.software_config.id as string;
  const newDeployment = async (config: string, server: string): Promise<string> =>
    must(await heatA('POST', '/software_deployments', { config_id: config, server_id: server, input_values: { password: 'secret-of-a' } }), 'deployment').body.software_deployment.id as string;

  // --- boot: files, a deploy-image grant, an agent session, boot secrets.
  const boot = seed.server.services.find((s) => s.name === 'boot') as BootService;
  const filesDir = join(seed.stateDir, 'boot', 'files');
  mkdirSync(filesDir, { recursive: true });
  writeFileSync(join(filesDir, 'deploy.kernel'), 'kernel');
  // A boot is bound to the address that first fetches its script: fetched over HTTP, it is 127.0.0.1's.
  const secretFor = async (nodeId: string, m: string): Promise<string> => {
    await boot.manager.prepareBoot({ nodeId, macs: [m], firmware: 'bios' });
    const script = must(await request(app, 'GET', `/boot/${m.replace(/:/g, '-')}.ipxe`), 'boot script').text;
    const secret = new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=(\\S+)`).exec(script)?.[1];
    if (!secret) throw new Error(`fixture boot secret: none in ${script}`);
    return secret;
  };
  const newBootSecret = async (): Promise<Partial<Fixtures>> => {
    const m = mac();
    return { bootMac: m, bootSecret: await secretFor(unique('rbac-boot'), m) };
  };

  // --- network (as memberA, so the records are project A's).
  const neutronA = (method: string, path: string, body?: unknown) => request(app, method, `/networking/v2.0${path}`, { token: memberA.token, body });
  const newNetwork = async (): Promise<string> =>
    must(await neutronA('POST', '/networks', { network: { name: unique('rbac-net') } }), 'network').body.network.id as string;
  const newSubnet = async (network: string, range: string): Promise<string> =>
    must(await neutronA('POST', '/subnets', { subnet: { network_id: network, cidr: range, ip_version: 4, name: unique('rbac-subnet') } }), 'subnet').body.subnet.id as string;
  const newNeutronPort = async (network: string): Promise<string> =>
    must(await neutronA('POST', '/ports', { port: { network_id: network, name: unique('rbac-port') } }), 'neutron port').body.port.id as string;
  const network = async () => {
    const networkA = await newNetwork();
    const subnetA = await newSubnet(networkA, '10.123.0.0/24');
    return { networkA, subnetA, neutronPortA: await newNeutronPort(networkA) };
  };

  // --- compute: flavors and fake-hardware nodes (admin), key pair, server group and server (memberA).
  const novaAs = (token: string) => (method: string, path: string, body?: unknown) => request(app, method, `/compute/v2.1${path}`, { token, body });
  const novaAdmin = novaAs(admin);
  const novaA = novaAs(memberA.token);
  const newFlavor = async (isPublic: boolean, specs: Record<string, string>): Promise<string> => {
    const id = must(await novaAdmin('POST', '/flavors', { flavor: { name: unique('rbac-flavor'), ram: 1, vcpus: 1, disk: 0, 'os-flavor-access:is_public': isPublic } }), 'flavor').body.flavor.id as string;
    must(await novaAdmin('POST', `/flavors/${id}/os-extra_specs`, { extra_specs: specs }), 'extra specs');
    if (!isPublic) must(await novaAdmin('POST', `/flavors/${id}/action`, { addTenantAccess: { tenant: projectA } }), 'flavor access');
    return id;
  };
  const newComputeNode = async (): Promise<string> => {
    const name = unique('rbac-hv');
    const uuid = must(await call('POST', '/baremetal/v1/nodes', {
      body: { driver: 'fake-hardware', name, resource_class: COMPUTE_CLASS, properties: { cpus: 1, memory_mb: 1024, local_gb: 10 }, driver_info: { fake_delay_ms: 0 } },
    }), 'compute node').body.uuid as string;
    for (const [target, state] of [['manage', 'manageable'], ['provide', 'available']] as const) {
      must(await call('PUT', `/baremetal/v1/nodes/${uuid}/states/provision`, { body: { target } }), `node ${target}`);
      await until(`node ${name} ${state}`, async () => {
        const n = (await call('GET', `/baremetal/v1/nodes/${uuid}`)).body;
        return n?.provision_state === state && !n.reservation ? true : undefined;
      }, 30_000, 50);
    }
    return uuid;
  };
  const newKeypair = async (name = unique('rbac-kp')): Promise<string> =>
    must(await novaA('POST', '/os-keypairs', { keypair: { name, public_key: sshKey() } }), 'key pair').body.keypair.name as string;
  const newServerGroup = async (): Promise<string> =>
    must(await novaA('POST', '/os-server-groups', { server_group: { name: unique('rbac-group'), policies: ['anti-affinity'] } }), 'server group').body.server_group.id as string;
  // Set once compute() has made them.
  let publicImage = '';
  let serverFlavor = '';
  /** An ACTIVE server of A, and the request id of its create. */
  const newServer = async (): Promise<{ novaServer: string; instanceAction: string }> => {
    const made = must(await novaA('POST', '/servers', { server: { name: unique('rbac-server'), imageRef: publicImage, flavorRef: serverFlavor, networks: 'none' } }), 'server');
    const id = made.body.server.id as string;
    await until(`server ${id} ACTIVE`, async () => {
      const s = (await novaA('GET', `/servers/${id}`)).body?.server;
      if (s?.status === 'ERROR') throw new Error(`fixture server failed: ${JSON.stringify(s.fault)}`);
      return s?.status === 'ACTIVE' ? true : undefined;
    }, 30_000, 50);
    return { novaServer: id, instanceAction: String(made.headers['x-openstack-request-id']) };
  };
  const compute = async () => {
    const [nodes, image, flavor, flavorPrivate, matching, keypair, serverGroup] = await Promise.all([
      Promise.all(Array.from({ length: COMPUTE_NODES }, newComputeNode)),
      (async () => {
        const id = must(await call('POST', '/image/v2/images', { body: { name: unique('rbac-public'), visibility: 'public', disk_format: 'raw', container_format: 'bare' } }), 'public image').body.id as string;
        must(await call('PUT', `/image/v2/images/${id}/file`, { raw: { type: 'application/octet-stream', data: 'rbac public image bytes' } }), 'public image data');
        return id;
      })(),
      newFlavor(true, { 'hw:rbac': 'x' }),
      newFlavor(false, { 'hw:rbac': 'x' }),
      newFlavor(true, { [`resources:CUSTOM_${COMPUTE_CLASS.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`]: '1', 'resources:VCPU': '0', 'resources:MEMORY_MB': '0', 'resources:DISK_GB': '0' }),
      newKeypair('rbac-key'),
      newServerGroup(),
    ]);
    publicImage = image;
    serverFlavor = matching;
    return { hypervisor: nodes[0]!, flavor, flavorPrivate, keypair, serverGroup, ...(await newServer()) };
  };
  const keyFingerprint = async (): Promise<string> =>
    must(await novaA('GET', '/os-keypairs/rbac-key'), 'key pair').body.keypair.fingerprint as string;

  // Project A's records, the services' in parallel.
  const orchestration = async () => {
    const main = await newStack();
    const events = must(await heatA('GET', `/stacks/${main.stackName}/${main.stackId}/resources/handle/events`), 'events').body.events as Array<{ id: string }>;
    const outputs = must(await heatA('GET', `/stacks/${main.stackName}/${main.stackId}/outputs/signal`), 'signal output').body.output;
    // A server of A (fake compute) with a software deployment resource, whose signal URL is in its
    // input values once the stack reaches it; a standalone config and deployment of A for that server.
    const deployName = unique('rbac-deploy');
    const deployStack = must(await heatA('POST', '/stacks', { stack_name: deployName, template: DEPLOY_TEMPLATE }), 'deploy stack').body.stack.id as string;
    const { server, deploySignal } = await until('deployment signal URL', async () => {
      const list = (await heatA('GET', '/software_deployments')).body?.software_deployments as Array<{ server_id: string; input_values: Record<string, unknown> }> | undefined;
      const d = list?.find((x) => String(x.input_values.deploy_stack_id ?? '').endsWith(deployStack));
      return d ? { server: d.server_id, deploySignal: String(d.input_values.deploy_signal_id) } : undefined;
    });
    const config = await newConfig();
    const deployment = await newDeployment(config, server);
    const serverRes = must(await heatA('GET', `/stacks/${deployName}/${deployStack}/resources/server`), 'server resource').body.resource;
    const metadataUrl = String(serverRes.attributes.os_collect_config.request.metadata_url);
    return { main, eventId: events[0]!.id, waitSignal: String(outputs.output_value), server, deploySignal, metadataUrl, config, deployment };
  };
  const baremetal = async () => {
    const node = await newNode();
    const port = await newPort(node);
    const allocation = await newAllocation(node);
    const history = must(await call('GET', `/baremetal/v1/nodes/${node}/history`), 'history').body.history as Array<{ uuid: string }>;
    const chassis = await newChassis();
    must(await call('PATCH', `/baremetal/v1/nodes/${node}`, { body: [{ op: 'add', path: '/chassis_uuid', value: chassis }] }), 'node into chassis');
    return { node, port, allocation, historyEvent: history[0]!.uuid, chassis };
  };
  const [{ main, eventId, waitSignal, server, deploySignal, metadataUrl, config, deployment }, image, { node, port, allocation, historyEvent, chassis }, neutron, nova] = await Promise.all([
    orchestration(),
    newImage(true),
    baremetal(),
    network(),
    compute(),
  ]);
  const portgroup = await newPortgroup(node);
  const volumeNode = await newVolumeNode();
  const volumeConnector = await newVolumeConnector(volumeNode);
  const volumeTarget = await newVolumeTarget(volumeNode);
  const deployTemplate = await newDeployTemplate();
  const fingerprint = await keyFingerprint();

  const agentMac = mac();
  const lookup = must(await request(app, 'POST', '/boot/agent/lookup', { body: { macs: [agentMac], boot_secret: await secretFor('rbac-agent', agentMac) } }), 'agent lookup');
  const agentToken = lookup.body.agent_token as string;
  const newCommand = async (): Promise<Partial<Fixtures>> => {
    const c = boot.manager.commands.enqueue('rbac-agent', 'inspect');
    boot.manager.commands.next('rbac-agent');
    await boot.manager.commands.flush();
    return { command: c.id };
  };
  const bootImageToken = boot.manager.publishImage('rbac-agent', image).split('/').pop()!;

  const f: Fixtures = {
    projectA,
    projectB,
    userIds: { adminA: adminA.userId, memberA: memberA.userId, readerA: readerA.userId, memberB: memberB.userId, readerB: readerB.userId },
    project: projectA,
    user: userA,
    role: roleId('reader'),
    group,
    impliedRole,
    service: services[0]!.id,
    endpoint: endpoints[0]!.id,
    region: regions[0]!.id,
    endpointGroup,
    domain: 'default',
    credential,
    ec2Access: ec2.access,
    policy,
    subjectToken: memberA.token,
    image,
    node,
    port,
    allocation,
    historyEvent,
    portgroup,
    deployTemplate,
    chassis,
    volumeConnector,
    volumeTarget,
    stackName: main.stackName!,
    stackId: main.stackId!,
    eventId,
    config,
    deployment,
    server,
    waitSignal: new URL(waitSignal).pathname,
    deploySignal: new URL(deploySignal).pathname,
    metadataUrl: new URL(metadataUrl).pathname,
    bootImageToken,
    agentNode: 'rbac-agent',
    agentToken,
    bootMac: '',
    bootSecret: '',
    command: 'none', // commands run one at a time: each cell gets its own (fresh: 'command')
    ...(await newBootSecret()),
    ...neutron,
    ...nova,
    publicImage,
    serverFlavor,
  };

  const fresh: World['fresh'] = {
    project: async () => ({ project: must(await call('POST', '/identity/v3/projects', { body: { project: { name: unique('rbac-p') } } }), 'project').body.project.id }),
    user: async () => ({ user: must(await call('POST', '/identity/v3/users', { body: { user: { name: unique('rbac-u') } } }), 'user').body.user.id }),
    role: async () => ({ role: must(await call('POST', '/identity/v3/roles', { body: { role: { name: unique('rbac-r') } } }), 'role').body.role.id }),
    grant: async () => {
      const user = must(await call('POST', '/identity/v3/users', { body: { user: { name: unique('rbac-g') } } }), 'user').body.user.id as string;
      must(await call('PUT', `/identity/v3/projects/${projectA}/users/${user}/roles/${f.role}`), 'project grant');
      must(await call('PUT', `/identity/v3/domains/default/users/${user}/roles/${f.role}`), 'domain grant');
      must(await call('PUT', `/identity/v3/system/users/${user}/roles/${f.role}`), 'system grant');
      for (const target of [`projects/${projectA}`, 'domains/default']) {
        must(await call('PUT', `/identity/v3/OS-INHERIT/${target}/users/${user}/roles/${f.role}/inherited_to_projects`), `inherited grant on ${target}`);
      }
      return { user };
    },
    group: async () => ({ group: await newGroup() }),
    implication: async () => ({ impliedRole: await newImplication() }),
    subjectToken: async () => ({ subjectToken: await issueToken() }),
    service: async () => ({ service: must(await call('POST', '/identity/v3/services', { body: { service: { type: unique('rbac-t') } } }), 'service').body.service.id }),
    // On a service of its own, disabled: the world's token catalogs stay as they are.
    endpoint: async () => {
      const service = must(await call('POST', '/identity/v3/services', { body: { service: { type: unique('rbac-t') } } }), 'service').body.service.id as string;
      const body = { endpoint: { service_id: service, interface: 'public', url: 'https://rbac.example', enabled: false } };
      return { endpoint: must(await call('POST', '/identity/v3/endpoints', { body }), 'endpoint').body.endpoint.id };
    },
    // A group given to A and a disabled endpoint of its own service given to A.
    endpointGroup: async () => {
      const service = must(await call('POST', '/identity/v3/services', { body: { service: { type: unique('rbac-t') } } }), 'service').body.service.id as string;
      const body = { endpoint: { service_id: service, interface: 'public', url: 'https://rbac.example', enabled: false } };
      const endpoint = must(await call('POST', '/identity/v3/endpoints', { body }), 'endpoint').body.endpoint.id as string;
      return { endpointGroup: await newEndpointGroup(endpoint), endpoint };
    },
    region: async () => ({ region: must(await call('POST', '/identity/v3/regions', { body: { region: {} } }), 'region').body.region.id }),
    credential: async () => ({ credential: await newCredential() }),
    ec2Credential: async () => ({ ec2Access: (await newEc2()).access }),
    policy: async () => ({ policy: await newPolicy() }),
    // Keystone deletes only a disabled domain.
    domain: async () => ({ domain: must(await call('POST', '/identity/v3/domains', { body: { domain: { name: unique('rbac-d'), enabled: false } } }), 'domain').body.domain.id }),
    image: async () => ({ image: await newImage(false) }),
    // A shared image of A offered to B (B's answer still pending), for the member routes.
    sharedImage: async () => {
      const image = await newImage(false, 'shared');
      must(await call('POST', `/image/v2/images/${image}/members`, { body: { member: projectB } }), 'image member');
      return { image };
    },
    activeImage: async () => ({ image: await newImage(true) }),
    node: async () => ({ node: await newNode() }),
    port: async () => ({ port: await newPort(node) }),
    portgroup: async () => ({ portgroup: await newPortgroup(node) }),
    deployTemplate: async () => ({ deployTemplate: await newDeployTemplate() }),
    allocation: async () => ({ allocation: await newAllocation() }),
    chassis: async () => ({ chassis: await newChassis() }),
    volumeConnector: async () => ({ volumeConnector: await newVolumeConnector(volumeNode) }),
    volumeTarget: async () => ({ volumeTarget: await newVolumeTarget(volumeNode) }),
    stack: newStack,
    config: async () => ({ config: await newConfig() }),
    deployment: async () => ({ deployment: await newDeployment(config, server) }),
    bootSecret: newBootSecret,
    command: newCommand,
    network: async () => ({ networkA: await newNetwork() }),
    subnet: async () => ({ subnetA: await newSubnet(await newNetwork(), '10.124.0.0/24') }),
    neutronPort: async () => ({ neutronPortA: await newNeutronPort(f.networkA) }),
    // A private flavor (access: A) with the extra spec hw:rbac.
    flavor: async () => ({ flavor: await newFlavor(false, { 'hw:rbac': 'x' }) }),
    keypair: async () => ({ keypair: await newKeypair() }),
    serverGroup: async () => ({ serverGroup: await newServerGroup() }),
    novaServer: newServer,
  };

  return {
    seed,
    app,
    tokens,
    f,
    fresh,
    secretsOfA: [
      image, node, port, portgroup, allocation, main.stackId!, config, deployment, server, volumeConnector, volumeTarget,
      neutron.networkA, neutron.subnetA, neutron.neutronPortA,
      nova.flavorPrivate, nova.serverGroup, nova.novaServer,
      // memberA's key pair (another user's listing must not show it).
      fingerprint,
      // user A's credential blob and EC2 secret.
      credentialSecret, ec2.secret,
    ],
    stop: () => seed.stop(),
  };
}

/**
 * Every route the running server registered, as "METHOD /path/:" with parameter names blanked
 * (Fastify prints routes as a tree and merges parameters of different names at one position,
 * e.g. "/:id|:target"). The parameter names of a matrix row are checked with routeMatches().
 */
export function registeredRoutes(app: FastifyInstance): string[] {
  const tree = app.printRoutes();
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    if (!line.trim()) continue;
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) throw new Error(`cannot read this line of app.printRoutes(): ${JSON.stringify(line)}`);
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    if (!m[3]) continue; // a node of the tree that is a prefix of routes, not a route
    const path = normalizeRoute(stack.join(''));
    for (const method of m[3].split(', ')) out.add(`${method} ${path}`);
  }
  return [...out].sort();
}

/** "/projects/:id|:target/x" and "/projects/:id/x" both become "/projects/:/x". */
export function normalizeRoute(path: string): string {
  return path.replace(/:[^/]+/g, ':');
}

/** Undefined when `method url` (a pattern with :params) is a registered route with exactly these parameter names; else why not. */
export function routeMismatch(app: FastifyInstance, method: string, url: string): string | undefined {
  // A wildcard is probed with a value no parameter takes (longer than find-my-way's 100 characters).
  const probe = `w${'x'.repeat(120)}`;
  const found = app.findRoute({ method: method as 'GET', url: url.replace(/\*$/, probe) });
  if (!found) return 'no such route';
  const names = [...url.matchAll(/:([^/]+)|\*/g)].map((x) => x[1] ?? '*');
  const params = found.params as Record<string, string>;
  const wrong = Object.entries(params).filter(([k, v]) => v !== (k === '*' ? probe : `:${k}`));
  if (wrong.length || Object.keys(params).length !== names.length) {
    return `matches a route with other parameters: ${JSON.stringify(params)}`;
  }
  return undefined;
}
