// OS::Nova::Server on bare metal: orchestration's ComputeProvider implemented over the
// bare-metal service's instances (allocation by resource class and traits, then deploy).
// The flavor names the resource class, as flavors do for bare metal in Nova; a flavor
// "<class>+<TRAIT>+<TRAIT>" adds required traits.
// Every call acts for the stack's project: the image is resolved with that project's
// visibility (as Nova asks Glance with the user's token) and only nodes that project may use are
// allocated (src/baremetal's ownership rule); another project's server is "deleted" here.
import { BadRequestError } from '../common/errors.js';
import type { ComputeProvider, ServerSpec, ServerStatus } from '../orchestration/compute-provider.js';
import type { Instances } from '../baremetal/instances.js';
import type { ImagesApiService } from '../images/index.js';

/** The one images call the adapter needs: an image reference resolved as a project sees it. */
export type ImageResolver = Pick<ImagesApiService, 'resolveForProject'>;

export function parseFlavor(flavor: string): { resourceClass: string; traits: string[] } {
  const [resourceClass, ...traits] = flavor.split('+').map((p) => p.trim()).filter(Boolean);
  return { resourceClass: resourceClass ?? flavor, traits };
}

export class BaremetalComputeProvider implements ComputeProvider {
  readonly name = 'baremetal';

  constructor(
    private readonly instances: Instances,
    private readonly images: ImageResolver,
  ) {}

  async create(spec: ServerSpec): Promise<string> {
    // Ports and networks need the compute service (it binds ports to the node's NICs and writes
    // network_data); this adapter deploys a node directly, on the provisioning network's DHCP.
    if (spec.networks?.length) {
      throw new BadRequestError('properties.networks: ports and networks need the compute service, which this cloud\'s orchestration does not use yet (orchestration.compute_provider: baremetal deploys nodes directly); leave networks out', { fields: { path: 'networks' } });
    }
    if (spec.serverGroup !== undefined) {
      throw new BadRequestError('properties.scheduler_hints.group: server groups need the compute service, which this cloud\'s orchestration does not use yet; leave the hint out', { fields: { path: 'scheduler_hints.group' } });
    }
    const { resourceClass, traits } = parseFlavor(spec.flavor);
    // By id, or by the name of exactly one image the project can see; another project's private
    // image is "not found". The node gets the id, so a later image of the same name changes nothing.
    const image = await this.images.resolveForProject(spec.image, { projectId: spec.projectId, admin: false });
    if (image.status !== 'active') throw new BadRequestError(`Image ${spec.image} is not active (status ${image.status}).`);
    const meta: Record<string, unknown> = {
      name: spec.name,
      hostname: spec.name,
      meta: spec.metadata,
      ...(spec.keyName ? { keys: [{ name: spec.keyName, type: 'ssh' }] } : {}),
      ...(spec.collectConfig ? { 'os-collect-config': spec.collectConfig } : {}),
    };
    return this.instances.create({
      name: spec.name,
      project: spec.projectId,
      resourceClass,
      traits,
      imageSource: image.id,
      ...(spec.configDrive === false ? { configDrive: false } : {}),
      configdrive: { meta_data: meta, ...(spec.userData ? { user_data: spec.userData } : {}) },
    });
  }

  async status(id: string, projectId: string): Promise<ServerStatus> {
    const s = await this.instances.status(id, projectId);
    const status = s.state === 'active' ? 'ACTIVE' : s.state === 'error' ? 'ERROR' : s.state === 'deleted' ? 'DELETED' : 'BUILD';
    return {
      status,
      ...(s.reason ? { reason: s.reason } : {}),
      // Addresses come from the provisioning network's leases once real deploys report them.
      addresses: {},
      name: s.nodeName ?? '',
    };
  }

  async delete(id: string, projectId: string): Promise<void> {
    await this.instances.delete(id, projectId);
  }
}
