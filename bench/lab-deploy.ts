// Deploy time on the lab, by phase, against the floor. N QEMU machines (TCG here) behind the lab's
// Redfish BMC are deployed at once by an in-process seed (dnsmasq, iPXE, the image builder's deploy
// ramdisk with the Node agent) with the Debian sample image (raw, so no qcow2 conversion is timed)
// and a config drive; each is followed until its console shows the login prompt with its hostname.
// Phases come from the node's timeline (history rows with their times) and the console:
//   power-on → first DHCP → agent lookup (ramdisk up) → image written (MB/s) → reboot → login prompt.
// Inside "ramdisk up", the ramdisk's own start on the guest clock (the agent's report with its
// lookup): kernel → init → agent started → agent loaded → network up → lookup, seconds per step.
// The floor is the same image booted directly in QEMU to its login prompt plus the time to write it
// to a qcow2 disk on the host (qemu-img convert + fsync): what any deploy must at least spend.
// `npm run bench -- lab-deploy [--nodes N] [--memory MiB] [--firmware bios|uefi]`
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp, LabPaths, readBmcPassword } from '../src/lab/index.js';
import { run } from '../src/common/child-process.js';
import { bootUntilMarker } from '../test/support/image-builder/qemu-boot.js';
import { ensureDemoImages } from '../src/image-builder/demo-images.js';
import { startSeed } from '../test/support/seed.js';
import { option } from './support/args.js';
import { parseRamdiskStagesRow } from '../src/common/ramdisk-stages.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row {
  event: string;
  created_at: string;
}

export default async function bench(args: string[]) {
  const nodes = Number(option(args, '--nodes', '1'));
  const memoryMiB = Number(option(args, '--memory', '1024'));
  const firmware = option(args, '--firmware', 'bios') as 'bios' | 'uefi';
  const dir = await mkdtemp(join(tmpdir(), 'bench-lab-deploy-'));
  const labDir = join(dir, 'lab');
  try {
    const images = await ensureDemoImages();
    const imageBytes = (await stat(images.raw)).size;

    // The floor: boot the image directly, and write it to a fresh qcow2 on the host.
    const direct = await bootUntilMarker({ firmware, disk: { path: images.raw, format: 'raw' }, marker: /login:/, timeoutMs: 600_000, memoryMiB });
    if (!direct.found) throw new Error(`the sample image did not reach a login prompt when booted directly:\n${direct.console.slice(-2000)}`);
    const writeStart = Date.now();
    await run('sh', ['-c', `qemu-img convert -f raw -O qcow2 "${images.raw}" "${dir}/floor.qcow2" && sync -f "${dir}/floor.qcow2"`], { timeoutMs: 600_000 });
    const floorWriteS = (Date.now() - writeStart) / 1000;
    await rm(join(dir, 'floor.qcow2'));
    const floorS = direct.seconds + floorWriteS;

    const { lab } = await labUp({ nodes, memoryMiB, diskGiB: Math.ceil(imageBytes / 1024 / MiB) + 2, accel: 'tcg', firmware, bmcPort: 0 }, { dir: labDir });
    const net = lab.network;
    const files = join(dir, 'files');
    await mkdir(files);
    await symlink(images.kernel, join(files, 'deploy.kernel'));
    await symlink(images.initramfs, join(files, 'deploy.initramfs'));
    const [a, b, c] = net.seedAddress.split('.');
    const seed = await startSeed({
      listen: { host: net.seedAddress, port: 0 },
      log: { level: 'warn' },
      baremetal: { conductor: { host: 'bench', check_interval: 0.5, sync_power_state_interval: 0, deploy_callback_timeout: 1800 } },
      boot: { files_dir: files, dnsmasq: { enabled: true, interface: net.seedInterface, range_start: `${a}.${b}.${c}.100`, range_end: `${a}.${b}.${c}.199` } },
    });
    try {
      const token = await seed.token();
      const api = (method: string, path: string, body?: unknown) => seed.call(method, `/baremetal/v1${path}`, { token, body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
      const created = await seed.call('POST', '/image/v2/images', { token, body: { name: 'sample', disk_format: 'raw', container_format: 'bare' } });
      const upload = await fetch(`${seed.url}/image/v2/images/${created.body.id}/file`, {
        method: 'PUT',
        headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' },
        body: (await import('node:fs')).createReadStream(images.raw) as never,
        duplex: 'half',
      } as RequestInit);
      if (upload.status !== 204) throw new Error(`image upload: HTTP ${upload.status}`);

      const password = await readBmcPassword(new LabPaths(labDir));
      const ids: string[] = [];
      for (const m of lab.machines) {
        const n = await api('POST', '/nodes', {
          name: m.name,
          driver: 'redfish',
          driver_info: { redfish_address: lab.bmc.url, redfish_username: lab.bmc.username, redfish_password: password, redfish_system_id: m.systemId },
          automated_clean: false,
          properties: { root_device: { name: 'vda' } },
        });
        if (n.status !== 201) throw new Error(`node create: ${JSON.stringify(n.body)}`);
        ids.push(n.body.uuid as string);
        await api('POST', '/ports', { node_uuid: n.body.uuid, address: m.mac });
      }
      const waitAll = async (until: (n: Record<string, unknown>) => boolean, failed: (n: Record<string, unknown>) => boolean) => {
        for (;;) {
          const all = await Promise.all(ids.map(async (id) => (await api('GET', `/nodes/${id}`)).body as Record<string, unknown>));
          const bad = all.find(failed);
          if (bad) throw new Error(`${String(bad.name)}: ${String(bad.provision_state)}: ${String(bad.last_error)}`);
          if (all.every(until)) return;
          await sleep(500);
        }
      };
      for (const id of ids) await api('PUT', `/nodes/${id}/states/provision`, { target: 'manage' });
      await waitAll((n) => n.provision_state === 'manageable', (n) => n.provision_state === 'enroll' && Boolean(n.last_error));
      for (const id of ids) await api('PUT', `/nodes/${id}/states/provision`, { target: 'provide' });
      await waitAll((n) => n.provision_state === 'available', (n) => n.provision_state === 'clean failed');

      const t0 = Date.now();
      for (const [i, id] of ids.entries()) {
        const name = lab.machines[i]!.name;
        await api('PATCH', `/nodes/${id}`, [{ op: 'add', path: '/instance_info/image_source', value: created.body.id }]);
        const r = await api('PUT', `/nodes/${id}/states/provision`, { target: 'active', configdrive: { meta_data: { hostname: name, public_keys: { bench: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchOnlyKeyBenchOnlyKeyBenchOnlyKey bench' } } } });
        if (r.status !== 202) throw new Error(`deploy ${name}: ${JSON.stringify(r.body)}`);
      }
      // Each machine's login prompt, seen on its console.
      const upAt = new Map<string, number>();
      const paths = new LabPaths(labDir);
      const deadline = Date.now() + 3_600_000;
      while (upAt.size < nodes && Date.now() < deadline) {
        for (const m of lab.machines) {
          if (upAt.has(m.name)) continue;
          const text = await readFile(paths.console(m.name), 'utf8').catch(() => '');
          if (new RegExp(`${m.name} login:`).test(text)) upAt.set(m.name, Date.now());
        }
        const failed = (await Promise.all(ids.map(async (id) => (await api('GET', `/nodes/${id}`)).body as Record<string, unknown>))).find((n) => n.provision_state === 'deploy failed');
        if (failed) throw new Error(`${String(failed.name)}: deploy failed: ${String(failed.last_error)}`);
        await sleep(500);
      }
      const totalS = (Date.now() - t0) / 1000;

      const perNode = [];
      let seedSentBytes = 0;
      for (const [i, id] of ids.entries()) {
        const name = lab.machines[i]!.name;
        const rows = ((await api('GET', `/nodes/${id}/history`)).body.history as Row[]).filter((r) => Date.parse(r.created_at) >= t0 - 1000);
        const at = (re: RegExp) => {
          const row = rows.find((r) => re.test(r.event));
          return row ? (Date.parse(row.created_at) - t0) / 1000 : null;
        };
        for (const r of rows) {
          // A sparse fetch's row names the image's size first, then what was sent.
          const m = /sparse: ([\d.]+) MiB sent/.exec(r.event) ?? /fetched: ([\d.]+) MiB/.exec(r.event);
          if (m) seedSentBytes += Number(m[1]) * MiB;
        }
        const write = rows.find((r) => /write_image succeeded/.test(r.event))?.event ?? '';
        perNode.push({
          name,
          power_on_s: at(/^powered on/),
          first_dhcp_s: at(/^DHCP /),
          ramdisk_up_s: at(/^deploy agent looked up/),
          // Seconds per step since the previous one (null: the agent reported none).
          ramdisk_stages_s: parseRamdiskStagesRow(rows.find((r) => r.event.startsWith('ramdisk (guest clock): '))?.event ?? '') ?? null,
          image_written_s: at(/^agent command write_image succeeded/),
          write_mb_per_s: Number(/\(([\d.]+) MB\/s\)/.exec(write)?.[1] ?? NaN),
          reboot_s: at(/^rebooting into the deployed image/),
          active_s: at(/-> active/),
          first_contact_s: at(/first contact/),
          login_prompt_s: upAt.has(name) ? (upAt.get(name)! - t0) / 1000 : null,
          // The fetches (image: bytes sent, sparse or full) and the write's own report, as logged.
          transfer_events: rows.filter((r) => /fetched|write_image succeeded/.test(r.event)).map((r) => `${((Date.parse(r.created_at) - t0) / 1000).toFixed(1)} s ${r.event}`),
        });
      }
      const oneNodeS = perNode[0]?.login_prompt_s ?? null;
      return {
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 1024 ** 3), accel: 'tcg', firmware },
        nodes,
        node_memory_mib: memoryMiB,
        image_bytes: imageBytes,
        floor: { direct_boot_to_login_s: direct.seconds, write_to_host_qcow2_s: floorWriteS, total_s: floorS },
        total_s: totalS,
        ratio_to_floor: oneNodeS ? Number((totalS / floorS).toFixed(2)) : null,
        seed_sent_bytes: Math.round(seedSentBytes),
        per_node: perNode,
      };
    } finally {
      await seed.stop();
    }
  } finally {
    await labDown({ dir: labDir }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
