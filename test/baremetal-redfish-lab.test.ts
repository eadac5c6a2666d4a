// The Redfish drivers' contract suite against the lab's BMC emulator (src/lab/redfish.ts), here
// over its in-memory machine backend; the emulator's own tests cover its QEMU backend.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRedfishApp } from '../src/lab/redfish.js';
import { FakeSystems } from './support/lab/fake-systems.js';
import type { MachineRecord } from '../src/lab/spec.js';
import { redfishContractSuite, redfishNode } from './support/baremetal/redfish-contract.js';
import { RedfishInspect } from '../src/baremetal/drivers/redfish-inspect.js';
import { RedfishClientPool } from '../src/baremetal/drivers/redfish-client.js';
import { createLogger } from '../src/common/logging.js';

const machine: MachineRecord = {
  name: 'lab-0',
  index: 0,
  systemId: '0000000a-0000-4000-8000-000000000000',
  mac: '52:54:00:00:00:0a',
  tap: 'tap-bm-0',
  cpus: 1,
  memoryMiB: 512,
  diskGiB: 2,
};
const other: MachineRecord = { ...machine, name: 'lab-1', index: 1, systemId: '0000000b-0000-4000-8000-000000000000', mac: '52:54:00:00:00:0b', tap: 'tap-bm-1' };
const backend = new FakeSystems([machine, other]);
const app = buildRedfishApp({ backend, username: 'admin', password: 'lab-secret', serviceUuid: '11111111-2222-4333-8444-555555555555' });
await app.listen({ host: '127.0.0.1', port: 0 });
after(() => app.close());
const addr = app.server.address();
const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
const observe = async () => (backend.power.get(machine.systemId) === 'On' ? ('power on' as const) : ('power off' as const));

for (const authType of ['basic', 'session'] as const) {
  redfishContractSuite({ name: `lab emulator (${authType})`, baseUrl, username: 'admin', password: 'lab-secret', systemId: machine.systemId, authType, observe });
}

test('redfish inspection against the lab emulator reads CPUs, memory and the MAC', async () => {
  const node = redfishNode({ name: 'lab', baseUrl, username: 'admin', password: 'lab-secret', systemId: machine.systemId });
  const res = await new RedfishInspect(new RedfishClientPool()).inspect(node, { log: createLogger({ level: 'silent' }) });
  assert.equal(res.properties?.cpus, machine.cpus);
  assert.equal(res.properties?.memory_mb, machine.memoryMiB);
  assert.deepEqual(res.macs, [machine.mac]);
});
