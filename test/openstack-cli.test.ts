// Acceptance of the seed with the REAL openstack CLI (Debian's python3-openstackclient) against a
// freshly started server: tokens, catalog, projects, users, roles, and a 100 MiB image round
// trip whose checksums must equal md5sum/sha512sum; policy (reader 403, other project blind to
// private images); and a kill -9 in the middle of an upload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { request } from 'node:http';
import { run } from '../src/common/child-process.js';
import { startSeed, type TestSeed } from './support/seed.js';
import { adminToken, spawnSeed } from './support/serve-process.js';

const OPENSTACK = '/usr/bin/openstack';
let seed: TestSeed;
let work: string;

/** The environment with no OS_* leaking in from the machine running the tests. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_')) env[k] = v;
  return { ...env, ...extra };
}

async function openstack(args: string[], as: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.keys(as).length
    ? cleanEnv({ OS_AUTH_URL: `${seed.url}/identity`, OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_IDENTITY_API_VERSION: '3', OS_INTERFACE: 'public', ...as })
    : cleanEnv({ OS_CLIENT_CONFIG_FILE: join(seed.stateDir, 'clouds.yaml'), OS_CLOUD: 'bootstack' });
  return run(OPENSTACK, args, { env, allowFailure: true, timeoutMs: 120_000 });
}

async function ok(args: string[], as: Record<string, string> = {}): Promise<string> {
  const r = await openstack(args, as);
  assert.equal(r.code, 0, `openstack ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (args: string[], as: Record<string, string> = {}): Promise<any> => JSON.parse(await ok([...args, '-f', 'json'], as));

async function sum(tool: 'md5sum' | 'sha512sum', file: string): Promise<string> {
  return (await run(tool, [file])).stdout.split(' ')[0]!;
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= 1024 * 1024) {
    if (!out.write(randomBytes(Math.min(left, 1024 * 1024)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

before(async () => {
  seed = await startSeed();
  work = mkdtempSync(join(tmpdir(), 'bootstack-oscli-'));
});
after(async () => {
  await seed?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('token issue and catalog list, from clouds.yaml and from OS_AUTH_URL (.../identity and .../identity/v3)', async () => {
  const token = await json(['token', 'issue']);
  assert.ok(token.id && token.expires && token.project_id && token.user_id);
  const catalog = await json(['catalog', 'list']);
  const types = catalog.map((c: { Type: string }) => c.Type);
  assert.ok(types.includes('identity') && types.includes('image'), `catalog types: ${types}`);
  const image = catalog.find((c: { Type: string }) => c.Type === 'image');
  assert.ok(image.Endpoints.some((e: { url: string; interface: string }) => e.url === `${seed.url}/image` && e.interface === 'public'));
  for (const authUrl of [`${seed.url}/identity`, `${seed.url}/identity/v3`]) {
    const t = await json(['token', 'issue'], { OS_AUTH_URL: authUrl, OS_USERNAME: 'admin', OS_PASSWORD: seed.adminPassword, OS_PROJECT_NAME: 'admin' });
    assert.equal(t.project_id, token.project_id);
  }
});

test('project create/list, user create, role add; a reader gets 403; another project does not see private images', async () => {
  const demo = await json(['project', 'create', 'demo']);
  await json(['project', 'create', 'other']);
  const projects = await json(['project', 'list']);
  assert.deepEqual(projects.map((p: { Name: string }) => p.Name).sort(), ['admin', 'demo', 'other']);
  for (const [user, project, role] of [['alice', 'demo', 'member'], ['rita', 'demo', 'reader'], ['bob', 'other', 'member']] as const) {
    const u = await json(['user', 'create', '--password', `${user}-pw`, '--project', project, user]);
    assert.equal(u.name, user);
    assert.equal(u.default_project_id, project === 'demo' ? demo.id : u.default_project_id);
    await ok(['role', 'add', '--user', user, '--project', project, role]);
  }
  const as = (user: string, project: string) => ({ OS_USERNAME: user, OS_PASSWORD: `${user}-pw`, OS_PROJECT_NAME: project });
  const small = join(work, 'small.img');
  await writeRandomFile(small, 64 * 1024);
  const priv = await json(['image', 'create', '--private', '--file', small, '--disk-format', 'raw', '--container-format', 'bare', 'alice-private'], as('alice', 'demo'));
  // The CLI prints the record as created (queued, like Glance); the upload follows.
  assert.equal(priv.visibility, 'private');
  assert.equal((await json(['image', 'show', priv.id], as('alice', 'demo'))).status, 'active');

  // The reader sees the project's image but may neither create nor delete.
  const seen = await json(['image', 'list'], as('rita', 'demo'));
  assert.ok(seen.some((i: { Name: string }) => i.Name === 'alice-private'));
  const create = await openstack(['image', 'create', '--disk-format', 'raw', '--container-format', 'bare', 'rita-image'], as('rita', 'demo'));
  assert.notEqual(create.code, 0);
  assert.match(create.stderr, /403/);
  const del = await openstack(['image', 'delete', priv.id], as('rita', 'demo'));
  assert.notEqual(del.code, 0);
  assert.match(del.stderr, /403|Forbidden/i);

  // Bob's project does not see it at all.
  const bobList = await json(['image', 'list'], as('bob', 'other'));
  assert.ok(!bobList.some((i: { ID: string }) => i.ID === priv.id));
  const bobShow = await openstack(['image', 'show', priv.id], as('bob', 'other'));
  assert.notEqual(bobShow.code, 0);
  assert.match(bobShow.stderr, /No Image found|404|not found/i);
  await ok(['image', 'delete', priv.id], as('alice', 'demo'));
});

test('image create (100 MiB) / list / show / save / delete: byte-identical, checksums equal md5sum and sha512sum', async () => {
  const file = join(work, 'disk.raw');
  await writeRandomFile(file, 100 * 1024 * 1024);
  const [md5, sha512] = [await sum('md5sum', file), await sum('sha512sum', file)];
  const created = await json(['image', 'create', '--file', file, '--disk-format', 'raw', '--container-format', 'bare', 'disk100']);
  assert.equal(created.name, 'disk100');
  const list = await json(['image', 'list']);
  assert.ok(list.some((i: { Name: string; Status: string }) => i.Name === 'disk100' && i.Status === 'active'));
  const shown = await json(['image', 'show', 'disk100']);
  assert.equal(shown.status, 'active');
  assert.equal(shown.size, 100 * 1024 * 1024);
  assert.equal(shown.checksum, md5);
  assert.equal(shown.disk_format, 'raw');
  assert.equal(shown.container_format, 'bare');
  const props = shown.properties as Record<string, string>;
  assert.equal(props.os_hash_algo, 'sha512');
  assert.equal(props.os_hash_value, sha512);
  const saved = join(work, 'saved.raw');
  await ok(['image', 'save', '--file', saved, 'disk100']);
  assert.equal(await sum('sha512sum', saved), sha512);
  assert.equal(await sum('md5sum', saved), md5);
  const stored = join(seed.stateDir, 'images', created.id);
  assert.ok(existsSync(stored));
  await ok(['image', 'delete', 'disk100']);
  assert.ok(!(await json(['image', 'list'])).some((i: { Name: string }) => i.Name === 'disk100'));
  assert.ok(!existsSync(stored), 'the image bytes were removed with the image');
});

test('kill -9 during an upload, restart: the image is not active and its partial bytes are gone', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-kill9-'));
  let server = await spawnSeed(stateDir, { BOOTSTACK_LOG__LEVEL: 'warn' });
  try {
    let token = await adminToken(server.url, stateDir);
    const created = await fetch(`${server.url}/image/v2/images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ name: 'interrupted', disk_format: 'raw', container_format: 'bare' }),
    });
    const id = ((await created.json()) as { id: string }).id;
    // Announce 64 MiB, send 8 MiB, and keep the request open.
    const upload = request(`${server.url}/image/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(64 * 1024 * 1024), 'x-auth-token': token },
    });
    upload.on('error', () => undefined);
    upload.write(Buffer.alloc(8 * 1024 * 1024, 1));
    const tmp = join(stateDir, 'images', '.tmp');
    const deadline = Date.now() + 30_000;
    while (!(existsSync(tmp) && readdirSync(tmp).length > 0)) {
      assert.ok(Date.now() < deadline, 'the upload never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const saving = await fetch(`${server.url}/image/v2/images/${id}`, { headers: { 'x-auth-token': token } });
    assert.equal(((await saving.json()) as { status: string }).status, 'saving');
    server.child.kill('SIGKILL');
    await once(server.child, 'exit');
    upload.destroy();
    assert.ok(readdirSync(tmp).length > 0, 'partial bytes were on disk when the server died');

    server = await spawnSeed(stateDir, { BOOTSTACK_LOG__LEVEL: 'warn' });
    token = await adminToken(server.url, stateDir);
    const after = (await (await fetch(`${server.url}/image/v2/images/${id}`, { headers: { 'x-auth-token': token } })).json()) as { status: string; size: number | null };
    assert.equal(after.status, 'queued');
    assert.equal(after.size, null);
    assert.deepEqual(readdirSync(tmp), []);
    assert.ok(!existsSync(join(stateDir, 'images', id)));
    // And the image can be uploaded again.
    const again = await fetch(`${server.url}/image/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'x-auth-token': token },
      body: Buffer.alloc(1024, 2),
    });
    assert.equal(again.status, 204);
  } finally {
    server.child.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
