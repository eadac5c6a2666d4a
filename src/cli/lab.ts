// `bootstack lab up|status|console|down`: the virtual bare-metal lab (QEMU machines behind a
// Redfish BMC on a private provisioning network).
import type { Command } from 'commander';
import { dirname } from 'node:path';
import { labConsole, labDown, labStatus, labUp, type UpInput } from '../lab/index.js';
import { formatList, formatShow, parseFormat } from './output.js';

function dirOption(cmd: Command): Command {
  return cmd.option('--dir <path>', 'lab directory (default: $BOOTSTACK_LAB_DIR or ./.lab)');
}

const progress = (msg: string) => process.stderr.write(`lab: ${msg}\n`);

export function registerLab(program: Command): void {
  const lab = program.command('lab').description('virtual bare metal: QEMU machines behind a Redfish BMC on a private network');

  dirOption(
    lab
      .command('up')
      .description('create or converge the lab (idempotent); machines are left powered off for the BMC to drive')
      .option('--nodes <n>', 'number of machines (default 2)')
      .option('--memory <MiB>', 'memory per machine in MiB (default 1024)')
      .option('--cpus <n>', 'vCPUs per machine (default 1)')
      .option('--disk <GiB>', 'disk size per machine in GiB (default 10)')
      .option('--firmware <bios|uefi>', 'SeaBIOS or OVMF (default bios)')
      .option('--accel <auto|kvm|tcg>', 'accelerator; auto boots a test VM under KVM and falls back to TCG (default auto)')
      .option('--cidr <net>', 'provisioning network, private IPv4 (default: a free 10.213.N.0/24)')
      .option('--bmc-host <ip>', 'address the Redfish BMC binds (default 127.0.0.1); "seed" binds the lab\'s seed address, so the machines (an undercloud) reach it too')
      .option('--bmc-port <port>', 'BMC port, 0 = any free port (default 8000)')
      .option('-f, --format <format>', 'output format: table, json, yaml, value', 'table'),
  ).action(async (o: Record<string, string | undefined>) => {
    const format = parseFormat(o.format ?? 'table');
    const input: UpInput = {
      nodes: o.nodes,
      memoryMiB: o.memory,
      cpus: o.cpus,
      diskGiB: o.disk,
      firmware: o.firmware,
      accel: o.accel,
      cidr: o.cidr,
      bmcHost: o.bmcHost,
      bmcPort: o.bmcPort,
    };
    const r = await labUp(input, { dir: o.dir, onProgress: progress });
    process.stdout.write(
      formatShow(
        {
          dir: dirname(r.instackenv),
          created: r.created,
          machines: r.lab.machines.map((m) => m.name).join(', '),
          added: r.added.join(', '),
          removed: r.removed.join(', '),
          accel: r.lab.accel,
          firmware: r.lab.firmware,
          bmc: r.lab.bmc.url,
          bmc_user: r.lab.bmc.username,
          namespace: r.lab.network.namespace,
          bridge: r.lab.network.bridge,
          seed_interface: r.lab.network.seedInterface,
          seed_address: `${r.lab.network.seedAddress}/${r.lab.network.prefixLength}`,
          node_file: r.instackenv,
        },
        format,
      ) + '\n',
    );
  });

  dirOption(
    lab
      .command('status')
      .description("each machine's power state (and why a machine that died is off), the BMC and the network")
      .option('-f, --format <format>', 'output format: table, json, yaml, value', 'table'),
  ).action(async (o: { dir?: string; format: string }) => {
    const format = parseFormat(o.format);
    const st = await labStatus({ dir: o.dir });
    const rows = st.machines.map((m) => ({
      name: m.name,
      power: m.power === 'On' ? `on (${m.qemuStatus ?? 'unknown'})` : 'off',
      reason: m.reason ?? '',
      mac: m.mac,
      system_id: m.systemId,
      pid: m.pid ?? '',
    }));
    if (format === 'json' || format === 'yaml') {
      process.stdout.write(formatShow({ dir: st.dir, bmc: { url: st.lab.bmc.url, ...st.bmc }, network: { ...st.lab.network, present: st.network.namespace }, machines: rows }, format) + '\n');
      return;
    }
    process.stdout.write(formatList(rows, ['name', 'power', 'reason', 'mac', 'system_id', 'pid'], format) + '\n');
    if (format === 'table') {
      process.stdout.write(
        `BMC ${st.lab.bmc.url}: ${st.bmc.answers ? 'answering' : st.bmc.running ? 'running, not answering' : 'not running (run `bootstack lab up`)'}; ` +
          `network ${st.lab.network.cidr} in namespace ${st.lab.network.namespace}${st.network.namespace ? '' : ' (missing)'}\n`,
      );
    }
  });

  dirOption(
    lab
      .command('console <node>')
      .description("print a machine's serial console log")
      .option('--follow', 'keep printing what arrives (Ctrl-C to stop)'),
  ).action(async (node: string, o: { dir?: string; follow?: boolean }) => {
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    await labConsole(node, (c) => process.stdout.write(c), { dir: o.dir, follow: o.follow, signal: ac.signal });
  });

  dirOption(lab.command('down').description('stop every machine and the BMC, remove the network and the files the lab made')).action(
    async (o: { dir?: string }) => {
      const r = await labDown({ dir: o.dir, onProgress: progress });
      process.stdout.write(r.removed ? `lab in ${r.dir} removed (${r.machines.join(', ') || 'no machines'})\n` : `no lab in ${r.dir}\n`);
    },
  );
}
