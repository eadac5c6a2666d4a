// The boot service: DHCP/ProxyDHCP/TFTP through a supervised dnsmasq, iPXE scripts and the deploy
// kernel/ramdisk over HTTP, and the deploy agent's pull API, all under /boot.
import { join, resolve } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { run } from '../common/child-process.js';
import { ConfigError } from '../common/errors.js';
import type { ApiService, ServiceContext } from '../common/service.js';
import type { BootConfig } from './config.js';
import { BootEventBus } from './boot-events.js';
import { BootManager } from './boot-manager.js';
import { BootSecrets, DbBootSecretStore } from './boot-secrets.js';
import { MemoryDeployCommands } from './deploy-commands.js';
import { migrations, typed } from './db.js';
import { DbBootStore, DbDeployStateStore } from './deploy-store.js';
import { DhcpHostsDir, type HostReservations } from './dhcp-hosts.js';
import { renderDnsmasqConfig } from './dnsmasq-config.js';
import { DnsmasqSupervisor } from './dnsmasq-supervisor.js';
import { bootRoutes, type DeployImageSource } from './routes.js';
import { RawCache } from './raw-cache.js';
import { FetchLimiter, clientAddress, leaseMs } from './address-binding.js';

export type { DeployImageSource } from './routes.js';

export interface BootService extends ApiService {
  manager: BootManager;
  events: BootEventBus;
  /** Present once start() runs with dnsmasq enabled. */
  dnsmasq?: DnsmasqSupervisor;
  /** The server connects the image service here so /boot/images/{token} can serve deploy images. */
  setImageSource(source: DeployImageSource): void;
  /** qcow2 images converted to raw for the agent (<state_dir>/boot/raw-cache). */
  rawCache: RawCache;
  /** Where the deploy kernel and ramdisk are (boot.files_dir); a pivot moves its files. */
  filesDir: string;
  /**
   * The MAC our dnsmasq leased `ip` to (from its DHCPACKs, else its lease file after a restart),
   * while the lease lasts; undefined when we gave that address to no one (or in ProxyDHCP mode).
   */
  leaseOf(ip: string): Promise<{ mac: string } | undefined>;
  /**
   * Asks for a /32 route to `host` via the seed's provisioning address in every DHCP answer
   * (option 121/249; full DHCP mode only). Call before start().
   */
  routeHost(host: string): void;
  /**
   * Fixed addresses for MACs, merged into dnsmasq's hosts directory (the network service's bound
   * ports on the provisioning network); undefined when dnsmasq is not enabled.
   */
  reservations?: HostReservations;
}

export const HEARTBEAT_INTERVAL_S = 10;

export function createBootService(ctx: ServiceContext, config: BootConfig): BootService {
  const workDir = join(ctx.stateDir, 'boot');
  const filesDir = resolve(config.files_dir ?? join(workDir, 'files'));
  const events = new BootEventBus();
  // Which MAC an address belongs to, for the timeline (TFTP lines name only the address). Bounded:
  // script fetches from any address add to it.
  const ipToMac = new Map<string, string>();
  const learnIp = (ip: string, mac: string) => {
    ipToMac.delete(ip);
    ipToMac.set(ip, mac);
    if (ipToMac.size > 4096) ipToMac.delete(ipToMac.keys().next().value!);
  };
  // Addresses our dnsmasq ACKed (not INFORMs, not script fetches): what the metadata service
  // identifies a caller by. Bounded like ipToMac; the lease file covers what a restart forgot.
  const acked = new Map<string, { mac: string; at: number }>();
  const learnLease = (ip: string, mac: string, at: Date) => {
    acked.delete(ip);
    acked.set(ip, { mac: mac.toLowerCase(), at: at.getTime() });
    if (acked.size > 4096) acked.delete(acked.keys().next().value!);
  };
  const leaseFile = join(workDir, 'dnsmasq.leases');
  const routedHosts: string[] = [];
  // Transactions that were DHCPINFORMs: dnsmasq ACKs an INFORM naming any MAC in its payload
  // with the sender's own address, which is no lease and must not bind a boot.
  const informs = new Set<string>();
  let supervisor: DnsmasqSupervisor | undefined;
  let imageSource: DeployImageSource | undefined;
  const hostsDir = config.dnsmasq.enabled ? new DhcpHostsDir(join(workDir, 'hosts'), () => supervisor?.reload()) : undefined;
  const rawCache = new RawCache({
    dir: join(workDir, 'raw-cache'),
    maxBytes: config.raw_cache_max_gib * 1024 ** 3,
    maxVirtualBytes: config.image_max_virtual_gib * 1024 ** 3,
    warn: (msg, fields) => ctx.log.warn(fields ?? {}, msg),
  });
  const baseUrl = () => (config.http_url ?? ctx.publicUrl()).replace(/\/$/, '') + (config.http_url ? '' : '/boot');
  const db = typed(ctx.db);
  const storeError = (err: unknown) => ctx.log.error({ err }, 'boot: writing deploy state to the database failed');
  const commands = new MemoryDeployCommands({
    onStoreError: storeError,
    onStarted: (c) => events.emit({ kind: 'command_started', at: c.startedAt ?? new Date(), nodeId: c.nodeId, detail: { id: c.id, name: c.name } }),
    onFinished: (c) =>
      events.emit({
        kind: 'command_finished',
        at: c.finishedAt ?? new Date(),
        nodeId: c.nodeId,
        detail: { id: c.id, name: c.name, status: c.status, error: c.error, result: c.result },
      }),
  }, new DbDeployStateStore(db));
  const manager = new BootManager({
    store: new DbBootStore(db),
    onStoreError: storeError,
    hostsDir,
    secrets: new BootSecrets(new DbBootSecretStore(db), config.boot_secret_ttl_s * 1000),
    commands,
    events,
    baseUrl,
    kernel: config.kernel,
    ramdisk: config.ramdisk,
    kernelArgs: config.kernel_args,
    // Leases to bind to only when our dnsmasq hands out the addresses.
    leases: config.dnsmasq.enabled && config.dnsmasq.mode === 'dhcp' ? { leaseMs: leaseMs(config.dnsmasq.lease_time) } : undefined,
    scriptRetryMs: config.script_retry_s * 1000,
  });
  // Who asked for which script and what they got goes on the node's timeline (baremetal); the
  // seed's log gets the refusals and every fetch that carried a secret. Never the secret itself.
  events.subscribe((e) => {
    if (e.kind === 'access_refused') ctx.log.warn({ node: e.nodeId, ...e.detail }, 'boot: agent call from an address the boot is not bound to');
    if (e.kind !== 'script_fetched' || (!e.detail.pending && e.detail.granted)) return;
    const fields = { node: e.nodeId, mac: e.mac, ...e.detail };
    if (e.detail.granted) ctx.log.info(fields, 'boot: iPXE script with the boot secret served');
    else ctx.log.warn(fields, 'boot: iPXE script refused');
  });

  const service: BootService = {
    name: 'boot',
    prefix: '/boot',
    faultStyle: 'plain',
    migrations,
    manager,
    events,
    rawCache,
    filesDir,
    reservations: hostsDir,
    setImageSource(source) {
      imageSource = source;
    },
    async leaseOf(ip) {
      if (!config.dnsmasq.enabled || config.dnsmasq.mode !== 'dhcp') return undefined;
      const addr = clientAddress(ip);
      const seen = acked.get(addr);
      if (seen && Date.now() < seen.at + leaseMs(config.dnsmasq.lease_time)) return { mac: seen.mac };
      return fromLeaseFile(leaseFile, addr);
    },
    routeHost(host) {
      if (!routedHosts.includes(host)) routedHosts.push(host);
    },
    routes: bootRoutes({
      imageFile: () => imageSource,
      manager,
      events,
      filesDir,
      macForIp: (ip) => ipToMac.get(clientAddress(ip)),
      learnIp: (ip, mac) => learnIp(clientAddress(ip), mac),
      heartbeatIntervalS: HEARTBEAT_INTERVAL_S,
      scriptLimiter: new FetchLimiter(config.script_fetch_limit.per_address_per_min, config.script_fetch_limit.per_min),
    }),
    async init() {
      await mkdir(filesDir, { recursive: true });
      await hostsDir?.init();
      const restored = await manager.restore();
      if (restored.pending || restored.sessions) ctx.log.info(restored, 'boot: deploys in progress restored from the database');
      await rawCache.init();
    },
    async start(signal) {
      if (!config.dnsmasq.enabled || !hostsDir) return;
      if (/^https?:\/\/(127\.|localhost[:/]|\[::1\])/.test(baseUrl())) {
        ctx.log.warn({ url: baseUrl() }, 'boot: machines are told to fetch iPXE scripts from a loopback URL; set boot.http_url or listen on the provisioning address');
      }
      supervisor = new DnsmasqSupervisor({
        workDir,
        binary: config.dnsmasq.binary,
        netns: config.dnsmasq.netns,
        log: ctx.log.child({ component: 'dnsmasq' }),
        config: renderDnsmasqConfig(
          config.dnsmasq,
          {
            hostsDir: hostsDir.dir,
            leaseFile,
            ipxeScriptUrl: `${baseUrl()}/boot.ipxe`,
          },
          routedHosts.length && config.dnsmasq.mode === 'dhcp'
            ? { routes: { hosts: routedHosts, via: await interfaceIpv4(config.dnsmasq.interface, config.dnsmasq.netns) } }
            : {},
        ),
        onEvent: (e) => {
          if (e.kind === 'dhcp') {
            if (e.message === 'DHCPINFORM' && e.xid) {
              informs.add(e.xid);
              if (informs.size > 1024) informs.delete(informs.values().next().value!);
            }
            if (e.ip && e.message === 'DHCPACK' && !(e.xid && informs.delete(e.xid))) {
              learnIp(e.ip, e.mac);
              learnLease(e.ip, e.mac, e.at);
              manager.leaseSeen(e.mac, e.ip, e.at);
            }
            events.emit({ kind: 'dhcp', at: e.at, mac: e.mac, nodeId: manager.nodeForMac(e.mac), detail: { message: e.message, ip: e.ip, hostname: e.hostname, ignored: e.ignored, reason: e.reason } });
          } else {
            const mac = ipToMac.get(e.to);
            events.emit({ kind: 'tftp', at: e.at, mac, nodeId: mac && manager.nodeForMac(mac), detail: { file: e.file, to: e.to } });
          }
        },
      });
      service.dnsmasq = supervisor;
      await supervisor.start(signal);
    },
  };
  return service;
}

/** A line of dnsmasq's lease file: `<expiry epoch s|0> <mac> <ip> <hostname> <client-id>`. */
async function fromLeaseFile(file: string, ip: string): Promise<{ mac: string } | undefined> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [expiry, mac, addr] = line.split(' ');
    if (addr !== ip || !mac) continue;
    // 0 is an infinite lease.
    if (expiry !== '0' && Number(expiry) * 1000 <= Date.now()) return undefined;
    return { mac: mac.toLowerCase() };
  }
  return undefined;
}

/** The seed's first IPv4 address on the provisioning interface (where dnsmasq answers from). */
async function interfaceIpv4(iface: string, netns: string | undefined): Promise<string> {
  const args = [...(netns ? ['-n', netns] : []), '-4', '-o', 'addr', 'show', 'dev', iface];
  const r = await run('ip', args, { allowFailure: true, timeoutMs: 10_000 });
  const m = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout);
  if (!m) throw new ConfigError(`boot.dnsmasq.interface: ${iface} has no IPv4 address to route the metadata service through`);
  return m[1]!;
}
