// Fast checks of the pieces around the build: package-installs squashing, --offline without a
// cache, the config-drive first-boot script, the bootstack-agents hook, and CLI option parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { BaseCacheMissError, ensureBase } from './base.js';
import { buildImage, BUILTIN_ELEMENTS, writeOutputs } from './build.js';
import { makeInitramfs, makeWholeDisk } from './outputs.js';
import { ValidationError } from '../common/errors.js';
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
  assert.deepEqual(names, ['bootstack-agents', 'config-drive', 'debian', 'debian-minimal', 'devuser', 'openssh-server', 'serial-console', 'vm']);
  assert.throws(() => resolveElements(['vm'], [BUILTIN_ELEMENTS]), /operating system/);
});

test('every built-in element set that installs openssh-server has the openssh-server element (no build-time host keys shipped)', () => {
  // openssh-server's postinst makes host keys in the chroot; only the openssh-server element removes
  // them and makes new ones on first boot. Without it every machine deployed from the image would
  // share one set of host keys.
  const env = { ARCH: 'amd64', DIB_DEV_USER_PWDLESS_SUDO: '', DIB_DEV_USER_USERNAME: 'x' };
  const checked: string[] = [];
  for (const name of readdirSync(BUILTIN_ELEMENTS).sort()) {
    const requested = name === 'debian-minimal' ? [name] : ['debian-minimal', name];
    const resolved = resolveElements(requested, [BUILTIN_ELEMENTS]);
    const installs = [...squashPackageInstalls(resolved, env).values()].flatMap((p) => p.install);
    if (!installs.includes('openssh-server')) continue;
    checked.push(name);
    assert.ok(
      resolved.some((e) => e.name === 'openssh-server'),
      `${name} installs openssh-server but does not depend on the openssh-server element (${resolved.map((e) => e.name).join(' ')})`,
    );
  }
  // The check must have looked at something: both of these install sshd.
  assert.ok(checked.includes('debian') && checked.includes('openssh-server'), `checked: ${checked.join(' ')}`);
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

/** Runs fn with fake commands (name → shell script body) first on PATH. */
async function withFakeCommands<T>(dir: string, cmds: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const bin = join(dir, 'fake-bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries(cmds)) writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const old = process.env.PATH;
  process.env.PATH = `${bin}:${old ?? ''}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = old;
  }
}

test('base: a failing tar is not cached as a (truncated) base, and no .partial is left in the cache', async (t) => {
  const cache = tempDir(t, 'bootstack-cache-');
  const spec = { distro: 'debian' as const, release: 'bookworm', arch: 'amd64', variant: 'minbase', include: [], packages: [], mirror: 'http://deb.invalid/debian', components: ['main'] };
  await withFakeCommands(
    cache,
    {
      // debootstrap ... <release> <root> <mirror>
      debootstrap: 'eval root=\\${$(($# - 1))}; mkdir -p "$root/etc" "$root/var/cache/apt/archives"; echo base > "$root/etc/marker"',
      tar: 'echo "some of the archive"; exit 2',
    },
    async () => {
      await assert.rejects(ensureBase(spec, { offline: false, log: () => undefined, cache }));
    },
  );
  assert.deepEqual(readdirSync(join(cache, 'base')), []);
});

test('initramfs: a failing cpio fails the build instead of leaving a truncated archive', async (t) => {
  const dir = tempDir(t, 'bootstack-initramfs-');
  mkdirSync(join(dir, 'tree', 'etc'), { recursive: true });
  writeFileSync(join(dir, 'tree', 'etc', 'x'), 'x\n');
  await makeInitramfs(join(dir, 'tree'), join(dir, 'ok.initramfs'));
  await withFakeCommands(dir, { cpio: 'cat >/dev/null; exit 1' }, async () => {
    await assert.rejects(makeInitramfs(join(dir, 'tree'), join(dir, 'bad.initramfs')));
  });
});

test('outputs: a failing build leaves no half-written outputs or staging directories', async (t) => {
  const dir = tempDir(t, 'bootstack-outputs-');
  const root = join(dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'hostname'), 'x\n');
  const out = join(dir, 'out');
  mkdirSync(out);
  const work = join(dir, 'work');
  mkdirSync(work);
  // The tar is made first, then the initramfs fails: the tar must not be left behind.
  await assert.rejects(
    writeOutputs({ elements: [], output: join(out, 'x'), types: ['tar', 'initramfs'] }, join(out, 'x'), root, work, {}, () => undefined),
    (err: unknown) => err instanceof ValidationError && /initramfs needs the ramdisk element/.test(err.message),
  );
  assert.deepEqual(readdirSync(out), []);
  const ok = await writeOutputs({ elements: [], output: join(out, 'x'), types: ['tar'] }, join(out, 'x'), root, work, {}, () => undefined);
  assert.deepEqual(ok.map((o) => o.path), [join(out, 'x.tar')]);
  assert.deepEqual(readdirSync(out).sort(), ['x.tar', 'x.tar.sha256']);

  // The ESP staging directory goes away when filling the ESP fails.
  writeFileSync(join(dir, 'initrd.img'), 'initrd\n');
  await assert.rejects(
    makeWholeDisk({
      root,
      out: join(out, 'disk.raw'),
      kernel: { kernel: join(dir, 'no-such-vmlinuz'), initrd: join(dir, 'initrd.img'), version: '1' },
      cmdline: 'ro',
      rootLabel: 'root',
      rootUuid: '6f1c2d4e-3b5a-4c7d-8e9f-0a1b2c3d4e5f',
    }),
  );
  assert.ok(!existsSync(join(out, 'disk.raw.esp')));
});
