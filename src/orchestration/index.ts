// The orchestration service (Heat v1 subset under /orchestration): templates, stacks, resources,
// events, software configs and deployments.
import type { Kysely } from 'kysely';
import type { ApiService, ServiceContext } from '../common/service.js';
import type { PolicyTable } from '../common/auth.js';
import { FakeComputeProvider, type ComputeProvider } from './compute-provider.js';
import type { NetworkProvider } from './network-provider.js';
import { Engine } from './engine.js';
import { migrations, type OrchestrationDB } from './migrations.js';
import { createRegistry } from './resources/index.js';
import { DbSoftwareStore } from './software-store.js';
import { registerOrchestrationRoutes } from './api.js';
import type { OrchestrationConfig } from './config.js';
import { NO_STACK_USERS, type StackUsers } from './stack-users.js';
import { ChangeNotifier } from '../common/long-poll.js';

export { orchestrationConfigSchema, type OrchestrationConfig } from './config.js';
export type { ComputeProvider, ServerSpec, ServerStatus } from './compute-provider.js';
export type { FlavorSpec, ServerGroupSpec, ServerNic, ServerAddress } from './compute-provider.js';
export { FakeComputeProvider } from './compute-provider.js';
export type { NetworkProvider, NetworkRecord, SubnetRecord, PortRecord, NetworkRequest, SubnetRequest, PortRequest } from './network-provider.js';
export { FakeNetworkProvider } from './network-provider.js';
export { STACK_USER_DOMAIN, STACK_USER_ROLE, type StackUsers, type StackUser, type StackUserRequest } from './stack-users.js';

export const orchestrationPolicy: PolicyTable = {
  'orchestration:stacks:list': { roles: ['reader'], ownProjectOnly: true },
  'orchestration:stacks:show': { roles: ['reader'], ownProjectOnly: true },
  'orchestration:stacks:create': { roles: ['member'], ownProjectOnly: true },
  'orchestration:stacks:update': { roles: ['member'], ownProjectOnly: true },
  'orchestration:stacks:delete': { roles: ['member'], ownProjectOnly: true },
  'orchestration:stacks:preview': { roles: ['reader'], ownProjectOnly: true },
  'orchestration:actions:check': { roles: ['reader'], ownProjectOnly: true },
  'orchestration:resource:signal': { roles: ['reader'], ownProjectOnly: true },
  'orchestration:validate': { roles: ['member'], ownProjectOnly: true },
  'orchestration:resource_types': { roles: ['reader'] },
  'orchestration:template_versions': { roles: ['reader'] },
  'orchestration:software:read': { roles: ['reader'], ownProjectOnly: true },
  'orchestration:software:write': { roles: ['member'], ownProjectOnly: true },
  // A stack user (a machine's Keystone user, role heat_stack_user and nothing else): its own
  // server's metadata and signals to its own deployments. The routes check "own" on the resource.
  'orchestration:stack_user:metadata': { roles: ['heat_stack_user'], ownProjectOnly: true },
  'orchestration:stack_user:signal': { roles: ['heat_stack_user'], ownProjectOnly: true },
};

export interface OrchestrationService extends ApiService {
  engine: Engine;
}

/**
 * `compute` backs OS::Nova::Server: src/server passes the bare-metal adapter. With
 * compute_provider "fake" the FakeComputeProvider is used instead, and the log says so.
 * `network` backs OS::Neutron::Net/Subnet/Port (src/server/orchestration-network.ts); the fake
 * compute provider reads ports' addresses through it too.
 */
export function createOrchestrationService(ctx: ServiceContext, config: OrchestrationConfig, compute?: ComputeProvider, stackUsers?: StackUsers, network?: NetworkProvider): OrchestrationService {
  const db = ctx.db as unknown as Kysely<OrchestrationDB>;
  const software = new DbSoftwareStore(db);
  const registry = createRegistry();
  const provider = config.compute_provider === 'fake' || !compute
    ? new FakeComputeProvider({ buildMs: config.fake_build_seconds * 1000, ...(network ? { network } : {}) })
    : compute;
  const notifier = new ChangeNotifier();
  const engine = new Engine({ db, registry, compute: provider, ...(network ? { network } : {}), software, log: ctx.log, publicUrl: ctx.publicUrl, stackUsers: stackUsers ?? NO_STACK_USERS, notifier });
  return {
    name: 'orchestration',
    prefix: '/orchestration',
    faultStyle: 'heat',
    catalog: { type: 'orchestration', name: 'heat', prefix: '/orchestration', projectPath: (projectId) => `/orchestration/v1/${projectId}` },
    migrations,
    policy: orchestrationPolicy,
    engine,
    routes(app) {
      registerOrchestrationRoutes(app, { engine, registry, software, compute: provider, policy: ctx.policy, publicUrl: ctx.publicUrl, movedUrls: (text) => ctx.movedUrls?.(text) ?? text });
    },
    async init() {
      if (config.compute_provider !== 'fake' && !compute) {
        throw new Error(`orchestration.compute_provider is "${config.compute_provider}" but the ${config.compute_provider} service is not enabled; enable it or set compute_provider: fake`);
      }
      if (provider.name === 'fake') ctx.log.warn('orchestration: OS::Nova::Server uses the FAKE compute provider (orchestration.compute_provider: fake)');
      await engine.resumeAll();
    },
    async start(signal) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await engine.stop();
    },
  };
}
