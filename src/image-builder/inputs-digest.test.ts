import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestTree, isBuildCode } from './inputs-digest.js';

test('builder code: what a build runs is hashed; tests and the cache deciders are not', () => {
  for (const f of ['build.ts', 'outputs.ts', 'hooks.ts', 'base.ts', 'package-installs.ts', 'build.js']) assert.ok(isBuildCode(f), f);
  for (const f of ['build.test.ts', 'sample-image.ts', 'deploy-ramdisk.ts', 'demo-images.ts', 'testdata/x/y.ts', 'README.md']) assert.ok(!isBuildCode(f), f);
});

test('tree digest: content, mode and names count; order of creation does not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inputs-digest-'));
  try {
    const digest = () => {
      const h = createHash('sha256');
      digestTree(h, dir);
      return h.digest('hex');
    };
    mkdirSync(join(dir, 'install.d'));
    writeFileSync(join(dir, 'install.d', '10-a'), 'echo a\n', { mode: 0o644 });
    const first = digest();
    assert.equal(digest(), first);
    writeFileSync(join(dir, 'install.d', '10-a'), 'echo b\n');
    const changed = digest();
    assert.notEqual(changed, first);
    writeFileSync(join(dir, 'install.d', '10-a'), 'echo b\n', { mode: 0o755 });
    rmSync(join(dir, 'install.d', '10-a'));
    writeFileSync(join(dir, 'install.d', '10-a'), 'echo b\n', { mode: 0o755 });
    assert.notEqual(digest(), changed, 'the executable bit is an input');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
