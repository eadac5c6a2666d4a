// Fast checks of the deploy ramdisk: the element's post-install hook run against the host's own
// programs into a scratch tree, which must then run them in a chroot (node, sfdisk, mkfs.vfat and
// mcopy through codepage 850) — the proof that nothing is missing from the copied libraries; and
// buildDeployRamdisk's cache (skip, rebuild on a changed agent, a damaged output or force) with a
// stand-in build. The real build and boot are in test/boot-ramdisk-agent.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { BUILTIN_ELEMENTS, type BuildOptions, type BuildResult } from './build.js';
import { buildDeployRamdisk, DEPLOY_RAMDISK_ELEMENTS } from './deploy-ramdisk.js';
import { resolveElements } from './elements.js';
import { sha256File } from './outputs.js';

function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('deploy-ramdisk element: depends on ramdisk, adds the disk drivers to the module list', async () => {
  const names = resolveElements(DEPLOY_RAMDISK_ELEMENTS, [BUILTIN_ELEMENTS]).map((e) => e.name);
  assert.deepEqual(names.sort(), ['debian-minimal', 'deploy-ramdisk', 'ramdisk']);
  // The environment files in the order the builder sources them (ramdisk's 10- first).
  const r = await run('bash', [
    '-c',
    'set -eu; source "$1/ramdisk/environment.d/10-ramdisk.bash"; source "$1/deploy-ramdisk/environment.d/20-deploy-ramdisk.bash"; echo "$DIB_RAMDISK_MODULES"',
    'bash',
    BUILTIN_ELEMENTS,
  ]);
  const modules = r.stdout.trim().split(/\s+/);
  for (const m of ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_scsi', 'sd_mod', 'ahci']) assert.ok(modules.includes(m), m);
});

test('deploy-ramdisk post-install hook: the programs it copies run in a chroot of the tree, mcopy included', async (t) => {
  const dir = tempDir(t, 'bootstack-deploy-rd-');
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'tmp'), { recursive: true });
  mkdirSync(join(tree, 'dev'));
  const agent = join(dir, 'agent.js');
  writeFileSync(agent, 'console.log("agent", process.version)\n');
  const hook = join(BUILTIN_ELEMENTS, 'deploy-ramdisk', 'post-install.d', '95-deploy-ramdisk');
  const r = await run(hook, [], {
    env: {
      ...process.env,
      PATH: `${join(BUILTIN_ELEMENTS, 'ramdisk', 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin`,
      BOOTSTACK_RAMDISK_TREE: tree,
      BOOTSTACK_DEPLOY_AGENT: agent,
    },
  });
  assert.match(r.stdout, /deploy-ramdisk: node v\d+/);
  assert.ok(!existsSync(agent), 'the staged bundle is moved, not left in the image');
  assert.equal(readFileSync(join(tree, 'opt/bootstack/agent.js'), 'utf8'), 'console.log("agent", process.version)\n');
  // mcopy and mmd stay links to one mtools binary.
  const mcopy = (await run('sh', ['-c', 'command -v mcopy'])).stdout.trim();
  assert.ok(lstatSync(join(tree, mcopy)).isSymbolicLink());
  assert.ok(existsSync(join(tree, readlinkSync(join(tree, mcopy)))));

  const inTree = (cmd: string) => run('chroot', [tree, ...cmd.split(' ')], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', MTOOLS_SKIP_CHECK: '1' } });
  assert.equal((await inTree('/usr/bin/node /opt/bootstack/agent.js')).stdout, `agent ${(await run('node', ['--version'])).stdout.trim()}\n`);
  assert.match((await inTree('sfdisk --version')).stdout, /util-linux/);
  assert.match((await inTree('sgdisk --version')).stdout, /GPT fdisk/);
  assert.match((await inTree('wipefs --version')).stdout, /util-linux/);
  // A FAT file system written and filled without mounting, as the agent's config drive step does;
  // mcopy needs glibc's codepage 850 converter for that.
  await inTree('mkfs.vfat -C -n config-2 /tmp/fat.img 4096');
  writeFileSync(join(tree, 'tmp/meta_data.json'), '{"hostname":"x"}');
  await inTree('mmd -i /tmp/fat.img ::openstack');
  await inTree('mcopy -i /tmp/fat.img /tmp/meta_data.json ::openstack/meta_data.json');
  const back = await run('mtype', ['-i', join(tree, 'tmp/fat.img'), '::openstack/meta_data.json'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  assert.equal(back.stdout, '{"hostname":"x"}');
});

test('deploy-ramdisk post-install hook: a missing bundle names the file and the element that stages it', async (t) => {
  const dir = tempDir(t, 'bootstack-deploy-rd-');
  mkdirSync(join(dir, 'tree'));
  const r = await run(join(BUILTIN_ELEMENTS, 'deploy-ramdisk', 'post-install.d', '95-deploy-ramdisk'), [], {
    allowFailure: true,
    env: { ...process.env, BOOTSTACK_RAMDISK_TREE: join(dir, 'tree'), BOOTSTACK_DEPLOY_AGENT: join(dir, 'none.js') },
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no staged agent bundle at .*none\.js \(extra-data\.d\/50-deploy-ramdisk-agent\)/);
});

test('deploy-ramdisk extra-data hook: fails with the bundle path when the agents directory is empty', async (t) => {
  const dir = tempDir(t, 'bootstack-deploy-rd-');
  mkdirSync(join(dir, 'agents'));
  mkdirSync(join(dir, 'root'));
  const r = await run(join(BUILTIN_ELEMENTS, 'deploy-ramdisk', 'extra-data.d', '50-deploy-ramdisk-agent'), [], {
    allowFailure: true,
    env: { ...process.env, DIB_BOOTSTACK_AGENTS_DIR: join(dir, 'agents'), TMP_MOUNT_PATH: join(dir, 'root') },
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`no deploy agent bundle at ${join(dir, 'agents', 'deploy-agent')}`));
});

/** A stand-in for buildImage: writes the two outputs with content derived from the agent bundle. */
function fakeBuild(calls: BuildOptions[]) {
  return async (opts: BuildOptions): Promise<BuildResult> => {
    calls.push(opts);
    const agent = readFileSync(join(opts.env!.DIB_BOOTSTACK_AGENTS_DIR!, 'deploy-agent'));
    writeFileSync(`${opts.output}.kernel`, 'kernel');
    writeFileSync(`${opts.output}.initramfs`, Buffer.concat([Buffer.from('initramfs:'), agent]));
    const outputs = [];
    for (const type of ['initramfs', 'kernel']) {
      const path = `${opts.output}.${type}`;
      outputs.push({ type, path, bytes: 0, sha256: await sha256File(path) });
    }
    return { elements: ['debian-minimal', 'deploy-ramdisk', 'ramdisk'], baseCacheHit: true, outputs, manifest: '', timings: {} };
  };
}

test('buildDeployRamdisk: builds once, then is cached until the agent, an output or force says otherwise', async (t) => {
  const dir = tempDir(t, 'bootstack-deploy-rd-');
  const agents = join(dir, 'agents');
  mkdirSync(agents);
  writeFileSync(join(agents, 'deploy-agent'), 'agent v1');
  const out = join(dir, 'out');
  const calls: BuildOptions[] = [];
  const opts = { agentsDir: agents, env: {}, build: fakeBuild(calls) };

  const first = await buildDeployRamdisk(out, opts);
  assert.equal(first.built, true);
  assert.deepEqual([first.kernel, first.initramfs], [join(out, 'deploy.kernel'), join(out, 'deploy.initramfs')]);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]!.elements, DEPLOY_RAMDISK_ELEMENTS);
  assert.deepEqual(calls[0]!.types, ['initramfs']);
  assert.equal(calls[0]!.env!.DIB_BOOTSTACK_AGENTS_DIR, agents);

  const again = await buildDeployRamdisk(out, opts);
  assert.equal(again.built, false);
  assert.equal(again.inputsHash, first.inputsHash);
  assert.equal(calls.length, 1, 'same inputs: no build');

  writeFileSync(join(agents, 'deploy-agent'), 'agent v2');
  const changed = await buildDeployRamdisk(out, opts);
  assert.equal(changed.built, true, 'a new agent bundle rebuilds');
  assert.notEqual(changed.inputsHash, first.inputsHash);
  assert.equal(readFileSync(changed.initramfs, 'utf8'), 'initramfs:agent v2');

  writeFileSync(changed.initramfs, 'truncated');
  assert.equal((await buildDeployRamdisk(out, opts)).built, true, 'an initramfs that is not the one built rebuilds');
  rmSync(join(out, 'deploy.kernel'));
  assert.equal((await buildDeployRamdisk(out, opts)).built, true, 'a missing kernel rebuilds');
  assert.equal((await buildDeployRamdisk(out, opts)).built, false);
  assert.equal((await buildDeployRamdisk(out, { ...opts, force: true })).built, true);
  assert.equal((await buildDeployRamdisk(out, { ...opts, env: { DIB_RAMDISK_MODULES: 'virtio_blk' } })).built, true, 'the module list is an input');
  assert.equal(calls.length, 6);
  assert.ok(!existsSync(join(out, 'deploy.lock')), 'the lock is released');
});

test('buildDeployRamdisk: a failed build leaves no stamp, so the next call builds again', async (t) => {
  const dir = tempDir(t, 'bootstack-deploy-rd-');
  const agents = join(dir, 'agents');
  mkdirSync(agents);
  writeFileSync(join(agents, 'deploy-agent'), 'agent');
  const out = join(dir, 'out');
  const calls: BuildOptions[] = [];
  await buildDeployRamdisk(out, { agentsDir: agents, env: {}, build: fakeBuild(calls) });
  const failing = async (): Promise<BuildResult> => {
    throw new Error('hook failed');
  };
  await assert.rejects(buildDeployRamdisk(out, { agentsDir: agents, env: {}, force: true, build: failing }), /hook failed/);
  assert.ok(!existsSync(join(out, 'deploy.inputs.json')));
  assert.equal((await buildDeployRamdisk(out, { agentsDir: agents, env: {}, build: fakeBuild(calls) })).built, true);
  await assert.rejects(buildDeployRamdisk(out, { agentsDir: join(dir, 'nowhere'), env: {}, build: fakeBuild(calls) }), /no deploy agent bundle at .*nowhere\/deploy-agent/);
});

test('buildDeployRamdisk without agentsDir bundles the agent from source (esbuild)', async (t) => {
  const dir = tempDir(t, 'bootstack-deploy-rd-');
  const calls: BuildOptions[] = [];
  let bundled = '';
  const build = fakeBuild(calls);
  const r = await buildDeployRamdisk(join(dir, 'out'), {
    env: {},
    build: async (o) => {
      bundled = readFileSync(join(o.env!.DIB_BOOTSTACK_AGENTS_DIR!, 'deploy-agent'), 'utf8');
      return build(o);
    },
  });
  assert.equal(r.built, true);
  assert.match(bundled, /bootstack\.boot_secret/, 'the bundle is the deploy agent');
  assert.ok(!existsSync(calls[0]!.env!.DIB_BOOTSTACK_AGENTS_DIR!), 'the scratch bundle is removed');
});
