// The scheduler's reading of flavors and microversion negotiation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseResourceClass, placementRequest, checkExtraSpec } from './scheduler.js';
import { negotiate } from './microversion.js';

test('resource classes normalise as Nova does; extra specs become a placement request', () => {
  assert.equal(normaliseResourceClass('baremetal'), 'CUSTOM_BAREMETAL');
  assert.equal(normaliseResourceClass('bm.large-1'), 'CUSTOM_BM_LARGE_1');
  assert.equal(normaliseResourceClass('CUSTOM_GOLD'), 'CUSTOM_GOLD');
  const p = placementRequest({ vcpus: 8, ram: 1024, disk: 10, extra_specs: { 'resources:CUSTOM_BM': '1', 'resources:VCPU': '0', 'resources:MEMORY_MB': '0', 'trait:CUSTOM_B': 'required', 'trait:CUSTOM_A': 'required', 'trait:CUSTOM_X': 'forbidden', 'hw:foo': 'bar' } });
  assert.deepEqual(p, { resourceClass: 'CUSTOM_BM', vcpus: 0, memoryMb: 0, diskGb: 10, requiredTraits: ['CUSTOM_A', 'CUSTOM_B'], forbiddenTraits: ['CUSTOM_X'] });
  assert.equal(placementRequest({ vcpus: 1, ram: 1, disk: 1, extra_specs: { 'resources:CUSTOM_BM': '0' } }).resourceClass, null);
  assert.throws(() => checkExtraSpec('resources:bm', '1'), /resources:bm/);
  assert.throws(() => checkExtraSpec('trait:lower', 'required'), /trait:lower/);
  checkExtraSpec('capabilities:boot_mode', 'uefi');
});

test('microversion negotiation', () => {
  assert.deepEqual(negotiate({}), { major: 2, minor: 1 });
  assert.deepEqual(negotiate({ 'openstack-api-version': 'compute 2.47' }), { major: 2, minor: 47 });
  assert.deepEqual(negotiate({ 'openstack-api-version': 'volume 3.5', 'x-openstack-nova-api-version': '2.10' }), { major: 2, minor: 10 });
  assert.deepEqual(negotiate({ 'openstack-api-version': 'compute latest' }), { major: 2, minor: 73 });
  assert.throws(() => negotiate({ 'openstack-api-version': 'compute 2.74' }), (e: { status: number }) => e.status === 406);
  assert.throws(() => negotiate({ 'openstack-api-version': 'compute 3.1' }), (e: { status: number }) => e.status === 406);
  assert.throws(() => negotiate({ 'openstack-api-version': 'compute 2.x' }), (e: { status: number }) => e.status === 400);
});

