// Heat's servers through the REAL compute and network services (the default
// orchestration.compute_provider "compute"), on fake-hardware nodes: a TripleO-style template
// (a port with a fixed address on ctlplane, servers with `networks: [{port}]` and
// `[{network: ctlplane}]`, an anti-affinity server group, the default `baremetal` flavor) makes
// ordinary servers — `GET /servers` lists them, the nodes carry them as instance_uuid, their ports
// are bound to the nodes' MACs — and the attributes Heat templates read (`networks`, `first_address`)
// give the ports' addresses. Deleting the stack frees the nodes and the ports.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestSeed } from './support/seed.js';
import { IRONIC, computeSeed, makeImage, makeNodes, nodeIn, waitFor } from './compute-support.js';

let seed: TestSeed;
let admin: string;
before(async () => {
  seed = await computeSeed({ network: { provisioning: { cidr: '192.168.24.0/24', allocation_start: '192.168.24.100', allocation_end: '192.168.24.200' } } });
  admin = await seed.token();
  const uuids = await makeNodes(seed, admin, ['oc-0', 'oc-1', 'oc-2']);
  // Each node's NIC: the MAC compute binds the server's Neutron port to.
  for (const [i, uuid] of uuids.entries()) {
    const p = await seed.call('POST', '/baremetal/v1/ports', { token: admin, headers: IRONIC, body: { node_uuid: uuid, address: `52:54:00:0c:00:0${i}` } });
    assert.equal(p.status, 201, JSON.stringify(p.body));
  }
  await makeImage(seed, admin, 'overcloud-full');
});
after(async () => {
  await seed?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function settle(name: string, id: string): Promise<Json> {
  return waitFor(`stack ${name}`, async () => (await seed.call('GET', `/orchestration/stacks/${name}/${id}`, { token: admin })).body.stack, (s) => !String(s.stack_status).endsWith('IN_PROGRESS'), 60_000);
}

const TEMPLATE = {
  heat_template_version: '2016-10-14',
  resources: {
    group: { type: 'OS::Nova::ServerGroup', properties: { name: 'controllers', policies: ['anti-affinity'] } },
    controller_port: { type: 'OS::Neutron::Port', properties: { network: 'ctlplane', fixed_ips: [{ ip_address: '192.168.24.20' }] } },
    controller: {
      type: 'OS::Nova::Server',
      properties: {
        name: 'overcloud-controller-0',
        image: 'overcloud-full',
        flavor: 'baremetal',
        networks: [{ port: { get_resource: 'controller_port' } }],
        scheduler_hints: { group: { get_resource: 'group' } },
        software_config_transport: 'POLL_SERVER_HEAT',
      },
    },
    compute: {
      type: 'OS::Nova::Server',
      properties: {
        name: 'overcloud-novacompute-0',
        image: 'overcloud-full',
        flavor: 'baremetal',
        networks: [{ network: 'ctlplane' }],
        scheduler_hints: { group: { get_resource: 'group' } },
      },
    },
  },
  outputs: {
    controller_ip: { value: { get_attr: ['controller', 'networks', 'ctlplane', 0] } },
    controller_first: { value: { get_attr: ['controller', 'first_address'] } },
    compute_ip: { value: { get_attr: ['compute', 'networks', 'ctlplane', 0] } },
    compute_id: { value: { get_resource: 'compute' } },
    controller_id: { value: { get_resource: 'controller' } },
  },
};

test('a TripleO-style stack makes real servers on ports: addresses, attributes, server list, delete', async () => {
  const created = await seed.call('POST', '/orchestration/stacks', { token: admin, body: { stack_name: 'overcloud', template: TEMPLATE } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stack = await settle('overcloud', created.body.stack.id);
  assert.equal(stack.stack_status, 'CREATE_COMPLETE', stack.stack_status_reason);
  const out = Object.fromEntries((stack.outputs as Json[]).map((o) => [o.output_key, o.output_value]));
  assert.equal(out.controller_ip, '192.168.24.20');
  assert.equal(out.controller_first, '192.168.24.20');
  assert.match(String(out.compute_ip), /^192\.168\.24\.(1\d\d|200)$/, 'from the allocation pool');

  // Ordinary servers: listed by compute, ACTIVE, with their ports' addresses.
  const servers = (await seed.call('GET', '/compute/v2.1/servers/detail', { token: admin })).body.servers as Json[];
  const byName = new Map(servers.map((s) => [s.name, s]));
  const controller = byName.get('overcloud-controller-0');
  const compute = byName.get('overcloud-novacompute-0');
  assert.ok(controller && compute, JSON.stringify(servers.map((s) => s.name)));
  assert.equal(controller.id, out.controller_id);
  assert.equal(compute.id, out.compute_id);
  assert.equal(controller.status, 'ACTIVE');
  assert.deepEqual(controller.addresses.ctlplane.map((a: Json) => a.addr), ['192.168.24.20']);

  // Each node carries its server; anti-affinity: two nodes; the port is bound to the node's MAC.
  const nodes = (await seed.call('GET', '/baremetal/v1/nodes?detail=true', { token: admin, headers: IRONIC })).body.nodes as Json[];
  const hostOf = (id: string) => nodes.find((n) => n.instance_uuid === id);
  assert.ok(hostOf(controller.id) && hostOf(compute.id));
  assert.notEqual(hostOf(controller.id).uuid, hostOf(compute.id).uuid);
  const ports = (await seed.call('GET', `/networking/v2.0/ports?device_id=${controller.id}`, { token: admin })).body.ports as Json[];
  assert.equal(ports.length, 1);
  assert.equal(ports[0]['binding:host_id'], hostOf(controller.id).uuid);
  const nodePorts = (await seed.call('GET', `/baremetal/v1/ports?node=${hostOf(controller.id).uuid}`, { token: admin, headers: IRONIC })).body.ports as Json[];
  assert.equal(ports[0].mac_address, nodePorts[0].address, 'the Neutron port takes the node NIC MAC');

  // The machine's first-boot data: its port's static address in network_data, and the
  // os-collect-config section (POLL_SERVER_HEAT) in meta_data.
  // (The API masks instance_info.configdrive; the node row holds what the agent will write.)
  const row = await (seed.server.database.db as Json).selectFrom('baremetal_nodes').select('instance_info').where('uuid', '=', hostOf(controller.id).uuid).executeTakeFirst();
  const drive = JSON.parse(row.instance_info).configdrive as Json;
  assert.equal(drive.meta_data['os-collect-config'].heat.resource_name, 'controller');
  assert.equal(drive.network_data.networks[0].ip_address, '192.168.24.20');

  // Delete: servers gone, nodes available, the stack's port and compute's port deleted.
  const deleted = await seed.call('DELETE', `/orchestration/stacks/overcloud/${created.body.stack.id}`, { token: admin });
  assert.equal(deleted.status, 204);
  await waitFor('stack gone', async () => (await seed.call('GET', `/orchestration/stacks/overcloud/${created.body.stack.id}`, { token: admin })).body.stack?.stack_status, (s) => s === 'DELETE_COMPLETE' || s === undefined, 60_000);
  assert.equal(((await seed.call('GET', '/compute/v2.1/servers', { token: admin })).body.servers as Json[]).length, 0);
  for (const n of ['oc-0', 'oc-1', 'oc-2']) assert.equal((await nodeIn(seed, admin, n, 'available')).instance_uuid, null);
  const left = (await seed.call('GET', '/networking/v2.0/ports', { token: admin })).body.ports as Json[];
  assert.deepEqual(left.filter((p) => p.device_owner?.startsWith('compute:') || p.fixed_ips.some((f: Json) => f.ip_address === '192.168.24.20')), []);
});

test('a flavor no node matches: the server and the stack fail with Nova\'s fault, nothing allocated', async () => {
  const flavor = await seed.call('POST', '/compute/v2.1/flavors', { token: admin, body: { flavor: { name: 'gpu', ram: 1, vcpus: 1, disk: 0 } } });
  assert.equal(flavor.status, 200, JSON.stringify(flavor.body));
  await seed.call('POST', `/compute/v2.1/flavors/${flavor.body.flavor.id}/os-extra_specs`, { token: admin, body: { extra_specs: { 'resources:CUSTOM_GPU': '1', 'resources:VCPU': '0', 'resources:MEMORY_MB': '0', 'resources:DISK_GB': '0' } } });
  const tpl = { heat_template_version: '2016-10-14', resources: { s: { type: 'OS::Nova::Server', properties: { image: 'overcloud-full', flavor: 'gpu' } } } };
  const created = await seed.call('POST', '/orchestration/stacks', { token: admin, body: { stack_name: 'nohost', template: tpl } });
  const stack = await settle('nohost', created.body.stack.id);
  assert.equal(stack.stack_status, 'CREATE_FAILED');
  assert.match(stack.stack_status_reason, /No valid host was found/);
  const nodes = (await seed.call('GET', '/baremetal/v1/nodes?detail=true', { token: admin, headers: IRONIC })).body.nodes as Json[];
  assert.ok(nodes.every((n) => !n.instance_uuid && !n.allocation_uuid));
});
