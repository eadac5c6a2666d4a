// Fast checks of the pieces around the build: package-installs squashing, --offline without a
// cache, the config-drive first-boot script, the bootstack-agents hook, and CLI option parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { BaseCacheMissError } from './base.js';
import { buildImage, BUILTIN_ELEMENTS } from './build.js';
import { loadElement, resolveElements } from './elements.js';
import { squashPackageInstalls } from './package-installs.js';

function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('package-installs: phases, uninstall, build-only, arch, when, installtype and pkg-map', (t) => {
  const dir = tempDir(t, 'bootstack-pkgs-');
  const el = join(dir, 'pkgs');
  mkdirSync(el);
  writeFileSync(
    join(el, 'package-installs.yaml'),
    [
      'plain:',
      'early:',
      '  phase: pre-install.d',
      'gone:',
      '  uninstall: true',
      'tool:',
      '  build-only: true',
      '  phase: post-install.d',
      'x86only:',
      '  arch: amd64, i386',
      'notarm:',
      '  not-arch: arm64',
      'armonly:',
      '  arch: arm64',
      'conditional:',
      '  when: DIB_FEATURE=on',
      'negated:',
      '  when:',
      '    - DIB_FEATURE!=off',
      '    - DIB_OTHER=1',
      'pkgonly:',
      '  installtype: package',
      'mapped:',
      'twice:',
      '  - phase: pre-install.d',
      '  - phase: install.d',
      '',
    ].join('\n'),
  );
  writeFileSync(join(el, 'pkg-map'), JSON.stringify({ family: { debian: { mapped: 'mapped-deb extra-deb' } }, default: { plain: 'plain' } }));
  const env = { ARCH: 'amd64', DISTRO_NAME: 'debian', DIB_FEATURE: 'on', DIB_OTHER: '1' };
  const out = squashPackageInstalls([loadElement('pkgs', el)], env);
  assert.deepEqual(out.get('install.d'), {
    install: ['plain', 'x86only', 'notarm', 'conditional', 'negated', 'mapped-deb', 'extra-deb', 'twice'],
    uninstall: ['gone'],
  });
  assert.deepEqual(out.get('pre-install.d'), { install: ['early', 'twice'], uninstall: [] });
  assert.deepEqual(out.get('post-install.d'), { install: ['tool'], uninstall: ['tool'] });
  const pkgType = squashPackageInstalls([loadElement('pkgs', el)], { ...env, DIB_INSTALLTYPE_pkgs: 'package' });
  assert.ok(pkgType.get('install.d')!.install.includes('pkgonly'));
  assert.throws(() => squashPackageInstalls([loadElement('pkgs', el)], { ARCH: 'amd64' }), /DIB_FEATURE.*not set/);
});

test('built-in elements resolve: debian pulls debian-minimal; vm alone has no operating system', () => {
  const names = resolveElements(['debian', 'vm', 'devuser', 'config-drive', 'serial-console', 'bootstack-agents'], [BUILTIN_ELEMENTS]).map(
    (e) => e.name,
  );
  assert.deepEqual(names, ['bootstack-agents', 'config-drive', 'debian', 'debian-minimal', 'devuser', 'serial-console', 'vm']);
  assert.throws(() => resolveElements(['vm'], [BUILTIN_ELEMENTS]), /operating system/);
});

test('--offline with an empty cache says the base is missing (and builds nothing)', async (t) => {
  const cache = tempDir(t, 'bootstack-cache-');
  const out = tempDir(t, 'bootstack-out-');
  await assert.rejects(
    buildImage({ elements: ['debian-minimal'], output: join(out, 'x'), types: ['tar'], offline: true, cacheDir: cache, env: {} }),
    (err: unknown) => err instanceof BaseCacheMissError && /--offline: no cached base for debian bookworm amd64 minbase/.test(err.message),
  );
  assert.ok(!existsSync(join(out, 'x.tar')));
});

test('config-drive first boot: hostname, SSH keys and networkd files from a config drive', async (t) => {
  const dir = tempDir(t, 'bootstack-cd-');
  const drive = join(dir, 'drive', 'openstack', 'latest');
  const target = join(dir, 'root');
  mkdirSync(drive, { recursive: true });
  mkdirSync(join(target, 'etc'), { recursive: true });
  writeFileSync(join(target, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  writeFileSync(
    join(drive, 'meta_data.json'),
    JSON.stringify({ hostname: 'web-0.example.org', public_keys: { k1: 'ssh-ed25519 AAAA one', k2: 'ssh-rsa BBBB two' } }),
  );
  writeFileSync(
    join(drive, 'network_data.json'),
    JSON.stringify({
      links: [
        { id: 'eth0', ethernet_mac_address: '52:54:00:12:34:56' },
        { id: 'eth1', ethernet_mac_address: '52:54:00:12:34:57' },
      ],
      networks: [
        { link: 'eth0', type: 'ipv4', ip_address: '192.0.2.10', netmask: '255.255.255.0', routes: [{ network: '0.0.0.0', gateway: '192.0.2.1' }] },
        { link: 'eth1', type: 'ipv4_dhcp' },
      ],
      services: [{ type: 'dns', address: '192.0.2.53' }],
    }),
  );
  const script = join(BUILTIN_ELEMENTS, 'config-drive', 'static', 'bootstack-config-drive');
  await run(script, [], { env: { ...process.env, CONFIG_DRIVE_DIR: join(dir, 'drive'), TARGET: target } });
  assert.equal(readFileSync(join(target, 'etc', 'hostname'), 'utf8'), 'web-0\n');
  assert.match(readFileSync(join(target, 'etc', 'hosts'), 'utf8'), /127\.0\.1\.1 web-0\.example\.org web-0/);
  assert.equal(readFileSync(join(target, 'root', '.ssh', 'authorized_keys'), 'utf8'), 'ssh-ed25519 AAAA one\nssh-rsa BBBB two\n');
  const eth0 = readFileSync(join(target, 'etc', 'systemd', 'network', '50-config-drive-eth0.network'), 'utf8');
  assert.match(eth0, /MACAddress=52:54:00:12:34:56/);
  assert.match(eth0, /Address=192\.0\.2\.10\/24/);
  assert.match(eth0, /Gateway=192\.0\.2\.1/);
  assert.match(eth0, /DNS=192\.0\.2\.53/);
  assert.match(readFileSync(join(target, 'etc', 'systemd', 'network', '50-config-drive-eth1.network'), 'utf8'), /DHCP=ipv4/);
  // Running twice adds no duplicate key.
  await run(script, [], { env: { ...process.env, CONFIG_DRIVE_DIR: join(dir, 'drive'), TARGET: target } });
  assert.equal(readFileSync(join(target, 'root', '.ssh', 'authorized_keys'), 'utf8').split('\n').length, 3);
});

test('bootstack-agents hook: clear failure without a bundle, installs the bundled tools when present', async (t) => {
  const dir = tempDir(t, 'bootstack-agents-');
  const hook = join(BUILTIN_ELEMENTS, 'bootstack-agents', 'extra-data.d', '50-bootstack-agents');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const missing = await run(hook, [], {
    env: { PATH: process.env.PATH, TMP_MOUNT_PATH: mnt, DIB_BOOTSTACK_AGENTS_DIR: join(dir, 'nope') },
    allowFailure: true,
  });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no agent bundle at .*nope — run 'node scripts\/bundle-agents\.mjs' first/);
  const bundle = join(dir, 'bundle');
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'os-collect-config.js'), '#!/usr/bin/env node\n');
  writeFileSync(join(bundle, 'bootstack-deploy-agent'), '#!/usr/bin/env node\n');
  chmodSync(join(bundle, 'os-collect-config.js'), 0o644);
  const ok = await run(hook, [], { env: { PATH: process.env.PATH, TMP_MOUNT_PATH: mnt, DIB_BOOTSTACK_AGENTS_DIR: bundle } });
  assert.match(ok.stdout, /installed 2 tool\(s\)/);
  assert.equal(readlinkSync(join(mnt, 'usr/local/bin/os-collect-config')), '/usr/local/lib/bootstack/agents/os-collect-config.js');
  assert.ok(existsSync(join(mnt, 'usr/local/lib/bootstack/agents/bootstack-deploy-agent')));
});
