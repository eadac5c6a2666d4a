// `npm run bench -- lab [--requests N]`: lab up time (1 and 4 machines), BMC request latency
// p50/p99, memory per idle machine, power-on to first DHCP request (BIOS and UEFI under TCG; KVM
// only when the boot test says KVM works). Needs root and the lab's Debian packages.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labStatus, labUp, listenForDhcp, readBmcPassword, LabPaths, type Firmware, type LabRecord } from '../src/lab/index.js';
import { probeKvm } from '../src/lab/accel.js';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (n: number) => Math.round(n * 100) / 100;

async function withLab<T>(input: Parameters<typeof labUp>[0], fn: (lab: LabRecord, dir: string, upMs: number) => Promise<T>): Promise<T> {
  const parent = await mkdtemp(join(tmpdir(), 'bootstack-bench-lab-'));
  const dir = join(parent, 'lab');
  try {
    const t0 = performance.now();
    const { lab } = await labUp({ memoryMiB: 256, diskGiB: 1, bmcPort: 0, ...input }, { dir });
    return await fn(lab, dir, performance.now() - t0);
  } finally {
    await labDown({ dir }).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
}

async function client(lab: LabRecord, dir: string) {
  const password = await readBmcPassword(new LabPaths(dir));
  const headers = { authorization: 'Basic ' + Buffer.from(`${lab.bmc.username}:${password}`).toString('base64'), 'content-type': 'application/json' };
  return (method: string, path: string, body?: unknown) =>
    fetch(`${lab.bmc.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => {
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r;
    });
}

async function latency(call: Awaited<ReturnType<typeof client>>, path: string, n: number) {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await call('GET', path)).arrayBuffer();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { requests: n, p50_ms: round(pct(times, 50)), p99_ms: round(pct(times, 99)), max_ms: round(times[times.length - 1]!) };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return round(kb / 1024);
}

async function dhcpTime(firmware: Firmware, accel: 'tcg' | 'kvm') {
  return withLab({ nodes: 1, firmware, accel }, async (lab, dir) => {
    const call = await client(lab, dir);
    const m = lab.machines[0]!;
    const sys = `/redfish/v1/Systems/${m.systemId}`;
    await call('PATCH', sys, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } });
    const listener = listenForDhcp(lab, 120, m.mac);
    await listener.ready;
    const t0 = Date.now();
    await call('POST', `${sys}/Actions/ComputerSystem.Reset`, { ResetType: 'On' });
    const dhcp = await listener.message;
    return { firmware, accel, power_on_to_dhcp_ms: dhcp.receivedAt - t0 };
  });
}

export default async function bench(args: string[]): Promise<Record<string, unknown>> {
  const n = Number(args[args.indexOf('--requests') + 1] ?? 0) || 500;
  const result: Record<string, unknown> = {};

  const probeStart = performance.now();
  const verdict = await probeKvm();
  result.accel_probe = { ...verdict, ms: Math.round(performance.now() - probeStart) };

  result.up_1_machine_ms = await withLab({ nodes: 1, accel: 'tcg' }, async (_l, _d, ms) => Math.round(ms));
  result.up_4_machines_ms = await withLab({ nodes: 4, accel: 'tcg' }, async (lab, dir, ms) => {
    // A second `up` on an existing lab only converges.
    const t = performance.now();
    await labUp({}, { dir });
    result.up_again_4_machines_ms = Math.round(performance.now() - t);

    const call = await client(lab, dir);
    const [m0, m1] = lab.machines as [LabRecord['machines'][0], LabRecord['machines'][0]];
    result.bmc_get_system_off = await latency(call, `/redfish/v1/Systems/${m0.systemId}`, n);
    await call('POST', `/redfish/v1/Systems/${m1.systemId}/Actions/ComputerSystem.Reset`, { ResetType: 'On' });
    result.bmc_get_system_on = await latency(call, `/redfish/v1/Systems/${m1.systemId}`, n);
    result.bmc_get_systems_collection = await latency(call, '/redfish/v1/Systems', n);
    return Math.round(ms);
  });

  // Idle: powered on, no boot target answering (iPXE keeps retrying DHCP, nothing else runs).
  result.memory_per_idle_machine = [];
  for (const memoryMiB of [256, 1024]) {
    const row = await withLab({ nodes: 1, accel: 'tcg', memoryMiB }, async (lab, dir) => {
      const call = await client(lab, dir);
      await call('POST', `/redfish/v1/Systems/${lab.machines[0]!.systemId}/Actions/ComputerSystem.Reset`, { ResetType: 'On' });
      await new Promise((r) => setTimeout(r, 15000));
      const pid = (await labStatus({ dir })).machines[0]!.pid!;
      return { guest_memory_mib: memoryMiB, qemu_rss_mib: await rssMiB(pid) };
    });
    (result.memory_per_idle_machine as unknown[]).push(row);
  }

  const dhcp: unknown[] = [];
  for (const firmware of ['bios', 'uefi'] as const) dhcp.push(await dhcpTime(firmware, 'tcg'));
  if (verdict.accel === 'kvm') for (const firmware of ['bios', 'uefi'] as const) dhcp.push(await dhcpTime(firmware, 'kvm'));
  else dhcp.push({ accel: 'kvm', skipped: `KVM cannot boot firmware on this host: ${verdict.reason}` });
  result.power_on_to_first_dhcp = dhcp;
  return result;
}
