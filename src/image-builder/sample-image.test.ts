// The sample image's reuse rule, without building: what makes an earlier build count as current
// (same inputs key, outputs present with their recorded sizes) and what does not. The real build
// and boot are in test/first-boot.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedSampleImage, inputsKey, SAMPLE_IMAGE_ELEMENTS } from './sample-image.js';
import { resolveElements } from './elements.js';
import { BUILTIN_ELEMENTS } from './build.js';

test('the element set resolves to the elements the lab image needs', () => {
  const names = resolveElements(SAMPLE_IMAGE_ELEMENTS, [BUILTIN_ELEMENTS]).map((e) => e.name);
  assert.deepEqual(names.sort(), ['config-drive', 'debian-minimal', 'openssh-server', 'serial-console', 'vm']);
});

test('inputs key: stable for the same inputs, different when a DIB_ variable changes', () => {
  assert.equal(inputsKey({}), inputsKey({}));
  assert.match(inputsKey({}), /^[0-9a-f]{64}$/);
  assert.notEqual(inputsKey({}), inputsKey({ DIB_RELEASE: 'trixie' }));
  assert.notEqual(inputsKey({ DIB_A: '1' }), inputsKey({ DIB_A: '2' }));
});

test('an earlier build is reused only with the same key and its outputs at their recorded sizes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-sample-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DIB_TEST: 'x' };
  assert.equal(cachedSampleImage(dir, env), undefined, 'no stamp: build');

  const raw = join(dir, 'sample.raw');
  const qcow2 = join(dir, 'sample.qcow2');
  writeFileSync(raw, Buffer.alloc(4096));
  writeFileSync(qcow2, Buffer.alloc(512));
  const stamp = (key: string) =>
    writeFileSync(join(dir, 'sample.inputs.json'), JSON.stringify({ key, outputs: [{ path: raw, bytes: 4096 }, { path: qcow2, bytes: 512 }] }));

  stamp(inputsKey(env));
  const hit = cachedSampleImage(dir, env);
  assert.ok(hit, 'same key, same files: reuse');
  assert.equal(hit.raw, raw);
  assert.equal(hit.qcow2, qcow2);
  assert.equal(hit.cached, true);

  assert.equal(cachedSampleImage(dir, { DIB_TEST: 'y' }), undefined, 'other DIB_ variables: build');
  stamp('0'.repeat(64));
  assert.equal(cachedSampleImage(dir, env), undefined, 'other key: build');
  stamp(inputsKey(env));
  truncateSync(raw, 1024);
  assert.equal(cachedSampleImage(dir, env), undefined, 'an output of another size: build');
  truncateSync(raw, 4096);
  rmSync(qcow2);
  assert.equal(cachedSampleImage(dir, env), undefined, 'an output missing: build');
  writeFileSync(join(dir, 'sample.inputs.json'), '{not json');
  assert.equal(cachedSampleImage(dir, env), undefined, 'unreadable stamp: build');
});
