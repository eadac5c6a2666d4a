// OS::Nova::Server on bare metal: orchestration's ComputeProvider implemented over the
// bare-metal service's instances (allocation by resource class and traits, then deploy).
// The flavor names the resource class, as flavors do for bare metal in Nova; a flavor
// "<class>+<TRAIT>+<TRAIT>" adds required traits.
import type { ComputeProvider, ServerSpec, ServerStatus } from '../orchestration/compute-provider.js';
import type { Instances } from '../baremetal/instances.js';

export function parseFlavor(flavor: string): { resourceClass: string; traits: string[] } {
  const [resourceClass, ...traits] = flavor.split('+').map((p) => p.trim()).filter(Boolean);
  return { resourceClass: resourceClass ?? flavor, traits };
}

export class BaremetalComputeProvider implements ComputeProvider {
  readonly name = 'baremetal';

  constructor(private readonly instances: Instances) {}

  async create(spec: ServerSpec): Promise<string> {
    const { resourceClass, traits } = parseFlavor(spec.flavor);
    const meta: Record<string, unknown> = {
      name: spec.name,
      hostname: spec.name,
      meta: spec.metadata,
      ...(spec.keyName ? { keys: [{ name: spec.keyName, type: 'ssh' }] } : {}),
      ...(spec.collectConfig ? { 'os-collect-config': spec.collectConfig } : {}),
    };
    return this.instances.create({
      name: spec.name,
      resourceClass,
      traits,
      imageSource: spec.image,
      configdrive: { meta_data: meta, ...(spec.userData ? { user_data: spec.userData } : {}) },
    });
  }

  async status(id: string): Promise<ServerStatus> {
    const s = await this.instances.status(id);
    const status = s.state === 'active' ? 'ACTIVE' : s.state === 'error' ? 'ERROR' : s.state === 'deleted' ? 'DELETED' : 'BUILD';
    return {
      status,
      ...(s.reason ? { reason: s.reason } : {}),
      // Addresses come from the provisioning network's leases once real deploys report them.
      addresses: {},
      name: s.nodeName ?? '',
    };
  }

  async delete(id: string): Promise<void> {
    await this.instances.delete(id);
  }
}
