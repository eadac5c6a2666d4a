// Heat's Neutron resources through the REAL network service (src/server/orchestration-network.ts
// over src/network), on a seed with the fake compute provider: ports get their addresses from
// the network service's IPAM on the provisioning network, the server's address is its port's,
// another project can neither use nor see the stack's ports, and deleting the stack frees them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

let seed: TestSeed;
before(async () => {
  seed = await startSeed({
    log: { level: 'warn' },
    orchestration: { compute_provider: 'fake' },
    network: { provisioning: { cidr: '192.168.24.0/24', allocation_start: '192.168.24.100', allocation_end: '192.168.24.200' } },
  });
});
after(async () => {
  await seed?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function settle(token: string, name: string, id: string, done: (s: any) => boolean = (s) => !s.stack_status.endsWith('IN_PROGRESS')): Promise<any> {
  for (let i = 0; i < 400; i++) {
    const r = await seed.call('GET', `/orchestration/stacks/${name}/${id}`, { token });
    if (r.status === 404) return undefined;
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (done(r.body.stack)) return r.body.stack;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`stack ${name} did not settle`);
}

const TEMPLATE = {
  heat_template_version: '2016-10-14',
  resources: {
    ctlplane_port: { type: 'OS::Neutron::Port', properties: { network: 'ctlplane', fixed_ips: [{ ip_address: '192.168.24.20' }] } },
    pool_port: { type: 'OS::Neutron::Port', properties: { network: 'ctlplane' } },
    net: { type: 'OS::Neutron::Net', properties: { name: 'internal_api' } },
    subnet: { type: 'OS::Neutron::Subnet', properties: { network: { get_resource: 'net' }, cidr: '172.16.2.0/24' } },
    api_port: { type: 'OS::Neutron::Port', properties: { network: { get_resource: 'net' }, fixed_ips: [{ subnet: { get_resource: 'subnet' } }] } },
    server: {
      type: 'OS::Nova::Server',
      properties: { image: 'overcloud-full', flavor: 'baremetal', config_drive: false, networks: [{ port: { get_resource: 'ctlplane_port' } }, { port: { get_resource: 'api_port' } }] },
    },
  },
  outputs: {
    ctlplane_ip: { value: { get_attr: ['server', 'networks', 'ctlplane', 0] } },
    api_ip: { value: { get_attr: ['server', 'networks', 'internal_api', 0] } },
    first: { value: { get_attr: ['server', 'first_address'] } },
    pool_ip: { value: { get_attr: ['pool_port', 'fixed_ips', 0, 'ip_address'] } },
    api_port: { value: { get_resource: 'api_port' } },
  },
};

test('a TripleO-style stack takes its addresses from the network service and frees them on delete', async () => {
  const admin = await seed.token();
  const other = await userWithRole(seed, admin, 'net-other', 'net-other-member', 'member');

  const st = await seed.call('POST', '/orchestration/stacks', { token: admin, body: { stack_name: 'oc', template: TEMPLATE } });
  assert.equal(st.status, 201, JSON.stringify(st.body));
  const id = st.body.stack.id as string;
  const stack = await settle(admin, 'oc', id);
  assert.equal(stack.stack_status, 'CREATE_COMPLETE', stack.stack_status_reason);
  const out = Object.fromEntries((stack.outputs as { output_key: string; output_value: unknown }[]).map((o) => [o.output_key, o.output_value]));
  assert.equal(out.ctlplane_ip, '192.168.24.20');
  assert.equal(out.first, '192.168.24.20');
  assert.equal(out.pool_ip, '192.168.24.100', 'the lowest free address of the configured pool');
  assert.equal(out.api_ip, '172.16.2.2');

  // The records are the network service's: the Neutron API shows them.
  const ports = await seed.call('GET', '/networking/v2.0/ports?fixed_ips=ip_address=192.168.24.20', { token: admin });
  assert.equal(ports.status, 200);
  assert.equal(ports.body.ports.length, 1);
  const portId = ports.body.ports[0].id as string;
  const nets = await seed.call('GET', '/networking/v2.0/networks?name=internal_api', { token: admin });
  assert.equal(nets.body.networks.length, 1);
  assert.equal(nets.body.networks[0].subnets.length, 1);
  // A taken address is refused to anyone else.
  const taken = await seed.call('POST', '/networking/v2.0/ports', { token: admin, body: { port: { network_id: ports.body.ports[0].network_id, fixed_ips: [{ ip_address: '192.168.24.20' }] } } });
  assert.equal(taken.status, 409, JSON.stringify(taken.body));

  // Another project: the admin's port is "not found" to its server, and it may not choose an
  // address on the admin's (shared) provisioning network.
  const steal = await seed.call('POST', '/orchestration/stacks', {
    token: other.token,
    body: { stack_name: 'steal', template: { heat_template_version: '2016-10-14', resources: { s: { type: 'OS::Nova::Server', properties: { image: 'i', flavor: 'f', networks: [{ port: portId }] } } } } },
  });
  assert.equal(steal.status, 201, JSON.stringify(steal.body));
  const stolen = await settle(other.token, 'steal', steal.body.stack.id);
  assert.equal(stolen.stack_status, 'CREATE_FAILED');
  assert.match(stolen.stack_status_reason, new RegExp(`port ${portId} could not be found`));
  const squat = await seed.call('POST', '/orchestration/stacks', {
    token: other.token,
    body: { stack_name: 'squat', template: { heat_template_version: '2016-10-14', resources: { p: { type: 'OS::Neutron::Port', properties: { network: 'ctlplane', fixed_ips: [{ ip_address: '192.168.24.21' }] } }, sub: { type: 'OS::Neutron::Subnet', properties: { network: 'ctlplane', cidr: '10.9.0.0/24' } } } } },
  });
  const squatted = await settle(other.token, 'squat', squat.body.stack.id);
  assert.equal(squatted.stack_status, 'CREATE_FAILED');
  const events = await seed.call('GET', `/orchestration/stacks/squat/${squat.body.stack.id}/events`, { token: other.token });
  const reasons = (events.body.events as { resource_name: string; resource_status: string; resource_status_reason: string }[]).filter((e) => e.resource_status === 'CREATE_FAILED').map((e) => `${e.resource_name}: ${e.resource_status_reason}`).join('\n');
  assert.match(reasons, /p: .*port\.fixed_ips\[0\]\.ip_address: only the owner of network/);
  assert.match(reasons, /sub: .*Network .* could not be found/);
  assert.equal((await seed.call('GET', '/networking/v2.0/ports?fixed_ips=ip_address=192.168.24.21', { token: admin })).body.ports.length, 0);
  assert.equal((await seed.call('GET', `/networking/v2.0/ports/${portId}`, { token: other.token })).status, 404);

  // Delete: ports, subnet and network are gone and the addresses free again.
  assert.equal((await seed.call('DELETE', `/orchestration/stacks/oc/${id}`, { token: admin })).status, 204);
  const gone = await settle(admin, 'oc', id, (s) => s.stack_status === 'DELETE_COMPLETE' || s.stack_status === 'DELETE_FAILED');
  assert.ok(!gone || gone.stack_status === 'DELETE_COMPLETE', gone?.stack_status_reason);
  assert.equal((await seed.call('GET', `/networking/v2.0/ports/${portId}`, { token: admin })).status, 404);
  assert.equal((await seed.call('GET', '/networking/v2.0/networks?name=internal_api', { token: admin })).body.networks.length, 0);
  assert.equal((await seed.call('GET', `/networking/v2.0/ports/${out.api_port as string}`, { token: admin })).status, 404);
  const again = await seed.call('POST', '/networking/v2.0/ports', { token: admin, body: { port: { network_id: ports.body.ports[0].network_id, fixed_ips: [{ ip_address: '192.168.24.20' }] } } });
  assert.equal(again.status, 201, JSON.stringify(again.body));
});
