// The provisioning network's plan from the settings: the subnet from dnsmasq's range and
// netmask, the seed's interface address as gateway, the pool on the larger side of the dynamic
// range, and refusals that name the key to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { provisioningConfigSchema } from './config.js';
import { provisioningPlan, type DnsmasqView } from './ctlplane.js';

const dnsmasq = (o: Partial<DnsmasqView> = {}): DnsmasqView => ({ enabled: true, mode: 'dhcp', interface: 'br-ctlplane', netmask: '255.255.255.0', range_start: '192.168.24.100', range_end: '192.168.24.120', ...o });
const cfg = (o: Record<string, unknown> = {}) => provisioningConfigSchema.parse(o);
const addrs = (...a: string[]) => async () => a;

test('derived from dnsmasq: subnet, gateway = interface address, pool on the larger side minus the gateway', async () => {
  const p = await provisioningPlan(cfg(), dnsmasq(), addrs('10.0.0.9', '192.168.24.1'));
  assert.equal(p?.cidr, '192.168.24.0/24');
  assert.equal(p?.gateway, '192.168.24.1');
  assert.deepEqual(p?.pools, [{ start: '192.168.24.121', end: '192.168.24.254' }]);
  // Range high in the subnet: the part below wins, and the gateway inside it splits it.
  const low = await provisioningPlan(cfg(), dnsmasq({ range_start: '192.168.24.200', range_end: '192.168.24.250' }), addrs('192.168.24.5'));
  assert.deepEqual(low?.pools, [{ start: '192.168.24.1', end: '192.168.24.4' }, { start: '192.168.24.6', end: '192.168.24.199' }]);
  // No address on the interface: no gateway.
  assert.equal((await provisioningPlan(cfg(), dnsmasq(), addrs()))?.gateway, null);
});

test('explicit settings are checked against dnsmasq; nothing to build from → no network', async () => {
  const p = await provisioningPlan(cfg({ cidr: '192.168.24.0/24', gateway: '192.168.24.254', allocation_start: '192.168.24.10', allocation_end: '192.168.24.90' }), dnsmasq(), addrs());
  assert.deepEqual(p?.pools, [{ start: '192.168.24.10', end: '192.168.24.90' }]);
  await assert.rejects(provisioningPlan(cfg({ allocation_start: '192.168.24.90', allocation_end: '192.168.24.110' }), dnsmasq(), addrs()), /network\.provisioning\.allocation_start: .*overlaps dnsmasq's dynamic range/);
  await assert.rejects(provisioningPlan(cfg({ cidr: '10.1.0.0/24' }), dnsmasq(), addrs()), /network\.provisioning\.cidr: .*does not contain dnsmasq's range/);
  await assert.rejects(provisioningPlan(cfg({ gateway: '192.168.24.110' }), dnsmasq(), addrs()), /network\.provisioning\.gateway: .*inside dnsmasq's dynamic range/);
  await assert.rejects(provisioningPlan(cfg(), dnsmasq({ range_start: '192.168.24.1', range_end: '192.168.24.254' }), addrs()), /leaves no address/);
  assert.equal(await provisioningPlan(cfg(), dnsmasq({ enabled: false }), addrs()), undefined);
  assert.equal(await provisioningPlan(cfg(), dnsmasq({ mode: 'proxy' }), addrs()), undefined);
  const noDhcp = await provisioningPlan(cfg({ cidr: '10.2.0.0/24', gateway: '10.2.0.1' }), dnsmasq({ enabled: false }), addrs());
  assert.deepEqual(noDhcp?.pools, [{ start: '10.2.0.2', end: '10.2.0.254' }]);
});
