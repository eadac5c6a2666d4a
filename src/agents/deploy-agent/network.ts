// Brings up the provisioning network in the ramdisk: the interface we booted from (BOOTIF on the
// kernel command line, else the first physical one with a carrier) gets an address by DHCP with
// busybox udhcpc, unless it already has one. Debian's kernel has no ip=dhcp autoconfiguration,
// so the agent does it itself and the ramdisk's init only needs to start us.
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandExists, run } from '../../common/child-process.js';
import { readInterfaces } from './inspect.js';

export interface NetworkUp {
  interface: string;
  address: string;
  /** False when the interface already had an address. */
  configured: boolean;
}

// udhcpc calls this on each event; "bound" and "renew" carry the lease in the environment.
const HOOK = `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$router" ]; then ip route replace default via "\${router%% *}" dev "$interface"; fi
    echo "BOUND $ip" ;;
esac
exit 0
`;

async function ipv4Of(iface: string): Promise<string | undefined> {
  const r = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', iface], { allowFailure: true });
  return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1];
}

export async function bringUpNetwork(o: { bootMac?: string; root?: string; timeoutS?: number; log?: (l: string) => void } = {}): Promise<NetworkUp> {
  const log = o.log ?? (() => undefined);
  const nics = await readInterfaces(o.root ?? '/');
  const want = o.bootMac?.toLowerCase().replace(/-/g, ':').replace(/^01:(?=(..:){5}..$)/, '');
  const nic = want ? nics.find((n) => n.mac_address === want) : (nics.find((n) => n.physical && n.has_carrier) ?? nics.find((n) => n.physical));
  if (!nic) throw new Error(want ? `no interface has the boot MAC ${want}` : 'no network interface found');
  await run('ip', ['link', 'set', nic.name, 'up'], { timeoutMs: 10_000 });
  const existing = await ipv4Of(nic.name);
  if (existing) return { interface: nic.name, address: existing, configured: false };
  const [cmd, pre] = (await commandExists('udhcpc')) ? ['udhcpc', []] : ['busybox', ['udhcpc']];
  const dir = await mkdtemp(join(tmpdir(), 'deploy-agent-dhcp-'));
  try {
    await writeFile(join(dir, 'hook'), HOOK);
    await chmod(join(dir, 'hook'), 0o755);
    const tries = Math.max(1, Math.ceil((o.timeoutS ?? 60) / 2));
    log(`DHCP on ${nic.name} (${nic.mac_address})`);
    const r = await run(cmd, [...pre, '-i', nic.name, '-f', '-q', '-n', '-t', String(tries), '-T', '2', '-s', join(dir, 'hook')], {
      allowFailure: true,
      timeoutMs: ((o.timeoutS ?? 60) + 10) * 1000,
    });
    const bound = /BOUND (\S+)/.exec(r.stdout)?.[1];
    if (!bound) throw new Error(`no DHCP lease on ${nic.name} (${nic.mac_address}): ${(r.stdout + r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
    return { interface: nic.name, address: bound, configured: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
