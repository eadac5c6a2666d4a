// The Neutron subset through HTTP on a fresh seed (SQLite): networks, subnets and ports with
// their filters, validation messages that name the field, Neutron's fault format, the default
// policies for two projects, IPAM under 200 concurrent port creates, and the in-process port API
// (NetworkPorts) that compute uses, including network_data.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';
import type { NetworkService } from '../src/network/index.js';

let seed: TestSeed;
let admin = '';
const who: Record<string, { token: string; projectId: string }> = {};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Res = { status: number; body: any };
const api = (token: string, method: string, path: string, body?: unknown): Promise<Res> => seed.call(method, `/networking/v2.0${path}`, { token, body });
const network = () => seed.server.services.find((s) => s.name === 'network') as NetworkService;

async function created(token: string, kind: string, body: Record<string, unknown>) {
  const r = await api(token, 'POST', `/${kind}s`, { [kind]: body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body[kind];
}

before(async () => {
  seed = await startSeed({ log: { level: 'warn' } });
  admin = await seed.token();
  for (const [name, project, role] of [['memberA', 'netA', 'member'], ['readerA', 'netA', 'reader'], ['memberB', 'netB', 'member'], ['readerB', 'netB', 'reader']] as const) {
    who[name] = await userWithRole(seed, admin, project, name, role);
  }
});
after(async () => {
  await seed?.stop();
});

test('the version document lists v2.0, the catalog has the network endpoint, faults are NeutronError', async () => {
  const v = await seed.call('GET', '/networking/');
  assert.equal(v.status, 200);
  assert.equal(v.body.versions[0].id, 'v2.0');
  assert.equal(v.body.versions[0].status, 'CURRENT');
  assert.match(v.body.versions[0].links[0].href, /\/networking\/v2\.0\/$/);
  const catalog = await seed.call('GET', '/identity/v3/auth/catalog', { token: admin });
  const entry = catalog.body.catalog.find((c: { type: string }) => c.type === 'network');
  assert.equal(entry.name, 'neutron');
  assert.match(entry.endpoints[0].url, /\/networking$/);
  const missing = await api(admin, 'GET', '/networks/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { NeutronError: { type: 'NetworkNotFound', message: 'Network nope could not be found.', detail: '' } });
  const anon = await seed.call('GET', '/networking/v2.0/networks');
  assert.equal(anon.status, 401);
  assert.ok(anon.body.NeutronError.message);
});

test('networks: create with provider attributes, show, filters, update, delete; provider attributes admin-only', async () => {
  const flat = await created(admin, 'network', { name: 'prov-x', 'provider:network_type': 'flat', 'provider:physical_network': 'physx', shared: true, mtu: 9000 });
  assert.equal(flat['provider:network_type'], 'flat');
  assert.equal(flat['provider:physical_network'], 'physx');
  assert.equal(flat.shared, true);
  assert.equal(flat.mtu, 9000);
  assert.equal(flat.status, 'ACTIVE');
  assert.equal(flat.project_id, flat.tenant_id);
  const again = await api(admin, 'POST', '/networks', { network: { name: 'prov-y', 'provider:network_type': 'flat', 'provider:physical_network': 'physx' } });
  assert.equal(again.status, 409);
  assert.equal(again.body.NeutronError.type, 'FlatNetworkInUse');
  const vlan = await created(admin, 'network', { name: 'vlan-10', 'provider:network_type': 'vlan', 'provider:physical_network': 'physx', 'provider:segmentation_id': 10, 'router:external': true });
  assert.equal(vlan['provider:segmentation_id'], 10);
  const badVlan = await api(admin, 'POST', '/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physx', 'provider:segmentation_id': 5000 } });
  assert.equal(badVlan.status, 400);
  assert.match(badVlan.body.NeutronError.message, /network\.provider:segmentation_id/);

  const own = await created(who.memberA!.token, 'network', { name: 'a-net' });
  assert.equal(own.project_id, who.memberA!.projectId);
  assert.equal(own['provider:network_type'], undefined, 'provider attributes are not shown to members');
  const shown = await api(admin, 'GET', `/networks/${own.id}`);
  assert.equal(shown.body.network['provider:network_type'], 'local');

  // Filters.
  const byName = await api(admin, 'GET', '/networks?name=prov-x');
  assert.deepEqual(byName.body.networks.map((n: { id: string }) => n.id), [flat.id]);
  const shared = await api(admin, 'GET', '/networks?shared=true');
  assert.ok(shared.body.networks.every((n: { shared: boolean }) => n.shared));
  assert.ok(shared.body.networks.some((n: { id: string }) => n.id === flat.id));
  const external = await api(admin, 'GET', '/networks?router:external=true');
  assert.deepEqual(external.body.networks.map((n: { id: string }) => n.id), [vlan.id]);
  const physx = await api(admin, 'GET', '/networks?provider:physical_network=physx&provider:network_type=flat');
  assert.deepEqual(physx.body.networks.map((n: { id: string }) => n.id), [flat.id]);
  const ids = await api(admin, 'GET', `/networks?id=${flat.id}&id=${vlan.id}&fields=id&fields=name`);
  assert.deepEqual(ids.body.networks.map((n: object) => Object.keys(n).sort()), [['id', 'name'], ['id', 'name']]);

  const upd = await api(who.memberA!.token, 'PUT', `/networks/${own.id}`, { network: { name: 'a-net-2', admin_state_up: false } });
  assert.equal(upd.status, 200, JSON.stringify(upd.body));
  assert.equal(upd.body.network.name, 'a-net-2');
  assert.equal(upd.body.network.admin_state_up, false);
  const makeShared = await api(who.memberA!.token, 'PUT', `/networks/${own.id}`, { network: { shared: true } });
  assert.equal(makeShared.status, 403);
  assert.equal(makeShared.body.NeutronError.type, 'PolicyNotAuthorized');
  assert.equal((await api(who.memberA!.token, 'DELETE', `/networks/${own.id}`)).status, 204);
  assert.equal((await api(admin, 'GET', `/networks/${own.id}`)).status, 404);
  for (const n of [flat, vlan]) assert.equal((await api(admin, 'DELETE', `/networks/${n.id}`)).status, 204);
});

test('validation names the field: unknown attributes, types, CIDRs, pools, gateway, name servers, IPv6', async () => {
  const unknown = await api(admin, 'POST', '/networks', { network: { name: 'x', colour: 'red' } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.NeutronError.message, /network\.colour/);
  const mtu = await api(admin, 'POST', '/networks', { network: { mtu: '1500' } });
  assert.match(mtu.body.NeutronError.message, /network\.mtu/);
  const wrapper = await api(admin, 'POST', '/networks', { name: 'x' });
  assert.equal(wrapper.status, 400);
  assert.match(wrapper.body.NeutronError.message, /\{"network": \{\.\.\.\}\}/);

  const net = await created(admin, 'network', { name: 'v' });
  const sub = (body: Record<string, unknown>) => api(admin, 'POST', '/subnets', { subnet: { network_id: net.id, ip_version: 4, ...body } });
  const cases: Array<[Record<string, unknown>, number, string, RegExp]> = [
    [{ cidr: '10.9.0.0/33' }, 400, 'InvalidInput', /subnet\.cidr/],
    [{ cidr: '10.9.0.5/24' }, 400, 'InvalidInput', /subnet\.cidr.*host bits/],
    [{ cidr: 'fd00::/64', ip_version: 6 }, 400, 'InvalidInput', /subnet\.ip_version.*IPv6/],
    [{ cidr: 'fd00::/64' }, 400, 'InvalidInput', /subnet\.cidr.*IPv6/],
    [{ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.10', end: '10.9.1.20' }] }, 400, 'OutOfBoundsAllocationPool', /subnet\.allocation_pools\[0\]/],
    [{ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.20', end: '10.9.0.10' }] }, 400, 'InvalidAllocationPool', /subnet\.allocation_pools\[0\]/],
    [{ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.10', end: '10.9.0.20' }, { start: '10.9.0.15', end: '10.9.0.30' }] }, 409, 'OverlappingAllocationPools', /subnet\.allocation_pools\[1\].*allocation_pools\[0\]/],
    [{ cidr: '10.9.0.0/24', gateway_ip: '10.9.0.12', allocation_pools: [{ start: '10.9.0.10', end: '10.9.0.20' }] }, 409, 'GatewayConflictWithAllocationPools', /10\.9\.0\.12.*subnet\.allocation_pools\[0\]/],
    [{ cidr: '10.9.0.0/24', gateway_ip: '10.9.1.1' }, 400, 'InvalidInput', /subnet\.gateway_ip/],
    [{ cidr: '10.9.0.0/24', dns_nameservers: ['8.8.8.8', 'x'] }, 400, 'InvalidInput', /subnet\.dns_nameservers\[1\]/],
    [{ cidr: '10.9.0.0/24', host_routes: [{ destination: '10.0.0.0/8', nexthop: 'y' }] }, 400, 'InvalidInput', /subnet\.host_routes\[0\]\.nexthop/],
    [{ cidr: '10.9.0.0/24', allocation_pools: [{ start: '10.9.0.0', end: '10.9.0.20' }] }, 400, 'OutOfBoundsAllocationPool', /subnet\.allocation_pools\[0\]/],
  ];
  for (const [body, status, type, message] of cases) {
    const r = await sub(body);
    assert.equal(r.status, status, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
    assert.equal(r.body.NeutronError.type, type, JSON.stringify(body));
    assert.match(r.body.NeutronError.message, message);
  }
  // Defaults: the whole CIDR minus network, broadcast and gateway.
  const s = await created(admin, 'subnet', { network_id: net.id, cidr: '10.9.0.0/24', ip_version: 4, dns_nameservers: ['10.9.0.2'], host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.9.0.254' }] });
  assert.equal(s.gateway_ip, '10.9.0.1');
  assert.deepEqual(s.allocation_pools, [{ start: '10.9.0.2', end: '10.9.0.254' }]);
  assert.equal(s.enable_dhcp, true);
  const overlap = await sub({ cidr: '10.9.0.128/25' });
  assert.equal(overlap.status, 400);
  assert.match(overlap.body.NeutronError.message, /subnet\.cidr.*overlaps/);
  const noGw = await created(admin, 'subnet', { network_id: net.id, cidr: '10.8.0.0/29', gateway_ip: null });
  assert.equal(noGw.gateway_ip, null);
  assert.deepEqual(noGw.allocation_pools, [{ start: '10.8.0.1', end: '10.8.0.6' }]);

  // Ports: fixed IP outside the subnet, the gateway, the network address, a bad MAC.
  const port = (body: Record<string, unknown>) => api(admin, 'POST', '/ports', { port: { network_id: net.id, ...body } });
  const out = await port({ fixed_ips: [{ subnet_id: s.id, ip_address: '10.7.0.5' }] });
  assert.equal(out.status, 400);
  assert.match(out.body.NeutronError.message, /port\.fixed_ips\[0\]\.ip_address/);
  const gw = await port({ fixed_ips: [{ ip_address: '10.9.0.1' }] });
  assert.match(gw.body.NeutronError.message, /port\.fixed_ips\[0\]\.ip_address.*gateway/);
  const netaddr = await port({ fixed_ips: [{ ip_address: '10.9.0.0' }] });
  assert.match(netaddr.body.NeutronError.message, /network address/);
  const mac = await port({ mac_address: '01:00:5e:00:00:01' });
  assert.equal(mac.status, 400);
  assert.match(mac.body.NeutronError.message, /port\.mac_address.*multicast/);
  const vnic = await port({ 'binding:vnic_type': 'weird' });
  assert.match(vnic.body.NeutronError.message, /port\.binding:vnic_type/);
  const sg = await port({ security_groups: ['default'] });
  assert.match(sg.body.NeutronError.message, /port\.security_groups/);
  const wrongSubnet = await port({ fixed_ips: [{ subnet_id: 'other' }] });
  assert.match(wrongSubnet.body.NeutronError.message, /port\.fixed_ips\[0\]\.subnet_id/);
  const tooMany = await port({ fixed_ips: Array.from({ length: 6 }, () => ({ subnet_id: s.id })) });
  assert.match(tooMany.body.NeutronError.message, /port\.fixed_ips.*maximum of 5/);

  // A subnet with addresses in use is not deleted, nor its network.
  const p = await created(admin, 'port', { network_id: net.id });
  assert.equal((await api(admin, 'DELETE', `/subnets/${s.id}`)).body.NeutronError.type, 'SubnetInUse');
  assert.equal((await api(admin, 'DELETE', `/networks/${net.id}`)).body.NeutronError.type, 'NetworkInUse');
  assert.equal((await api(admin, 'DELETE', `/ports/${p.id}`)).status, 204);
  assert.equal((await api(admin, 'DELETE', `/networks/${net.id}`)).status, 204);
  assert.equal((await api(admin, 'GET', `/subnets/${s.id}`)).status, 404, 'subnets go with their network');
});

test('ports: fixed IPs by subnet and address, in or out of the pools, taken ones refused; MACs; filters; updates', async () => {
  const net = await created(admin, 'network', { name: 'ports' });
  const s1 = await created(admin, 'subnet', { network_id: net.id, cidr: '10.20.0.0/24', allocation_pools: [{ start: '10.20.0.100', end: '10.20.0.102' }] });
  const s2 = await created(admin, 'subnet', { network_id: net.id, cidr: '10.21.0.0/24' });
  const first = await created(admin, 'port', { network_id: net.id, name: 'first', device_id: 'dev-1', device_owner: 'compute:nova' });
  assert.deepEqual(first.fixed_ips, [{ subnet_id: s1.id, ip_address: '10.20.0.100' }], 'lowest address of the first subnet');
  assert.match(first.mac_address, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
  assert.equal(first.status, 'DOWN');
  assert.deepEqual(first.security_groups, []);
  const outside = await created(admin, 'port', { network_id: net.id, fixed_ips: [{ subnet_id: s1.id, ip_address: '10.20.0.7' }] });
  assert.deepEqual(outside.fixed_ips, [{ subnet_id: s1.id, ip_address: '10.20.0.7' }], 'outside the pool but inside the CIDR, as Neutron allows');
  const taken = await api(admin, 'POST', '/ports', { port: { network_id: net.id, fixed_ips: [{ ip_address: '10.20.0.7' }] } });
  assert.equal(taken.status, 409);
  assert.equal(taken.body.NeutronError.type, 'IpAddressAlreadyAllocated');
  assert.match(taken.body.NeutronError.message, /10\.20\.0\.7/);
  const both = await created(admin, 'port', { network_id: net.id, mac_address: 'AA:BB:CC:00:00:01', fixed_ips: [{ subnet_id: s1.id }, { subnet_id: s2.id, ip_address: '10.21.0.50' }] });
  assert.deepEqual(both.fixed_ips, [{ subnet_id: s1.id, ip_address: '10.20.0.101' }, { subnet_id: s2.id, ip_address: '10.21.0.50' }].sort((a, b) => a.subnet_id.localeCompare(b.subnet_id)));
  assert.equal(both.mac_address, 'aa:bb:cc:00:00:01');
  const dupMac = await api(admin, 'POST', '/ports', { port: { network_id: net.id, mac_address: 'aa:bb:cc:00:00:01' } });
  assert.equal(dupMac.status, 409);
  assert.equal(dupMac.body.NeutronError.type, 'MacAddressInUse');
  const last = await created(admin, 'port', { network_id: net.id, fixed_ips: [{ subnet_id: s1.id }] });
  assert.equal(last.fixed_ips[0].ip_address, '10.20.0.102');
  const full = await api(admin, 'POST', '/ports', { port: { network_id: net.id, fixed_ips: [{ subnet_id: s1.id }] } });
  assert.equal(full.status, 409);
  assert.equal(full.body.NeutronError.type, 'IpAddressGenerationFailure');
  // Without fixed_ips the next subnet with room is used.
  const next = await created(admin, 'port', { network_id: net.id });
  assert.equal(next.fixed_ips[0].subnet_id, s2.id);

  // Filters.
  const list = async (q: string) => (await api(admin, 'GET', `/ports?${q}`)).body.ports.map((p: { id: string }) => p.id).sort();
  assert.deepEqual(await list('device_id=dev-1'), [first.id]);
  assert.deepEqual(await list('device_owner=compute:nova'), [first.id]);
  assert.deepEqual(await list('mac_address=aa:bb:cc:00:00:01'), [both.id]);
  assert.deepEqual(await list('fixed_ips=ip_address%3D10.20.0.7'), [outside.id]);
  assert.deepEqual(await list(`fixed_ips=subnet_id%3D${s2.id}`), [both.id, next.id].sort());
  assert.deepEqual(await list(`fixed_ips=subnet_id%3D${s2.id}&fixed_ips=ip_address%3D10.21.0.50`), [both.id]);
  assert.deepEqual(await list('name=first'), [first.id]);
  assert.equal((await list(`network_id=${net.id}`)).length, 5);

  // Updates: fixed IPs (kept, freed, new), binding, MAC only while unbound.
  const moved = await api(admin, 'PUT', `/ports/${both.id}`, { port: { fixed_ips: [{ subnet_id: s2.id, ip_address: '10.21.0.50' }, { subnet_id: s2.id, ip_address: '10.21.0.60' }] } });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.deepEqual(moved.body.port.fixed_ips.map((f: { ip_address: string }) => f.ip_address), ['10.21.0.50', '10.21.0.60']);
  const reuse = await created(admin, 'port', { network_id: net.id, fixed_ips: [{ subnet_id: s1.id }] });
  assert.equal(reuse.fixed_ips[0].ip_address, '10.20.0.101', 'the freed address is handed out again');
  const bound = await api(admin, 'PUT', `/ports/${first.id}`, { port: { 'binding:host_id': 'node-1', 'binding:vnic_type': 'baremetal', 'binding:profile': { local_link_information: [] } } });
  assert.equal(bound.body.port.status, 'ACTIVE');
  assert.equal(bound.body.port['binding:vif_type'], 'other');
  const macBound = await api(admin, 'PUT', `/ports/${first.id}`, { port: { mac_address: '52:54:00:00:00:01' } });
  assert.equal(macBound.status, 409);
  assert.equal(macBound.body.NeutronError.type, 'PortBound');
  const unbound = await api(admin, 'PUT', `/ports/${first.id}`, { port: { 'binding:host_id': '' } });
  assert.equal(unbound.body.port.status, 'DOWN');
  const macOk = await api(admin, 'PUT', `/ports/${first.id}`, { port: { mac_address: '52:54:00:00:00:01' } });
  assert.equal(macOk.body.port.mac_address, '52:54:00:00:00:01');
});

test('policy: two projects, members, readers and admin; another project\'s records are 404', async () => {
  const A = who.memberA!, RA = who.readerA!, B = who.memberB!, RB = who.readerB!;
  // Members create networks, but not shared or provider ones.
  const aNet = await created(A.token, 'network', { name: 'private-a' });
  assert.equal((await api(A.token, 'POST', '/networks', { network: { name: 's', shared: true } })).status, 403);
  assert.equal((await api(A.token, 'POST', '/networks', { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'p' } })).status, 403);
  assert.equal((await api(A.token, 'POST', '/networks', { network: { project_id: B.projectId } })).status, 403);
  assert.equal((await api(RA.token, 'POST', '/networks', { network: { name: 'r' } })).status, 403);
  const aSub = await created(A.token, 'subnet', { network_id: aNet.id, cidr: '10.30.0.0/24' });
  const shared = await created(admin, 'network', { name: 'shared-admin', shared: true });
  const sharedSub = await created(admin, 'subnet', { network_id: shared.id, cidr: '10.31.0.0/24' });

  // B sees its own and shared networks, never A's private one (404, same as missing).
  const bList = (await api(B.token, 'GET', '/networks')).body.networks.map((n: { id: string }) => n.id);
  assert.ok(bList.includes(shared.id));
  assert.ok(!bList.includes(aNet.id));
  for (const t of [B.token, RB.token]) {
    assert.equal((await api(t, 'GET', `/networks/${aNet.id}`)).status, 404);
    assert.equal((await api(t, 'GET', `/subnets/${aSub.id}`)).status, 404);
    assert.equal((await api(t, 'PUT', `/networks/${aNet.id}`, { network: { name: 'x' } })).status, 404);
    assert.equal((await api(t, 'DELETE', `/networks/${aNet.id}`)).status, 404);
  }
  assert.equal((await api(RA.token, 'GET', `/networks/${aNet.id}`)).status, 200);
  assert.equal((await api(RA.token, 'PUT', `/networks/${aNet.id}`, { network: { name: 'x' } })).status, 403);
  assert.ok(!(await api(B.token, 'GET', '/subnets')).body.subnets.some((s: { id: string }) => s.id === aSub.id));

  // Subnets only on one's own networks; ports on own or shared networks.
  assert.equal((await api(B.token, 'POST', '/subnets', { subnet: { network_id: shared.id, cidr: '10.32.0.0/24' } })).status, 403);
  assert.equal((await api(B.token, 'POST', '/subnets', { subnet: { network_id: aNet.id, cidr: '10.32.0.0/24' } })).status, 404);
  assert.equal((await api(B.token, 'POST', '/ports', { port: { network_id: aNet.id } })).status, 404);
  const bPort = await created(B.token, 'port', { network_id: shared.id, name: 'b-on-shared' });
  assert.equal(bPort.project_id, B.projectId);
  assert.equal(bPort['binding:host_id'], undefined, 'binding details are admin-only to read');
  // Choosing an address or MAC on someone else's (shared) network, or binding, is not a member's.
  assert.equal((await api(B.token, 'POST', '/ports', { port: { network_id: shared.id, fixed_ips: [{ ip_address: '10.31.0.99' }] } })).status, 403);
  assert.equal((await api(B.token, 'POST', '/ports', { port: { network_id: shared.id, mac_address: '52:54:00:12:34:56' } })).status, 403);
  assert.equal((await api(B.token, 'PUT', `/ports/${bPort.id}`, { port: { 'binding:host_id': 'h' } })).status, 403);
  assert.equal((await api(RB.token, 'POST', '/ports', { port: { network_id: shared.id } })).status, 403);
  const aPort = await created(A.token, 'port', { network_id: aNet.id, fixed_ips: [{ subnet_id: aSub.id, ip_address: '10.30.0.50' }] });

  // Ports: only one's own; another project's is 404 for reading, changing and deleting.
  const aPorts = (await api(RA.token, 'GET', '/ports')).body.ports.map((p: { id: string }) => p.id);
  assert.deepEqual(aPorts, [aPort.id]);
  const bPorts = (await api(RB.token, 'GET', '/ports')).body.ports.map((p: { id: string }) => p.id);
  assert.deepEqual(bPorts, [bPort.id]);
  for (const t of [B.token, RB.token]) {
    assert.equal((await api(t, 'GET', `/ports/${aPort.id}`)).status, 404);
    assert.equal((await api(t, 'PUT', `/ports/${aPort.id}`, { port: { name: 'x' } })).status, 404);
    assert.equal((await api(t, 'DELETE', `/ports/${aPort.id}`)).status, 404);
  }
  assert.equal((await api(B.token, 'GET', `/ports?fixed_ips=ip_address%3D10.30.0.50`)).body.ports.length, 0, 'filters do not reach other projects');
  assert.equal((await api(RA.token, 'DELETE', `/ports/${aPort.id}`)).status, 403);
  assert.equal((await api(admin, 'GET', `/ports/${aPort.id}`)).status, 200);
  const all = (await api(admin, 'GET', '/ports')).body.ports.map((p: { id: string }) => p.id);
  assert.ok(all.includes(aPort.id) && all.includes(bPort.id));
  assert.equal((await api(A.token, 'DELETE', `/ports/${aPort.id}`)).status, 204);
  void sharedSub;
});

test('200 concurrent port creates on a /24: no address twice, the 254th and later fail cleanly', async () => {
  const net = await created(admin, 'network', { name: 'crowd' });
  const sub = await created(admin, 'subnet', { network_id: net.id, cidr: '10.40.0.0/24', gateway_ip: null });
  assert.deepEqual(sub.allocation_pools, [{ start: '10.40.0.1', end: '10.40.0.254' }]);
  const create = (n: number) => Promise.all(Array.from({ length: n }, () => api(admin, 'POST', '/ports', { port: { network_id: net.id } })));
  const some = await create(200);
  assert.deepEqual([...new Set(some.map((r) => r.status))], [201], JSON.stringify(some.find((r) => r.status !== 201)?.body));
  assert.equal(new Set(some.map((r) => r.body.port.fixed_ips[0].ip_address)).size, 200, 'every port got its own address');
  // 60 more, concurrently, for the 54 addresses left: 54 succeed, 6 get a clean 409.
  const more = await create(60);
  assert.equal(more.filter((r) => r.status === 201).length, 54);
  const failed = more.filter((r) => r.status !== 201);
  assert.equal(failed.length, 6);
  for (const r of failed) {
    assert.equal(r.status, 409);
    assert.equal(r.body.NeutronError.type, 'IpAddressGenerationFailure');
  }
  const ports = (await api(admin, 'GET', `/ports?network_id=${net.id}`)).body.ports;
  const all = ports.map((p: { fixed_ips: { ip_address: string }[] }) => p.fixed_ips[0]!.ip_address);
  assert.equal(all.length, 254, 'a failed create leaves no port behind');
  assert.equal(new Set(all).size, 254);
  // Concurrent requests for one explicit address: exactly one wins.
  await api(admin, 'DELETE', `/ports/${ports[0].id}`);
  const freed = ports[0].fixed_ips[0].ip_address;
  const race = await Promise.all(Array.from({ length: 20 }, () => api(admin, 'POST', '/ports', { port: { network_id: net.id, fixed_ips: [{ subnet_id: sub.id, ip_address: freed }] } })));
  assert.equal(race.filter((r) => r.status === 201).length, 1);
  assert.ok(race.filter((r) => r.status !== 201).every((r) => r.status === 409 && r.body.NeutronError.type === 'IpAddressAlreadyAllocated'));
});

test('NetworkPorts (compute\'s in-process API): resolve, create, bind, list, network_data.json, unbind, delete', async () => {
  const ports = network().ports;
  const A = who.memberA!, B = who.memberB!;
  const aNet = await created(A.token, 'network', { name: 'compute-a' });
  const aSub = await created(A.token, 'subnet', { network_id: aNet.id, cidr: '10.50.0.0/24', dns_nameservers: ['10.50.0.2'], host_routes: [{ destination: '172.16.0.0/12', nexthop: '10.50.0.254' }] });
  assert.equal((await ports.resolveNetwork('compute-a', A.projectId))?.id, aNet.id);
  assert.equal((await ports.resolveNetwork(aNet.id, A.projectId))?.id, aNet.id);
  assert.equal(await ports.resolveNetwork('compute-a', B.projectId), undefined, 'another project\'s network is not resolved');
  assert.equal(await ports.resolveNetwork(aNet.id, B.projectId), undefined);
  await assert.rejects(ports.createPort({ projectId: B.projectId, networkId: aNet.id }), /could not be found/);

  const p = await ports.createPort({ projectId: A.projectId, networkId: aNet.id, name: 'srv-1', fixedIps: [{ subnetId: aSub.id, ipAddress: '10.50.0.10' }], deviceId: 'server-1', deviceOwner: 'compute:nova' });
  assert.equal(p.project_id, A.projectId);
  assert.deepEqual(p.fixed_ips, [{ subnet_id: aSub.id, ip_address: '10.50.0.10' }]);
  assert.equal(p.status, 'DOWN');
  assert.equal((await ports.getPort(p.id, B.projectId)), undefined);
  assert.equal((await ports.getPort(p.id, null))?.id, p.id);
  const bound = await ports.bindPort(p.id, { hostId: 'node-7', macAddress: '52:54:00:aa:bb:cc' });
  assert.equal(bound.status, 'ACTIVE');
  assert.equal(bound.mac_address, '52:54:00:aa:bb:cc');
  assert.equal(bound['binding:vnic_type'], 'baremetal');
  await assert.rejects(ports.bindPort(p.id, { hostId: 'node-7', macAddress: '52:54:00:aa:bb:dd' }), /already bound/);
  assert.deepEqual((await ports.listPorts({ deviceId: 'server-1', projectId: A.projectId })).map((x) => x.id), [p.id]);
  assert.deepEqual(await ports.listPorts({ deviceId: 'server-1', projectId: B.projectId }), []);
  assert.deepEqual((await ports.listPorts({ deviceId: 'server-1', projectId: null })).map((x) => x.id), [p.id]);

  const data = await ports.networkData([p.id]);
  assert.deepEqual(data, {
    links: [{ id: `tap${p.id.slice(0, 11)}`, vif_id: p.id, type: 'phy', mtu: 1500, ethernet_mac_address: '52:54:00:aa:bb:cc' }],
    networks: [{
      id: 'network0', type: 'ipv4', link: `tap${p.id.slice(0, 11)}`, ip_address: '10.50.0.10', netmask: '255.255.255.0',
      routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.50.0.1' }, { network: '172.16.0.0', netmask: '255.240.0.0', gateway: '10.50.0.254' }],
      network_id: aNet.id, services: [{ type: 'dns', address: '10.50.0.2' }],
    }],
    services: [{ type: 'dns', address: '10.50.0.2' }],
  });
  await ports.unbindPort(p.id);
  assert.equal((await ports.getPort(p.id, A.projectId))?.status, 'DOWN');
  await ports.deletePort(p.id);
  assert.equal(await ports.getPort(p.id, null), undefined);
  // The address is free again.
  const again = await ports.createPort({ projectId: A.projectId, networkId: aNet.id, fixedIps: [{ ipAddress: '10.50.0.10' }] });
  assert.equal(again.fixed_ips[0]!.ip_address, '10.50.0.10');
  // A member's port on a shared network may not choose its address (network owner's right).
  const shared = await created(admin, 'network', { name: 'compute-shared', shared: true });
  await created(admin, 'subnet', { network_id: shared.id, cidr: '10.51.0.0/24' });
  await assert.rejects(ports.createPort({ projectId: B.projectId, networkId: shared.id, fixedIps: [{ ipAddress: '10.51.0.9' }] }), /Only the owner/);
  assert.equal((await ports.createPort({ projectId: B.projectId, networkId: shared.id })).fixed_ips[0]!.ip_address, '10.51.0.2');
});
