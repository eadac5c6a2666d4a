// Findings 1 and 2 of the security review, as a tenant would try them through the API:
// - a member of project B names project A's private image (or relies on A's owned node) in an
//   OS::Nova::Server: the stack fails and A's node and image are untouched;
// - a member of A aims a software deployment at B's server, or at B's config, through the API or
//   through a stack: refused as "not found", and nothing of one project reaches the other's
//   server metadata (what its machine would run).
// The bare-metal half runs the real compute adapter over fake-hardware nodes; the software half
// runs on the same seed (its servers are bare-metal instances too).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

const IRONIC = { 'x-openstack-ironic-api-version': '1.78' };
let seed: TestSeed;
let admin: string;
let a: { token: string; projectId: string };
let b: { token: string; projectId: string };

before(async () => {
  // The direct bare-metal adapter (flavor = resource class); compute's own isolation: test/compute-*.test.ts.
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'baremetal' } });
  admin = await seed.token();
  a = await userWithRole(seed, admin, 'xp-a', 'xp-a-member', 'member');
  b = await userWithRole(seed, admin, 'xp-b', 'xp-b-member', 'member');
});
after(async () => {
  await seed?.stop();
});

async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 300 && !done(v); i++) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  assert.ok(done(v), `${what}: ${JSON.stringify(v)}`);
  return v;
}

/** An available fake-hardware node of class "xp" with the given owner (null: the shared pool). */
async function availableNode(name: string, owner: string | null): Promise<void> {
  const made = await seed.call('POST', '/baremetal/v1/nodes', { token: admin, headers: IRONIC, body: { name, driver: 'fake-hardware', resource_class: 'xp', ...(owner ? { owner } : {}) } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  for (const [target, state] of [['manage', 'manageable'], ['provide', 'available']] as const) {
    const r = await seed.call('PUT', `/baremetal/v1/nodes/${name}/states/provision`, { token: admin, headers: IRONIC, body: { target } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await nodeIn(name, state);
  }
}

async function nodeIn(name: string, state: string): Promise<Record<string, unknown>> {
  return waitFor(`node ${name} in ${state}`, async () => (await seed.call('GET', `/baremetal/v1/nodes/${name}`, { token: admin, headers: IRONIC })).body, (n) => n.provision_state === state && !n.reservation);
}

/** An active image with a few bytes, private to the token's project unless said otherwise. */
async function image(token: string, name: string, visibility = 'private'): Promise<string> {
  const img = await seed.call('POST', '/image/v2/images', { token, body: { name, disk_format: 'raw', container_format: 'bare', visibility } });
  assert.equal(img.status, 201, JSON.stringify(img.body));
  const put = await fetch(`${seed.url}/image/v2/images/${img.body.id}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(4096, 7) });
  assert.equal(put.status, 204);
  return img.body.id as string;
}

async function stack(token: string, name: string, resources: Record<string, unknown>): Promise<{ id: string; status: string; reason: string }> {
  const created = await seed.call('POST', '/orchestration/stacks', { token, body: { stack_name: name, template: { heat_template_version: '2015-04-30', resources } } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.stack.id as string;
  const s = await waitFor(`stack ${name}`, async () => (await seed.call('GET', `/orchestration/stacks/${name}/${id}`, { token })).body.stack, (st) => !String(st?.stack_status).endsWith('IN_PROGRESS'));
  return { id, status: s.stack_status, reason: s.stack_status_reason };
}

async function physicalId(token: string, name: string, id: string, res: string): Promise<string> {
  return (await seed.call('GET', `/orchestration/stacks/${name}/${id}/resources/${res}`, { token })).body.resource.physical_resource_id;
}

test("a stack of project B cannot deploy A's private image, nor onto A's owned node", async () => {
  await image(a.token, 'a-private');
  await availableNode('xp-a-node', a.projectId);

  // A's private image by name: B's stack fails as if it did not exist; A's node is not touched.
  const byName = await stack(b.token, 'b-steals-image', { s: { type: 'OS::Nova::Server', properties: { image: 'a-private', flavor: 'xp' } } });
  assert.equal(byName.status, 'CREATE_FAILED');
  assert.match(byName.reason, /a-private/);
  assert.match(byName.reason, /not found|could not be found/i);

  // A public image, but the only node of the class is A's: B finds no node.
  await image(admin, 'xp-public', 'public');
  const onANode = await stack(b.token, 'b-steals-node', { s: { type: 'OS::Nova::Server', properties: { image: 'xp-public', flavor: 'xp' } } });
  assert.equal(onANode.status, 'CREATE_FAILED');
  assert.match(onANode.reason, /No available nodes|No valid host/i);
  const aNode = await nodeIn('xp-a-node', 'available');
  assert.equal(aNode.instance_uuid, null);
  assert.equal(aNode.allocation_uuid, null);

  // A's own stack may use both: the node deploys with A's image, by id.
  const aImage = (await seed.call('GET', '/image/v2/images?name=a-private', { token: a.token })).body.images[0].id as string;
  const own = await stack(a.token, 'a-own', { s: { type: 'OS::Nova::Server', properties: { image: 'a-private', flavor: 'xp' } } });
  assert.equal(own.status, 'CREATE_COMPLETE', own.reason);
  const deployed = await nodeIn('xp-a-node', 'active');
  assert.equal((deployed.instance_info as { image_source: string }).image_source, aImage);

  // B's stack delete cannot reach A's server; A's delete gives the node back.
  const server = await physicalId(a.token, 'a-own', own.id, 's');
  const bServer = await stack(b.token, 'b-names-a-server', { d: { type: 'OS::Heat::SoftwareDeployment', properties: { server, config: '' } } });
  assert.equal(bServer.status, 'CREATE_FAILED');
  assert.match(bServer.reason, /not found/i);
  assert.equal((await seed.call('DELETE', `/orchestration/stacks/b-names-a-server/${bServer.id}`, { token: b.token })).status, 204);
  await waitFor('B stack deleted', async () => (await seed.call('GET', `/orchestration/stacks/b-names-a-server/${bServer.id}`, { token: b.token })).body.stack?.stack_status, (s) => s === 'DELETE_COMPLETE' || s === undefined);
  assert.equal((await nodeIn('xp-a-node', 'active')).instance_uuid, server);
  assert.equal((await seed.call('DELETE', `/orchestration/stacks/a-own/${own.id}`, { token: a.token })).status, 204);
  await nodeIn('xp-a-node', 'available');
});

test("software deployments and configs stay in their project: the API, stacks and the server's metadata", async () => {
  await image(admin, 'xp-sw-public', 'public');
  await availableNode('xp-pool-1', null);
  await availableNode('xp-pool-2', null);
  // Each project has a server and a config with a secret in it.
  const serverOf = async (p: { token: string }, name: string) => {
    const st = await stack(p.token, name, { s: { type: 'OS::Nova::Server', properties: { image: 'xp-sw-public', flavor: 'xp' } } });
    assert.equal(st.status, 'CREATE_COMPLETE', st.reason);
    return { stackId: st.id, server: await physicalId(p.token, name, st.id, 's') };
  };
  const aSrv = await serverOf(a, 'a-srv');
  const bSrv = await serverOf(b, 'b-srv');
  const config = async (p: { token: string }, text: string) => {
    const c = await seed.call('POST', '/orchestration/software_configs', { token: p.token, body: { name: 'c', group: 'script', config: text } });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    return c.body.software_config.id as string;
  };
  const aConfig = await config(a, 'echo from-a');
  const bConfig = await config(b, 'echo b-secret');
  const bDeploy = await seed.call('POST', '/orchestration/software_deployments', { token: b.token, body: { config_id: bConfig, server_id: bSrv.server, input_values: { password: 'b-pass' } } });
  assert.equal(bDeploy.status, 200, JSON.stringify(bDeploy.body));

  // A aims at B's server, or uses B's config: not found, nothing stored.
  const atServer = await seed.call('POST', '/orchestration/software_deployments', { token: a.token, body: { config_id: aConfig, server_id: bSrv.server } });
  assert.equal(atServer.status, 404, JSON.stringify(atServer.body));
  const withConfig = await seed.call('POST', '/orchestration/software_deployments', { token: a.token, body: { config_id: bConfig, server_id: aSrv.server } });
  assert.equal(withConfig.status, 404, JSON.stringify(withConfig.body));
  const aDeploy = await seed.call('POST', '/orchestration/software_deployments', { token: a.token, body: { config_id: aConfig, server_id: aSrv.server } });
  assert.equal(aDeploy.status, 200);
  const swap = await seed.call('PUT', `/orchestration/software_deployments/${aDeploy.body.software_deployment.id}`, { token: a.token, body: { config_id: bConfig } });
  assert.equal(swap.status, 404, 'a deployment cannot be pointed at another project\'s config');
  assert.equal((await seed.call('GET', '/orchestration/software_deployments', { token: a.token })).body.software_deployments.length, 1);

  // A reads B's server's metadata: nothing of B's.
  const md = await seed.call('GET', `/orchestration/software_deployments/metadata/${bSrv.server}`, { token: a.token });
  assert.equal(md.status, 200);
  assert.doesNotMatch(JSON.stringify(md.body), /b-secret|b-pass/);
  // B sees its own.
  assert.match(JSON.stringify((await seed.call('GET', `/orchestration/software_deployments/metadata/${bSrv.server}`, { token: b.token })).body), /b-secret/);

  // Through a stack: A's deployment onto B's server, and A's server taking B's config as user data.
  const onB = await stack(a.token, 'a-deploys-on-b', { d: { type: 'OS::Heat::SoftwareDeployment', properties: { server: bSrv.server, config: aConfig, signal_transport: 'NO_SIGNAL' } } });
  assert.equal(onB.status, 'CREATE_FAILED');
  assert.match(onB.reason, /not found/i);
  const withB = await stack(a.token, 'a-uses-b-config', { d: { type: 'OS::Heat::SoftwareDeployment', properties: { server: aSrv.server, config: bConfig, signal_transport: 'NO_SIGNAL' } } });
  assert.equal(withB.status, 'CREATE_FAILED');
  assert.match(withB.reason, /not found/i);
  // B's server resource metadata (what its machine polls) holds none of A's deployments.
  const bMeta = await seed.call('GET', `/orchestration/stacks/b-srv/${bSrv.stackId}/resources/s/metadata`, { token: b.token });
  assert.doesNotMatch(JSON.stringify(bMeta.body), /from-a/);
});
