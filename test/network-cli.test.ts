// The REAL `openstack network|subnet|port` commands (Debian's python3-openstackclient, which
// uses openstacksdk for the network service) against a fresh seed: create, list, show, delete,
// allocation pools and fixed IPs, and a refusal printed from our NeutronError. openstacksdk
// takes the catalog's "network" endpoint (/networking), appends "v2.0" itself without version
// discovery, finds by id first and then lists with ?name=, and sends no microversion header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from './support/seed.js';
import { openstackCli } from './support/openstack-cli.js';

let seed: TestSeed;

const { openstack, ok, json } = openstackCli(() => seed.stateDir);

before(async () => {
  seed = await startSeed({ log: { level: 'info' } });
});
after(async () => {
  await seed?.stop();
});

test('openstack network/subnet/port create, list, show, delete', async () => {
  const n = await json(['network', 'create', 'cli-net', '--provider-network-type', 'flat', '--provider-physical-network', 'physcli', '--share']);
  assert.equal(n.name, 'cli-net');
  assert.equal(n.shared, true);
  assert.equal(n['provider:network_type'] ?? n.provider_network_type, 'flat');
  const list = await json(['network', 'list']);
  assert.ok(list.some((x: { ID: string; Name: string }) => x.ID === n.id && x.Name === 'cli-net'));
  assert.equal((await json(['network', 'show', 'cli-net'])).id, n.id, 'found by name');

  const s = await json(['subnet', 'create', 'cli-sub', '--network', 'cli-net', '--subnet-range', '10.60.0.0/24', '--allocation-pool', 'start=10.60.0.10,end=10.60.0.20', '--dns-nameserver', '10.60.0.2']);
  assert.equal(s.cidr, '10.60.0.0/24');
  assert.equal(s.network_id, n.id);
  const pools = typeof s.allocation_pools === 'string' ? s.allocation_pools : JSON.stringify(s.allocation_pools);
  assert.match(pools, /10\.60\.0\.10.*10\.60\.0\.20/);
  assert.ok((await json(['subnet', 'list'])).some((x: { ID: string }) => x.ID === s.id));

  const p = await json(['port', 'create', 'cli-port', '--network', 'cli-net', '--fixed-ip', 'subnet=cli-sub,ip-address=10.60.0.15']);
  const fixed = typeof p.fixed_ips === 'string' ? p.fixed_ips : JSON.stringify(p.fixed_ips);
  assert.match(fixed, /10\.60\.0\.15/);
  const auto = await json(['port', 'create', 'cli-auto', '--network', 'cli-net']);
  assert.match(typeof auto.fixed_ips === 'string' ? auto.fixed_ips : JSON.stringify(auto.fixed_ips), /10\.60\.0\.10/);
  const ports = await json(['port', 'list', '--network', 'cli-net']);
  assert.deepEqual(ports.map((x: { ID: string }) => x.ID).sort(), [p.id, auto.id].sort());
  const shown = await json(['port', 'show', 'cli-port']);
  assert.equal(shown.id, p.id);
  assert.equal(shown.mac_address, p.mac_address);

  // A refusal is printed from NeutronError.message.
  const taken = await openstack(['port', 'create', 'dup', '--network', 'cli-net', '--fixed-ip', 'subnet=cli-sub,ip-address=10.60.0.15']);
  assert.notEqual(taken.code, 0);
  assert.match(taken.stderr, /IP address 10\.60\.0\.15 already allocated in subnet/);
  const inUse = await openstack(['network', 'delete', 'cli-net']);
  assert.notEqual(inUse.code, 0);
  assert.match(inUse.stderr + inUse.stdout, /ports still in use|Failed to delete/);

  await ok(['port', 'delete', 'cli-port', 'cli-auto']);
  assert.deepEqual(await json(['port', 'list', '--network', 'cli-net']), []);
  await ok(['subnet', 'delete', 'cli-sub']);
  await ok(['network', 'delete', 'cli-net']);
  const gone = await openstack(['network', 'show', 'cli-net']);
  assert.notEqual(gone.code, 0);

  // What openstacksdk sent: /networking/v2.0/... only (no discovery of /networking/).
  const urls = seed.logLines.map((l) => JSON.parse(l) as { url?: string }).map((l) => l.url ?? '').filter((u) => u.startsWith('/networking'));
  assert.ok(urls.length > 10);
  assert.ok(urls.every((u) => u.startsWith('/networking/v2.0/')), urls.filter((u) => !u.startsWith('/networking/v2.0/')).join(' '));
});
