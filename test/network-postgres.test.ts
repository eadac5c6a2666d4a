// IPAM on a real PostgreSQL (the HA undercloud's database), where transactions really run in
// parallel (a pool of connections, READ COMMITTED): 200 concurrent port creates on a /24 never
// hand out one address twice, and the creates beyond the pool fail with a clean 409.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startSeed, type TestSeed } from './support/seed.js';

let pg: TestPostgres | undefined;
let seed: TestSeed | undefined;
let admin = '';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => seed!.call(method, `/networking/v2.0${path}`, { token: admin, body });

before(async () => {
  pg = await startPostgres();
  seed = await startSeed({ log: { level: 'warn' }, database: { url: pg.url } });
  admin = await seed.token();
});
after(async () => {
  await seed?.stop();
  pg?.stop();
});

test('PostgreSQL: 260 concurrent port creates on a /24 → 254 distinct addresses, 6 clean 409s', async () => {
  const net = (await api('POST', '/networks', { network: { name: 'pg-crowd' } })).body.network;
  const sub = await api('POST', '/subnets', { subnet: { network_id: net.id, cidr: '10.70.0.0/24', gateway_ip: null } });
  assert.equal(sub.status, 201);
  const all = await Promise.all(Array.from({ length: 260 }, () => api('POST', '/ports', { port: { network_id: net.id } })));
  const okay = all.filter((r) => r.status === 201);
  assert.equal(okay.length, 254, JSON.stringify(all.find((r) => r.status !== 201 && r.status !== 409)?.body));
  assert.equal(new Set(okay.map((r) => r.body.port.fixed_ips[0].ip_address)).size, 254);
  const failed = all.filter((r) => r.status !== 201);
  assert.equal(failed.length, 6);
  for (const r of failed) assert.equal(r.body.NeutronError.type, 'IpAddressGenerationFailure');
  const listed = (await api('GET', `/ports?network_id=${net.id}`)).body.ports;
  assert.equal(listed.length, 254, 'a failed create leaves no port behind');
  // One explicit address asked for by 20 requests at once: exactly one gets it.
  await api('DELETE', `/ports/${listed[0].id}`);
  const ip = listed[0].fixed_ips[0].ip_address;
  const race = await Promise.all(Array.from({ length: 20 }, () => api('POST', '/ports', { port: { network_id: net.id, fixed_ips: [{ ip_address: ip }] } })));
  assert.equal(race.filter((r) => r.status === 201).length, 1);
  assert.ok(race.filter((r) => r.status !== 201).every((r) => r.status === 409 && r.body.NeutronError.type === 'IpAddressAlreadyAllocated'));
});
