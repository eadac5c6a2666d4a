// OS::Neutron::Net/Subnet/Port and OS::Nova::Server's networks through the named fakes
// (FakeNetworkProvider, FakeComputeProvider reading ports through it), plus OS::Nova::Flavor and
// OS::Nova::ServerGroup through the compute provider. The real network service: test/orchestration-network.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withEngine, type TestEngine } from '../../test/support/orchestration/test-support.js';
import type { Json } from './yaml-source.js';


async function outputs(t: TestEngine, id: string): Promise<Record<string, Json>> {
  const row = (await t.engine.getStack(id))!;
  return Object.fromEntries((await t.engine.outputs(row)).map((o) => [o.output_key, o.output_error ? `ERROR ${o.output_error}` : o.output_value]));
}

const TRIPLEO = `
heat_template_version: 2016-10-14
resources:
  group:
    type: OS::Nova::ServerGroup
    properties: {name: controllers, policies: [anti-affinity]}
  port:
    type: OS::Neutron::Port
    properties:
      network: ctlplane
      fixed_ips: [{ip_address: 192.168.24.20}]
  server:
    type: OS::Nova::Server
    properties:
      image: overcloud-full
      flavor: baremetal
      key_name: default
      config_drive: false
      networks: [{port: {get_resource: port}}]
      scheduler_hints: {group: {get_resource: group}}
outputs:
  ctlplane_ip: {value: {get_attr: [server, networks, ctlplane, 0]}}
  first: {value: {get_attr: [server, first_address]}}
  port_ip: {value: {get_attr: [port, fixed_ips, 0, ip_address]}}
  mac: {value: {get_attr: [server, addresses, ctlplane, 0, OS-EXT-IPS-MAC:mac_addr]}}
  port_mac: {value: {get_attr: [port, mac_address]}}
`;

test('a TripleO-style port with a fixed address on ctlplane is the server\'s address (networks, first_address)', () =>
  withEngine(async (t) => {
    const { network } = t.network.addNetwork('p', 'ctlplane', '192.168.24.0/24', true);
    const s = await t.engine.create('p', { stack_name: 'oc', template: TRIPLEO });
    const row = await t.settle(s.id);
    assert.equal(row.status, 'COMPLETE', row.status_reason);
    const port = (await t.engine.resourceRow(s.id, 'port')).physical_id!;
    const group = (await t.engine.resourceRow(s.id, 'group')).physical_id!;
    const [spec] = t.compute.list();
    assert.deepEqual(spec!.networks, [{ port }]);
    assert.equal(spec!.configDrive, false);
    assert.equal(spec!.keyName, 'default');
    assert.equal(spec!.serverGroup, group);
    assert.equal(t.compute.serverGroups.get(group)?.policy, 'anti-affinity');
    const out = await outputs(t, s.id);
    assert.equal(out.ctlplane_ip, '192.168.24.20');
    assert.equal(out.first, '192.168.24.20');
    assert.equal(out.port_ip, '192.168.24.20');
    assert.match(String(out.mac), /^fa:16:3e:/);
    assert.equal(out.mac, out.port_mac);
    // Heat's networks attribute keys the addresses by network id too.
    const server = await t.engine.resourceRow(s.id, 'server');
    const attrs = await t.engine.resourceAttributes(row, server);
    assert.deepEqual(attrs.networks, { ctlplane: ['192.168.24.20'], [network.id]: ['192.168.24.20'] });
    assert.deepEqual((attrs.addresses as Record<string, Json>).ctlplane, [{ addr: '192.168.24.20', version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': String(out.mac) }]);

    await t.engine.delete(row);
    assert.equal((await t.settle(s.id)).status, 'COMPLETE');
    assert.equal(t.network.ports.size, 0, 'the port is deleted with the stack');
    assert.equal(t.compute.serverGroups.size, 0);
    assert.equal(t.compute.list().length, 0);
  }));

const NET = `
heat_template_version: 2016-10-14
resources:
  net:
    type: OS::Neutron::Net
    properties: {name: internal_api}
  subnet:
    type: OS::Neutron::Subnet
    properties:
      network: {get_resource: net}
      cidr: 172.16.2.0/24
      allocation_pools: [{start: 172.16.2.4, end: 172.16.2.250}]
  port:
    type: OS::Neutron::Port
    properties:
      network: {get_resource: net}
      fixed_ips: [{subnet: {get_resource: subnet}}]
  server:
    type: OS::Nova::Server
    properties:
      image: overcloud-full
      flavor: baremetal
      networks: [{network: {get_resource: net}, fixed_ip: 172.16.2.99}]
outputs:
  port_ip: {value: {get_attr: [port, fixed_ips, 0, ip_address]}}
  net_subnets: {value: {get_attr: [net, subnets]}}
  cidr: {value: {get_attr: [subnet, cidr]}}
  pools: {value: {get_attr: [subnet, allocation_pools]}}
  port_net: {value: {get_attr: [port, network_id]}}
  port_subnet_cidr: {value: {get_attr: [port, subnets, 0, cidr]}}
  server_ip: {value: {get_attr: [server, networks, internal_api, 0]}}
`;

test('Net, Subnet and Port are created in dependency order and deleted in reverse; attributes read the records', () =>
  withEngine(async (t) => {
    const s = await t.engine.create('p', { stack_name: 'nets', template: NET });
    const row = await t.settle(s.id);
    assert.equal(row.status, 'COMPLETE', row.status_reason);
    const id = async (n: string) => (await t.engine.resourceRow(s.id, n)).physical_id!;
    const [net, subnet, port] = [await id('net'), await id('subnet'), await id('port')];
    assert.equal(t.network.networks.get(net)?.project_id, 'p');
    assert.equal(t.network.networks.get(net)?.name, 'internal_api');
    const out = await outputs(t, s.id);
    assert.equal(out.port_ip, '172.16.2.4', 'the lowest address of the pool');
    assert.deepEqual(out.net_subnets, [subnet]);
    assert.equal(out.cidr, '172.16.2.0/24');
    assert.deepEqual(out.pools, [{ start: '172.16.2.4', end: '172.16.2.250' }]);
    assert.equal(out.port_net, net);
    assert.equal(out.port_subnet_cidr, '172.16.2.0/24');
    assert.equal(out.server_ip, '172.16.2.99');
    assert.deepEqual(t.compute.list()[0]!.networks, [{ network: net, fixedIp: '172.16.2.99' }]);
    assert.equal(t.network.ports.get(port)?.fixed_ips[0]?.subnet_id, subnet);

    const order = (action: string) => t.engine.events(s.id).then((evs) => evs.filter((e) => e.action === action && e.status === 'COMPLETE' && e.resource_name !== 'nets').map((e) => e.resource_name));
    const created = await order('CREATE');
    assert.ok(created.indexOf('net') < created.indexOf('subnet') && created.indexOf('subnet') < created.indexOf('port'), created.join(','));
    await t.engine.delete(row);
    assert.equal((await t.settle(s.id)).status, 'COMPLETE');
    const deleted = await order('DELETE');
    assert.ok(deleted.indexOf('port') < deleted.indexOf('subnet') && deleted.indexOf('subnet') < deleted.indexOf('net'), deleted.join(','));
    assert.equal(t.network.networks.size, 0);
    assert.equal(t.network.subnets.size, 0);
    assert.equal(t.network.ports.size, 0);
  }));

test('another project\'s port, network or server group is not found; its shared network gives no chosen address', () =>
  withEngine(async (t) => {
    const { network: priv } = t.network.addNetwork('p', 'private', '10.0.0.0/24');
    t.network.addNetwork('p', 'ctlplane', '192.168.24.0/24', true);
    const mine = await t.network.createPort('p', { networkId: priv.id });
    const group = await t.compute.createServerGroup({ projectId: 'p', name: 'g', policy: 'affinity', rules: {} });
    const server = (extra: string) => `
heat_template_version: 2016-10-14
resources:
  server:
    type: OS::Nova::Server
    properties: {image: i, flavor: f, ${extra}}
`;
    const fails = async (name: string, template: string, reason: RegExp) => {
      const s = await t.engine.create('q', { stack_name: name, template });
      const row = await t.settle(s.id);
      assert.equal(row.status, 'FAILED', name);
      assert.match(row.status_reason, reason);
    };
    await fails('port', server(`networks: [{port: ${mine.id}}]`), new RegExp(`networks\\[0\\]\\.port: port ${mine.id} could not be found`));
    await fails('net', server(`networks: [{network: ${priv.id}}]`), /networks\[0\]\.network: network .* could not be found/);
    await fails('group', server(`scheduler_hints: {group: ${group}}`), /scheduler_hints\.group: server group .* could not be found/);
    await fails('portres', 'heat_template_version: 2016-10-14\nresources:\n  p: {type: OS::Neutron::Port, properties: {network: private}}\n', /properties\.network: network private could not be found/);
    await fails('fixed', 'heat_template_version: 2016-10-14\nresources:\n  p: {type: OS::Neutron::Port, properties: {network: ctlplane, fixed_ips: [{ip_address: 192.168.24.9}]}}\n', /ip_address: only the owner of network/);
    await fails('bad-nic', server('networks: [{fixed_ip: 10.0.0.5}]'), /properties\.networks\[0\]: one of network, port or subnet is required/);
    await fails('shared', 'heat_template_version: 2016-10-14\nresources:\n  n: {type: OS::Neutron::Net, properties: {shared: true}}\n', /properties\.shared: a shared network needs an admin/);
    // Nothing of p's changed; q got a pool address on the shared network only when it asked for none.
    assert.equal(t.network.ports.get(mine.id)?.project_id, 'p');
    const ok = await t.engine.create('q', { stack_name: 'pool', template: 'heat_template_version: 2016-10-14\nresources:\n  p: {type: OS::Neutron::Port, properties: {network: ctlplane}}\noutputs:\n  ip: {value: {get_attr: [p, fixed_ips, 0, ip_address]}}\n' });
    assert.equal((await t.settle(ok.id)).status, 'COMPLETE');
    assert.equal((await outputs(t, ok.id)).ip, '192.168.24.2');
    // Deleting p's port from q's stack is a no-op: q's stack cannot name it as its own.
    await t.network.deletePort(mine.id, 'q');
    assert.ok(t.network.ports.has(mine.id));
  }));

test('OS::Nova::Flavor goes through the compute provider and is deleted with the stack', () =>
  withEngine(async (t) => {
    const tpl = 'heat_template_version: 2016-10-14\nresources:\n  f: {type: OS::Nova::Flavor, properties: {ram: 1024, vcpus: 2, extra_specs: {"resources:CUSTOM_BAREMETAL": "1"}, is_public: false}}\noutputs:\n  id: {value: {get_resource: f}}\n';
    const s = await t.engine.create('p', { stack_name: 'flv', template: tpl });
    const row = await t.settle(s.id);
    assert.equal(row.status, 'COMPLETE', row.status_reason);
    const id = String((await outputs(t, s.id)).id);
    assert.deepEqual({ ...t.compute.flavors.get(id), name: undefined }, { projectId: 'p', name: undefined, ram: 1024, vcpus: 2, disk: 0, swap: 0, ephemeral: 0, rxtxFactor: 1, isPublic: false, extraSpecs: { 'resources:CUSTOM_BAREMETAL': '1' }, tenants: [] });
    await t.engine.delete(row);
    await t.settle(s.id);
    assert.equal(t.compute.flavors.size, 0);
  }));
