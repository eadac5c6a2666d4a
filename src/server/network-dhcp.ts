// The network service's DhcpReservations over the boot service: a bound port on the
// provisioning network becomes a dhcp-host line "<mac>,<ip>[,<hostname>]" in the hosts directory
// dnsmasq watches (src/boot/dhcp-hosts.ts merges it with the bare-metal port's entry for the
// same MAC). dnsmasq gives a reserved address even outside its dynamic range, as long as it lies
// in the subnet of one of its dhcp-ranges (dnsmasq(8), --dhcp-host); the network service checks
// that the provisioning subnet contains the range (src/network/ctlplane.ts). Only in dhcp mode:
// a ProxyDHCP dnsmasq hands out no addresses, so there is nothing to reserve.
import type { ApiService } from '../common/service.js';
import type { BootService } from '../boot/index.js';
import type { DnsmasqSettings } from '../boot/config.js';
import type { IdentityService } from '../identity/index.js';
import type { DhcpReservations, DnsmasqView } from '../network/index.js';

export function networkDhcp(services: readonly ApiService[], dnsmasq: DnsmasqSettings): DhcpReservations | undefined {
  const boot = services.find((s): s is BootService => s.name === 'boot');
  const target = boot?.reservations;
  if (!target || !dnsmasq.enabled || dnsmasq.mode !== 'dhcp') return undefined;
  return {
    set: (mac, ip, hostname) => target.reserve(mac, ip, hostname),
    remove: (mac) => target.release(mac),
    replaceAll: (entries) => target.setReservations(entries),
  };
}

export function dnsmasqView(dnsmasq: DnsmasqSettings): DnsmasqView {
  return {
    enabled: dnsmasq.enabled,
    mode: dnsmasq.mode,
    interface: dnsmasq.interface,
    netns: dnsmasq.netns,
    range_start: dnsmasq.range_start,
    range_end: dnsmasq.range_end,
    netmask: dnsmasq.netmask,
  };
}

/** The bootstrap admin project (identity's), owner of the provisioning network. */
export function adminProject(services: readonly ApiService[]): () => Promise<string | undefined> {
  return async () => {
    const identity = services.find((s): s is IdentityService => s.name === 'identity');
    return (await identity?.store.getProjectByName('admin', 'default'))?.id;
  };
}
