// Compute's networking (src/compute/network.ts ComputeNetwork) over the network service's ports
// facade (src/network/index.ts NetworkPorts): a pass-through, except that compute wants a missing
// network or port as a 404 error where the facade answers undefined. Every call carries the
// project it acts for; the facade applies Neutron's rules (own or shared networks, own ports).
import { NotFoundError } from '../common/errors.js';
import type { ApiService } from '../common/service.js';
import type { ComputeNetwork } from '../compute/network.js';
import type { NetworkPorts, NetworkService } from '../network/index.js';

export class NetworkPortsForCompute implements ComputeNetwork {
  constructor(private readonly ports: NetworkPorts) {}

  async resolveNetwork(idOrName: string, projectId: string) {
    const net = await this.ports.resolveNetwork(idOrName, projectId);
    if (!net) throw new NotFoundError('Network', idOrName);
    return net;
  }

  createPort(req: Parameters<ComputeNetwork['createPort']>[0]) {
    return this.ports.createPort(req);
  }

  async getPort(id: string, projectId: string | null) {
    const port = await this.ports.getPort(id, projectId);
    if (!port) throw new NotFoundError('Port', id);
    return port;
  }

  bindPort(id: string, req: Parameters<ComputeNetwork['bindPort']>[1]) {
    return this.ports.bindPort(id, req);
  }

  unbindPort(id: string) {
    return this.ports.unbindPort(id);
  }

  deletePort(id: string) {
    return this.ports.deletePort(id);
  }

  listPorts(filter: { deviceId?: string; projectId?: string }) {
    return this.ports.listPorts(filter);
  }

  async networkData(portIds: string[]) {
    return (await this.ports.networkData(portIds)) as unknown as Record<string, unknown>;
  }
}

/** The adapter when the network service is enabled (it is built before compute). */
export function computeNetwork(services: ApiService[]): ComputeNetwork | undefined {
  const network = services.find((s): s is NetworkService => s.name === 'network');
  return network ? new NetworkPortsForCompute(network.ports) : undefined;
}
