// The stack routes' request and response shapes as heatclient relies on them: a Location header
// on create, and null for "none" in files / environment / environment_files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from '../../test/support/seed.js';

let seed: TestSeed;
let token: string;
let base: string;
before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, services: ['identity', 'orchestration'], orchestration: { compute_provider: 'fake' } });
  token = await seed.token();
  const project = (await seed.call('GET', '/identity/v3/projects?name=admin', { token })).body.projects[0].id;
  base = `/orchestration/v1/${project}`;
});
after(async () => {
  await seed?.stop();
});

const template = { heat_template_version: '2015-04-30', parameters: { v: { type: 'string', default: 'd' } }, resources: { a: { type: 'OS::Heat::None' } }, outputs: { v: { value: { get_param: 'v' } } } };

async function settle(path: string): Promise<Record<string, unknown>> {
  for (;;) {
    const s = await seed.call('GET', path, { token });
    if (!String(s.body.stack.stack_status).endsWith('IN_PROGRESS')) return s.body.stack;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('POST /stacks answers 201 with Location: the new stack\'s URL (its self link)', async () => {
  const r = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'located', template } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const location = r.headers.get('location');
  assert.equal(location, `${seed.url}${base}/stacks/located/${r.body.stack.id}`);
  assert.equal(location, r.body.stack.links[0].href);
  // The Location is a working URL for the stack.
  const shown = await seed.call('GET', new URL(location!).pathname, { token });
  assert.equal(shown.status, 200);
  assert.equal(shown.body.stack.id, r.body.stack.id);
});

test('null files, environment and environment_files are accepted as absent on create, update, preview and validate', async () => {
  const nulls = { files: null, environment: null, environment_files: null, tags: null };
  const v = await seed.call('POST', `${base}/validate`, { token, body: { template, ...nulls } });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const p = await seed.call('POST', `${base}/stacks/preview`, { token, body: { stack_name: 'nulls-preview', template, ...nulls } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'nulls', template, parameters: { v: 'one' }, ...nulls } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const path = `${base}/stacks/nulls/${c.body.stack.id}`;
  assert.equal((await settle(path)).stack_status, 'CREATE_COMPLETE');
  const put = await seed.call('PUT', path, { token, body: { template, parameters: { v: 'two' }, ...nulls } });
  assert.equal(put.status, 202, JSON.stringify(put.body));
  const updated = await settle(path);
  assert.equal(updated.stack_status, 'UPDATE_COMPLETE', String(updated.stack_status_reason));
  assert.deepEqual((updated.outputs as Array<{ output_value: unknown }>)[0]!.output_value, 'two');
  const patch = await seed.call('PATCH', path, { token, body: { parameters: { v: 'three' }, ...nulls } });
  assert.equal(patch.status, 202, JSON.stringify(patch.body));
  const patched = await settle(path);
  assert.equal(patched.stack_status, 'UPDATE_COMPLETE', String(patched.stack_status_reason));
  assert.deepEqual((patched.outputs as Array<{ output_value: unknown }>)[0]!.output_value, 'three');
});

test('wrong types for those fields are still 400 naming the field', async () => {
  for (const [field, value] of [['environment_files', 'env.yaml'], ['files', ['a']], ['environment', 3]] as const) {
    const r = await seed.call('POST', `${base}/validate`, { token, body: { template, [field]: value } });
    assert.equal(r.status, 400, `${field}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error.message, new RegExp(`body\\.${field}`));
  }
});

test('preview answers with the stack fields Heat gives (rollback, timeout, template description), and JSON without a charset', async () => {
  const described = { ...template, description: 'previewed' };
  const p = await seed.call('POST', `${base}/stacks/preview`, { token, body: { stack_name: 'pv', template: described, timeout_mins: 7 } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.headers.get('content-type'), 'application/json');
  assert.equal(p.body.stack.disable_rollback, true, 'rollback is off unless asked for, as at create');
  assert.equal(p.body.stack.timeout_mins, 7);
  assert.equal(p.body.stack.template_description, 'previewed');
  const withRollback = await seed.call('POST', `${base}/stacks/preview`, { token, body: { stack_name: 'pv2', template, disable_rollback: false } });
  assert.equal(withRollback.body.stack.disable_rollback, false);
  assert.equal(withRollback.body.stack.timeout_mins, null);
});
