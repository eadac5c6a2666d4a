// OpenStack's network_data.json (the config drive's openstack/latest/network_data.json, which
// cloud-init and os-net-config read): one link per port, one network per fixed IP, DNS services.
// The shape follows Nova's (nova/virt/netutils.py): links carry id/vif_id/type/mtu/
// ethernet_mac_address, networks are "ipv4" (static) with ip_address/netmask/routes/network_id/
// link and per-network dns services, and the services list repeats every name server once.
import { fromJson } from '../common/db.js';
import { intToIp, ipToInt, netmaskOf, parseCidr } from './ip.js';
import type { HostRoute, NetworkRow, PortRow, SubnetRow } from './views.js';

export interface NetworkData {
  links: object[];
  networks: object[];
  services: object[];
}

interface Route {
  network: string;
  netmask: string;
  gateway: string;
}

export interface PortNetworkInfo {
  port: PortRow;
  network: NetworkRow;
  fixedIps: Array<{ subnet: SubnetRow; ip_address: string }>;
}

/** "tap" + the port id's first 11 characters: the interface name Nova gives the port. */
export const linkId = (portId: string): string => `tap${portId.slice(0, 11)}`;

export function networkData(ports: readonly PortNetworkInfo[]): NetworkData {
  const links: object[] = [];
  const networks: object[] = [];
  const services: Array<{ type: 'dns'; address: string }> = [];
  for (const { port, network, fixedIps } of ports) {
    const link = linkId(port.id);
    links.push({ id: link, vif_id: port.id, type: 'phy', mtu: network.mtu, ethernet_mac_address: port.mac_address });
    for (const { subnet, ip_address } of fixedIps) {
      const cidr = parseCidr(subnet.cidr, 'cidr');
      const routes: Route[] = [];
      if (subnet.gateway_ip) routes.push({ network: '0.0.0.0', netmask: '0.0.0.0', gateway: subnet.gateway_ip });
      for (const r of fromJson<HostRoute[]>(subnet.host_routes, [])) {
        const d = parseCidr(r.destination, 'host_routes');
        routes.push({ network: intToIp(d.network), netmask: netmaskOf(d.prefix), gateway: r.nexthop });
      }
      const dns = fromJson<string[]>(subnet.dns_nameservers, []).map((address) => ({ type: 'dns' as const, address }));
      for (const d of dns) if (!services.some((s) => s.address === d.address)) services.push(d);
      networks.push({
        id: `network${networks.length}`,
        type: 'ipv4',
        link,
        ip_address: intToIp(ipToInt(ip_address, 'ip_address')),
        netmask: netmaskOf(cidr.prefix),
        routes,
        network_id: network.id,
        services: dns,
      });
    }
  }
  return { links, networks, services };
}
