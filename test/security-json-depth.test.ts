// Finding 7 of the security review: a JSON body nested 5,000 deep was a 500 (a stack overflow
// when the value was serialised) on node create/patch, ports, allocations, software configs and
// deployments, and stack environments. Every service now parses bodies through one parser that
// refuses nesting past a limit with a 400 in the service's own fault format; an empty JSON body
// is "no body" everywhere, and prototype keys are refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_JSON_DEPTH } from '../src/common/json-body.js';
import { startSeed, type TestSeed } from './support/seed.js';

const IRONIC = { 'x-openstack-ironic-api-version': '1.78' };
let seed: TestSeed;
let admin: string;

before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'fake' } });
  admin = await seed.token();
});
after(async () => {
  await seed?.stop();
});

/** {"a":{"a":...}} nested `depth` levels, as text (JSON.stringify itself would overflow). */
function nested(depth: number): string {
  return '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
}

/** A body with a field holding the deep value, as raw JSON text. */
function withDeep(prefix: string, depth: number): string {
  return `${prefix.slice(0, -1)}${prefix.length > 2 ? ',' : ''}"extra":${nested(depth)}}`;
}

test('a body nested 5,000 deep is a 400 on every service, never a 500', async () => {
  const node = await seed.call('POST', '/baremetal/v1/nodes', { token: admin, headers: IRONIC, body: { name: 'deep-node', driver: 'fake-hardware' } });
  assert.equal(node.status, 201);
  const cases: [string, string, string][] = [
    ['POST', '/baremetal/v1/nodes', withDeep('{"driver":"fake-hardware"}', 5000)],
    ['PATCH', '/baremetal/v1/nodes/deep-node', `[{"op":"add","path":"/extra/x","value":${nested(5000)}}]`],
    ['POST', '/baremetal/v1/ports', withDeep(`{"node_uuid":"${node.body.uuid}","address":"52:54:00:00:00:99"}`, 5000)],
    ['POST', '/baremetal/v1/allocations', withDeep('{"resource_class":"x"}', 5000)],
    ['POST', '/orchestration/software_configs', `{"name":"c","config":${nested(5000)}}`],
    ['POST', '/orchestration/software_deployments', `{"config_id":"x","server_id":"y","input_values":${nested(5000)}}`],
    ['POST', '/orchestration/stacks', `{"stack_name":"deep","template":{"heat_template_version":"2015-04-30"},"environment":${nested(5000)}}`],
    ['POST', '/identity/v3/projects', `{"project":${withDeep('{"name":"deep"}', 5000)}}`],
    ['POST', '/image/v2/images', withDeep('{"name":"deep"}', 5000)],
  ];
  for (const [method, path, raw] of cases) {
    const headers = { 'content-type': 'application/json', ...(path.startsWith('/baremetal') ? IRONIC : {}) };
    const res = await seed.call(method, path, { token: admin, raw, headers });
    assert.equal(res.status, 400, `${method} ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    assert.match(JSON.stringify(res.body), /deeper than 64 levels/, `${method} ${path} names the limit`);
  }
  // Ironic's fault format for Ironic, Heat's for Heat.
  const ironic = await seed.call('POST', '/baremetal/v1/allocations', { token: admin, raw: nested(100), headers: { 'content-type': 'application/json', ...IRONIC } });
  assert.equal(typeof ironic.body.error_message, 'string');
  const heat = await seed.call('POST', '/orchestration/software_configs', { token: admin, raw: nested(100), headers: { 'content-type': 'application/json' } });
  assert.equal(heat.body.code, 400);
  assert.match(heat.body.error.message, /deeper than/);
});

test('nesting up to the limit is accepted; brackets inside strings do not count', async () => {
  const ok = await seed.call('POST', '/orchestration/software_configs', {
    token: admin,
    raw: `{"name":"at-limit","group":"script","config":"${'['.repeat(500)}","options":${nested(MAX_JSON_DEPTH - 1)}}`,
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(ok.status, 200, JSON.stringify(ok.body).slice(0, 300));
});

test('an empty JSON body is no body on every service; prototype keys are refused', async () => {
  // python clients send Content-Type: application/json with no body on PUT and DELETE.
  const img = await seed.call('POST', '/image/v2/images', { token: admin, body: { name: 'empty-body' } });
  const del = await seed.call('DELETE', `/image/v2/images/${img.body.id}`, { token: admin, raw: '', headers: { 'content-type': 'application/json' } });
  assert.equal(del.status, 204, JSON.stringify(del.body));
  const proto = await seed.call('POST', '/baremetal/v1/nodes', { token: admin, raw: '{"driver":"fake-hardware","extra":{"__proto__":{"polluted":true}}}', headers: { 'content-type': 'application/json', ...IRONIC } });
  assert.equal(proto.status, 400);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("the router's own refusals (over-long id, bad percent-encoding) come in the service's fault format", async () => {
  const long = await seed.call('GET', `/image/v2/images/${'a'.repeat(200)}`, { token: admin });
  assert.ok(long.status >= 400 && long.status < 500, String(long.status));
  assert.equal(typeof long.body.error?.message, 'string', JSON.stringify(long.body));
  const badEncoding = await seed.call('GET', '/baremetal/v1/nodes/%E0%A4%A', { token: admin, headers: IRONIC });
  assert.equal(badEncoding.status, 400);
  assert.equal(typeof badEncoding.body.error_message, 'string', JSON.stringify(badEncoding.body));
});
