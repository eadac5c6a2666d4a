// userEnvironment and nestedParameters on their own (the HTTP shape is in api.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nestedParameters, userEnvironment } from './validate-report.js';
import { loadTemplate } from './template.js';
import { checkEnvironment, emptyEnvironment } from './environment.js';
import { createRegistry } from './resources/index.js';

const top = loadTemplate(
  `heat_template_version: 2016-10-14
conditions:
  never: false
resources:
  a: {type: inner.yaml}
  b: {type: inner.yaml, condition: never}
  c: {type: My::Alias}
`,
  'top.yaml',
);
const inner = 'heat_template_version: 2016-10-14\ndescription: inner\nparameters:\n  x: {type: string}\n';

test('the environment drops erased (null) registry entries, keeps hooks and sinks, adds the files used as types', () => {
  const env = checkEnvironment({
    file: 'env',
    lines: new Map(),
    data: { resource_registry: { 'My::Alias': 'inner.yaml', 'OS::Gone': null, resources: { a: { hooks: 'pre-create' } } }, event_sinks: [{ type: 'zaqar-queue', target: 'q' }] },
  });
  const out = userEnvironment(env, top);
  assert.deepEqual(out, {
    event_sinks: [{ type: 'zaqar-queue', target: 'q' }],
    parameter_defaults: {},
    parameters: {},
    resource_registry: { 'My::Alias': 'inner.yaml', 'inner.yaml': 'inner.yaml', resources: { a: { hooks: 'pre-create' } } },
  });
});

test('nested parameters skip resources whose condition is false and follow registry aliases', () => {
  const env = { ...emptyEnvironment(), resource_registry: { 'My::Alias': 'inner.yaml' } };
  const n = nestedParameters(top, { registry: createRegistry(), env, files: { 'inner.yaml': inner } });
  assert.deepEqual(Object.keys(n ?? {}), ['a', 'c']);
  assert.equal((n!.c as { Type: string }).Type, 'My::Alias', 'the type as the template names it');
  assert.equal(nestedParameters(loadTemplate('heat_template_version: 2016-10-14\nresources:\n  r: {type: OS::Heat::None}\n', 't'), { registry: createRegistry(), env: emptyEnvironment(), files: {} }), undefined);
});
