// Deploy templates through the HTTP API: create/show/list/patch/delete, the 1.55 gate, the name
// (a CUSTOM_ trait), the steps' validation (known interfaces and step names, args, priority,
// duplicates), list-item JSON patches, and the admin-only policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal, faultMessage, type Harness, type Loose } from '../../../test/baremetal-helpers.js';

let h: Harness;
before(async () => {
  h = await startBaremetal({ background: false });
});
after(async () => {
  await h.stop();
});

const STEP = { interface: 'bios', step: 'apply_configuration', args: {}, priority: 10 };
const create = (body: Record<string, unknown>) => h.call('POST', '/baremetal/v1/deploy_templates', body);

test('create, show by uuid and name, list, detail, paging, delete', async () => {
  const uuid = '5b6f7a3e-2f1d-4a9b-9c8e-1d2e3f4a5b6c';
  const t = await create({ name: 'CUSTOM_HYPERTHREADING_ON', steps: [STEP], uuid });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  assert.equal(t.body.uuid, uuid);
  assert.deepEqual(t.body.steps, [STEP]);
  assert.deepEqual(t.body.extra, {});
  assert.equal(t.body.links.length, 2);
  assert.ok(t.body.links[0].href.endsWith(`/baremetal/v1/deploy_templates/${uuid}`));
  assert.ok(t.headers.get('location')!.endsWith(`/v1/deploy_templates/${uuid}`));
  assert.deepEqual((await h.call('GET', `/baremetal/v1/deploy_templates/${uuid}`)).body.steps, [STEP]);
  assert.equal((await h.call('GET', '/baremetal/v1/deploy_templates/CUSTOM_HYPERTHREADING_ON')).body.uuid, uuid);

  await create({ name: 'CUSTOM_RAID1', steps: [{ interface: 'raid', step: 'create_configuration', args: { logical_disks: [] }, priority: '20' }], extra: { a: 1 } });
  await create({ name: 'CUSTOM_THIRD', steps: [STEP] });
  const list = await h.call('GET', '/baremetal/v1/deploy_templates');
  assert.equal(list.status, 200);
  assert.deepEqual(Object.keys(list.body.deploy_templates[0]).sort(), ['links', 'name', 'uuid']);
  const detail = await h.call('GET', '/baremetal/v1/deploy_templates?detail=true');
  const raid = detail.body.deploy_templates.find((d: Loose) => d.name === 'CUSTOM_RAID1');
  assert.equal(raid.steps[0].priority, 20, 'a decimal string priority is stored as a number');
  assert.deepEqual(raid.extra, { a: 1 });
  assert.deepEqual((await h.call('GET', '/baremetal/v1/deploy_templates/detail')).body.deploy_templates.length, 3);
  const page = await h.call('GET', '/baremetal/v1/deploy_templates?limit=2&sort_key=name');
  assert.deepEqual(page.body.deploy_templates.map((d: Loose) => d.name), ['CUSTOM_HYPERTHREADING_ON', 'CUSTOM_RAID1']);
  assert.match(page.body.next, new RegExp(`marker=${page.body.deploy_templates[1].uuid}`));
  const rest = await h.call('GET', `/baremetal/v1/deploy_templates?limit=2&sort_key=name&marker=${page.body.deploy_templates[1].uuid}`);
  assert.deepEqual(rest.body.deploy_templates.map((d: Loose) => d.name), ['CUSTOM_THIRD']);
  assert.deepEqual(Object.keys((await h.call('GET', '/baremetal/v1/deploy_templates?fields=name')).body.deploy_templates[0]).sort(), ['links', 'name']);

  assert.equal((await h.call('DELETE', '/baremetal/v1/deploy_templates/CUSTOM_THIRD')).status, 204);
  assert.equal((await h.call('GET', '/baremetal/v1/deploy_templates/CUSTOM_THIRD')).status, 404);
  assert.equal((await h.call('GET', '/baremetal/v1/deploy_templates/00000000-0000-0000-0000-000000000000')).status, 404);
});

test('before API 1.55 there are no deploy templates', async () => {
  const old = await h.call('GET', '/baremetal/v1/deploy_templates', undefined, { 'x-openstack-ironic-api-version': '1.54' });
  assert.equal(old.status, 404);
  assert.match(faultMessage(old.body), /Deploy templates \(available from API 1\.55\)/);
  assert.equal((await h.call('POST', '/baremetal/v1/deploy_templates', { name: 'CUSTOM_OLD', steps: [STEP] }, { 'x-openstack-ironic-api-version': '1.54' })).status, 404);
});

test('the name is a CUSTOM_ trait, unique, and required', async () => {
  for (const name of ['invalid-name', 'HW_CPU_X86_AVX', 'CUSTOM_lower', '', `CUSTOM_${'A'.repeat(250)}`]) {
    const res = await create({ name, steps: [STEP] });
    assert.equal(res.status, 400, name);
    assert.match(faultMessage(res.body), /name/);
  }
  assert.equal((await create({ steps: [STEP] })).status, 400);
  assert.equal((await create({ name: null, steps: [STEP] })).status, 400);
  assert.equal((await create({ name: 'CUSTOM_DUP', steps: [STEP] })).status, 201);
  const dup = await create({ name: 'CUSTOM_DUP', steps: [STEP] });
  assert.equal(dup.status, 409);
  assert.match(faultMessage(dup.body), /name CUSTOM_DUP already exists/);
  assert.equal((await create({ name: 'CUSTOM_BADUUID', steps: [STEP], uuid: 'malformed:uuid' })).status, 400);
});

test('steps: a non-empty list of known steps with args and a priority, each once', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /steps: is required/],
    [{ key: 'value' }, /must be a list/],
    [[], /at least one/],
    [[{ ...STEP, interface: 'teleport' }], /"teleport" is not a deploy step interface/],
    [[{ ...STEP, step: 'overclock' }], /Unknown deploy step "overclock" for interface bios/],
    [[{ ...STEP, interface: 'power', step: 'reboot' }], /Unknown deploy step "reboot" for interface power; known: none/],
    [[{ interface: 'bios', step: 'apply_configuration', priority: 1 }], /steps\/0\/args: is required/],
    [[{ ...STEP, args: [] }], /args: must be an object/],
    [[{ ...STEP, priority: -1 }], /not a valid priority/],
    [[{ ...STEP, priority: 'high' }], /not a valid priority/],
    [[{ ...STEP, colour: 'red' }], /unknown field "colour"/],
    [[STEP, { ...STEP, priority: 5 }], /Duplicate deploy step bios\.apply_configuration/],
  ];
  for (const [steps, message] of cases) {
    const res = await create({ name: 'CUSTOM_STEPS', steps });
    assert.equal(res.status, 400, JSON.stringify(steps));
    assert.match(faultMessage(res.body), message);
  }
  const ok = await create({ name: 'CUSTOM_STEPS', steps: [{ interface: 'deploy', step: 'deploy', args: {}, priority: 0 }, { interface: 'management', step: 'update_firmware', args: { firmware_images: [] }, priority: 90 }] });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
});

test('patch: name, steps replaced, list items added, replaced and removed; mandatory fields stay', async () => {
  const t = (await create({ name: 'CUSTOM_PATCH', steps: [STEP] })).body;
  const added = [
    { interface: 'bios', step: 'cache_bios_settings', args: {}, priority: 20 },
    { interface: 'bios', step: 'factory_reset', args: {}, priority: 30 },
  ];
  const add = await h.call('PATCH', `/baremetal/v1/deploy_templates/${t.uuid}`, [
    { op: 'add', path: '/steps/1', value: added[0] },
    { op: 'add', path: '/steps/-', value: added[1] },
  ]);
  assert.equal(add.status, 200, JSON.stringify(add.body));
  assert.deepEqual(add.body.steps, [STEP, ...added]);
  const mixed = await h.call('PATCH', `/baremetal/v1/deploy_templates/${t.uuid}`, [
    { op: 'replace', path: '/name', value: 'CUSTOM_PATCHED' },
    { op: 'replace', path: '/steps/0', value: { ...STEP, priority: 20 } },
    { op: 'remove', path: '/steps/0' },
    { op: 'remove', path: '/steps/0' },
    { op: 'replace', path: '/steps/0/priority', value: 40 },
    { op: 'add', path: '/extra/note', value: 'x' },
  ]);
  assert.equal(mixed.status, 200, JSON.stringify(mixed.body));
  assert.equal(mixed.body.name, 'CUSTOM_PATCHED');
  assert.deepEqual(mixed.body.steps, [{ ...added[1], priority: 40 }]);
  assert.deepEqual(mixed.body.extra, { note: 'x' });
  const raid = [{ interface: 'raid', step: 'create_configuration', args: {}, priority: 10 }];
  assert.deepEqual((await h.call('PATCH', `/baremetal/v1/deploy_templates/CUSTOM_PATCHED`, [{ op: 'replace', path: '/steps', value: raid }])).body.steps, raid);

  const refusals: Array<[unknown[], RegExp]> = [
    [[{ op: 'remove', path: '/steps/0' }], /at least one/],
    [[{ op: 'remove', path: '/steps' }], /must be a list/],
    [[{ op: 'remove', path: '/name' }], /name: is required/],
    [[{ op: 'replace', path: '/name', value: '' }], /not a valid deploy template name/],
    [[{ op: 'remove', path: '/steps/5' }], /no item 5/],
    [[{ op: 'add', path: '/steps/0', value: { ...raid[0], step: 'nope' } }], /Unknown deploy step "nope"/],
    [[{ op: 'replace', path: '/uuid', value: 'x' }], /can not be updated/],
  ];
  for (const [ops, message] of refusals) {
    const res = await h.call('PATCH', `/baremetal/v1/deploy_templates/${t.uuid}`, ops);
    assert.equal(res.status, 400, JSON.stringify(ops));
    assert.match(faultMessage(res.body), message);
  }
  await create({ name: 'CUSTOM_TAKEN', steps: [STEP] });
  assert.equal((await h.call('PATCH', `/baremetal/v1/deploy_templates/${t.uuid}`, [{ op: 'replace', path: '/name', value: 'CUSTOM_TAKEN' }])).status, 409);
});

test('deploy templates are the cloud admin\'s only', async () => {
  const t = (await create({ name: 'CUSTOM_ADMIN_ONLY', steps: [STEP] })).body;
  for (const token of ['member-token', 'reader-token']) {
    const auth = { 'x-auth-token': token };
    assert.equal((await h.call('GET', '/baremetal/v1/deploy_templates', undefined, auth)).status, 403);
    assert.equal((await h.call('GET', `/baremetal/v1/deploy_templates/${t.uuid}`, undefined, auth)).status, 403);
    assert.equal((await h.call('POST', '/baremetal/v1/deploy_templates', { name: 'CUSTOM_MINE', steps: [STEP] }, auth)).status, 403);
    assert.equal((await h.call('PATCH', `/baremetal/v1/deploy_templates/${t.uuid}`, [{ op: 'add', path: '/extra/a', value: 1 }], auth)).status, 403);
    assert.equal((await h.call('DELETE', `/baremetal/v1/deploy_templates/${t.uuid}`, undefined, auth)).status, 403);
  }
  assert.equal((await h.call('GET', `/baremetal/v1/deploy_templates/${t.uuid}`)).status, 200);
});
