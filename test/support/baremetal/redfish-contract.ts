// The Redfish drivers' contract suite against any Redfish service given by URL and
// credentials: the fixture BMCs here, the lab's BMC emulator, a real BMC.
import { createLogger } from '../../../src/common/logging.js';
import type { DriverNode, PowerState } from '../../../src/baremetal/drivers/interfaces.js';
import { RedfishClientPool } from '../../../src/baremetal/drivers/redfish-client.js';
import { RedfishPower } from '../../../src/baremetal/drivers/redfish-power.js';
import { RedfishManagement } from '../../../src/baremetal/drivers/redfish-management.js';
import { powerContract } from './power-contract.js';
import { managementContract } from './management-contract.js';

export interface RedfishTarget {
  name: string;
  baseUrl: string;
  username: string;
  password: string;
  systemId?: string;
  authType?: 'basic' | 'session' | 'auto';
  /** The machine's state as the emulator itself records it. */
  observe?: () => Promise<PowerState>;
}

export function redfishNode(target: RedfishTarget): DriverNode {
  return {
    uuid: '00000000-0000-4000-8000-0000000000aa',
    name: target.name,
    driver_info: {
      redfish_address: target.baseUrl,
      redfish_username: target.username,
      redfish_password: target.password,
      ...(target.systemId ? { redfish_system_id: target.systemId } : {}),
      redfish_auth_type: target.authType ?? 'auto',
    },
    properties: {},
    instance_info: {},
    power_state: null,
    boot_mode: null,
  };
}

export function redfishContractSuite(target: RedfishTarget): void {
  const pool = new RedfishClientPool({ timeoutMs: 5000, retries: 1, backoffMs: 50 });
  const ctx = { log: createLogger({ level: 'silent' }) };
  const node = redfishNode(target);
  powerContract(`redfish ${target.name}`, async () => ({
    power: new RedfishPower(pool, { stateTimeoutMs: 10_000, pollMs: 100 }),
    node,
    ctx,
    observe: target.observe,
  }));
  managementContract(`redfish ${target.name}`, async () => ({ management: new RedfishManagement(pool), node, ctx }));
}
