// From the source tree the install root is the repository; the production build's answers are
// checked by test/server-build.test.ts, which runs the bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AGENTS_DIR, BUILD, BUNDLED, ELEMENTS_DIR, INSTALL_ROOT, PACKAGE_JSON, SERVER_DIR, TEMPLATES_DIR, bundledEntry } from './paths.js';

test('from the sources: the repository is the install root, the builds are under dist/', () => {
  const repo = resolve(import.meta.dirname, '..', '..');
  assert.equal(BUNDLED, false);
  assert.equal(BUILD, undefined);
  assert.equal(INSTALL_ROOT, repo);
  assert.equal((JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { name: string }).name, 'bootstack');
  assert.ok(existsSync(join(ELEMENTS_DIR, 'debian-minimal', 'README.md')));
  assert.ok(existsSync(TEMPLATES_DIR));
  assert.equal(AGENTS_DIR, join(repo, 'dist', 'agents'));
  assert.equal(SERVER_DIR, join(repo, 'dist', 'server'));
  assert.equal(bundledEntry('bmc-main'), undefined);
});
