// Every service the server can run, in start order. Each entry builds one service from the
// shared context and its own configuration section; add one line per service.
import type { ApiService, ServiceContext } from '../common/service.js';
import type { ServerConfig } from './config.js';
import { createIdentityService } from '../identity/index.js';
import { createBaremetalService } from '../baremetal/index.js';
import { createImagesService } from '../images/index.js';
import { createBootService } from '../boot/index.js';
import { createOrchestrationService } from '../orchestration/index.js';

export type ServiceFactory = (ctx: ServiceContext, config: ServerConfig, others: ApiService[]) => ApiService;

export const serviceFactories: ServiceFactory[] = [
  (ctx, config, others) => createIdentityService(ctx, config.identity, others),
  (ctx, config) => createBaremetalService(ctx, config.baremetal),
  (ctx, config) => createImagesService(ctx, config.images),
  (ctx, config) => createBootService(ctx, config.boot),
  // FAKE compute provider until src/server passes the bare-metal adapter as a third argument.
  (ctx, config) => createOrchestrationService(ctx, config.orchestration),
];
