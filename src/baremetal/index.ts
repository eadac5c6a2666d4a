// The bare-metal service (Ironic v1 subset under /baremetal): routes, migrations, policy, and
// the conductor that runs in the background of the same process.
import type { FastifyInstance } from 'fastify';
import type { ApiService, ServiceContext } from '../common/service.js';
import { migrations, typed } from './db.js';
import type { BaremetalConfig } from './config.js';
import { Conductor } from './conductor.js';
import { defaultRegistry } from './drivers/default-registry.js';
import type { DriverRegistry } from './drivers/registry.js';
import { installVersionHook, versionDocument } from './api/versions.js';
import { installBodyParsers } from './api/body-parsers.js';
import { nodeRoutes } from './api/nodes.js';
import { portRoutes } from './api/ports.js';
import { portgroupRoutes } from './api/portgroups.js';
import { deployTemplateRoutes } from './api/deploy-templates.js';
import { allocationRoutes } from './api/allocations.js';
import { driverRoutes } from './api/drivers.js';
import { chassisRoutes } from './api/chassis.js';
import { conductorRoutes } from './api/conductors.js';
import { volumeRoutes } from './api/volume.js';
import type { ApiDeps } from './api/context.js';
import { Instances } from './instances.js';
import { Provisioning, type PortChange } from './provisioning.js';
import { BootTimeline } from './timeline.js';
import { FirstContact } from './first-contact.js';
import { baremetalPolicy } from './policy.js';
import { driverNode, findNode } from './node-store.js';
import { CONSOLE_LOG_DEFAULT_BYTES, CONSOLE_LOG_MAX_BYTES, ConsoleUnavailableError, nodeLabel } from './drivers/interfaces.js';

export { Provisioning, type AgentChannel, type AgentOutcome, type ProvisioningLinks } from './provisioning.js';

export { baremetalConfigSchema, type BaremetalConfig } from './config.js';
export { BAREMETAL_RULES, baremetalPolicy } from './policy.js';

export interface BaremetalService extends ApiService {
  conductor: Conductor;
  registry: DriverRegistry;
  /** Allocate-and-deploy for in-process callers (orchestration's servers). */
  instances: Instances;
  /** The server attaches the boot and image services here (ipxe boot, direct deploy, timeline). */
  provisioning: Provisioning;
  /**
   * For in-process callers (compute's console output): the last `maxBytes` bytes (default 64 KiB,
   * at most 1 MiB) of the node's serial console, through its management interface's consoleLog.
   * Read-only and without the node's lock. 501 ConsoleUnavailableError when there is none.
   */
  consoleLog(node: string, maxBytes?: number): Promise<string>;
}

export function createBaremetalService(ctx: ServiceContext, config: BaremetalConfig, givenRegistry?: DriverRegistry): BaremetalService {
  const db = typed(ctx.db);
  const provisioning = new Provisioning();
  const macsOf = async (uuid: string) =>
    (await db.selectFrom('baremetal_ports').select('address').where('node_uuid', '=', uuid).where('pxe_enabled', '=', 1).orderBy('created_at').execute()).map((p) => p.address);
  const registry = givenRegistry ?? defaultRegistry(config, { provisioning, macsOf });
  const timeline = new BootTimeline(db, ctx.log.child({ service: 'baremetal', component: 'timeline' }), config.conductor.host);
  // Every enrolled pxe-enabled port's MAC in dnsmasq's hosts: all of them at start, then only
  // the MACs each port change touches (a full sync per change made importing N ports N² work).
  const syncPorts = async () => {
    if (!provisioning.attached) return;
    const rows = await db.selectFrom('baremetal_ports').select('address').where('pxe_enabled', '=', 1).execute();
    await provisioning.get().boot.setPorts(rows.map((r) => r.address));
  };
  const portChanged = async (change: PortChange) => {
    if (!provisioning.attached) return;
    const boot = provisioning.get().boot;
    for (const mac of change.removed ?? []) await boot.removePort(mac);
    for (const mac of change.added ?? []) await boot.addPort(mac);
  };

  const c = config.conductor;
  const conductor = new Conductor(db, registry, ctx.log.child({ service: 'baremetal' }), {
    host: c.host,
    workers: c.workers,
    syncPowerIntervalMs: c.sync_power_state_interval * 1000,
    syncPowerWorkers: c.sync_power_state_workers,
    powerFailureLimit: c.power_failure_limit,
    checkIntervalMs: c.check_interval * 1000,
    waitTimeoutsMs: {
      'wait call-back': c.deploy_callback_timeout * 1000,
      'clean wait': c.clean_callback_timeout * 1000,
      'inspect wait': c.inspect_wait_timeout * 1000,
    },
    automatedClean: c.automated_clean,
  });
  const base = () => `${ctx.publicUrl()}/baremetal`;
  const consoleLogger = ctx.log.child({ service: 'baremetal', component: 'console' });
  conductor.timeline = timeline;
  conductor.portsChanged = portChanged;
  conductor.agentStateDurable = () => provisioning.attached;
  conductor.agentActivity = (uuid) => (provisioning.attached ? provisioning.get().agent.lastActivity?.(uuid) : undefined);
  const deps: ApiDeps = {
    db,
    conductor,
    base,
    portsChanged: (change) => portChanged(change).catch((err: unknown) => ctx.log.error({ err }, 'syncing port MACs to the boot service failed')),
  };

  return {
    name: 'baremetal',
    prefix: '/baremetal',
    faultStyle: 'ironic',
    catalog: { type: 'baremetal', name: 'ironic', prefix: '/baremetal' },
    migrations,
    policy: baremetalPolicy,
    conductor,
    registry,
    instances: new Instances(db, conductor),
    provisioning,
    async consoleLog(ident: string, maxBytes = CONSOLE_LOG_DEFAULT_BYTES): Promise<string> {
      const bytes = Math.min(Math.max(1, Math.floor(maxBytes) || CONSOLE_LOG_DEFAULT_BYTES), CONSOLE_LOG_MAX_BYTES);
      const row = await findNode(db, ident);
      const node = driverNode(row);
      const mgmt = registry.get('management', row.management_interface);
      if (!mgmt.consoleLog) {
        throw new ConsoleUnavailableError(`Node ${nodeLabel(node)} has no console log: its management interface "${mgmt.name}" cannot read the serial console.`, row.uuid);
      }
      return mgmt.consoleLog(node, { log: consoleLogger }, bytes);
    },
    routes(app: FastifyInstance) {
      installVersionHook(app);
      installBodyParsers(app);
      app.get('/', { config: { public: true } }, async () => ({
        name: 'OpenStack Ironic API',
        description: 'Bootstack bare metal service, compatible with the Ironic v1 API.',
        versions: [versionDocument(base())],
        default_version: versionDocument(base()),
      }));
      const v1 = async () => {
        const b = base();
        const links = (p: string) => [
          { href: `${b}/v1/${p}/`, rel: 'self' },
          { href: `${b}/${p}/`, rel: 'bookmark' },
        ];
        return {
          id: 'v1',
          links: [{ href: `${b}/v1/`, rel: 'self' }],
          media_types: [{ base: 'application/json', type: 'application/vnd.openstack.ironic.v1+json' }],
          nodes: links('nodes'),
          ports: links('ports'),
          portgroups: links('portgroups'),
          deploy_templates: links('deploy_templates'),
          drivers: links('drivers'),
          allocations: links('allocations'),
          chassis: links('chassis'),
          conductors: links('conductors'),
          volume: links('volume'),
          version: versionDocument(b),
        };
      };
      app.get('/v1', { config: { public: true } }, v1);
      app.get('/v1/', { config: { public: true } }, v1);
      nodeRoutes(app, deps);
      portRoutes(app, deps);
      portgroupRoutes(app, deps);
      deployTemplateRoutes(app, deps);
      allocationRoutes(app, deps);
      driverRoutes(app, deps);
      chassisRoutes(app, deps);
      conductorRoutes(app, deps);
      volumeRoutes(app, deps);
    },
    async init() {
      await conductor.recover();
    },
    async start(signal: AbortSignal) {
      // After every service's init (the boot service's hosts directory exists by now).
      if (provisioning.attached) {
        const firstContact = new FirstContact(db, ctx.log.child({ service: 'baremetal', component: 'first-contact' }), config.conductor.host);
        const unsubscribe = provisioning.get().timeline.subscribe((e) => {
          timeline.record(e);
          firstContact.observe(e);
        });
        signal.addEventListener('abort', unsubscribe, { once: true });
        await syncPorts();
      }
      await conductor.resumeWaits();
      await conductor.run(signal);
    },
  };
}
