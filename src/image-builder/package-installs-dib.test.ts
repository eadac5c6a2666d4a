// Differential test: package-installs squashing against diskimage-builder's own
// package-installs-squash, over every built-in DIB element that has a package-installs file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { DIB_ELEMENTS } from '../../test/support/image-builder/dib-oracle.js';
import { loadElement } from './elements.js';
import { squashPackageInstalls } from './package-installs.js';

const SQUASH = join(DIB_ELEMENTS, 'package-installs', 'bin', 'package-installs-squash');

test('package-installs of all DIB built-in elements: the same packages per phase as package-installs-squash', async (t) => {
  const names = readdirSync(DIB_ELEMENTS)
    .filter((n) => ['yaml', 'json'].some((x) => existsSync(join(DIB_ELEMENTS, n, `package-installs.${x}`))))
    .sort();
  assert.ok(names.length > 40, `only ${names.length} elements with package-installs`);
  const envs: Array<Record<string, string>> = [
    { ARCH: 'amd64', DIB_RELEASE: 'bookworm', DIB_SIMPLE_INIT_NETWORKMANAGER: '0', DIB_UBUNTU_KERNEL: 'linux-image-generic', DIB_PYTHON_VERSION: '3' },
    { ARCH: 'arm64', DIB_RELEASE: 'xenial', DIB_SIMPLE_INIT_NETWORKMANAGER: '1', DIB_UBUNTU_KERNEL: 'linux-image-virtual', DIB_DEFAULT_INSTALLTYPE: 'package' },
  ];
  for (const env of envs) {
    const work = mkdtempSync(join(tmpdir(), 'bootstack-squash-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const outFile = join(work, 'out.json');
    await run('/usr/bin/python3', [SQUASH, '--elements', names.join(' '), '--path', DIB_ELEMENTS, outFile], {
      env: { PATH: '/usr/bin:/bin', ...env },
    });
    const theirs = JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, Record<string, Array<[string, string]>>>;
    const ours = squashPackageInstalls(
      names.map((n) => loadElement(n, join(DIB_ELEMENTS, n))),
      env,
      { pkgMap: false },
    );
    const norm = (list: string[]) => [...new Set(list)].sort();
    const phases = new Set([...Object.keys(theirs), ...ours.keys()]);
    for (const phase of phases) {
      for (const kind of ['install', 'uninstall'] as const) {
        assert.deepEqual(
          norm(ours.get(phase)?.[kind] ?? []),
          norm((theirs[phase]?.[kind] ?? []).map(([pkg]) => pkg)),
          `${env.ARCH} ${phase} ${kind}`,
        );
      }
    }
  }
});
