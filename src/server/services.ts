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

export type ServiceFactory = (ctx: ServiceContext, config: ServerConfig, others: ApiService[]) => ApiService;

export const serviceFactories: ServiceFactory[] = [
  (ctx, config, others) => createIdentityService(ctx, config.identity, others),
  (ctx, config) => createBaremetalService(ctx, config.baremetal),
  (ctx, config) => createImagesService(ctx, config.images),
  (ctx, config, others) => connectBootDeploy(createBootService(ctx, config.boot), others),
  // OS::Nova::Server allocates and deploys bare-metal nodes (the baremetal service must be enabled).
  (ctx, config, others) => createOrchestrationService(ctx, config.orchestration, baremetalCompute(others)),
];

/** The bare-metal adapter for orchestration, when the baremetal service is enabled. */
function baremetalCompute(services: ApiService[]): BaremetalComputeProvider | undefined {
  const baremetal = services.find((s): s is BaremetalService => s.name === 'baremetal');
  const images = services.find((s): s is ImagesApiService => s.name === 'images');
  return baremetal && images ? new BaremetalComputeProvider(baremetal.instances, images) : undefined;
}
