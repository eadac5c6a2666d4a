// devtest's stage modules with fakes (no lab, no seed, no openstack CLI): the commands each stage
// runs and what it makes of their answers, the stacks' reuse rules, the clouds.yaml it writes, the
// image cache, the seed process's pid-file rules (with stand-in programs) and clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { TEMPLATES_DIR } from '../common/paths.js';
import { Clients } from './clients.js';
import { fakeRunner, io, json, os, tempDir, type Answer } from '../../test/support/devtest/fake-runner.js';
import { DevtestLayout } from './layout.js';
import { ensureStack, requireOutputs, templateParameters } from './stacks.js';
import { undercloudParameters } from './stage-undercloud.js';
import { runSeedStage, seedConfig } from './stage-seed.js';
import { runOvercloudStage } from './stage-overcloud.js';
import type { LabOutput } from './stage-lab.js';
import type { SeedOutput } from './stage-seed.js';
import { isSeedProcess, processAlive, seedProcess, type SeedControl, type SeedFiles } from './seed-process.js';
import { cachedBuild } from './image-cache.js';
import { cleanDevtest } from './clean.js';
import { identityUrl, renderClouds } from './clouds.js';

const notFound: Answer = { code: 1, stderr: 'Stack not found: undercloud' };

test('ensureStack: creates a missing stack with the template, environments and parameters, and reads its outputs', async (t) => {
  const dir = tempDir(t);
  let created = false;
  const f = fakeRunner((c) => {
    const cmd = os(c);
    if (cmd.startsWith('stack show')) return created ? json({ id: 'S1', stack_status: 'CREATE_COMPLETE', outputs: [{ output_key: 'api_url', output_value: 'http://10.0.0.5:6385' }] }) : notFound;
    if (cmd.startsWith('stack create')) {
      created = true;
      return { stdout: 'event 1\nevent 2\n' };
    }
    return undefined;
  });
  const clients = new Clients(f.run, join(dir, 'clouds.yaml'));
  const lines: string[] = [];
  const r = await ensureStack(clients, { cloud: 'seed', name: 'uc', template: '/t/uc.yaml', environments: ['/t/env.yaml'], parameters: { key_name: 'devtest', n: 2 }, timeoutMinutes: 30 }, io(lines));
  assert.deepEqual(r, { id: 'S1', status: 'CREATE_COMPLETE', outputs: { api_url: 'http://10.0.0.5:6385' }, created: true });
  const create = f.calls.find((c) => os(c).startsWith('stack create'))!;
  assert.deepEqual(create.args, ['stack', 'create', '-t', '/t/uc.yaml', '-e', '/t/env.yaml', '--parameter', 'key_name=devtest', '--parameter', 'n=2', '--wait', '--timeout', '30', 'uc']);
  assert.equal(create.cloud, 'seed');
  assert.ok(lines.includes('event 2'), 'the CLI\'s lines are the stage\'s progress');
});

test('ensureStack: keeps a completed stack, makes a failed one again, and a failed create says why and where to look', async (t) => {
  const dir = tempDir(t);
  const clients = (f: ReturnType<typeof fakeRunner>) => new Clients(f.run, join(dir, 'clouds.yaml'));
  const spec = { cloud: 'overcloud' as const, name: 'oc', template: '/t/oc.yaml', timeoutMinutes: 5 };

  const kept = fakeRunner((c) => (os(c).startsWith('stack show') ? json({ id: 'K', stack_status: 'UPDATE_COMPLETE', outputs: [] }) : undefined));
  const k = await ensureStack(clients(kept), spec, io());
  assert.equal(k.created, false);
  assert.ok(!kept.calls.some((c) => os(c).startsWith('stack create')));

  let phase = 'failed';
  const again = fakeRunner((c) => {
    const cmd = os(c);
    if (cmd.startsWith('stack show')) return phase === 'failed' ? json({ id: 'F', stack_status: 'CREATE_FAILED', stack_status_reason: 'boom' }) : phase === 'deleted' ? notFound : json({ id: 'N', stack_status: 'CREATE_COMPLETE' });
    if (cmd.startsWith('stack delete')) phase = 'deleted';
    if (cmd.startsWith('stack create')) phase = 'made';
    return undefined;
  });
  const n = await ensureStack(clients(again), spec, io());
  assert.equal(n.id, 'N');
  assert.deepEqual(again.calls.map((c) => c.args.slice(0, 2).join(' ')), ['stack show', 'stack delete', 'stack create', 'stack show']);

  let tried = false;
  const bad = fakeRunner((c) => {
    const cmd = os(c);
    if (cmd.startsWith('stack show')) return tried ? json({ id: 'B', stack_status: 'CREATE_FAILED', stack_status_reason: 'Resource CREATE failed: no valid host' }) : notFound;
    if (cmd.startsWith('stack create')) {
      tried = true;
      return { code: 1, stderr: 'Stack oc CREATE_FAILED' };
    }
    return undefined;
  });
  await assert.rejects(ensureStack(clients(bad), spec, io()), (err: Error) => {
    assert.match(err.message, /^stack oc is CREATE_FAILED: Resource CREATE failed: no valid host/);
    assert.match(err.message, /openstack --os-cloud overcloud stack event list oc/);
    return true;
  });
  assert.throws(() => requireOutputs('oc', { a: 'x', b: '' }, ['a', 'b', 'c']), /stack oc has no b, c outputs \(its outputs: a, b\)/);
});

const LAB: LabOutput = {
  dir: '/lab',
  instackenv: '/lab/instackenv.json',
  seedInterface: 'bsl1234s',
  seedAddress: '10.213.7.1',
  prefixLength: 24,
  cidr: '10.213.7.0/24',
  namespace: 'bsl-1234',
  bridge: 'br-prov',
  accel: 'tcg',
  machines: ['lab-0', 'lab-1', 'lab-2', 'lab-3'].map((name, i) => ({ name, mac: `52:54:00:12:34:0${i}` })),
};

test('the undercloud stack gets the lab\'s addresses, and only parameters its template declares', () => {
  const declared = templateParameters(join(TEMPLATES_DIR, 'undercloud.yaml'));
  assert.deepEqual(undercloudParameters(declared, LAB, 'devtest'), { key_name: 'devtest', ctlplane_ip: '10.213.7.5', dhcp_start: '10.213.7.100', dhcp_end: '10.213.7.199' });
  assert.deepEqual(undercloudParameters(['dhcp_start'], LAB, undefined), { dhcp_start: '10.213.7.100' });
  assert.ok(templateParameters(join(TEMPLATES_DIR, 'overcloud-demo.yaml')).includes('web_count'));
});

function fakeSeedControl(layout: DevtestLayout, log: string[]): SeedControl {
  return {
    async start(files) {
      log.push(`start ${files.config}`);
      // What a starting seed writes into its state directory.
      writeFileSync(join(layout.seedState, 'admin-password'), 'seed-secret\n');
      writeFileSync(join(layout.seedState, 'clouds.yaml'), 'clouds:\n  bootstack:\n    auth: {auth_url: "http://10.213.7.1:6385/identity", username: admin, password: seed-secret, project_name: admin, user_domain_name: Default, project_domain_name: Default}\n    region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n');
      return { pid: 4242, url: 'http://10.213.7.1:6385' };
    },
    async stop() {
      log.push('stop');
      return 'not running';
    },
    running: () => undefined,
  };
}

test('the seed stage: config, seed, node import, manage and provide as needed, images uploaded once', async (t) => {
  const layout = new DevtestLayout(tempDir(t));
  const images = { kernel: '/cache/deploy.kernel', initramfs: '/cache/deploy.initramfs', sample: '/cache/sample.qcow2', undercloud: '/cache/bootstack-undercloud.qcow2', built: [] };
  let listed = 0;
  const states = [
    ['enroll', 'enroll', 'manageable', 'available'],
    ['manageable', 'manageable', 'manageable', 'available'],
    ['available', 'available', 'available', 'available'],
  ];
  const f = fakeRunner((c) => {
    const cmd = os(c);
    if (cmd.startsWith('baremetal node list')) {
      const s = states[Math.min(listed++, states.length - 1)]!;
      return json(LAB.machines.map((m, i) => ({ Name: m.name, 'Provisioning State': s[i] })));
    }
    if (cmd.startsWith('image show')) return cmd.includes('bootstack-undercloud') ? json({ id: 'UC', status: 'active' }) : { code: 1, stderr: 'No Image found for sample' };
    if (cmd.startsWith('image create')) return json({ id: 'SAMPLE' });
    return undefined;
  });
  const seedLog: string[] = [];
  const out = await runSeedStage({ layout, lab: LAB, images, port: 6385 }, { clients: new Clients(f.run, layout.clouds), seed: fakeSeedControl(layout, seedLog) }, io());
  assert.deepEqual(out, {
    url: 'http://10.213.7.1:6385',
    pid: 4242,
    state_dir: layout.seedState,
    config: layout.seedConfig,
    admin_password: 'seed-secret',
    nodes: ['lab-0', 'lab-1', 'lab-2', 'lab-3'],
    images: { sample: 'SAMPLE', 'bootstack-undercloud': 'UC' },
  });
  assert.deepEqual(seedLog, ['stop', `start ${layout.seedConfig}`]);
  const config = parse(readFileSync(layout.seedConfig, 'utf8'));
  assert.deepEqual(config, {
    state_dir: layout.seedState,
    listen: { host: '10.213.7.1', port: 6385 },
    boot: { files_dir: join(layout.seedState, 'boot-files'), kernel_args: 'console=ttyS0', dnsmasq: { enabled: true, interface: 'bsl1234s', range_start: '10.213.7.100', range_end: '10.213.7.199' } },
  });
  assert.equal(readlinkSync(join(layout.seedState, 'boot-files', 'deploy.kernel')), images.kernel);
  assert.equal(statSync(layout.seedDir).mode & 0o777, 0o700);

  const byCloud = f.calls.filter((c) => c.cloud !== undefined);
  assert.ok(byCloud.every((c) => c.cloud === 'seed'));
  const steps = f.calls.map((c) => (c.command === 'openstack' ? `openstack ${c.args.join(' ')}` : c.command.endsWith('node') || c.command === process.execPath ? `bootstack ${c.args.slice(1).join(' ')}` : `${c.command} ${c.args.join(' ')}`));
  assert.ok(steps.includes('bootstack node import /lab/instackenv.json'), steps.join('\n'));
  assert.deepEqual(steps.filter((s) => s.includes(' manage ')), ['openstack baremetal node manage --wait 300 lab-0', 'openstack baremetal node manage --wait 300 lab-1']);
  assert.deepEqual(steps.filter((s) => s.includes(' provide ')), ['lab-0', 'lab-1', 'lab-2'].map((n) => `openstack baremetal node provide --wait 900 ${n}`));
  assert.deepEqual(steps.filter((s) => s.includes('image create')), ['openstack image create --disk-format qcow2 --container-format bare --public --file /cache/sample.qcow2 sample -f json']);
  // The devtest clouds.yaml has the seed, under the name `seed`.
  const clouds = parse(readFileSync(layout.clouds, 'utf8'));
  assert.deepEqual(Object.keys(clouds.clouds), ['seed']);
  assert.equal(clouds.clouds.seed.auth.password, 'seed-secret');
  assert.equal(statSync(layout.clouds).mode & 0o777, 0o600);

  assert.throws(() => seedConfig(layout, { ...LAB, prefixLength: 26, cidr: '10.213.7.0/26' }, 6385), /needs a \/24 lab network/);
});

test('the seed stage refuses to go on when a node does not become available', async (t) => {
  const layout = new DevtestLayout(tempDir(t));
  const f = fakeRunner((c) => (os(c).startsWith('baremetal node list') ? json(LAB.machines.map((m, i) => ({ Name: m.name, 'Provisioning State': i === 2 ? 'clean failed' : 'available' }))) : undefined));
  const images = { kernel: '/k', initramfs: '/i', sample: '/s', undercloud: '/u', built: [] };
  await assert.rejects(
    runSeedStage({ layout, lab: LAB, images, port: 6385 }, { clients: new Clients(f.run, layout.clouds), seed: fakeSeedControl(layout, []) }, io()),
    /nodes not available: lab-2 \(clean failed\)/,
  );
});

test('the overcloud stage: clouds.yaml with the three clouds, a key pair, the demo stack, its web URLs', async (t) => {
  const layout = new DevtestLayout(tempDir(t));
  mkdirSync(layout.seedState, { recursive: true });
  await fakeSeedControl(layout, []).start({} as SeedFiles);
  const seed = { admin_password: 'seed-secret' } as SeedOutput;
  const undercloud = { stack_id: 'U', api_url: 'http://10.213.7.5:6385', admin_password: 'unused-after-pivot', pivot_token: 'tok', outputs: {} };
  let made = false;
  const f = fakeRunner((c) => {
    const cmd = os(c);
    if (c.command === 'ssh-keygen') {
      const file = c.args[c.args.indexOf('-f') + 1]!;
      writeFileSync(file, 'private');
      writeFileSync(`${file}.pub`, 'ssh-ed25519 AAAA devtest');
      return undefined;
    }
    if (cmd.startsWith('keypair show')) return { code: 1, stderr: 'No keypair with a name or ID of devtest exists.' };
    if (cmd.startsWith('stack show')) {
      return made
        ? json({ id: 'O', stack_status: 'CREATE_COMPLETE', outputs: [
            { output_key: 'web_urls', output_value: ['http://10.213.7.20:8080/', 'http://10.213.7.21:8080/'] },
            { output_key: 'db_address', output_value: '10.213.7.10' },
            { output_key: 'db_url', output_value: 'http://10.213.7.10:8081/' },
          ] })
        : { code: 1, stderr: 'Stack not found: overcloud' };
    }
    if (cmd.startsWith('stack create')) made = true;
    return undefined;
  });
  const out = await runOvercloudStage({ layout, templatesDir: '/repo/templates', seed, undercloud, webCount: 3, timeoutMinutes: 60 }, { clients: new Clients(f.run, layout.clouds) }, io());
  assert.deepEqual(out, { stack_id: 'O', web_urls: ['http://10.213.7.20:8080/', 'http://10.213.7.21:8080/'], db_address: '10.213.7.10', outputs: { db_url: 'http://10.213.7.10:8081/' } });
  const create = f.calls.find((c) => os(c).startsWith('stack create'))!;
  assert.equal(create.cloud, 'overcloud');
  assert.deepEqual(create.args, ['stack', 'create', '-t', '/repo/templates/overcloud-demo.yaml', '--parameter', 'key_name=devtest', '--parameter', 'web_count=3', '--wait', '--timeout', '60', 'overcloud']);
  assert.ok(f.calls.some((c) => os(c) === `keypair create --public-key ${layout.key}.pub devtest` && c.cloud === 'overcloud'));
  const text = readFileSync(layout.clouds, 'utf8');
  assert.match(text, /# {3}overcloud {3}the undercloud's admin project, which owns the overcloud stack/);
  const clouds = parse(text).clouds;
  assert.deepEqual(Object.keys(clouds), ['seed', 'undercloud', 'overcloud']);
  assert.equal(clouds.undercloud.auth.auth_url, 'http://10.213.7.5:6385/identity');
  assert.equal(clouds.undercloud.auth.password, 'seed-secret', 'after the pivot the undercloud\'s admin is the seed\'s');
  assert.deepEqual(clouds.overcloud, clouds.undercloud);
  assert.equal(clouds.undercloud.region_name, 'RegionOne');
});

test('clouds: identity URLs and the file without the clouds not known yet', () => {
  assert.equal(identityUrl('http://a:6385'), 'http://a:6385/identity');
  assert.equal(identityUrl('http://a:6385/'), 'http://a:6385/identity');
  assert.equal(identityUrl('http://a:6385/identity/v3'), 'http://a:6385/identity/v3');
  const text = renderClouds({}, '/d');
  assert.deepEqual(parse(text), { clouds: {} });
});

test('the image cache: built once, reused while the key holds, rebuilt when it changes or an output is gone', async (t) => {
  const dir = tempDir(t);
  let key = 'k1';
  let builds = 0;
  const lockLog: string[] = [];
  const build = {
    dir,
    name: 'img',
    key: () => key,
    build: async (prefix: string) => {
      builds++;
      writeFileSync(`${prefix}.qcow2`, `image ${builds}`);
      return [{ path: `${prefix}.qcow2`, bytes: statSync(`${prefix}.qcow2`).size }];
    },
    lock: async (path: string) => {
      lockLog.push(path);
      return () => void lockLog.push('released');
    },
  };
  assert.equal((await cachedBuild(build)).cached, false);
  assert.equal((await cachedBuild(build)).cached, true);
  assert.equal(builds, 1);
  assert.deepEqual(lockLog.slice(0, 2), [join(dir, '.img.lock'), 'released']);
  key = 'k2';
  assert.equal((await cachedBuild(build)).cached, false);
  rmSync(join(dir, 'img.qcow2'));
  assert.equal((await cachedBuild(build)).cached, false, 'an output that is gone is built again');
  writeFileSync(join(dir, 'img.qcow2'), 'truncated');
  assert.equal((await cachedBuild(build)).cached, false, 'an output of another size is built again');
  assert.equal(builds, 4);
  // A failed build leaves no stamp behind to vouch for what it half wrote.
  await assert.rejects(cachedBuild({ ...build, key: () => 'k3', build: async () => Promise.reject(new Error('debootstrap failed')) }), /debootstrap failed/);
  assert.ok(!existsSync(join(dir, 'img.inputs.json')));
  assert.equal(lockLog.at(-1), 'released');
});

/** A stand-in for `bootstack`: `serve -c FILE` prints the line the seed prints and waits. */
function fakeBin(dir: string, ignoreTerm = false): string {
  const bin = join(dir, 'fake-bootstack.mjs');
  writeFileSync(
    bin,
    `${ignoreTerm ? "process.on('SIGTERM', () => {});\n" : ''}console.log('bootstack serving on http://127.0.0.1:1');\nsetInterval(() => {}, 1000);\n`,
  );
  return bin;
}

test('the seed process: started detached with a pid file, stopped by it; a stale pid file kills nothing', async (t) => {
  const dir = tempDir(t);
  const files: SeedFiles = { config: join(dir, 'bootstack.yaml'), pid: join(dir, 'serve.pid'), out: join(dir, 'serve.out'), log: join(dir, 'serve.log') };
  const seed = seedProcess(fakeBin(dir));
  const started = await seed.start(files);
  t.after(() => {
    if (processAlive(started.pid)) process.kill(started.pid, 'SIGKILL');
  });
  assert.equal(started.url, 'http://127.0.0.1:1');
  assert.equal(readFileSync(files.pid, 'utf8').trim(), String(started.pid));
  assert.equal(seed.running(files), started.pid);
  assert.ok(isSeedProcess(started.pid, files.config, join(dir, 'fake-bootstack.mjs')));
  assert.ok(!isSeedProcess(started.pid, join(dir, 'other.yaml'), join(dir, 'fake-bootstack.mjs')), 'another config is another seed');
  assert.ok(!isSeedProcess(started.pid, files.config, ['/opt/other/bootstack.mjs']), 'another program is not this seed');
  assert.ok(isSeedProcess(started.pid, files.config, ['/opt/other/bootstack.mjs', join(dir, 'fake-bootstack.mjs')]), 'either form of the installation\'s program');
  assert.equal(await seed.stop(files), 'stopped');
  assert.ok(!processAlive(started.pid));
  assert.ok(!existsSync(files.pid));
  assert.equal(await seed.stop(files), 'not running', 'stopping again is fine');

  // A pid file naming an unrelated process: left alone.
  const other = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  writeFileSync(files.pid, String(other.pid));
  assert.equal(seed.running(files), undefined);
  assert.equal(await seed.stop(files), 'not running');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(processAlive(other.pid!), 'an unrelated process was not signalled');
  assert.ok(!existsSync(files.pid), 'the stale pid file is removed');
});

test('the seed process: one that ignores SIGTERM is killed after the grace period', async (t) => {
  const dir = tempDir(t);
  const files: SeedFiles = { config: join(dir, 'bootstack.yaml'), pid: join(dir, 'serve.pid'), out: join(dir, 'serve.out'), log: join(dir, 'serve.log') };
  const seed = seedProcess(fakeBin(dir, true));
  const started = await seed.start(files);
  t.after(() => {
    if (processAlive(started.pid)) process.kill(started.pid, 'SIGKILL');
  });
  assert.equal(await seed.stop(files, { graceMs: 300 }), 'killed');
  assert.ok(!processAlive(started.pid));
});

test('the seed process: one that exits before serving fails the start with its log', async (t) => {
  const dir = tempDir(t);
  const bin = join(dir, 'broken.mjs');
  writeFileSync(bin, "console.error('config: listen.port: must be a number'); process.exit(1);\n");
  const files: SeedFiles = { config: join(dir, 'bootstack.yaml'), pid: join(dir, 'serve.pid'), out: join(dir, 'serve.out'), log: join(dir, 'serve.log') };
  await assert.rejects(seedProcess(bin).start(files), /exited with code 1 before serving[\s\S]*listen\.port: must be a number/);
  assert.ok(!existsSync(files.pid));
});

test('clean: stops the seed, takes the lab down, removes what devtest made and keeps what it did not', async (t) => {
  const layout = new DevtestLayout(join(tempDir(t), 'dt'));
  for (const d of [layout.seedState, layout.images, layout.lab]) mkdirSync(d, { recursive: true });
  for (const f of [layout.state, layout.key, `${layout.key}.pub`, layout.clouds]) writeFileSync(f, 'x');
  const calls: string[] = [];
  const deps = {
    lab: { up: async () => assert.fail(), down: async (o: { dir: string }) => (calls.push(`down ${o.dir}`), true) },
    seed: { start: async () => assert.fail(), stop: async () => (calls.push('stop'), 'stopped' as const), running: () => undefined },
  };
  writeFileSync(join(layout.dir, 'notes.txt'), 'mine');
  const r = await cleanDevtest(layout, deps);
  assert.deepEqual(calls, ['stop', `down ${layout.lab}`]);
  assert.deepEqual(r, { dir: layout.dir, seed: 'stopped', lab: 'removed', dirRemoved: false, kept: ['notes.txt'] });
  rmSync(join(layout.dir, 'notes.txt'));
  const again = await cleanDevtest(layout, { ...deps, lab: { ...deps.lab, down: async () => false } });
  assert.equal(again.dirRemoved, true);
  assert.equal(again.seed, 'not running', 'no seed directory: nothing to stop');
  assert.ok(!existsSync(layout.dir));
});
