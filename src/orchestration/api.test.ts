// The stack routes' request and response shapes as heatclient relies on them: a Location header
// on create, and null for "none" in files / environment / environment_files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestSeed } from '../../test/support/seed.js';
import { startHeatSeed } from '../../test/support/orchestration/heat-seed.js';

let seed: TestSeed;
let token: string;
let base: string;
before(async () => {
  ({ seed, token, base } = await startHeatSeed());
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

// POST /validate as Heat answers it: Environment always, Value for what the caller set,
// NestedParameters with show_nested (templates of our own, behaviour as heat-tempest-plugin checks).
const secretTmpl = `heat_template_version: 2016-10-14
description: makes a secret
parameters:
  size:
    type: number
    default: 16
    description: how many characters
resources:
  secret:
    type: OS::Heat::RandomString
    properties:
      length: {get_param: size}
`;
const noEnv = { event_sinks: [], parameter_defaults: {}, parameters: {}, resource_registry: { resources: {} } };
const sizeParam = { Default: 16, Description: 'how many characters', Label: 'size', NoEcho: 'false', Type: 'Number' };
const validate = (body: Record<string, unknown>, query = '') => seed.call('POST', `${base}/validate${query}`, { token, body });

test('validate: description, parameters and the (empty) environment', async () => {
  const r = await validate({ template: secretTmpl });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { Description: 'makes a secret', Parameters: { size: sizeParam }, Environment: noEnv });
});

test('validate: a value from the environment or the request shows as Value and in Environment.parameters', async () => {
  const r = await validate({ template: secretTmpl, environment: { parameters: { size: 8 } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { Description: 'makes a secret', Parameters: { size: { ...sizeParam, Value: 8 } }, Environment: { ...noEnv, parameters: { size: 8 } } });
  const q = await validate({ template: secretTmpl, environment: { parameters: { size: 8 } }, parameters: { size: 12 } });
  assert.equal(q.body.Parameters.size.Value, 12, 'request parameters win over the environment');
  assert.deepEqual(q.body.Environment.parameters, { size: 12 });
  const d = await validate({ template: secretTmpl, environment: { parameter_defaults: { size: 20 } } });
  assert.deepEqual(d.body.Parameters.size, { ...sizeParam, Default: 20 }, 'parameter_defaults replace the default, they are no Value');
  assert.deepEqual(d.body.Environment.parameter_defaults, { size: 20 });
});

test('validate: the resource registry comes back as sent, with resources', async () => {
  const rr = { 'OS::Heat::RandomString': 'OS::Heat::None', resources: { secret: { 'OS::Heat::RandomString': 'OS::Heat::None' } } };
  const r = await validate({ template: secretTmpl, environment: { resource_registry: rr } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.Environment, { ...noEnv, resource_registry: rr });
});

test('validate: a parameter without default has no Default; parameter groups are listed', async () => {
  const r = await validate({ template: secretTmpl.replace('    default: 16\n', '') });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { Default: _d, ...noDefault } = sizeParam;
  assert.deepEqual(r.body.Parameters, { size: noDefault });
  const grouped = `${secretTmpl}
  other: {type: OS::Heat::None}
parameter_groups:
- label: sizing
  description: lengths
  parameters: [size, pin]
`.replace('parameters:\n  size:', 'parameters:\n  pin:\n    type: string\n    default: "1234"\n    hidden: true\n  size:');
  const g = await validate({ template: grouped });
  assert.equal(g.status, 200, JSON.stringify(g.body));
  assert.deepEqual(g.body.ParameterGroups, [{ label: 'sizing', description: 'lengths', parameters: ['size', 'pin'] }]);
  assert.deepEqual(g.body.Parameters.pin, { Default: '1234', Description: '', Label: 'pin', NoEcho: 'true', Type: 'String' });
});

const outerTmpl = `heat_template_version: 2016-10-14
description: wraps a secret
parameters:
  outer_size: {type: number, default: 4}
resources:
  wrapped:
    type: secret.yaml
    properties:
      size: {get_param: outer_size}
`;

test('validate: nested templates show in the registry; NestedParameters only with show_nested', async () => {
  const files = { 'secret.yaml': secretTmpl };
  const off = await validate({ template: outerTmpl, files });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal(off.body.NestedParameters, undefined);
  assert.deepEqual(off.body.Environment.resource_registry, { 'secret.yaml': 'secret.yaml', resources: {} });
  const on = await validate({ template: outerTmpl, files }, '?show_nested=True');
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.deepEqual(on.body.NestedParameters, {
    wrapped: { Type: 'secret.yaml', Description: 'makes a secret', Parameters: { size: { ...sizeParam, Value: 4 } } },
  });
  const bare = await validate({ template: outerTmpl.replace(/ {4}properties:\n.*\n$/, ''), files }, '?show_nested=true');
  assert.deepEqual(bare.body.NestedParameters.wrapped.Parameters, { size: sizeParam }, 'no property: no Value');
  const bad = await validate({ template: outerTmpl, files }, '?show_nested=maybe');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /show_nested/);
});

test('validate: NestedParameters go down every level; a property the nested template lacks is refused, naming it (earlier than Heat, on purpose)', async () => {
  // middle.yaml uses secret.yaml as its resource type. Passing `length`, which secret.yaml has no
  // parameter for, fails here; Heat's validate lets it through and its create refuses it (issue 13:
  // keep failing early).
  const lacking = secretTmpl.replace('OS::Heat::RandomString', 'secret.yaml').replace('makes a secret', 'the middle');
  const refused = await validate({ template: outerTmpl.replace('secret.yaml', 'middle.yaml'), files: { 'middle.yaml': lacking, 'secret.yaml': secretTmpl } });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /middle\.yaml:\d+: resources\.secret\.properties\.length: Unknown Property length/);
  const middle = lacking.replace('length: {get_param: size}', 'size: {get_param: size}');
  const files = { 'middle.yaml': middle, 'secret.yaml': secretTmpl };
  const r = await validate({ template: outerTmpl.replace('secret.yaml', 'middle.yaml'), files }, '?show_nested=True');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.NestedParameters, {
    wrapped: {
      Type: 'middle.yaml',
      Description: 'the middle',
      Parameters: { size: { ...sizeParam, Value: 4 } },
      NestedParameters: { secret: { Type: 'secret.yaml', Description: 'makes a secret', Parameters: { size: { ...sizeParam, Value: 4 } } } },
    },
  });
  assert.deepEqual(r.body.Environment.resource_registry, { 'middle.yaml': 'middle.yaml', resources: {} }, 'only the top template registers its files');
});

test('validate: a resource group reports its member "0" under NestedParameters', async () => {
  const grouped = `heat_template_version: 2016-10-14
resources:
  many:
    type: OS::Heat::ResourceGroup
    properties:
      count: 3
      resource_def:
        type: secret.yaml
        properties:
          size: 2
  plain:
    type: OS::Heat::ResourceGroup
    properties:
      resource_def: {type: OS::Heat::None}
`;
  const r = await validate({ template: grouped, files: { 'secret.yaml': secretTmpl } }, '?show_nested=1');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.NestedParameters, {
    many: {
      Type: 'OS::Heat::ResourceGroup',
      Description: 'No description',
      Parameters: {},
      NestedParameters: { 0: { Type: 'secret.yaml', Description: 'makes a secret', Parameters: { size: { ...sizeParam, Value: 2 } } } },
    },
    plain: { Type: 'OS::Heat::ResourceGroup', Description: 'No description', Parameters: {} },
  });
  assert.deepEqual(r.body.Environment.resource_registry, { resources: {} }, 'a group member type is not the top template\'s own resource type');
});

test('validate: an unknown template version is a 400 in Heat\'s words', async () => {
  const r = await validate({ template: secretTmpl.replace('2016-10-14', 'someday') });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(r.body.error.message, /The template version is invalid/);
});

test('resource list filters as Heat: name (repeatable), action, status, type', async () => {
  const tpl = { heat_template_version: '2015-04-30', resources: { test1: { type: 'OS::Heat::None' }, test2: { type: 'OS::Heat::RandomString', depends_on: ['test1'] } } };
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'filtered', template: tpl } });
  const path = `${base}/stacks/filtered/${c.body.stack.id}`;
  assert.equal((await settle(path)).stack_status, 'CREATE_COMPLETE');
  const names = async (q: string) => ((await seed.call('GET', `${path}/resources?${q}`, { token })).body.resources as { resource_name: string }[]).map((r) => r.resource_name).sort();
  assert.deepEqual(await names('name=test2'), ['test2']);
  assert.deepEqual(await names('name=test1&name=test2'), ['test1', 'test2']);
  assert.deepEqual(await names('type=OS::Heat::RandomString'), ['test2']);
  assert.deepEqual(await names('status=COMPLETE&action=CREATE'), ['test1', 'test2']);
  assert.deepEqual(await names('status=FAILED'), []);
  assert.deepEqual(await names('name=nope'), []);
  const [test1] = (await seed.call('GET', `${path}/resources?name=test1`, { token })).body.resources as { required_by: string[] }[];
  assert.deepEqual(test1!.required_by, ['test2']);
});

test('preview: no id yet (\'None\'), the resources with evaluated properties, defaults, required_by and identities', async () => {
  const tpl = {
    heat_template_version: '2015-04-30',
    parameters: { incoming: { type: 'string' }, n: { type: 'number', default: 10 } },
    resources: {
      one: { type: 'OS::Heat::TestResource', properties: { value: 'fred' } },
      two: { type: 'OS::Heat::TestResource', properties: { value: { get_param: 'incoming' } }, depends_on: 'one' },
    },
  };
  const p = await seed.call('POST', `${base}/stacks/preview`, { token, body: { stack_name: 'pv3', template: tpl, environment: { parameters: { incoming: 'abc' } } } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  const s = p.body.stack;
  assert.equal(s.id, 'None');
  assert.equal(s.parent, null);
  assert.equal(s.template_description, 'No description');
  assert.deepEqual([s.parameters['OS::stack_id'], s.parameters['OS::stack_name'], s.parameters.incoming, s.parameters.n], ['None', 'pv3', 'abc', '10']);
  type PreviewResource = { resource_name: string; properties: Record<string, unknown>; required_by: string[]; attributes: Record<string, unknown>; resource_action: string; resource_status: string; physical_resource_id: string; creation_time: null; resource_identity: unknown; stack_identity: { path: string } };
  const list = s.resources as PreviewResource[];
  const one = list.find((r) => r.resource_name === 'one')!;
  const two = list.find((r) => r.resource_name === 'two')!;
  const byName = { one, two };
  assert.equal(byName.one.properties.value, 'fred');
  assert.equal(byName.two.properties.value, 'abc');
  assert.equal(byName.two.properties.wait_secs, 0, 'the type\'s default');
  assert.deepEqual(byName.one.required_by, ['two']);
  assert.deepEqual(byName.two.required_by, []);
  assert.ok('output' in byName.one.attributes);
  assert.deepEqual([byName.one.resource_action, byName.one.resource_status, byName.one.physical_resource_id, byName.one.creation_time], ['INIT', 'COMPLETE', '', null]);
  assert.deepEqual(byName.one.resource_identity, { stack_name: 'pv3', stack_id: 'None', tenant: base.split('/').pop(), path: '/resources/one' });
  assert.equal(byName.one.stack_identity.path, '');
});

test('stack tags: set on create, replaced by a full update (none given: none), kept by a PATCH without tags', async () => {
  const c = await seed.call('POST', `${base}/stacks`, { token, body: { stack_name: 'tagged', template, tags: 'foo,bar' } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const path = `${base}/stacks/tagged/${c.body.stack.id}`;
  assert.deepEqual((await settle(path)).tags, ['foo', 'bar']);
  assert.equal((await seed.call('PUT', path, { token, body: { template, tags: 'tag1,tag2' } })).status, 202);
  assert.deepEqual((await settle(path)).tags, ['tag1', 'tag2']);
  assert.equal((await seed.call('PATCH', path, { token, body: { parameters: { v: 'x' } } })).status, 202);
  assert.deepEqual((await settle(path)).tags, ['tag1', 'tag2']);
  assert.equal((await seed.call('PUT', path, { token, body: { template } })).status, 202);
  assert.equal((await settle(path)).tags, null);
});
