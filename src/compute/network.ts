// The networking compute consumes. Compute declares only what it needs; the network service
// (Neutron subset) provides a wider `NetworkPorts` facade, of which this is a subset, so the
// adapter src/server wires is a pass-through. Shapes are Neutron's JSON (snake_case).
// With no network service configured compute is given no ComputeNetwork: servers are created
// with networks "none"/"auto"/absent only, and their addresses come from the virt driver
// (bare metal: the DHCP lease the provisioning network gave the node).

export interface NeutronFixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface NeutronPort {
  id: string;
  name?: string;
  network_id: string;
  project_id?: string;
  tenant_id?: string;
  mac_address: string;
  fixed_ips: NeutronFixedIp[];
  device_id?: string;
  device_owner?: string;
  'binding:host_id'?: string;
  'binding:vnic_type'?: string;
  status?: string;
}

export interface NeutronNetwork {
  id: string;
  name: string;
}

export interface CreatePortRequest {
  projectId: string;
  networkId: string;
  name?: string;
  fixedIps?: { subnetId?: string; ipAddress?: string }[];
  macAddress?: string;
  deviceId?: string;
  deviceOwner?: string;
}

export interface BindPortRequest {
  hostId: string;
  macAddress?: string;
  deviceId?: string;
  deviceOwner?: string;
  vnicType?: string;
}

export interface ComputeNetwork {
  /** A network by id or name as `projectId` sees it; throws a 404-style error when it cannot. */
  resolveNetwork(idOrName: string, projectId: string): Promise<NeutronNetwork>;
  createPort(req: CreatePortRequest): Promise<NeutronPort>;
  /** A port as `projectId` sees it (null: any project, for admin paths); missing → throws 404. */
  getPort(id: string, projectId: string | null): Promise<NeutronPort>;
  bindPort(id: string, req: BindPortRequest): Promise<NeutronPort>;
  /** Clears the binding and device_id/device_owner (a user's port is free for another server). */
  unbindPort(id: string): Promise<void>;
  deletePort(id: string): Promise<void>;
  listPorts(filter: { deviceId?: string; projectId?: string }): Promise<NeutronPort[]>;
  /** network_data.json (OpenStack metadata format) for these ports. */
  networkData(portIds: string[]): Promise<Record<string, unknown>>;
}
