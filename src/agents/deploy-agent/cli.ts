// The deploy agent's command line. In the deploy ramdisk it takes the seed URL and the one-time
// boot secret from the kernel command line (put there by the per-node iPXE script); flags override
// them for manual runs and tests. In the ramdisk it also brings the network up (DHCP on BOOTIF).
import { readFileSync } from 'node:fs';
import type { AgentIo } from '../common/io.js';
import { runAgent, SessionEndedError } from './agent.js';
import { bringUpNetwork } from './network.js';
import { readUptime, stamp, startStages } from './boot-stages.js';

export const USAGE = `usage: deploy-agent [--api-url URL] [--boot-secret SECRET] [--root DIR] [--macs MAC,...] [--max-commands N] [--network]

Looks this machine up on the seed (by MAC, with the one-time boot secret), then pulls and runs
deploy commands (inspect, erase, write_image, write_config_drive, sync) until powered off.
Defaults come from the kernel command line: bootstack.api=URL bootstack.boot_secret=SECRET.
When started from the kernel command line (or with --network), first brings up DHCP on the
interface named by BOOTIF=<mac> (busybox udhcpc) unless it already has an address.
`;

export function parseCmdline(cmdline: string): { apiUrl?: string; bootSecret?: string; bootMac?: string } {
  const get = (k: string) => cmdline.split(/\s+/).find((w) => w.startsWith(`${k}=`))?.slice(k.length + 1);
  return { apiUrl: get('bootstack.api'), bootSecret: get('bootstack.boot_secret'), bootMac: get('BOOTIF') };
}

const FLAGS = ['--api-url', '--boot-secret', '--root', '--macs', '--max-commands'] as const;

export async function main(argv: string[], io: AgentIo): Promise<number> {
  // First thing: the guest clock now and at the process start (the ramdisk's timeline rows).
  const stages = startStages(process.env, readUptime(), process.uptime());
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      io.stdout(USAGE);
      return 0;
    }
    if (a === '--network') {
      flags[a] = 'yes';
      continue;
    }
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (!(FLAGS as readonly string[]).includes(name) || (inline === undefined && argv[i + 1] === undefined)) {
      io.stderr(`${USAGE}deploy-agent: error: bad argument ${a}\n`);
      return 2;
    }
    flags[name] = inline ?? argv[++i]!;
  }
  let fromKernel: { apiUrl?: string; bootSecret?: string; bootMac?: string } = {};
  if (!flags['--api-url'] || !flags['--boot-secret']) {
    try {
      fromKernel = parseCmdline(readFileSync('/proc/cmdline', 'utf8'));
    } catch {
      // no /proc (not Linux): only flags
    }
  }
  const apiUrl = flags['--api-url'] ?? fromKernel.apiUrl;
  const bootSecret = flags['--boot-secret'] ?? fromKernel.bootSecret;
  if (!apiUrl || !bootSecret) {
    io.stderr('deploy-agent: no seed URL and boot secret: pass --api-url/--boot-secret or boot with bootstack.api= and bootstack.boot_secret=\n');
    return 2;
  }
  const log = (l: string) => io.stderr(`${new Date().toISOString()} ${l}\n`);
  if (flags['--network'] || !flags['--api-url']) {
    const up = await bringUpNetwork({ bootMac: fromKernel.bootMac ?? flags['--macs']?.split(',')[0], root: flags['--root'] ?? '/', log });
    log(`network: ${up.interface} ${up.address}${up.configured ? ' (DHCP)' : ''}`);
    if (stages) stages.network_s = stamp(readUptime());
  }
  const max = flags['--max-commands'];
  try {
    await runAgent({
      apiUrl,
      bootSecret,
      root: flags['--root'] ?? '/',
      macs: flags['--macs']?.split(',').filter(Boolean),
      maxCommands: max === undefined ? undefined : Number(max),
      log,
      stages,
      uptime: stages ? () => readUptime() : undefined,
    });
  } catch (err) {
    if (!(err instanceof SessionEndedError)) throw err;
    // The normal end once the conductor has what it needs (it powers the machine off or reboots it).
    log('the seed ended this session: nothing more to do');
  }
  return 0;
}
