// The fake interfaces pass the same contracts as the real ones.
import { createLogger } from '../../common/logging.js';
import { FakePower } from './fake-power.js';
import { FakeManagement } from './fake-management.js';
import { powerContract } from '../../../test/support/baremetal/power-contract.js';
import { managementContract } from '../../../test/support/baremetal/management-contract.js';
import type { DriverNode } from './interfaces.js';

const node: DriverNode = { uuid: 'u1', name: 'n', driver_info: {}, properties: {}, instance_info: {}, power_state: null, boot_mode: null };
const ctx = { log: createLogger({ level: 'silent' }) };
const power = new FakePower();
powerContract('fake', async () => ({ power, node, ctx, observe: async () => power.machines.get('u1') ?? 'power off' }));
managementContract('fake', async () => ({ management: new FakeManagement(), node, ctx }));
