// The cloud-init element refuses to share an image with config-drive (both would apply the drive on
// first boot), in its first hook phase, before anything is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { BUILTIN_ELEMENTS } from './build.js';
import { mergeHooks } from './hooks.js';
import { resolveElements } from './elements.js';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const HOOK = join(BUILTIN_ELEMENTS, 'cloud-init', 'root.d', '05-cloud-init-conflicts');

test('cloud-init with config-drive fails naming both elements; without it the hook passes', async () => {
  const both = await run(HOOK, [], { env: { PATH: process.env.PATH, IMAGE_ELEMENT: 'debian-minimal vm config-drive cloud-init' }, allowFailure: true });
  assert.equal(both.code, 1);
  assert.match(both.stderr, /cloud-init: the elements cloud-init and config-drive cannot be combined/);
  const alone = await run(HOOK, [], { env: { PATH: process.env.PATH, IMAGE_ELEMENT: 'debian-minimal vm cloud-init config-drive-extra' }, allowFailure: true });
  assert.equal(alone.code, 0, alone.stderr);
});

test('the conflict check is the first hook of the first phase that has hooks', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-cloud-init-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mergeHooks(resolveElements(['debian-minimal', 'vm', 'cloud-init', 'openssh-server', 'serial-console'], [BUILTIN_ELEMENTS]), dir);
  assert.deepEqual(readdirSync(join(dir, 'root.d')).sort(), ['05-cloud-init-conflicts']);
});
