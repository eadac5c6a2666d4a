// Compute with a named fake virt driver (FakeVirtDriver) and FakeComputeNetwork, through HTTP (ports made, bound to
// the claimed host's MAC, in the config drive's network_data, released on delete).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/server/app.js';
import { openDatabase, migrate, type Database } from '../src/common/db.js';
import { Policy, type AuthContext } from '../src/common/auth.js';
import { createLogger } from '../src/common/logging.js';
import { NotFoundError, UnauthorizedError } from '../src/common/errors.js';
import type { ApiService } from '../src/common/service.js';
import { computeConfigSchema } from '../src/compute/config.js';
import { createComputeService, type ComputeApiService } from '../src/compute/index.js';
import { FakeComputeNetwork } from '../src/compute/fake-network.js';
import { NoValidHostError, type ClaimedHost, type ConfigDriveContents, type DriverStatus, type Hypervisor, type SpawnRequest, type VirtDriver } from '../src/compute/virt-driver.js';

/** FakeVirtDriver: hosts "h1".."hN" with two MACs each; spawn claims the first free one and is ACTIVE at the next status. */
class FakeVirtDriver implements VirtDriver {
  readonly name = 'fake';
  readonly sharesHosts = false;
  readonly hosts = new Map<string, string | null>();
  readonly drives = new Map<string, ConfigDriveContents>();
  constructor(n: number) {
    for (let i = 1; i <= n; i++) this.hosts.set(`h${i}`, null);
  }
  async spawn(req: SpawnRequest): Promise<ClaimedHost> {
    const free = [...this.hosts].find(([h, s]) => s === null && !req.excludeHosts.includes(h));
    if (!free) throw new NoValidHostError('no fake host is free');
    this.hosts.set(free[0], req.serverId);
    const claimed = { hypervisorHostname: free[0], macs: [`52:54:00:00:00:${free[0].slice(1).padStart(2, '0')}`, '52:54:00:ff:ff:ff'] };
    try {
      this.drives.set(req.serverId, await req.prepare(claimed));
    } catch (err) {
      this.hosts.set(free[0], null);
      throw err;
    }
    return claimed;
  }
  async destroy(id: string) {
    for (const [h, s] of this.hosts) if (s === id) this.hosts.set(h, null);
  }
  async reboot() {}
  async powerOff() {}
  async powerOn() {}
  async rebuild() {}
  async consoleOutput(): Promise<string> {
    return 'fake console\n';
  }
  async status(servers: readonly { id: string }[]) {
    const held = new Set(this.hosts.values());
    return new Map<string, DriverStatus>(servers.map((s) => [s.id, held.has(s.id) ? { state: 'active', busy: false, power: 'on' } : { state: 'deleted', busy: false, power: null }]));
  }
  async addresses() {
    return [];
  }
  async hypervisors(): Promise<Hypervisor[]> {
    return [];
  }
}

const member: AuthContext = { userId: 'u1', userName: 'alice', domainId: 'default', projectId: 'p1', projectName: 'p1', roles: ['member', 'reader'], tokenExpiresAt: '2999-01-01T00:00:00Z' };
const adminAuth: AuthContext = { ...member, userId: 'u0', userName: 'admin', projectId: 'p0', projectName: 'admin', roles: ['admin', 'member', 'reader'] };

let dir: string;
let database: Database;
let app: FastifyInstance;
let compute: ComputeApiService;
let url: string;
const network = new FakeComputeNetwork();
const driver = new FakeVirtDriver(2);
const abort = new AbortController();
let loop: Promise<void>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'compute-unit-'));
  database = openDatabase(`sqlite:${join(dir, 'db.sqlite')}`);
  const policy = new Policy();
  const log = createLogger({ level: 'silent' });
  compute = createComputeService(
    { db: database.db, dbKind: database.kind, log, policy, stateDir: dir, publicUrl: () => url },
    computeConfigSchema.parse({ sync_interval_ms: 20 }),
    {
      driver,
      network,
      images: {
        async resolve(ref) {
          if (ref !== 'img') throw new NotFoundError('Image', ref);
          return { id: 'img-id', name: 'img', status: 'active', minDisk: 0, minRam: 0 };
        },
      },
    },
  );
  policy.add(compute.policy!);
  await migrate(database.db, { compute: compute.migrations });
  const tokens: Record<string, AuthContext> = { member, admin: adminAuth };
  const identity: ApiService = {
    name: 'fake-identity',
    prefix: '/fake-identity',
    faultStyle: 'plain',
    migrations: [],
    routes() {},
    tokenValidator: {
      async validate(t) {
        if (!tokens[t]) throw new UnauthorizedError();
        return tokens[t];
      },
    },
  };
  app = await buildApp({ services: [identity, compute], log, bodyLimit: 1024 * 1024 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  loop = compute.start!(abort.signal);
});
after(async () => {
  abort.abort();
  await loop;
  await app.close();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, body?: unknown, token = 'member'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/compute/v2.1${path}`, { method, headers: { 'x-auth-token': token, 'openstack-api-version': 'compute 2.73', ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
}

test('networks through ComputeNetwork: ports made or given, bound to the host MAC, in network_data and addresses; released on delete', async () => {
  const ctl = network.addNetwork('ctlplane', '192.168.24.');
  network.addNetwork('other-project-net', '10.9.9.', 'p2');
  const mine = await network.createPort({ projectId: 'p1', networkId: ctl.id, name: 'given' });
  const flavor = await call('POST', '/flavors', { flavor: { name: 'f', ram: 1, vcpus: 1, disk: 1 } }, 'admin');
  await call('POST', `/flavors/${flavor.body.flavor.id}/os-extra_specs`, { extra_specs: { 'resources:CUSTOM_BM': '1' } }, 'admin');

  // Unknown and other projects' networks are 400 naming the entry; nothing is left behind.
  const before = network.ports.size;
  for (const networks of [[{ uuid: ctl.id }, { uuid: 'other-project-net' }], [{ port: 'nope' }], 'auto'] as const) {
    const r = await call('POST', '/servers', { server: { name: 'x', imageRef: 'img', flavorRef: flavor.body.flavor.id, networks } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.badRequest.message, /server\.networks|automatically allocate/);
  }
  assert.equal(network.ports.size, before);

  const made = await call('POST', '/servers', { server: { name: 'net', imageRef: 'img', flavorRef: flavor.body.flavor.id, networks: [{ uuid: 'ctlplane', fixed_ip: '192.168.24.50' }, { port: mine.id }] } });
  assert.equal(made.status, 202, JSON.stringify(made.body));
  const id = made.body.server.id;
  const s = await until(() => call('GET', `/servers/${id}`), (r) => r.body.server.status === 'ACTIVE');
  const addrs = s.body.server.addresses.ctlplane;
  assert.equal(addrs.length, 2);
  assert.deepEqual(addrs[0], { addr: '192.168.24.50', version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': '52:54:00:00:00:01' });
  assert.equal(addrs[1]['OS-EXT-IPS-MAC:mac_addr'], '52:54:00:ff:ff:ff');
  const created = [...network.ports.values()].find((p) => p.fixed_ips[0]!.ip_address === '192.168.24.50')!;
  assert.equal(created.device_id, id);
  assert.equal(created['binding:host_id'], 'h1');
  assert.equal(created['binding:vnic_type'], 'baremetal');
  const drive = driver.drives.get(id)!;
  const links = (drive.network_data as { links: { ethernet_mac_address: string }[] }).links;
  assert.deepEqual(links.map((l) => l.ethernet_mac_address), ['52:54:00:00:00:01', '52:54:00:ff:ff:ff']);
  assert.equal((drive.meta_data as { uuid: string }).uuid, id);

  // A port in use by this server cannot be given to another.
  const taken = await call('POST', '/servers', { server: { name: 'y', imageRef: 'img', flavorRef: flavor.body.flavor.id, networks: [{ port: mine.id }] } });
  assert.equal(taken.status, 409);

  assert.equal((await call('DELETE', `/servers/${id}`)).status, 204);
  await until(() => call('GET', `/servers/${id}`), (r) => r.status === 404);
  assert.equal(network.ports.has(created.id), false, 'the port compute made is deleted');
  assert.equal(network.ports.get(mine.id)?.['binding:host_id'], undefined, "the user's port is unbound, not deleted");
  assert.equal(driver.hosts.get('h1'), null);
});
