// Software configs and deployments belong to a project: another project's readers and members
// get 404 for them by id (their input values carry secrets and signed signal URLs); admins see any.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

let seed: TestSeed;
before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'fake' } });
});
after(async () => {
  await seed?.stop();
});

test('software configs and deployments are not reachable by id from another project', async () => {
  const admin = await seed.token();
  const a = await userWithRole(seed, admin, 'sw-a', 'sw-a-member', 'member');
  const b = await userWithRole(seed, admin, 'sw-b', 'sw-b-member', 'member');
  const bReader = await userWithRole(seed, admin, 'sw-b', 'sw-b-reader', 'reader');
  const c = await seed.call('POST', '/orchestration/software_configs', { token: a.token, body: { name: 'c', group: 'script', config: 'echo secret' } });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const cid = c.body.software_config.id as string;
  // A deployment needs a server of the same project: A's stack makes one (fake compute).
  const st = await seed.call('POST', '/orchestration/stacks', { token: a.token, body: { stack_name: 'sw-a-srv', template: { heat_template_version: '2015-04-30', resources: { s: { type: 'OS::Nova::Server', properties: { image: 'i', flavor: 'f' } } } } } });
  assert.equal(st.status, 201, JSON.stringify(st.body));
  let server = '';
  for (let i = 0; i < 100 && !server; i++) {
    server = (await seed.call('GET', `/orchestration/stacks/sw-a-srv/${st.body.stack.id}/resources/s`, { token: a.token })).body.resource?.physical_resource_id ?? '';
    if (!server) await new Promise((r) => setTimeout(r, 50));
  }
  const d = await seed.call('POST', '/orchestration/software_deployments', { token: a.token, body: { config_id: cid, server_id: server, input_values: { password: 's3cret' } } });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  const did = d.body.software_deployment.id as string;

  // The owner and an admin (through the project's URL) see them.
  assert.equal((await seed.call('GET', `/orchestration/software_configs/${cid}`, { token: a.token })).status, 200);
  assert.equal((await seed.call('GET', `/orchestration/software_deployments/${did}`, { token: a.token })).body.software_deployment.input_values.password, 's3cret');
  assert.equal((await seed.call('GET', `/orchestration/v1/${a.projectId}/software_deployments/${did}`, { token: admin })).status, 200);

  // Another project's reader and member do not.
  for (const tok of [bReader.token, b.token]) {
    assert.equal((await seed.call('GET', `/orchestration/software_configs/${cid}`, { token: tok })).status, 404);
    assert.equal((await seed.call('GET', `/orchestration/software_deployments/${did}`, { token: tok })).status, 404);
  }
  assert.equal((await seed.call('PUT', `/orchestration/software_deployments/${did}`, { token: b.token, body: { status: 'FAILED', input_values: {} } })).status, 404);
  assert.equal((await seed.call('DELETE', `/orchestration/software_deployments/${did}`, { token: b.token })).status, 404);
  assert.equal((await seed.call('DELETE', `/orchestration/software_configs/${cid}`, { token: b.token })).status, 404);

  // Untouched.
  const still = await seed.call('GET', `/orchestration/software_deployments/${did}`, { token: a.token });
  assert.equal(still.status, 200);
  assert.equal(still.body.software_deployment.status, 'COMPLETE');
  assert.equal(still.body.software_deployment.input_values.password, 's3cret');
  assert.equal((await seed.call('GET', `/orchestration/software_configs/${cid}`, { token: a.token })).status, 200);
});
