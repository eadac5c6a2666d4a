// The pivot between two real server processes on loopback: a seed with every kind of record
// (projects and users, images with bytes, fake-hardware nodes one of which is active under a
// server, networks and ports, a keypair, a stack whose server it made) hands everything to a
// receiver. The pivot is killed (SIGKILL) at three points and the receiver is killed in the middle
// of its import; each time the same command finishes the job. Then both databases are compared:
// the same ids in every moved table, nothing twice, and only the receiver acting on them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { stringify } from 'yaml';
import { spawnSeed, type SeedProcess } from './support/serve-process.js';
import { seedClient, userWithRole, type TestSeed } from './support/seed.js';
import { IRONIC, NOVA, makeImage, makeNodes, nodeIn, waitFor, waitServer } from './compute-support.js';
import { MOVED_TABLES } from '../src/pivot/tables.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = randomBytes(24).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'bootstack-pivot-'));
const seedDir = join(dir, 'seed');
const ucDir = join(dir, 'undercloud');
let seedProc: SeedProcess | undefined;
let ucProc: SeedProcess | undefined;
let ucPort = 0;
let seed: Pick<TestSeed, 'call' | 'token'> & { url: string };
let admin: string;
let adminPassword: string;
const bigImage = randomBytes(3 * 1024 * 1024 + 17);

const common = {
  log: { level: 'warn' },
  listen: { host: '127.0.0.1' },
  baremetal: { conductor: { sync_power_state_interval: 0, check_interval: 0.2, deploy_callback_timeout: 1 } },
  compute: { sync_interval_ms: 50 },
  network: { provisioning: { cidr: '192.168.24.0/24', allocation_start: '192.168.24.100', allocation_end: '192.168.24.200' } },
};

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

async function startUndercloud(env: Record<string, string> = {}): Promise<SeedProcess> {
  writeFileSync(join(dir, 'undercloud.yaml'), stringify({ ...common, pivot: { receive: true, token: TOKEN } }));
  return spawnSeed(ucDir, env, ['-c', join(dir, 'undercloud.yaml'), '--port', String(ucPort)]);
}

/** `bootstack pivot` as an operator runs it; resolves with its exit code or signal and output. */
function pivot(env: Record<string, string> = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(repo, 'bin/bootstack.js'), 'pivot', '--to', `http://127.0.0.1:${ucPort}`, '-f', 'json'], {
    cwd: repo,
    env: { ...process.env, OS_AUTH_URL: `${seed.url}/identity/v3`, OS_USERNAME: 'admin', OS_PASSWORD: adminPassword, OS_PROJECT_NAME: 'admin', BOOTSTACK_PIVOT_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((res) => child.on('exit', (code, signal) => res({ code, signal, stdout, stderr })));
}

type Row = Record<string, unknown>;
function tableRows(stateDir: string): Record<string, Row[]> {
  const db = new SQLite(join(stateDir, 'bootstack.sqlite'), { readonly: true });
  try {
    return Object.fromEntries(MOVED_TABLES.map((t) => [t, db.prepare(`select * from "${t}"`).all() as Row[]]));
  } finally {
    db.close();
  }
}
const key = (r: Row) => String(r.id ?? r.uuid ?? JSON.stringify(r));

before(async () => {
  ucPort = await freePort();
  writeFileSync(join(dir, 'seed.yaml'), stringify(common));
  // The deploy kernel and ramdisk the seed's boot service hands out: they move with the pivot.
  mkdirSync(join(seedDir, 'boot', 'files'), { recursive: true });
  writeFileSync(join(seedDir, 'boot', 'files', 'deploy.kernel'), randomBytes(1000));
  writeFileSync(join(dir, 'ramdisk-in-cache'), randomBytes(200_000));
  symlinkSync(join(dir, 'ramdisk-in-cache'), join(seedDir, 'boot', 'files', 'deploy.initramfs'));
  seedProc = await spawnSeed(seedDir, {}, ['-c', join(dir, 'seed.yaml')]);
  adminPassword = readFileSync(join(seedDir, 'admin-password'), 'utf8').trim();
  seed = { url: seedProc.url, ...seedClient(seedProc.url, adminPassword) };
  admin = await seed.token();
});
after(async () => {
  await seedProc?.stop();
  await ucProc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a pivot killed at three points and a receiver killed mid-import still moves every record once; the receiver then owns them', { timeout: 240_000 }, async () => {
  // ---- the seed's records
  const tenant = await userWithRole(seed as TestSeed, admin, 'tenant-a', 'alice', 'member');
  const uuids = await makeNodes(seed as TestSeed, admin, ['n0', 'n1', 'n2']);
  for (const [i, uuid] of uuids.entries()) {
    const p = await seed.call('POST', '/baremetal/v1/ports', { token: admin, headers: IRONIC, body: { node_uuid: uuid, address: `52:54:00:9a:00:0${i}` } });
    assert.equal(p.status, 201, JSON.stringify(p.body));
  }
  await makeImage(seed as TestSeed, admin, 'overcloud-full');
  const big = await seed.call('POST', '/image/v2/images', { token: tenant.token, body: { name: 'tenant-image', disk_format: 'raw', container_format: 'bare' } });
  assert.equal((await fetch(`${seed.url}/image/v2/images/${big.body.id}/file`, { method: 'PUT', headers: { 'x-auth-token': tenant.token, 'content-type': 'application/octet-stream' }, body: bigImage })).status, 204);
  const kp = await seed.call('POST', '/compute/v2.1/os-keypairs', { token: tenant.token, headers: NOVA(), body: { keypair: { name: 'alice-key' } } });
  assert.equal(kp.status, 201, 'keypair created');
  const flavors = (await seed.call('GET', '/compute/v2.1/flavors', { token: admin, headers: NOVA() })).body.flavors as Row[];
  const flavorId = flavors.find((f) => f.name === 'baremetal')!.id as string;
  const netId = (await seed.call('GET', '/networking/v2.0/networks?name=ctlplane', { token: admin })).body.networks[0].id as string;
  const srv = await seed.call('POST', '/compute/v2.1/servers', { token: tenant.token, headers: NOVA(), body: { server: { name: 'web-0', imageRef: 'overcloud-full', flavorRef: flavorId, networks: [{ uuid: netId }], key_name: 'alice-key' } } });
  assert.equal(srv.status, 202, JSON.stringify(srv.body));
  const serverId = srv.body.server.id as string;
  await waitServer(seed as TestSeed, tenant.token, serverId, ['ACTIVE']);
  const tpl = {
    heat_template_version: '2016-10-14',
    parameters: { n: { type: 'number', default: 8 } },
    resources: {
      secret: { type: 'OS::Heat::RandomString', properties: { length: { get_param: 'n' } } },
      db: {
        type: 'OS::Nova::Server',
        properties: { name: 'db-0', image: 'overcloud-full', flavor: 'baremetal', networks: [{ network: 'ctlplane' }], software_config_transport: 'POLL_SERVER_HEAT', user_data_format: 'SOFTWARE_CONFIG' },
      },
    },
    outputs: { secret: { value: { get_attr: ['secret', 'value'] } }, db_ip: { value: { get_attr: ['db', 'first_address'] } } },
  };
  const created = await seed.call('POST', '/orchestration/stacks', { token: admin, body: { stack_name: 'svc', template: tpl } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stackId = created.body.stack.id as string;
  const stack = await waitFor('stack svc', async () => (await seed.call('GET', `/orchestration/stacks/svc/${stackId}`, { token: admin })).body.stack, (s) => !String(s.stack_status).endsWith('IN_PROGRESS'), 60_000);
  assert.equal(stack.stack_status, 'CREATE_COMPLETE', stack.stack_status_reason);
  const before = tableRows(seedDir);
  for (const t of ['identity_users', 'images_images', 'baremetal_nodes', 'baremetal_ports', 'network_ports', 'compute_servers', 'compute_keypairs', 'orchestration_stacks', 'orchestration_resources']) {
    assert.ok(before[t]!.length > 0, `the seed has ${t} rows to move`);
  }
  assert.equal(before.baremetal_nodes!.filter((n) => n.provision_state === 'active').length, 2, 'two nodes are active (a server and the stack\'s server)');

  // ---- the receiver waits with nothing of its own
  ucProc = await startUndercloud();
  const rootWhileReceiving = await fetch(`http://127.0.0.1:${ucPort}/identity/v3`);
  assert.equal(rootWhileReceiving.status, 404, 'a receiver answers only the pivot routes');
  assert.equal((await fetch(`http://127.0.0.1:${ucPort}/pivot/v1/receiver`, { headers: { 'x-pivot-token': 'wrong-token-wrong-token' } })).status, 401);

  // ---- killed after the export: the seed has begun (read-only), nothing is on the receiver
  const k1 = await pivot({ BOOTSTACK_PIVOT_KILL_AT: 'after-export' });
  assert.equal(k1.signal, 'SIGKILL', k1.stderr);
  const refused = await seed.call('POST', '/image/v2/images', { token: admin, body: { name: 'late', disk_format: 'raw', container_format: 'bare' } });
  assert.equal(refused.status, 409);
  assert.match(JSON.stringify(refused.body), new RegExp(`handing its records over to http://127.0.0.1:${ucPort}`));
  assert.equal((await seed.call('GET', '/image/v2/images', { token: admin })).status, 200, 'reads still work');

  // ---- killed after the first image's bytes arrived
  const k2 = await pivot({ BOOTSTACK_PIVOT_KILL_AT: 'after-first-blob' });
  assert.equal(k2.signal, 'SIGKILL', k2.stderr);

  // ---- the receiver killed in the middle of its import transaction
  await ucProc.stop();
  ucProc = await startUndercloud({ BOOTSTACK_PIVOT_KILL_AT: 'receiver-mid-import' });
  const k3 = await pivot();
  assert.notEqual(k3.code, 0, 'the pivot fails when the receiver dies');
  assert.match(k3.stderr, /import/);
  await waitFor('the receiver died', async () => ucProc!.child.exitCode ?? ucProc!.child.signalCode, (v) => v !== null, 10_000);
  const afterCrash = tableRows(ucDir);
  assert.deepEqual(MOVED_TABLES.filter((t) => afterCrash[t]!.length > 0), [], 'the killed import left no rows behind');
  ucProc = await startUndercloud();

  // ---- killed after the import committed, before the seed recorded completion
  const k4 = await pivot({ BOOTSTACK_PIVOT_KILL_AT: 'after-import' });
  assert.equal(k4.signal, 'SIGKILL', k4.stderr);

  // ---- the re-run completes; a second re-run finds it complete
  const done = await pivot();
  assert.equal(done.code, 0, done.stderr);
  const report = JSON.parse(done.stdout) as { counts: Record<string, number>; images: number; bytes: number };
  assert.equal(report.images, 2);
  assert.equal(report.bytes, 4096 + bigImage.length + 1000 + 200_000, 'image and boot file bytes');
  for (const f of ['deploy.kernel', 'deploy.initramfs']) {
    assert.deepEqual(readFileSync(join(ucDir, 'boot', 'files', f)), readFileSync(join(seedDir, 'boot', 'files', f)), `${f} moved`);
  }
  const again = await pivot();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already handed over/);

  // ---- both sides compared: same ids in every moved table, none twice
  const seedRows = tableRows(seedDir);
  const ucRows = tableRows(ucDir);
  for (const t of MOVED_TABLES) {
    const a = seedRows[t]!.map(key).sort();
    const b = ucRows[t]!.map(key).sort();
    assert.deepEqual(b, a, `${t}: the same records on both sides`);
    assert.equal(new Set(b).size, b.length, `${t}: nothing twice`);
    assert.equal(report.counts[t], a.length, `${t}: the report counts it`);
  }
  for (const t of ['identity_users', 'identity_assignments', 'images_images', 'compute_keypairs', 'orchestration_stacks', 'orchestration_resources']) {
    const sorted = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(sorted(ucRows[t]!), sorted(seedRows[t]!), `${t}: rows identical (password hashes, not passwords)`);
  }

  // ---- machines follow their records: the metadata both sides serve names the receiver
  const ucUrl = `http://127.0.0.1:${ucPort}`;
  const metaPath = `/orchestration/stacks/svc/${stackId}/resources/db/metadata`;
  const seedMeta = await seed.call('GET', metaPath, { token: admin });
  assert.equal(seedMeta.status, 200, JSON.stringify(seedMeta.body));
  assert.equal(seedMeta.body.metadata['os-collect-config'].heat.auth_url, `${ucUrl}/identity/v3`, 'the handed-over seed points os-collect-config at the receiver');
  assert.doesNotMatch(JSON.stringify(seedMeta.body), new RegExp(seed.url.replace(/[.:/]/g, '\\$&')));

  // ---- the seed is read-only and says where its records live; the receiver owns them
  const late = await seed.call('PATCH', `/baremetal/v1/nodes/n2`, { token: admin, headers: IRONIC, body: [{ op: 'add', path: '/extra/x', value: 'y' }] });
  assert.equal(late.status, 409);
  assert.match(JSON.stringify(late.body), /handed over to/);
  await seedProc!.stop();
  seedProc = undefined;

  const uc = { url: `http://127.0.0.1:${ucPort}`, ...seedClient(`http://127.0.0.1:${ucPort}`, adminPassword) };
  const ucAdmin = await uc.token();
  const ucMeta = await uc.call('GET', metaPath, { token: ucAdmin });
  assert.equal(ucMeta.body.metadata['os-collect-config'].heat.auth_url, `${ucUrl}/identity/v3`, 'the receiver serves its own URL');
  // The stack user's credentials moved too: the machine's collector logs in at the receiver.
  const heat = ucMeta.body.metadata['os-collect-config'].heat;
  const su = await fetch(`${ucUrl}/identity/v3/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { id: heat.user_id, password: heat.password } } }, scope: { project: { id: heat.project_id } } } }) });
  assert.equal(su.status, 201, 'the stack user logs in at the receiver');
  const nodes = (await uc.call('GET', '/baremetal/v1/nodes?detail=true', { token: ucAdmin, headers: IRONIC })).body.nodes as Row[];
  assert.deepEqual(nodes.map((n) => n.name).sort(), ['n0', 'n1', 'n2']);
  assert.equal(nodes.filter((n) => n.provision_state === 'active' && n.instance_uuid).length, 2, 'active machines stay active, untouched');
  const imgs = (await uc.call('GET', '/image/v2/images', { token: ucAdmin })).body.images as Row[];
  assert.equal(imgs.find((i) => i.name === 'overcloud-full')?.checksum, (before.images_images!.find((i) => i.name === 'overcloud-full') as Row).checksum);
  const aliceUc = await uc.token('alice', 'alice-pw', 'tenant-a');
  const bytes = Buffer.from(await (await fetch(`${uc.url}/image/v2/images/${big.body.id}/file`, { headers: { 'x-auth-token': aliceUc } })).arrayBuffer());
  assert.equal(createHash('sha256').update(bytes).digest('hex'), createHash('sha256').update(bigImage).digest('hex'), 'image bytes identical');
  const servers = (await uc.call('GET', '/compute/v2.1/servers', { token: aliceUc, headers: NOVA() })).body.servers as Row[];
  assert.deepEqual(servers.map((s) => s.name), ['web-0'], 'a tenant still sees only its own server');
  // The receiver acts: the stack it received updates (a parameter change replaces the secret)...
  const upd = await uc.call('PATCH', `/orchestration/stacks/svc/${stackId}`, { token: ucAdmin, body: { parameters: { n: 12 } } });
  assert.equal(upd.status, 202, JSON.stringify(upd.body));
  const updated = await waitFor('stack svc update', async () => (await uc.call('GET', `/orchestration/stacks/svc/${stackId}`, { token: ucAdmin })).body.stack, (s) => !String(s.stack_status).endsWith('IN_PROGRESS'), 60_000);
  assert.equal(updated.stack_status, 'UPDATE_COMPLETE', updated.stack_status_reason);
  const secret = (updated.outputs as Row[]).find((o) => o.output_key === 'secret')?.output_value as string;
  assert.equal(secret.length, 12);
  // ...and it deploys the last available node.
  const more = await uc.call('POST', '/compute/v2.1/servers', { token: ucAdmin, headers: NOVA(), body: { server: { name: 'web-1', imageRef: 'overcloud-full', flavorRef: flavorId, networks: 'none' } } });
  assert.equal(more.status, 202, JSON.stringify(more.body));
  await waitServer(uc as TestSeed, ucAdmin, more.body.server.id, ['ACTIVE']);
  await nodeIn(uc as TestSeed, ucAdmin, 'n2', 'active');
});

test('every table of a migrated database is either moved by a pivot or named as left behind', async () => {
  const { startSeed } = await import('./support/seed.js');
  const { allTables, LOCAL_TABLES } = await import('../src/pivot/tables.js');
  const s = await startSeed({ log: { level: 'warn' } });
  try {
    const tables = await allTables(s.server.database.db);
    const known = new Set<string>([...MOVED_TABLES, ...LOCAL_TABLES]);
    assert.deepEqual(tables.filter((t) => !known.has(t)), [], 'a new table must be added to MOVED_TABLES or LOCAL_TABLES in src/pivot/tables.ts');
    assert.deepEqual([...known].filter((t) => !tables.includes(t)), [], 'no table listed that does not exist');
  } finally {
    await s.stop();
  }
});
