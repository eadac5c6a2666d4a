// Intrinsic functions per template version, parameters, conditions and located errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTemplate, makeContext, parameterValues } from './template.js';
import { resolve } from './functions.js';
import { emptyEnvironment, deepUpdate, resolveType, parseEnvironment, mergeEnvironments } from './environment.js';
import { validateStack } from './validate.js';
import { createRegistry } from './resources/index.js';
import { relaxQuotedIndent, parseSource } from './yaml-source.js';
import type { JsonMap } from './yaml-source.js';

const registry = createRegistry();

/** Resolves output `o` of a template that needs no resources. */
function out(text: string, params: JsonMap = {}): unknown {
  const t = loadTemplate(text, 't.yaml');
  const values = parameterValues(t, emptyEnvironment(), params, { requireValues: true });
  const ctx = makeContext({ tmpl: t, params: values, files: { 'f.txt': 'content' }, stack: { id: 'id', name: 'st', projectId: 'p' }, validating: false, resources: { has: () => false, attributeNames: () => undefined, ref: () => null, attr: () => null } });
  return resolve(t.outputs.get('o')!.value, ctx);
}

const hot = (version: string, value: string, extra = '') => `heat_template_version: ${version}\n${extra}outputs:\n  o:\n    value: ${value}\n`;

test('str_replace replaces longest keys first and in one pass', () => {
  assert.equal(out(hot('2015-04-30', '{str_replace: {template: "$var1 $var", params: {$var: a, $var1: b}}}')), 'b a');
  assert.equal(out(hot('2015-04-30', '{str_replace: {template: "ab", params: {a: b, b: c}}}')), 'bc');
  // Maps become JSON from 2015-10-15 (before, they are refused).
  assert.equal(out(hot('2015-10-15', '{str_replace: {template: "x=X", params: {X: {a: 1}}}}')), 'x={"a":1}');
  assert.throws(() => out(hot('2015-04-30', '{str_replace: {template: "x=X", params: {X: {a: 1}}}}')), /t\.yaml:4: outputs\.o\.value\.str_replace\.params\.X: str_replace: "X" must be a string or number/);
  assert.throws(() => out(hot('2016-10-14', '{str_replace_strict: {template: "abc", params: {z: 1}}}')), /"z" does not occur in the template/);
  assert.throws(() => out(hot('2017-02-24', '{str_replace_vstrict: {template: "abc", params: {a: ""}}}')), /the value of "a" is empty/);
});

test('functions exist only from the version that introduced them', () => {
  // digest is a function from 2015-04-30; before, the same map is plain data.
  assert.deepEqual(out(hot('2014-10-16', '{digest: [md5, x]}')), { digest: ['md5', 'x'] });
  assert.equal(out(hot('2015-04-30', '{digest: [md5, x]}')), '9dd4e461268c8034f5c8564e155c67a6');
  assert.deepEqual(out(hot('2016-04-08', '{if: [c, 1, 2]}')), { if: ['c', 1, 2] });
});

test('removed CloudFormation functions are refused from 2014-10-16 with advice and location', () => {
  assert.equal(out(hot('2013-05-23', "{'Fn::Join': ['-', [a, b]]}")), 'a-b');
  assert.throws(() => loadTemplate(hot('2014-10-16', "{'Fn::Join': ['-', [a, b]]}"), 't.yaml'), /t\.yaml:4: outputs\.o\.value\.Fn::Join: "Fn::Join" is not supported in template version 2014-10-16; use list_join/);
  assert.equal(out(hot('2015-10-15', "{'Fn::Select': [1, [a, b]]}")), 'b');
  assert.throws(() => loadTemplate(hot('2016-04-08', "{'Fn::Select': [1, [a, b]]}"), 't.yaml'), /"Fn::Select" is not supported in template version 2016-04-08/);
});

test('release-name aliases and unknown versions', () => {
  assert.deepEqual(out(hot('queens', '{list_concat_unique: [[1], [1, 2]]}')), [1, 2]);
  assert.throws(() => loadTemplate('heat_template_version: 2012-01-01\n', 'x.yaml'), /x\.yaml:1: heat_template_version: The template version is invalid: "heat_template_version: 2012-01-01" is not supported/);
});

test('get_attr all attributes (2015-10-15) vs attribute required (2015-04-30); list_join of several lists', () => {
  const v = (ver: string) => `heat_template_version: ${ver}\nresources:\n  r: {type: OS::Heat::TestResource}\noutputs:\n  o: {value: {get_attr: [r]}}\n`;
  validateStack(loadTemplate(v('2015-10-15'), 'a.yaml'), { registry, env: emptyEnvironment(), files: {} });
  assert.throws(() => validateStack(loadTemplate(v('2015-04-30'), 'a.yaml'), { registry, env: emptyEnvironment(), files: {} }), /a\.yaml:5: outputs\.o\.value\.get_attr: get_attr takes a list of 2 to 1000 arguments/);
  assert.equal(out(hot('2015-10-15', "{list_join: [',', [a], [b, {c: 1}]]}")), 'a,b,{"c":1}');
});

test('yaql is refused at validation, naming the location', () => {
  const t = loadTemplate(hot('2016-10-14', '{yaql: {expression: $.data, data: 1}}'), 'y.yaml');
  assert.throws(() => validateStack(t, { registry, env: emptyEnvironment(), files: {} }), /y\.yaml:4: outputs\.o\.value\.yaql: yaql expressions are not supported/);
});

test('parameters: types, conversions and every constraint, with the failing path', () => {
  const t = `heat_template_version: 2015-04-30
parameters:
  n: {type: number, constraints: [{range: {min: 1, max: 5}}]}
  s: {type: string, constraints: [{length: {max: 3}}, {allowed_pattern: '[a-z]*'}]}
  b: {type: boolean}
  l: {type: comma_delimited_list, constraints: [{allowed_values: [x, y]}]}
  j: {type: json}
  ip: {type: string, constraints: [{custom_constraint: ip_addr}]}
  mac: {type: string, default: '52:54:00:12:34:56', constraints: [{custom_constraint: mac_addr}]}
  m: {type: number, default: 4, constraints: [{modulo: {step: 2, offset: 0}}]}
outputs:
  o: {value: [{get_param: n}, {get_param: s}, {get_param: b}, {get_param: l}, {get_param: [j, k]}, {get_param: ip}]}
`;
  assert.deepEqual(out(t, { n: '3', s: 'ab', b: 'yes', l: 'x, y', j: '{"k": [1]}', ip: '::1' }), [3, 'ab', true, ['x', 'y'], [1], '::1']);
  const bad: [JsonMap, RegExp][] = [
    [{ n: 9 }, /parameters\.n: Parameter 'n' is invalid: 9 must be no greater than 5/],
    [{ n: 'x' }, /Value 'x' is not a number/],
    [{ s: 'abcd' }, /length must be no greater than 3/],
    [{ s: 'A' }, /does not match pattern/],
    [{ b: 'maybe' }, /Unrecognized value "maybe"/],
    [{ l: 'x,z' }, /"z" is not an allowed value/],
    [{ j: '{' }, /Value must be valid JSON/],
    [{ ip: '300.1.1.1' }, /not a valid ip_addr/],
    [{ m: 3 }, /3 is not a multiple of 2/],
  ];
  const base = { n: 1, s: 'a', b: true, l: 'x', j: '{}', ip: '10.0.0.1' };
  for (const [p, re] of bad) assert.throws(() => out(t, { ...base, ...p }), re, JSON.stringify(p));
  assert.throws(() => out(t, {}), /t\.yaml:3: parameters\.n: The Parameter \(n\) was not provided/);
  assert.throws(() => out(t, { ...base, nope: 1 }), /The Parameter \(nope\) was not defined in template/);
});

test('conditions: equals/not/and/or/contains, circular conditions refused', () => {
  const t = (conds: string, value: string) => `heat_template_version: 2017-09-01\nparameters:\n  e: {type: string, default: prod}\nconditions:\n${conds}\noutputs:\n  o:\n    value: ${value}\n`;
  assert.equal(out(t('  p: {equals: [{get_param: e}, prod]}\n  q: {not: p}\n  r: {or: [q, {contains: [prod, [dev, prod]]}]}', '{if: [r, yes, no]}')), 'yes');
  assert.throws(() => out(t('  a: b\n  b: a', '{if: [a, 1, 2]}')), /Circular condition/);
  assert.throws(() => loadTemplate(t('  a: {get_attr: [x, y]}', '1'), 'c.yaml'), /c\.yaml:5: conditions\.a\.get_attr: The function "get_attr" is invalid in condition functions/);
});

test('environments merge like heatclient; registry aliases, globs and per-resource overrides', () => {
  const a = parseEnvironment('parameters: {x: 1}\nresource_registry:\n  My::A: a.yaml\n  "OS::Net::*": "OS::Neutron::*"\n', 'a.yaml');
  const b = parseEnvironment('parameters: {y: 2}\nparameter_defaults: {z: 3}\nresource_registry:\n  My::A: My::B\n  My::B: OS::Heat::None\n  resources:\n    special: {My::A: special.yaml}\n', 'b.yaml');
  const env = mergeEnvironments([a, b]);
  assert.deepEqual(env.parameters, { x: 1, y: 2 });
  assert.deepEqual(resolveType(env, 'My::A'), { kind: 'type', type: 'OS::Heat::None' });
  assert.deepEqual(resolveType(env, 'My::A', 'special'), { kind: 'template', file: 'special.yaml' });
  assert.deepEqual(resolveType(env, 'OS::Net::Port'), { kind: 'type', type: 'OS::Neutron::Port' });
  assert.deepEqual(deepUpdate({ m: { a: 1 } }, { m: null }), { m: { a: 1 } }, 'a null never erases a map');
  assert.throws(() => parseEnvironment('paramters: {}\n', 'e.yaml'), /e\.yaml:1: paramters: environment has wrong section "paramters"/);
  const loop = parseEnvironment('resource_registry: {A: B, B: A}\n', 'l.yaml');
  assert.throws(() => resolveType(loop, 'A'), /alias loop/);
});

test('validation errors name file, line and path', () => {
  const text = 'heat_template_version: 2015-04-30\nresources:\n  web:\n    type: OS::Nova::Server\n    properties:\n      flavor: m1\n      imag: cirros\n';
  assert.throws(() => validateStack(loadTemplate(text, 'cluster.yaml'), { registry, env: emptyEnvironment(), files: {} }), /^Error: cluster\.yaml:7: resources\.web\.properties\.imag: Unknown Property imag$|cluster\.yaml:7: resources\.web\.properties\.imag: Unknown Property imag/);
  assert.throws(() => validateStack(loadTemplate('heat_template_version: 2015-04-30\nresources:\n  a: {type: OS::Nope}\n', 'x.yaml'), { registry, env: emptyEnvironment(), files: {} }), /x\.yaml:3: resources\.a\.type: The Resource Type \(OS::Nope\) could not be found/);
  assert.throws(() => validateStack(loadTemplate('heat_template_version: 2015-04-30\nresources:\n  a: {type: OS::Heat::None, depends_on: b}\n  b: {type: OS::Heat::None, depends_on: a}\n', 'c.yaml'), { registry, env: emptyEnvironment(), files: {} }), /c\.yaml:2: resources: Circular Dependency Found: a -> b -> a/);
  // Schema-only types validate with any property, and are refused at create (engine test).
  validateStack(loadTemplate('heat_template_version: 2015-04-30\nresources:\n  n: {type: OS::Neutron::Router, properties: {anything: 1}}\n', 'n.yaml'), { registry, env: emptyEnvironment(), files: {} });
  assert.throws(() => loadTemplate('heat_template_version: 2015-04-30\nresources:\n  a: {type: X\n', 'y.yaml'), /^.*y\.yaml:\d+: /);
});

test('PyYAML-compatible parsing: quoted scalars continued at the key indentation, duplicate keys', () => {
  const text = 'a:\n  b: "{\n    x\n  }"\n';
  assert.deepEqual(parseSource(relaxQuotedIndent(text), 'q.yaml').data, { a: { b: '{ x }' } });
  assert.deepEqual(parseSource(text, 'q.yaml').data, { a: { b: '{ x }' } });
  assert.deepEqual(parseSource('a: 1\na: 2\n', 'd.yaml').data, { a: 2 });
});

test('repeat and list_join results are bounded by MAX_FUNCTION_RESULT, not only by item counts', () => {
  const big = 'x'.repeat(1000);
  const params = `parameters:\n  s: {type: string, default: "${big}"}\n  n: {type: comma_delimited_list, default: "${Array.from({ length: 5000 }, (_, i) => i).join(',')}"}\n`;
  // 5,000 items (under the 10,000 item limit) of 1,000 characters: 5 MB.
  assert.throws(() => out(hot('2016-10-14', '{repeat: {for_each: {"%i%": {get_param: n}}, template: {str_replace: {template: "%i%-S", params: {S: {get_param: s}}}}}}', params)), /repeat: the items would be longer than 4194304 characters/);
  assert.throws(() => out(hot('2016-10-14', '{list_join: [{get_param: s}, {get_param: n}]}', params)), /list_join: the result would be longer than 4194304 characters/);
  assert.equal((out(hot('2016-10-14', '{repeat: {for_each: {"%i%": [1, 2]}, template: "a%i%"}}')) as string[]).join(','), 'a1,a2');
});
