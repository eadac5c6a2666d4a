// Every template and environment of the real 2015 tripleo-heat-templates validates through the
// orchestration validator with its resource registry, the way `openstack orchestration template
// validate -e ...` sends them. The corpus is read in place (BOOTSTACK_CORPUS, default
// <repo>/../shared/corpus) and never copied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromDisk } from './support/orchestration/bundle.js';
import { loadTemplate } from '../src/orchestration/template.js';
import { validateStack } from '../src/orchestration/validate.js';
import { createRegistry } from '../src/orchestration/resources/index.js';
import { parseEnvironment } from '../src/orchestration/environment.js';
import { parseSource, isMapping } from '../src/orchestration/yaml-source.js';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const corpus = resolve(process.env.BOOTSTACK_CORPUS ?? join(repo, '..', 'shared', 'corpus'), 'tripleo-heat-templates');
const registry = createRegistry();

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out.sort();
}

type Kind = 'hot' | 'environment' | 'hieradata' | 'other';
function classify(path: string): Kind {
  const rel = relative(corpus, path);
  if (rel.startsWith('puppet/hieradata/')) return 'hieradata';
  const data = parseSource(readFileSync(path, 'utf8'), rel).data;
  if (isMapping(data) && 'heat_template_version' in data) return 'hot';
  const envKeys = ['parameters', 'parameter_defaults', 'resource_registry'];
  if (data === null || (isMapping(data) && Object.keys(data).length > 0 && Object.keys(data).every((k) => envKeys.includes(k)) && rel !== 'undercloud-vm-nova-deploy.yaml')) {
    // An environment has only environment sections; merge.py fragments that happen to have only
    // "parameters" are told apart by not being used with -e anywhere (listed below).
    return 'environment';
  }
  return 'other';
}

/** Validates one template with environments; returns the fatal error and the missing get_file reports. */
function check(template: string, envs: string[]): { error?: string; missing: string[] } {
  const b = bundleFromDisk(template, envs);
  const missing: string[] = [];
  try {
    validateStack(loadTemplate(b.template, b.templateKey), {
      registry,
      env: b.environment,
      files: b.files,
      onMissingFile: (e) => missing.push(e.message),
    });
    return { missing };
  } catch (err) {
    return { error: (err as Error).message, missing };
  }
}

const strip = (s: string) => s.split(`file://${corpus}/`).join('');

// merge.py sources and results: inputs of TripleO's pre-Heat template merge tool (they use its
// Path/__include__/TemplateURL keys or parameters supplied by other fragments), not Heat templates.
// Heat itself refuses them with the same errors.
const MERGE_PY: Record<string, string> = {
  'base.yaml': 'base.yaml:14: resources.RabbitMQ.TemplateURL: "TemplateURL" is not a valid keyword',
  'deprecated/block-storage.yaml': 'The Parameter (KeyName) was not defined',
  'deprecated/nova-compute-instance.yaml': 'The specified reference "NovaComputeConfig" (in get_resource) is incorrect',
  'deprecated/overcloud-source.yaml': '"Path" is not a valid keyword',
  'deprecated/swift-storage-source.yaml': 'The Parameter (KeyName) was not defined',
  'examples/scale1_hot.yaml': '"Path" is not a valid keyword',
  'examples/scale2_hot.yaml': 'The Parameter (ComputeUser) was not defined',
  'examples/scale_map2_hot.yaml': 'The Parameter (ComputeUser) was not defined',
  'examples/scale_map_hot.yaml': '"Path" is not a valid keyword',
  'examples/scale_map_result_hot.yaml': 'The Parameter (ComputeAccessPolicy) was not defined',
  'examples/scale_map_result_hot_blacklist.yaml': 'The Parameter (ComputeAccessPolicy) was not defined',
  'examples/scale_result_hot.yaml': 'The Parameter (ComputeAccessPolicy) was not defined',
  'examples/source2_lib_result_hot.yaml': 'resources.GenericB.properties: Property flavor not assigned',
  'examples/source_hot.yaml': '"Path" is not a valid keyword',
  'examples/source_include_subkey_hot.yaml': 'resources.__include__.path: "path" is not a valid keyword',
  'examples/source_include_subkey_result_hot.yaml': 'The Parameter (ImportantValue) was not defined',
  'examples/source_lib_result_hot.yaml': 'resources.A.properties: Property flavor not assigned',
  'undercloud-source.yaml': 'undercloud-source.yaml:322: resources.undercloudConfig.properties.config.neutron.ovs.public_interface.get_param: The Parameter (NeutronPublicInterface) was not defined',
};
// A real defect of the 2015 corpus: the non-puppet Ceph template uses a parameter it never declares.
const DEFECT = 'ceph-storage.yaml:38: resources.CephStorage.properties.flavor.get_param: The Parameter (OvercloudCephStorageFlavor) was not defined in template.';

// get_file targets the corpus lacks (the puppet manifests lived outside tripleo-heat-templates),
// per template, including those reached through the registry's nested templates.
const MISSING_MANIFESTS: Record<string, string[]> = {
  'overcloud-without-mergepy.yaml': ['overcloud_cephstorage.pp', 'overcloud_compute.pp', 'overcloud_controller.pp', 'overcloud_object.pp', 'overcloud_volume.pp', 'ringbuilder.pp'],
  'puppet/ceph-storage-post-puppet.yaml': ['overcloud_cephstorage.pp'],
  'puppet/cinder-storage-post.yaml': ['overcloud_volume.pp'],
  'puppet/compute-post-puppet.yaml': ['overcloud_compute.pp'],
  'puppet/controller-config-pacemaker.yaml': ['overcloud_controller_pacemaker.pp'],
  'puppet/controller-config.yaml': ['overcloud_controller.pp'],
  'puppet/controller-post-puppet.yaml': ['overcloud_controller.pp', 'ringbuilder.pp'],
  'puppet/swift-storage-post.yaml': ['overcloud_object.pp', 'ringbuilder.pp'],
};

test('the corpus is where BOOTSTACK_CORPUS says', () => {
  assert.ok(existsSync(join(corpus, 'overcloud-without-mergepy.yaml')), `no tripleo-heat-templates under ${corpus}`);
});

test('every HOT template of the corpus validates with the puppet resource registry', () => {
  const registryFile = join(corpus, 'overcloud-resource-registry-puppet.yaml');
  const hot = walk(corpus).filter((f) => classify(f) === 'hot');
  assert.ok(hot.length >= 70, `expected the corpus's ~80 HOT templates, found ${hot.length}`);
  const failures: Record<string, string> = {};
  const missingBy: Record<string, string[]> = {};
  for (const f of hot) {
    const rel = relative(corpus, f);
    const r = check(f, [registryFile]);
    if (r.error) failures[rel] = strip(r.error);
    if (r.missing.length) missingBy[rel] = r.missing.map(strip);
  }
  const expectedFailures = [...Object.keys(MERGE_PY), 'ceph-storage.yaml'].sort();
  assert.deepEqual(Object.keys(failures).sort(), expectedFailures, JSON.stringify(failures, null, 1));
  for (const [rel, want] of Object.entries(MERGE_PY)) assert.ok(failures[rel]!.includes(want), `${rel}: ${failures[rel]}`);
  assert.equal(failures['ceph-storage.yaml'], DEFECT);
  // Missing get_file targets: exactly the puppet manifests, each named with file, line and path.
  const names: Record<string, string[]> = {};
  for (const [rel, msgs] of Object.entries(missingBy)) {
    names[rel] = [...new Set(msgs.map((m) => /"manifests\/([^"]+)"/.exec(m)?.[1] ?? m))].sort();
  }
  assert.deepEqual(names, MISSING_MANIFESTS);
  assert.match(missingBy['puppet/ceph-storage-post-puppet.yaml']![0]!, /^puppet\/ceph-storage-post-puppet\.yaml:18: resources\.CephStoragePuppetConfig\.properties\.config\.get_file: get_file: no content found for "manifests\/overcloud_cephstorage\.pp"/);
  const allMissing = new Set(Object.values(missingBy).flat().map((m) => m.split('looked for ').join(`looked for file://${corpus}/`)).map((m) => /looked for (file:[^;]+);/.exec(m)?.[1]));
  const notOnDisk = [...allMissing].filter((u) => u && !existsSync(fileURLToPath(u)));
  assert.deepEqual([...allMissing].sort(), notOnDisk.sort(), 'only files really absent from the corpus are reported missing');
});

test('the overcloud validates with every environment of the corpus, and with the non-puppet registry up to its known defect', () => {
  const top = join(corpus, 'overcloud-without-mergepy.yaml');
  const registryFile = join(corpus, 'overcloud-resource-registry-puppet.yaml');
  const envs = walk(join(corpus, 'environments'));
  assert.ok(envs.length >= 5);
  for (const env of envs) {
    assert.equal(classify(env), 'environment', env);
    const r = check(top, [registryFile, env]);
    assert.equal(r.error, undefined, `${relative(corpus, env)}: ${r.error}`);
    assert.ok(r.missing.every((m) => /manifests\/\w+\.pp/.test(m)), `${relative(corpus, env)}: ${r.missing.join('\n')}`);
  }
  // The non-puppet registry of 2015 was no longer kept in step with the overcloud template: its
  // Cinder template lacks parameters the overcloud passes. Heat refuses it the same way.
  const legacy = check(top, [join(corpus, 'overcloud-resource-registry.yaml')]);
  assert.equal(legacy.error && strip(legacy.error), 'overcloud-without-mergepy.yaml:706: resources.BlockStorage.properties.resource_def.properties.Debug: Unknown Property Debug (the template cinder-storage.yaml has no parameter "Debug")');
});

test('every environment file parses as an environment; the rest are merge.py fragments or hieradata', () => {
  const kinds: Record<Kind, string[]> = { hot: [], environment: [], hieradata: [], other: [] };
  for (const f of walk(corpus)) kinds[classify(f)].push(relative(corpus, f));
  for (const rel of kinds.environment) parseEnvironment(readFileSync(join(corpus, rel), 'utf8'), rel);
  assert.ok(kinds.environment.includes('overcloud-resource-registry-puppet.yaml'));
  for (const rel of kinds.hieradata) parseSource(readFileSync(join(corpus, rel), 'utf8'), rel);
  // Files with neither heat_template_version nor only environment sections are merge.py inputs or
  // CloudFormation-format examples; the validator refuses them with a reason naming the file.
  for (const rel of kinds.other) {
    assert.throws(() => loadTemplate(readFileSync(join(corpus, rel), 'utf8'), rel), (e: Error) => e.message.startsWith(rel) && /CloudFormation-format|heat_template_version/.test(e.message), rel);
  }
  assert.ok(kinds.other.length > 0 && kinds.other.every((r) => r.startsWith('examples/') || r.startsWith('deprecated/') || /^(undercloud-|debian-mirror)/.test(r)), kinds.other.join(', '));
});
