// A lab machine deployed by the REAL seed, the parts the lab deploy tests share: one TCG lab
// machine (SeaBIOS, Redfish BMC) with the seed listening on the lab network and running dnsmasq
// there, a baremetal API client whose waits show the machine's console when they time out, a
// Redfish node enrolled to "available", the QEMU disk read back after power-off, and the config
// drive check. Each test keeps its own deploy steps and assertions.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, readBmcPassword, LabPaths } from '../../src/lab/index.js';
import { run } from '../../src/common/child-process.js';
import { startSeed, type TestSeed } from './seed.js';

type Node = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Lab = Awaited<ReturnType<typeof labUp>>['lab'];
type Machine = Lab['machines'][number];

export interface LabSeed {
  lab: Lab;
  labDir: string;
  seed: TestSeed;
}

/**
 * Lab up under <dir>/lab (`machines`, default one), then the seed on the lab network serving `filesDir`
 * (deploy.kernel, deploy.initramfs) with dnsmasq on the seed's interface. The caller stops the seed.
 */
export async function startLabSeed(dir: string, o: { memoryMiB: number; diskGiB: number; conductorHost: string; filesDir: string; metadata?: boolean; machines?: number }): Promise<LabSeed> {
  const labDir = join(dir, 'lab');
  const { lab } = await labUp({ nodes: o.machines ?? 1, memoryMiB: o.memoryMiB, diskGiB: o.diskGiB, accel: 'tcg', firmware: 'bios', bmcPort: 0 }, { dir: labDir });
  const net = lab.network;
  // Router advertisements need an IPv6 prefix on the interface (without them iPXE waits ~13 s).
  await run('ip', ['-6', 'addr', 'add', `fd00:b007:${randomBytes(2).toString('hex')}::1/64`, 'dev', net.seedInterface, 'nodad']);
  const [a, b, c] = net.seedAddress.split('.');
  const seed = await startSeed({
    listen: { host: net.seedAddress, port: 0 },
    baremetal: { conductor: { host: o.conductorHost, check_interval: 0.5, sync_power_state_interval: 0, deploy_callback_timeout: 400 } },
    boot: {
      files_dir: o.filesDir,
      dnsmasq: { enabled: true, interface: net.seedInterface, range_start: `${a}.${b}.${c}.100`, range_end: `${a}.${b}.${c}.150` },
    },
    // The metadata service takes 169.254.169.254:80 on this host: one seed at a time may have it.
    ...(o.metadata ? { metadata: { enabled: true } } : {}),
  });
  return { lab, labDir, seed };
}

/** The baremetal API of a lab seed, for its one machine. */
export class LabNodes {
  readonly machine: Machine;

  constructor(
    readonly ls: LabSeed,
    readonly token: string,
  ) {
    this.machine = ls.lab.machines[0]!;
  }

  api(method: string, path: string, body?: unknown) {
    return this.ls.seed.call(method, `/baremetal/v1${path}`, { token: this.token, body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
  }

  /** The serial console so far of the lab's machine `index` ('' before it has one). */
  consoleLog(index = 0): Promise<string> {
    return readFile(join(new LabPaths(this.ls.labDir).machineDir(this.ls.lab.machines[index]!.name), 'console.log'), 'utf8').catch(() => '');
  }

  /** Polls the node until `until` holds; past `ms`, fails with its state and the console's end. */
  async waitNode(id: string, until: (n: Node) => boolean, ms: number): Promise<Node> {
    const end = Date.now() + ms;
    for (;;) {
      const n = (await this.api('GET', `/nodes/${id}`)).body;
      if (until(n)) return n;
      if (Date.now() > end) throw new Error(`node stuck in ${n.provision_state}: ${n.last_error}\nconsole:\n${(await this.consoleLog()).slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * A Redfish node "lab-<index>" for the lab's machine `index` (its BMC, basic auth, no automated
   * clean) with `extra` fields (instance_info, properties), a port for its MAC, taken to
   * "available". Returns the node as created.
   */
  async availableNode(extra: Record<string, unknown>, index = 0): Promise<Node> {
    const { lab, labDir } = this.ls;
    const m = lab.machines[index]!;
    const password = await readBmcPassword(new LabPaths(labDir));
    const node = await this.api('POST', '/nodes', {
      name: `lab-${index}`,
      driver: 'redfish',
      driver_info: { redfish_address: lab.bmc.url, redfish_username: lab.bmc.username, redfish_password: password, redfish_system_id: m.systemId, redfish_auth_type: 'basic' },
      automated_clean: false,
      ...extra,
    });
    assert.equal(node.status, 201, JSON.stringify(node.body));
    const id = node.body.uuid as string;
    assert.equal((await this.api('POST', '/ports', { node_uuid: id, address: m.mac })).status, 201);
    await this.api('PUT', `/nodes/${id}/states/provision`, { target: 'manage' });
    await this.waitNode(id, (n) => n.provision_state === 'manageable', 60_000);
    await this.api('PUT', `/nodes/${id}/states/provision`, { target: 'provide' });
    await this.waitNode(id, (n) => n.provision_state === 'available', 60_000);
    return node.body;
  }

  /** Powers the node off and converts the machine's QEMU disk to the raw file `out`. */
  async diskAfterPowerOff(id: string, out: string, timeoutMs: number): Promise<string> {
    await this.api('PUT', `/nodes/${id}/states/power`, { target: 'power off' });
    await this.waitNode(id, (n) => n.power_state === 'power off' && !n.target_power_state, 60_000);
    await run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', new LabPaths(this.ls.labDir).disk(this.machine.name), out], { timeoutMs });
    return out;
  }
}

/** The disk's last partition is a config-2 FAT whose meta_data.json has the hostname and the key. */
export async function assertConfigDrive(disk: string, hostname: string, key: string): Promise<void> {
  const parts = JSON.parse((await run('sfdisk', ['--json', disk])).stdout).partitiontable.partitions as Array<{ start: number; size: number }>;
  const offset = parts.at(-1)!.start * 512;
  assert.match((await run('blkid', ['-p', '-O', String(offset), '-o', 'export', disk])).stdout, /^LABEL=config-2$/m);
  const meta = JSON.parse((await run('mtype', ['-i', `${disk}@@${offset}`, '::openstack/latest/meta_data.json'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } })).stdout);
  assert.equal(meta.hostname, hostname);
  assert.deepEqual(meta.public_keys, { default: key });
}

/** For after(): stops the seeds still running, then takes down each dir's lab and removes the dir. */
export async function cleanUpLabs(seeds: TestSeed[], dirs: string[]): Promise<void> {
  for (const s of seeds) await s.stop().catch(() => undefined);
  for (const dir of dirs) {
    await labDown({ dir: join(dir, 'lab') }).catch((err: unknown) => console.error('lab down failed', err));
    await rm(dir, { recursive: true, force: true });
  }
}
