// The implementations this server has, built from configuration.
import type { BaremetalConfig } from '../config.js';
import { DriverRegistry } from './registry.js';
import { FakeDelay } from './fake-delay.js';
import { FakePower } from './fake-power.js';
import { FakeManagement } from './fake-management.js';
import { FakeBoot } from './fake-boot.js';
import { FakeDeploy } from './fake-deploy.js';
import { FakeInspect } from './fake-inspect.js';
import { NoInspect } from './no-inspect.js';
import { RedfishClientPool } from './redfish-client.js';
import { RedfishPower } from './redfish-power.js';
import { RedfishManagement } from './redfish-management.js';
import { RedfishInspect } from './redfish-inspect.js';
import { IpmitoolPower } from './ipmitool-power.js';
import { IpmitoolManagement } from './ipmitool-management.js';
import { IpxeBoot } from './ipxe-boot.js';
import { DirectDeploy } from './direct-deploy.js';
import { AgentInspect } from './agent-inspect.js';
import type { Provisioning } from '../provisioning.js';

/** What the real boot/deploy interfaces need: the server's links and the node's port MACs. */
export interface ProvisioningDeps {
  provisioning: Provisioning;
  macsOf: (nodeUuid: string) => Promise<string[]>;
}

export function defaultRegistry(config: BaremetalConfig, prov?: ProvisioningDeps): DriverRegistry {
  const delay = new FakeDelay(config.fake.delay_ms);
  const pool = new RedfishClientPool({
    timeoutMs: config.redfish.timeout * 1000,
    retries: config.redfish.retries,
    backoffMs: config.redfish.backoff * 1000,
  });
  const ipmi = { retries: config.ipmi.retries, timeoutSeconds: config.ipmi.timeout, command: 'ipmitool' };
  const registry = new DriverRegistry()
    .register('power', new FakePower(delay))
    .register('management', new FakeManagement(delay))
    .register('boot', new FakeBoot())
    .register('deploy', new FakeDeploy(delay))
    .register('inspect', new FakeInspect(delay))
    .register('inspect', new NoInspect())
    .register('power', new RedfishPower(pool, { stateTimeoutMs: config.redfish.power_state_timeout * 1000, pollMs: config.redfish.power_state_poll * 1000 }))
    .register('management', new RedfishManagement(pool))
    .register('inspect', new RedfishInspect(pool))
    .register('power', new IpmitoolPower(ipmi, config.ipmi.power_state_timeout * 1000))
    .register('management', new IpmitoolManagement(ipmi));
  if (prov) {
    registry
      .register('boot', new IpxeBoot(prov.provisioning, prov.macsOf))
      .register('deploy', new DirectDeploy(prov.provisioning, prov.macsOf))
      .register('inspect', new AgentInspect(prov.provisioning));
  }
  return registry;
}
