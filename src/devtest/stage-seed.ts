// Stage `seed`: the seed, started the way lab-demo.sh starts it (`bootstack serve` detached, with a
// config file in <dir>/seed: SQLite state there, dnsmasq on the lab's seed interface, the deploy
// ramdisk as its boot files), then the lab's machines enrolled from the lab's instackenv.json
// (`bootstack node import`), taken to `available` (manage, provide), and the images uploaded.
// Re-runnable: a seed this devtest started is restarted, the import converges, nodes already
// available are left alone, and images already uploaded are kept.
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import { seedCloudEntry, writeClouds } from './clouds.js';
import type { DevtestLayout } from './layout.js';
import type { SeedControl, SeedFiles } from './seed-process.js';
import type { StageIo } from './stage-io.js';
import { SAMPLE_IMAGE_NAME, UNDERCLOUD_IMAGE_NAME, type ImagesOutput } from './stage-images.js';
import type { LabOutput } from './stage-lab.js';

export interface SeedStageInput {
  layout: DevtestLayout;
  lab: LabOutput;
  images: ImagesOutput;
  /** The seed's API port on the lab address (default 6385). */
  port: number;
  /** Node operations' waits, seconds (provide cleans: the ramdisk boots on each machine). */
  provideWaitSeconds?: number;
}

export interface SeedOutput {
  url: string;
  pid: number;
  state_dir: string;
  config: string;
  /** The seed's admin password (after the pivot, the undercloud's admin has it too). */
  admin_password: string;
  /** The enrolled nodes, by name. */
  nodes: string[];
  /** Image name → id in the seed. */
  images: Record<string, string>;
}

export function seedFiles(layout: DevtestLayout): SeedFiles {
  return { config: layout.seedConfig, pid: layout.seedPid, out: layout.seedOut, log: layout.seedLog };
}

/** The seed's bootstack.yaml: lab-demo.sh's, with dnsmasq handing out .100-.199 of the lab's /24. */
export function seedConfig(layout: DevtestLayout, lab: LabOutput, port: number): string {
  if (lab.prefixLength !== 24) throw new BootstackError(400, 'bad_lab', `devtest needs a /24 lab network; the lab in ${lab.dir} has ${lab.cidr}`);
  const prefix = lab.seedAddress.split('.').slice(0, 3).join('.');
  return stringify({
    state_dir: layout.seedState,
    listen: { host: lab.seedAddress, port },
    boot: {
      files_dir: join(layout.seedState, 'boot-files'),
      kernel_args: 'console=ttyS0',
      dnsmasq: { enabled: true, interface: lab.seedInterface, range_start: `${prefix}.100`, range_end: `${prefix}.199` },
    },
  });
}

interface NodeRow {
  Name: string;
  'Provisioning State': string;
}

async function link(target: string, path: string): Promise<void> {
  await rm(path, { force: true });
  await symlink(target, path);
}

export async function runSeedStage(input: SeedStageInput, deps: { clients: Clients; seed: SeedControl }, io: StageIo): Promise<SeedOutput> {
  const { layout, lab, images } = input;
  const files = seedFiles(layout);
  const bootFiles = join(layout.seedState, 'boot-files');
  await mkdir(bootFiles, { recursive: true });
  await chmod(layout.seedDir, 0o700);
  await link(images.kernel, join(bootFiles, 'deploy.kernel'));
  await link(images.initramfs, join(bootFiles, 'deploy.initramfs'));
  await writeFile(layout.seedConfig, seedConfig(layout, lab, input.port), { mode: 0o600 });

  // Router advertisements need an IPv6 prefix on the seed interface; without them iPXE waits ~13 s per boot.
  const v6 = await deps.clients.command('ip', ['-6', 'addr', 'show', 'dev', lab.seedInterface, 'scope', 'global'], { allowFailure: true, signal: io.signal });
  if (v6.code === 0 && !/inet6 fd/.test(v6.stdout)) {
    const suffix = lab.seedAddress.split('.').slice(2).map((n) => Number(n).toString(16)).join('');
    await deps.clients.command('ip', ['-6', 'addr', 'add', `fd00:b007:${suffix}::1/64`, 'dev', lab.seedInterface, 'nodad'], { allowFailure: true, signal: io.signal });
  }

  if ((await deps.seed.stop(files)) !== 'not running') io.progress('stopped the seed an earlier run started');
  io.progress(`bootstack serve -c ${layout.seedConfig}  (log: ${layout.seedLog})`);
  const started = await deps.seed.start(files, { signal: io.signal });
  io.progress(`the seed (pid ${started.pid}) is serving on ${started.url}`);
  await writeClouds(layout.clouds, { seed: await seedCloudEntry(join(layout.seedState, 'clouds.yaml')) }, layout.dir);

  const c = deps.clients;
  await c.bootstack('seed', ['node', 'import', lab.instackenv], { progress: io.progress, signal: io.signal, timeoutMs: 300_000 });
  const list = async () => c.openstackJson<NodeRow[]>('seed', ['baremetal', 'node', 'list'], { signal: io.signal });
  let nodes = await list();
  const expected = lab.machines.map((m) => m.name).sort();
  const names = nodes.map((n) => n.Name).sort();
  if (expected.some((n) => !names.includes(n))) {
    throw new BootstackError(500, 'enrol_failed', `after the import the seed lists ${names.join(', ') || 'no nodes'}; the lab has ${expected.join(', ')}`);
  }
  const wait = String(input.provideWaitSeconds ?? 900);
  for (const n of nodes.filter((x) => x['Provisioning State'] === 'enroll')) {
    await c.openstack('seed', ['baremetal', 'node', 'manage', '--wait', '300', n.Name], { progress: io.progress, signal: io.signal, timeoutMs: 330_000 });
  }
  nodes = await list();
  const toProvide = nodes.filter((x) => x['Provisioning State'] === 'manageable');
  if (toProvide.length) io.progress(`provide (cleaning by the deploy ramdisk): ${toProvide.map((n) => n.Name).join(', ')}`);
  await Promise.all(
    toProvide.map((n) => c.openstack('seed', ['baremetal', 'node', 'provide', '--wait', wait, n.Name], { progress: io.progress, signal: io.signal, timeoutMs: (Number(wait) + 60) * 1000 })),
  );
  nodes = await list();
  const notReady = nodes.filter((x) => expected.includes(x.Name) && x['Provisioning State'] !== 'available' && x['Provisioning State'] !== 'active');
  if (notReady.length) {
    throw new BootstackError(500, 'enrol_failed', `nodes not available: ${notReady.map((n) => `${n.Name} (${n['Provisioning State']})`).join(', ')}; see \`openstack --os-cloud seed baremetal node show <node>\` and \`bootstack node timeline <node>\``);
  }
  io.progress(`nodes available: ${expected.join(', ')}`);

  const ids: Record<string, string> = {};
  for (const [name, file] of [
    [SAMPLE_IMAGE_NAME, images.sample],
    [UNDERCLOUD_IMAGE_NAME, images.undercloud],
  ] as const) {
    const shown = await c.openstack('seed', ['image', 'show', name, '-f', 'json'], { allowFailure: true, signal: io.signal });
    if (shown.code === 0) {
      const img = JSON.parse(shown.stdout) as { id: string; status: string };
      if (img.status === 'active') {
        io.progress(`image ${name} is there (${img.id})`);
        ids[name] = img.id;
        continue;
      }
      io.progress(`image ${name} is ${img.status}: uploading it again`);
      await c.openstack('seed', ['image', 'delete', img.id], { signal: io.signal });
    }
    io.progress(`openstack image create --disk-format qcow2 --container-format bare --public --file ${file} ${name}`);
    const made = await c.openstackJson<{ id: string }>('seed', ['image', 'create', '--disk-format', 'qcow2', '--container-format', 'bare', '--public', '--file', file, name], { signal: io.signal, timeoutMs: 1_800_000 });
    ids[name] = made.id;
  }
  const adminPassword = (await readFile(join(layout.seedState, 'admin-password'), 'utf8')).trim();
  return { url: started.url, pid: started.pid, state_dir: layout.seedState, config: layout.seedConfig, admin_password: adminPassword, nodes: expected, images: ids };
}
