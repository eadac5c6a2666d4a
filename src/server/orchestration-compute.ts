// OS::Nova::Server (and OS::Nova::Flavor, OS::Nova::ServerGroup) through the compute service, as
// Heat calls Nova: orchestration's ComputeProvider over compute's in-process facade. Servers made
// by stacks are ordinary servers (`openstack server list` shows them); scheduling, claims, ports
// and the config drive are compute's. Every call acts for the stack's project — and its user,
// where Nova's records are per user (key pairs) — with the member role the stack's creator had
// to have; compute applies its own rules (the project's images, flavors it may use, its ports).
import { randomUUID } from 'node:crypto';
import type { AuthContext } from '../common/auth.js';
import { BadRequestError, NotFoundError } from '../common/errors.js';
import type { ApiService } from '../common/service.js';
import type { ComputeApiService } from '../compute/index.js';
import type { ComputeProvider, FlavorSpec, ServerGroupSpec, ServerSpec, ServerStatus, ServerAddress } from '../orchestration/compute-provider.js';
import { fromJson } from '../common/db.js';

/** The caller compute sees: the stack's project (and user), with the member role. */
function actingFor(projectId: string, userId?: string): AuthContext {
  return {
    userId: userId ?? 'orchestration',
    userName: 'orchestration',
    domainId: 'default',
    projectId,
    projectName: null,
    roles: ['member', 'reader'],
    tokenExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  };
}

export class ComputeServiceProvider implements ComputeProvider {
  readonly name = 'compute';

  /** `find` looks the compute service up at first use (it is built after orchestration). */
  constructor(private readonly find: () => ComputeApiService | undefined) {}

  private compute(): ComputeApiService {
    const c = this.find();
    if (!c) throw new BadRequestError('OS::Nova::Server needs the compute service, which is not enabled on this cloud');
    return c;
  }

  /** A flavor by id, else by name, among those the project may use. */
  private async flavorId(auth: AuthContext, ref: string): Promise<string> {
    const c = this.compute();
    try {
      return (await c.flavors.get(auth, ref)).id;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    const named = (await c.flavors.list(auth, {})).filter((f) => f.name === ref);
    if (named.length !== 1) throw new BadRequestError(`properties.flavor: ${named.length ? 'several flavors are' : 'no flavor is'} named ${ref}`, { fields: { path: 'flavor' } });
    return named[0]!.id;
  }

  async create(spec: ServerSpec): Promise<string> {
    const c = this.compute();
    const auth = actingFor(spec.projectId, spec.userId);
    const networks = spec.networks?.map((nic) => {
      if (nic.subnet && !nic.network && !nic.port) throw new BadRequestError('properties.networks: a subnet alone is not supported here; name its network too', { fields: { path: 'networks' } });
      return { ...(nic.port ? { port: nic.port } : {}), ...(nic.network ? { uuid: nic.network } : {}), ...(nic.fixedIp ? { fixed_ip: nic.fixedIp } : {}) };
    });
    const [row] = await c.servers.create(
      auth,
      {
        name: spec.name,
        imageRef: spec.image,
        flavorRef: await this.flavorId(auth, spec.flavor),
        ...(spec.keyName ? { key_name: spec.keyName } : {}),
        ...(spec.userData ? { user_data: Buffer.from(spec.userData).toString('base64') } : {}),
        ...(spec.configDrive !== undefined ? { config_drive: spec.configDrive } : {}),
        metadata: spec.metadata,
        // No NICs named: no ports (the machine takes its address by DHCP on the provisioning network).
        networks: networks?.length ? networks : 'none',
      },
      {
        requestId: `req-${randomUUID()}`,
        networksRequired: false,
        ...(spec.serverGroup ? { group: spec.serverGroup } : {}),
        // What os-collect-config on the machine reads first (it holds the stack user's password).
        ...(spec.collectConfig ? { instanceMeta: { 'os-collect-config': spec.collectConfig } } : {}),
      },
    );
    return row!.id;
  }

  async status(id: string, projectId: string): Promise<ServerStatus> {
    const c = this.compute();
    let row;
    try {
      row = await c.servers.addressesFor(await c.servers.get(actingFor(projectId), id));
    } catch (err) {
      if (err instanceof NotFoundError) return { status: 'DELETED', addresses: {}, name: '' };
      throw err;
    }
    const addresses = fromJson<Record<string, ServerAddress[]>>(row.addresses, {});
    const status = row.task_state === 'deleting' ? 'BUILD' : row.vm_state === 'active' || row.vm_state === 'stopped' ? 'ACTIVE' : row.vm_state === 'error' ? 'ERROR' : 'BUILD';
    const fault = row.fault ? fromJson<{ message?: string }>(row.fault, {}).message : undefined;
    return { status, ...(status === 'ERROR' && fault ? { reason: fault } : {}), addresses, name: row.name };
  }

  async delete(id: string, projectId: string): Promise<void> {
    try {
      await this.compute().servers.delete(actingFor(projectId), id, `req-${randomUUID()}`);
    } catch (err) {
      // Another project's server, or one already gone: nothing to do.
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  async createFlavor(spec: FlavorSpec): Promise<string> {
    // Nova's flavor create is admin-only; compute's policy refuses the stack's member here.
    const c = this.compute();
    const auth = actingFor(spec.projectId);
    const flavor = await c.flavors.create(auth, {
      name: spec.name, ram: spec.ram, vcpus: spec.vcpus, disk: spec.disk, swap: spec.swap,
      'OS-FLV-EXT-DATA:ephemeral': spec.ephemeral, rxtx_factor: spec.rxtxFactor, 'os-flavor-access:is_public': spec.isPublic,
      ...(spec.description ? { description: spec.description } : {}),
    });
    if (Object.keys(spec.extraSpecs).length) await c.flavors.setExtraSpecs(auth, flavor.id, spec.extraSpecs, 'create');
    for (const t of spec.tenants) await c.flavors.changeAccess(auth, flavor.id, t, true);
    return flavor.id;
  }

  async deleteFlavor(id: string, projectId: string): Promise<void> {
    await this.compute().flavors.delete(actingFor(projectId), id).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  }

  async createServerGroup(spec: ServerGroupSpec): Promise<string> {
    const g = await this.compute().groups.create(actingFor(spec.projectId), { name: spec.name, policy: spec.policy, rules: spec.rules });
    return g.id;
  }

  async deleteServerGroup(id: string, projectId: string): Promise<void> {
    await this.compute().groups.delete(actingFor(projectId), id).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  }
}

/** Orchestration's provider over compute, found in the (live) list of services at first use. */
export function orchestrationCompute(services: ApiService[]): ComputeServiceProvider {
  return new ComputeServiceProvider(() => services.find((s): s is ComputeApiService => s.name === 'compute'));
}
