// The provisioning network and dnsmasq: a seed whose boot service runs the REAL dnsmasq in a
// network namespace creates "ctlplane" at first start from the dnsmasq settings (the pool avoids
// the dynamic range), does not duplicate it on restart, and a bound port on it becomes a line in
// the hosts directory dnsmasq reads (MAC, fixed IP, host name) that goes when the port is
// unbound or deleted, merged with the bare-metal port entry for the same MAC. The merge rules
// of the hosts directory are also checked on their own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSeed, type TestSeed } from './support/seed.js';
import { createNetnsPair, type NetnsPair } from './support/dhcp-netns.js';
import { DhcpHostsDir } from '../src/boot/dhcp-hosts.js';
import type { NetworkService } from '../src/network/index.js';

let dir = '';
let net: NetnsPair;
let seed: TestSeed | undefined;
let token = '';
const hostsDir = () => join(dir, 'state', 'boot', 'hosts');
const hostFile = (mac: string) => readFile(join(hostsDir(), mac.replace(/:/g, '-')), 'utf8').catch(() => undefined);
const overrides = () => ({
  log: { level: 'warn' },
  boot: { dnsmasq: { enabled: true, interface: net.srvIf, netns: net.srvNs, range_start: `${net.subnet}.50`, range_end: `${net.subnet}.99`, ipv6_ra: false } },
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => seed!.call(method, `/networking/v2.0${path}`, { token, body });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bootstack-netdhcp-'));
  net = await createNetnsPair('ndhcp');
  seed = await startSeed(overrides(), { stateDir: join(dir, 'state') });
  token = await seed.token();
});

after(async () => {
  await seed?.stop();
  await net?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('ctlplane is created at first start from the dnsmasq settings, shared, owned by admin, pool outside the dynamic range', async () => {
  const list = await api('GET', '/networks?name=ctlplane');
  assert.equal(list.body.networks.length, 1);
  const n = list.body.networks[0];
  assert.equal(n.shared, true);
  assert.equal(n['provider:network_type'], 'flat');
  assert.equal(n['provider:physical_network'], 'ctlplane');
  const projects = await seed!.call('GET', '/identity/v3/projects?name=admin', { token });
  assert.equal(n.project_id, projects.body.projects[0].id);
  const s = (await api('GET', `/subnets/${n.subnets[0]}`)).body.subnet;
  assert.equal(s.cidr, `${net.subnet}.0/24`);
  assert.equal(s.gateway_ip, `${net.subnet}.1`, 'the seed\'s address on the provisioning interface');
  // Below the range: .2-.49 (48); above: .100-.254 (155): the larger part.
  assert.deepEqual(s.allocation_pools, [{ start: `${net.subnet}.100`, end: `${net.subnet}.254` }]);
});

test('a bound port on ctlplane is a dnsmasq reservation (MAC, IP, host name); unbind and delete remove it', async () => {
  const ports = (seed!.server.services.find((x) => x.name === 'network') as NetworkService).ports;
  const admin = (await seed!.call('GET', '/identity/v3/projects?name=admin', { token })).body.projects[0].id as string;
  const ctl = await ports.resolveNetwork('ctlplane', admin);
  assert.ok(ctl);
  const mac = '52:54:00:77:00:01';
  const p = await ports.createPort({ projectId: admin, networkId: ctl.id, name: 'overcloud-controller-0' });
  assert.equal(p.fixed_ips[0]!.ip_address, `${net.subnet}.100`);
  assert.equal(await hostFile(p.mac_address), undefined, 'an unbound port is no reservation');
  await ports.bindPort(p.id, { hostId: 'node-1', macAddress: mac });
  assert.equal(await hostFile(mac), `${mac},${net.subnet}.100,overcloud-controller-0\n`);
  await ports.unbindPort(p.id);
  assert.equal(await hostFile(mac), undefined);
  // Through the API: binding and dns_name (preferred over the name) and a fixed-IP change.
  const bound = await api('PUT', `/ports/${p.id}`, { port: { 'binding:host_id': 'node-1', dns_name: 'ctrl0.example.com' } });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  assert.equal(await hostFile(mac), `${mac},${net.subnet}.100,ctrl0\n`);
  await api('PUT', `/ports/${p.id}`, { port: { fixed_ips: [{ ip_address: `${net.subnet}.20` }] } });
  assert.equal(await hostFile(mac), `${mac},${net.subnet}.20,ctrl0\n`, 'an address outside the pool (not in the dynamic range) is allowed');
  assert.equal((await api('DELETE', `/ports/${p.id}`)).status, 204);
  assert.equal(await hostFile(mac), undefined);
  // A port on another network is no reservation even when bound.
  const other = await api('POST', '/networks', { network: { name: 'not-prov' } });
  await api('POST', '/subnets', { subnet: { network_id: other.body.network.id, cidr: '10.99.0.0/24' } });
  const q = await api('POST', '/ports', { port: { network_id: other.body.network.id, mac_address: '52:54:00:77:00:02', 'binding:host_id': 'node-2' } });
  assert.equal(q.status, 201);
  assert.equal(await hostFile('52:54:00:77:00:02'), undefined);
});

test('on restart: ctlplane is not duplicated and reservations are restored; a stale one goes', async () => {
  const ports = (seed!.server.services.find((x) => x.name === 'network') as NetworkService).ports;
  const admin = (await seed!.call('GET', '/identity/v3/projects?name=admin', { token })).body.projects[0].id as string;
  const ctl = (await ports.resolveNetwork('ctlplane', admin))!;
  const p = await ports.createPort({ projectId: admin, networkId: ctl.id, name: 'keep' });
  await ports.bindPort(p.id, { hostId: 'node-3', macAddress: '52:54:00:77:00:03' });
  const gone = await ports.createPort({ projectId: admin, networkId: ctl.id, name: 'gone' });
  await ports.bindPort(gone.id, { hostId: 'node-4', macAddress: '52:54:00:77:00:04' });
  await seed!.stop();
  seed = undefined;
  // The port is deleted while the seed is down (as if from another process); its file stays behind.
  const { openDatabase } = await import('../src/common/db.js');
  const db = openDatabase(`sqlite:${join(dir, 'state', 'bootstack.sqlite')}`);
  await db.db.deleteFrom('network_ip_allocations').where('port_id', '=', gone.id).execute();
  await db.db.deleteFrom('network_ports').where('id', '=', gone.id).execute();
  await db.close();
  assert.ok(await hostFile('52:54:00:77:00:04'));
  await rm(join(hostsDir(), '52-54-00-77-00-03'));

  seed = await startSeed(overrides(), { stateDir: join(dir, 'state') });
  token = await seed.token();
  assert.equal((await api('GET', '/networks?name=ctlplane')).body.networks.length, 1, 'not created twice');
  assert.equal(await hostFile('52:54:00:77:00:03'), `52:54:00:77:00:03,${p.fixed_ips[0]!.ip_address},keep\n`);
  assert.equal(await hostFile('52:54:00:77:00:04'), undefined);
});

test('hosts directory: a reservation is merged with the enrolled entry of the same MAC; each owner removes only its part', async () => {
  const d = await mkdtemp(join(tmpdir(), 'bootstack-hosts-merge-'));
  let reloads = 0;
  const hosts = new DhcpHostsDir(d, () => reloads++);
  await hosts.init();
  const read = async (mac: string) => readFile(join(d, mac.replace(/:/g, '-')), 'utf8').catch(() => undefined);
  const mac = '52:54:00:88:00:01';
  await hosts.add({ mac });
  assert.equal(await read(mac), `${mac}\n`);
  await hosts.reserve(mac, '10.0.0.5', 'n1');
  assert.equal(await read(mac), `${mac},10.0.0.5,n1\n`);
  assert.equal(reloads, 1, 'a changed file reloads dnsmasq (it would keep the old record)');
  // The bare-metal sync keeps the reservation.
  await hosts.sync([{ mac }, { mac: '52:54:00:88:00:02' }]);
  assert.equal(await read(mac), `${mac},10.0.0.5,n1\n`);
  await hosts.remove(mac);
  assert.equal(await read(mac), `${mac},10.0.0.5,n1\n`, 'unenrolling keeps the reservation');
  await hosts.add({ mac });
  await hosts.release(mac);
  assert.equal(await read(mac), `${mac}\n`, 'releasing keeps the enrolled entry');
  await hosts.reserve('52:54:00:88:00:03', '10.0.0.6');
  await hosts.setReservations([{ mac: '52:54:00:88:00:04', ip: '10.0.0.7' }]);
  assert.equal(await read('52:54:00:88:00:03'), undefined);
  assert.equal(await read('52:54:00:88:00:04'), '52:54:00:88:00:04,10.0.0.7\n');
  assert.deepEqual((await readdir(d)).filter((f) => !f.startsWith('.')).sort(), ['52-54-00-88-00-01', '52-54-00-88-00-02', '52-54-00-88-00-04']);
  await rm(d, { recursive: true, force: true });
});
