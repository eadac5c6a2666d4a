// The image CLI: disk-image-create style options parse as diskimage-builder takes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/common/child-process.js';
import { parseImageSize, parseTypes } from '../src/cli/image.js';

const repo = join(fileURLToPath(new URL('.', import.meta.url)), '..');

test('image sizes as disk-image-create takes them, output types checked', () => {
  assert.equal(parseImageSize('2'), 2 * 1024 ** 3);
  assert.equal(parseImageSize('512M'), 512 * 1024 ** 2);
  assert.equal(parseImageSize('1.5G'), 1.5 * 1024 ** 3);
  assert.throws(() => parseImageSize('big'), /invalid --image-size/);
  assert.deepEqual(parseTypes('qcow2,raw'), ['qcow2', 'raw']);
  assert.throws(() => parseTypes('vhd'), /unknown image type vhd/);
});

test('bootstack-disk-image-create: an unknown element fails before any work, naming it', async () => {
  const r = await run(join(repo, 'bin', 'bootstack-disk-image-create.js'), ['-o', '/tmp/never', '-t', 'qcow2', 'debian-minimal', 'no-such-element'], {
    allowFailure: true,
    timeoutMs: 60_000,
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Element 'no-such-element' not found/);
});
