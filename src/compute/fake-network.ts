// FakeComputeNetwork: a named in-memory ComputeNetwork for tests (networks given up front, one
// IPv4 subnet each, addresses handed out in order). It checks what the real one must: a port
// belongs to one project, a fixed IP is free and in the subnet, a bound port names its host.
import { randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.js';
import type { BindPortRequest, ComputeNetwork, CreatePortRequest, NeutronNetwork, NeutronPort } from './network.js';

interface FakeNet {
  id: string;
  name: string;
  projectId: string | null;
  subnetId: string;
  /** "10.0.0." — addresses .10 upwards are handed out. */
  prefix: string;
  next: number;
}

export class FakeComputeNetwork implements ComputeNetwork {
  readonly networks: FakeNet[] = [];
  readonly ports = new Map<string, NeutronPort & { project_id: string }>();
  /** Calls in order, for tests to assert on ("bind <port> <host>"...). */
  readonly calls: string[] = [];

  addNetwork(name: string, prefix: string, projectId: string | null = null): FakeNet {
    const net = { id: randomUUID(), name, projectId, subnetId: randomUUID(), prefix, next: 10 };
    this.networks.push(net);
    return net;
  }

  async resolveNetwork(idOrName: string, projectId: string): Promise<NeutronNetwork> {
    const seen = this.networks.filter((n) => (n.id === idOrName || n.name === idOrName) && (n.projectId === null || n.projectId === projectId));
    if (seen.length !== 1) throw new NotFoundError('Network', idOrName);
    return { id: seen[0]!.id, name: seen[0]!.name };
  }

  async createPort(req: CreatePortRequest): Promise<NeutronPort> {
    const net = this.networks.find((n) => n.id === req.networkId);
    if (!net) throw new NotFoundError('Network', req.networkId);
    const taken = new Set([...this.ports.values()].flatMap((p) => p.fixed_ips.map((f) => f.ip_address)));
    let ip = req.fixedIps?.[0]?.ipAddress;
    if (ip) {
      if (!ip.startsWith(net.prefix)) throw new BadRequestError(`fixed_ip ${ip} is not in the subnet of network ${net.name}`);
      if (taken.has(ip)) throw new ConflictError(`IP address ${ip} already allocated in subnet ${net.subnetId}`);
    } else {
      while (taken.has(`${net.prefix}${net.next}`)) net.next++;
      ip = `${net.prefix}${net.next++}`;
    }
    const port = {
      id: randomUUID(),
      name: req.name ?? '',
      network_id: net.id,
      project_id: req.projectId,
      tenant_id: req.projectId,
      mac_address: req.macAddress ?? 'fa:16:3e:00:00:' + (this.ports.size + 1).toString(16).padStart(2, '0'),
      fixed_ips: [{ subnet_id: net.subnetId, ip_address: ip }],
      device_id: req.deviceId ?? '',
      device_owner: req.deviceOwner ?? '',
      status: 'DOWN',
    };
    this.ports.set(port.id, port);
    this.calls.push(`create ${port.id}`);
    return { ...port };
  }

  async getPort(id: string, projectId: string | null): Promise<NeutronPort> {
    const p = this.ports.get(id);
    if (!p || (projectId !== null && p.project_id !== projectId)) throw new NotFoundError('Port', id);
    return { ...p };
  }

  async bindPort(id: string, req: BindPortRequest): Promise<NeutronPort> {
    const p = this.ports.get(id);
    if (!p) throw new NotFoundError('Port', id);
    if (!req.hostId) throw new BadRequestError('binding:host_id is required');
    Object.assign(p, {
      'binding:host_id': req.hostId,
      'binding:vnic_type': req.vnicType ?? 'normal',
      ...(req.macAddress ? { mac_address: req.macAddress } : {}),
      ...(req.deviceId ? { device_id: req.deviceId } : {}),
      ...(req.deviceOwner ? { device_owner: req.deviceOwner } : {}),
      status: 'ACTIVE',
    });
    this.calls.push(`bind ${id} ${req.hostId}`);
    return { ...p };
  }

  async unbindPort(id: string): Promise<void> {
    const p = this.ports.get(id);
    if (!p) return;
    delete p['binding:host_id'];
    p.device_id = '';
    p.device_owner = '';
    p.status = 'DOWN';
    this.calls.push(`unbind ${id}`);
  }

  async deletePort(id: string): Promise<void> {
    this.ports.delete(id);
    this.calls.push(`delete ${id}`);
  }

  async listPorts(filter: { deviceId?: string; projectId?: string }): Promise<NeutronPort[]> {
    return [...this.ports.values()].filter((p) => (!filter.deviceId || p.device_id === filter.deviceId) && (!filter.projectId || p.project_id === filter.projectId)).map((p) => ({ ...p }));
  }

  async networkData(portIds: string[]): Promise<Record<string, unknown>> {
    const ports = portIds.map((id) => this.ports.get(id)).filter((p): p is NonNullable<typeof p> => !!p);
    return {
      links: ports.map((p) => ({ id: `tap${p.id.slice(0, 11)}`, type: 'phy', ethernet_mac_address: p.mac_address, mtu: 1500, vif_id: p.id })),
      networks: ports.map((p, i) => ({ id: `network${i}`, type: 'ipv4', link: `tap${p.id.slice(0, 11)}`, ip_address: p.fixed_ips[0]?.ip_address, netmask: '255.255.255.0', network_id: p.network_id, routes: [] })),
      services: [],
    };
  }
}
