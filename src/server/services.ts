// Every service the server can run, in start order. Each entry builds one service from the
// shared context and its own configuration section; add one line per service.
import type { ApiService, ServiceContext } from '../common/service.js';
import type { ServerConfig } from './config.js';
import { createIdentityService } from '../identity/index.js';
import { createBaremetalService } from '../baremetal/index.js';
import { createImagesService } from '../images/index.js';
import { createBootService } from '../boot/index.js';
import { createOrchestrationService } from '../orchestration/index.js';
import type { BaremetalService } from '../baremetal/index.js';
import type { ImagesApiService } from '../images/index.js';
import { BaremetalComputeProvider } from './baremetal-compute.js';
import { connectBootDeploy } from './boot-deploy.js';
import { createMetadataService } from '../metadata/index.js';
import { metadataInstances, metadataSettings } from './metadata-instances.js';
import type { IdentityService } from '../identity/index.js';
import { IdentityStackUsers } from './stack-users.js';
import { createNetworkService } from '../network/index.js';
import { adminProject, dnsmasqView, networkDhcp } from './network-dhcp.js';
import { createComputeService } from '../compute/index.js';
import { computeDeps } from './compute-baremetal.js';
import { orchestrationNetwork } from './orchestration-network.js';
import { orchestrationCompute } from './orchestration-compute.js';
import { createPivotService } from '../pivot/index.js';
import { pivotDeps } from './pivot-deps.js';

export type ServiceFactory = (ctx: ServiceContext, config: ServerConfig, others: ApiService[]) => ApiService;

export const serviceFactories: ServiceFactory[] = [
  (ctx, config, others) => createIdentityService(ctx, config.identity, others),
  (ctx, config) => createBaremetalService(ctx, config.baremetal),
  (ctx, config) => createImagesService(ctx, config.images),
  (ctx, config, others) => connectBootDeploy(createBootService(ctx, config.boot), others),
  // OS::Nova::Server allocates and deploys bare-metal nodes (the baremetal service must be enabled).
  // Stack users (POLL_SERVER_HEAT, HEAT_SIGNAL) are Keystone users: identity is built first.
  // OS::Neutron::* go through the network service (built after this one: found at first use).
  // With compute_provider "compute" (the default) servers go through the compute service, built
  // after this one: the adapter finds it at first use.
  (ctx, config, others) => createOrchestrationService(ctx, config.orchestration, orchestrationComputeProvider(config, others), stackUsers(others), orchestrationNetwork(others)),
  // Neutron subset; after boot (its reservations go into dnsmasq's hosts) and identity (the admin
  // project owns the provisioning network). Compute, which uses network.ports, comes after it.
  (ctx, config, others) => createNetworkService(ctx, config.network, { dnsmasq: dnsmasqView(config.boot.dnsmasq), reservations: networkDhcp(others, config.boot.dnsmasq), adminProjectId: adminProject(others) }),
  // Instance metadata for deployed nodes, on its own listener (needs boot and baremetal).
  (ctx, config, others) => createMetadataService(ctx, metadataSettings(config), metadataInstances(ctx, config, others)),
  // Nova subset: servers on bare-metal nodes through the baremetal service (src/server/compute-baremetal.ts).
  (ctx, config, others) => createComputeService(ctx, config.compute, computeDeps(ctx.db, config.compute, others)),
  // Handing every record to another server, or receiving them (docs/pivot.md). Last: it reads the
  // other services' tables and image files.
  (ctx, config, others) => createPivotService(ctx, config.pivot, pivotDeps(ctx.db, others)),
];

/** Orchestration's ComputeProvider as configured; undefined when the service it needs is off. */
function orchestrationComputeProvider(config: ServerConfig, services: ApiService[]) {
  const enabled = (name: string) => !config.services || config.services.includes(name);
  if (config.orchestration.compute_provider === 'compute') return enabled('compute') ? orchestrationCompute(services) : undefined;
  if (config.orchestration.compute_provider === 'baremetal') return baremetalCompute(services);
  return undefined;
}

/** The bare-metal adapter for orchestration, when the baremetal service is enabled. */
function baremetalCompute(services: ApiService[]): BaremetalComputeProvider | undefined {
  const baremetal = services.find((s): s is BaremetalService => s.name === 'baremetal');
  const images = services.find((s): s is ImagesApiService => s.name === 'images');
  return baremetal && images ? new BaremetalComputeProvider(baremetal.instances, images) : undefined;
}

/** Keystone users for machines of stacks (src/server/stack-users.ts), when identity is enabled. */
function stackUsers(services: ApiService[]): IdentityStackUsers | undefined {
  const identity = services.find((s): s is IdentityService => s.name === 'identity');
  return identity ? new IdentityStackUsers(identity) : undefined;
}
