// Template versions, their functions and resource type templates through the HTTP API, in the
// shapes heatclient reads (`openstack orchestration template version list`, `... function list`,
// `openstack orchestration resource type show --template-type hot`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestSeed } from '../../test/support/seed.js';
import { startHeatSeed } from '../../test/support/orchestration/heat-seed.js';
import { HOT_VERSIONS } from './versions.js';

let seed: TestSeed;
let token: string;
let base: string;
before(async () => {
  ({ seed, token, base } = await startHeatSeed());
});
after(async () => {
  await seed?.stop();
});

type Fn = { functions: string; description: string };
const names = (list: Fn[]) => list.map((f) => f.functions).sort();

test('GET /template_versions lists every HOT version with its release-name aliases', async () => {
  const r = await seed.call('GET', `${base}/template_versions`, { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const list = r.body.template_versions as { version: string; type: string; aliases: string[] }[];
  assert.equal(list.length, Object.keys(HOT_VERSIONS).length);
  assert.ok(list.every((v) => v.type === 'hot'));
  assert.deepEqual(list.find((v) => v.version === 'heat_template_version.2016-04-08')?.aliases, []);
  assert.deepEqual(list.find((v) => v.version === 'heat_template_version.2016-10-14')?.aliases, ['heat_template_version.newton']);
});

test('GET /template_versions/{v}/functions follows the engine\'s table for that version', async () => {
  const get = async (v: string, q = '') => seed.call('GET', `${base}/template_versions/${v}/functions${q}`, { token });
  const old = (await get('heat_template_version.2013-05-23')).body.template_functions as Fn[];
  assert.ok(names(old).includes('Fn::Select') && names(old).includes('Ref'));
  assert.ok(!names(old).includes('list_join'));
  const v2016 = await get('heat_template_version.2016-04-08');
  assert.equal(v2016.status, 200);
  const fns = v2016.body.template_functions as Fn[];
  assert.ok(names(fns).includes('map_merge') && names(fns).includes('get_file'));
  assert.ok(!names(fns).includes('Fn::Select'), 'removed in 2016-04-08');
  assert.ok(fns.every((f) => f.description.length > 0), 'every function is described');
  // An alias names the same table; yaql is refused by this engine, so it is not offered.
  const newton = (await get('heat_template_version.newton')).body.template_functions as Fn[];
  assert.deepEqual(names(newton), names((await get('heat_template_version.2016-10-14')).body.template_functions as Fn[]));
  assert.ok(names(newton).includes('if') && !names(newton).includes('yaql'));
  // The conditions section's functions.
  const cond = (await get('heat_template_version.2017-09-01', '?with_condition_func=true')).body.template_functions as Fn[];
  assert.deepEqual(names(cond), ['and', 'contains', 'equals', 'get_param', 'not', 'or']);
  assert.equal((await get('heat_template_version.1999-01-01')).status, 404);
  assert.equal((await get('HeatTemplateFormatVersion.2012-12-12')).status, 404);
});

test('GET /resource_types/{type}/template: properties as parameters, attributes as outputs', async () => {
  const r = await seed.call('GET', `${base}/resource_types/OS::Heat::RandomString/template?template_type=hot`, { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.heat_template_version, /^20\d\d-\d\d-\d\d$/);
  assert.equal(r.body.resources.RandomString.type, 'OS::Heat::RandomString');
  assert.deepEqual(r.body.resources.RandomString.properties.length, { get_param: 'length' });
  assert.equal(r.body.parameters.length.type, 'number');
  assert.deepEqual(r.body.outputs.value.value, { get_attr: ['RandomString', 'value'] });
  // The template it hands out is one this engine accepts.
  const v = await seed.call('POST', `${base}/validate`, { token, body: { template: r.body } });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const cfn = await seed.call('GET', `${base}/resource_types/OS::Heat::RandomString/template?template_type=cfn`, { token });
  assert.equal(cfn.status, 400);
  assert.match(cfn.body.error.message, /template_type/);
  assert.equal((await seed.call('GET', `${base}/resource_types/OS::Nope::Thing/template`, { token })).status, 404);
});
