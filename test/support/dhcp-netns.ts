// A provisioning network in miniature for tests: two network namespaces joined by a veth pair,
// our supervised dnsmasq on the server end, the client end free for a DHCP client (busybox udhcpc
// or the deploy agent). Unique names, so it can run next to other tests; stop() removes it all.
// createNetnsPair() is the network alone, for tests whose seed runs its own dnsmasq there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { run } from '../../src/common/child-process.js';
import { renderDnsmasqConfig } from '../../src/boot/dnsmasq-config.js';
import { DnsmasqSupervisor } from '../../src/boot/dnsmasq-supervisor.js';
import { DhcpHostsDir } from '../../src/boot/dhcp-hosts.js';
import type { DnsmasqEvent } from '../../src/boot/dnsmasq-log.js';
import { dnsmasqConfigSchema } from '../../src/boot/config.js';

export interface DhcpNetns {
  dir: string;
  srvNs: string;
  cliNs: string;
  srvIf: string;
  cliIf: string;
  /** First three octets of the /24, e.g. "10.231.17". */
  subnet: string;
  ipxeScriptUrl: string;
  hosts: DhcpHostsDir;
  supervisor: DnsmasqSupervisor;
  events: DnsmasqEvent[];
  ip(...args: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** Two namespaces joined by a veth pair, the server end up with `<subnet>.1/24`; nothing runs in them. */
export interface NetnsPair {
  /** The random part of the names (6 hex digits). */
  id: string;
  srvNs: string;
  cliNs: string;
  srvIf: string;
  cliIf: string;
  /** First three octets of the /24, e.g. "10.231.17". */
  subnet: string;
  ip(...args: string[]): Promise<void>;
  /** Deletes both namespaces (and with them the veth pair). */
  remove(): Promise<void>;
}

/** Namespaces "bs-<prefix>-s-<id>" and "bs-<prefix>-c-<id>", joined by a veth pair; the client end is left down. */
export async function createNetnsPair(prefix: string): Promise<NetnsPair> {
  const id = randomBytes(3).toString('hex');
  const srvNs = `bs-${prefix}-s-${id}`;
  const cliNs = `bs-${prefix}-c-${id}`;
  const srvIf = `bss${id}`;
  const cliIf = `bsc${id}`;
  const subnet = `10.${200 + (parseInt(id.slice(0, 2), 16) % 50)}.${parseInt(id.slice(2, 4), 16)}`;
  const ip = async (...args: string[]) => {
    await run('ip', args, { timeoutMs: 10_000 });
  };
  const remove = async () => {
    await run('ip', ['netns', 'del', srvNs], { allowFailure: true });
    await run('ip', ['netns', 'del', cliNs], { allowFailure: true });
  };
  try {
    await ip('netns', 'add', srvNs);
    await ip('netns', 'add', cliNs);
    await ip('link', 'add', srvIf, 'type', 'veth', 'peer', 'name', cliIf);
    await ip('link', 'set', srvIf, 'netns', srvNs);
    await ip('link', 'set', cliIf, 'netns', cliNs);
    await ip('-n', srvNs, 'addr', 'add', `${subnet}.1/24`, 'dev', srvIf);
    await ip('-n', srvNs, 'link', 'set', srvIf, 'up');
  } catch (err) {
    await remove();
    throw err;
  }
  return { id, srvNs, cliNs, srvIf, cliIf, subnet, ip, remove };
}

export async function startDhcpNetns(prefix: string): Promise<DhcpNetns> {
  const pair = await createNetnsPair(prefix);
  const { id, srvNs, cliNs, srvIf, cliIf, subnet, ip } = pair;
  const abort = new AbortController();
  const events: DnsmasqEvent[] = [];
  let dir: string | undefined;
  let running: Promise<void> | undefined;
  const stop = async () => {
    abort.abort();
    await running?.catch(() => undefined);
    await pair.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    dir = await mkdtemp(join(tmpdir(), `bootstack-${prefix}-`));
    await ip('-n', srvNs, '-6', 'addr', 'add', `fd00:b007:${id.slice(0, 4)}::1/64`, 'dev', srvIf, 'nodad');
    await ip('-n', srvNs, 'link', 'set', 'lo', 'up');
    await ip('-n', cliNs, 'link', 'set', 'lo', 'up');
    await ip('-n', cliNs, 'link', 'set', cliIf, 'up');
    // Removals SIGHUP the supervisor created just below (the callback runs only later).
    const hosts = new DhcpHostsDir(join(dir, 'hosts'), () => supervisor.reload());
    await hosts.init();
    const ipxeScriptUrl = `http://${subnet}.1:6385/boot/boot.ipxe`;
    const settings = dnsmasqConfigSchema.parse({ enabled: true, interface: srvIf, range_start: `${subnet}.50`, range_end: `${subnet}.99`, lease_time: '10m' });
    const supervisor: DnsmasqSupervisor = new DnsmasqSupervisor({
      workDir: dir,
      config: renderDnsmasqConfig(settings, { hostsDir: hosts.dir, leaseFile: join(dir, 'leases'), ipxeScriptUrl }),
      netns: srvNs,
      log: pino({ level: process.env.DEBUG_DNSMASQ ? 'debug' : 'silent' }),
      onEvent: (e) => events.push(e),
      backoffMs: 200,
    });
    running = supervisor.start(abort.signal);
    await supervisor.waitReady();
    return { dir, srvNs, cliNs, srvIf, cliIf, subnet, ipxeScriptUrl, hosts, supervisor, events, ip, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
