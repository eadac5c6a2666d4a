import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seedIpv6 } from './network.js';

test('seed IPv6 address: one /64 per lab id, written as ip(8) prints it', () => {
  assert.equal(seedIpv6('0a00ff'), 'fd00:b007:a:ff::1');
  assert.equal(seedIpv6('c0ffee'), 'fd00:b007:c0:ffee::1');
  assert.notEqual(seedIpv6('000001'), seedIpv6('000002'));
});
