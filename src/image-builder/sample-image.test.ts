// The sample images' reuse rule, without building: what makes an earlier build count as current
// (same inputs key, outputs present with their recorded sizes) and what does not, per variant, with
// the agent bundle as an input. The real build and boot are in test/first-boot.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedSampleImage, defaultSampleImageDir, inputsKey, SAMPLE_VARIANTS, variantUsesAgents } from './sample-image.js';
import { resolveElements } from './elements.js';
import { BUILTIN_ELEMENTS } from './build.js';

test('the element sets resolve to the elements each variant needs', () => {
  const names = (v: keyof typeof SAMPLE_VARIANTS) => resolveElements(SAMPLE_VARIANTS[v].elements, [BUILTIN_ELEMENTS]).map((e) => e.name).sort();
  assert.deepEqual(names('default'), [
    'bootstack-agents',
    'bootstack-managed',
    'bootstack-sample-config',
    'config-drive',
    'debian-minimal',
    'openssh-server',
    'serial-console',
    'vm',
  ]);
  assert.deepEqual(names('cloud-init'), ['cloud-init', 'debian-minimal', 'openssh-server', 'serial-console', 'vm']);
  assert.equal(variantUsesAgents('default'), true);
  assert.equal(variantUsesAgents('cloud-init'), false);
  assert.notEqual(defaultSampleImageDir('default'), defaultSampleImageDir('cloud-init'));
});

function fakeBundle(t: { after: (fn: () => void) => void }, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-sample-agents-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'os-collect-config'), content);
  return dir;
}

test('inputs key: stable for the same inputs; changes with a DIB_ variable, the variant and the bundle content, not its path', (t) => {
  const a = fakeBundle(t, 'one');
  const a2 = fakeBundle(t, 'one');
  const b = fakeBundle(t, 'two');
  assert.equal(inputsKey({}, { agentsDir: a }), inputsKey({}, { agentsDir: a }));
  assert.match(inputsKey({}, { agentsDir: a }), /^[0-9a-f]{64}$/);
  assert.notEqual(inputsKey({}, { agentsDir: a }), inputsKey({ DIB_RELEASE: 'trixie' }, { agentsDir: a }));
  assert.notEqual(inputsKey({ DIB_A: '1' }, { agentsDir: a }), inputsKey({ DIB_A: '2' }, { agentsDir: a }));
  assert.notEqual(inputsKey({}, { agentsDir: a }), inputsKey({}, { agentsDir: b }), 'a changed agent rebuilds');
  // The scratch bundle lives in a new directory every time: only its content counts.
  assert.equal(inputsKey({ DIB_BOOTSTACK_AGENTS_DIR: a }, { agentsDir: a }), inputsKey({ DIB_BOOTSTACK_AGENTS_DIR: a2 }, { agentsDir: a2 }));
  assert.throws(() => inputsKey({}), /sample image carries the agents: its inputs key needs the bundle/);
  // The cloud-init image has no agents: no bundle needed, and not the default's key.
  assert.match(inputsKey({}, { variant: 'cloud-init' }), /^[0-9a-f]{64}$/);
  assert.notEqual(inputsKey({}, { variant: 'cloud-init' }), inputsKey({}, { agentsDir: a }));
});

test('an earlier build is reused only with the same key and its outputs at their recorded sizes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-sample-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const agentsDir = fakeBundle(t, 'agent');
  const env = { DIB_TEST: 'x' };
  const o = { env, agentsDir };
  assert.equal(await cachedSampleImage(dir, o), undefined, 'no stamp: build');

  const raw = join(dir, 'sample.raw');
  const qcow2 = join(dir, 'sample.qcow2');
  writeFileSync(raw, Buffer.alloc(4096));
  writeFileSync(qcow2, Buffer.alloc(512));
  const stamp = (key: string, name = 'sample') =>
    writeFileSync(join(dir, `${name}.inputs.json`), JSON.stringify({ key, outputs: [{ path: raw, bytes: 4096 }, { path: qcow2, bytes: 512 }] }));

  stamp(inputsKey(env, { agentsDir }));
  const hit = await cachedSampleImage(dir, o);
  assert.ok(hit, 'same key, same files: reuse');
  assert.equal(hit.raw, raw);
  assert.equal(hit.qcow2, qcow2);
  assert.equal(hit.cached, true);
  assert.equal(hit.variant, 'default');
  // The other variant keeps its own stamp beside it: this one says nothing about it.
  assert.equal(await cachedSampleImage(dir, { env, variant: 'cloud-init' }), undefined, 'other variant: build');

  assert.equal(await cachedSampleImage(dir, { env: { DIB_TEST: 'y' }, agentsDir }), undefined, 'other DIB_ variables: build');
  assert.equal(await cachedSampleImage(dir, { env, agentsDir: fakeBundle(t, 'new agent') }), undefined, 'another agent bundle: build');
  stamp('0'.repeat(64));
  assert.equal(await cachedSampleImage(dir, o), undefined, 'other key: build');
  stamp(inputsKey(env, { agentsDir }));
  truncateSync(raw, 1024);
  assert.equal(await cachedSampleImage(dir, o), undefined, 'an output of another size: build');
  truncateSync(raw, 4096);
  rmSync(qcow2);
  assert.equal(await cachedSampleImage(dir, o), undefined, 'an output missing: build');
  writeFileSync(join(dir, 'sample.inputs.json'), '{not json');
  assert.equal(await cachedSampleImage(dir, o), undefined, 'unreadable stamp: build');
});

test('without a bundle given, the check bundles src/agents into a scratch directory and removes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-sample-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'keep'));
  assert.equal(await cachedSampleImage(dir, { env: {} }), undefined);
  assert.deepEqual(readdirSync(dir), ['keep']);
});
