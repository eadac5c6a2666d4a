import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineMac, normalizeRequest, parseCidr } from './spec.js';
import { ValidationError } from '../common/errors.js';

test('defaults are filled and string numbers from the CLI are accepted', () => {
  const r = normalizeRequest({ nodes: '3', memoryMiB: '512' });
  assert.equal(r.nodes, 3);
  assert.equal(r.memoryMiB, 512);
  assert.equal(r.firmware, 'bios');
  assert.equal(r.accel, 'auto');
});

test('bad input names the option', () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ nodes: '0' }, /nodes: must be an integer from 1/],
    [{ nodes: 'two' }, /nodes: must be an integer/],
    [{ memoryMiB: 64 }, /memory: must be an integer from 128/],
    [{ firmware: 'coreboot' }, /firmware: must be one of bios, uefi/],
    [{ accel: 'hvf' }, /accel: must be one of auto, kvm, tcg/],
    [{ cidr: '8.8.8.0/24' }, /cidr: must be a private/],
    [{ cidr: '10.0.0.0/8' }, /cidr: must be an IPv4 network/],
    [{ bmcHost: 'localhost' }, /bmc-host: must be an IPv4 address/],
    [{ bmcPort: 70000 }, /bmc-port/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => normalizeRequest(input), (e: unknown) => e instanceof ValidationError && re.test(e.message), JSON.stringify(input));
  }
});

test('CIDR parsing normalises to the network address', () => {
  assert.deepEqual(parseCidr('10.213.7.9/24'), { network: ((10 * 256 + 213) * 256 + 7) * 256, prefix: 24 });
});

test('MACs are locally administered QEMU MACs, distinct per machine', () => {
  assert.equal(machineMac('a1b2c3', 0), '52:54:00:a1:b2:00');
  assert.equal(machineMac('a1b2c3', 11), '52:54:00:a1:b2:0b');
});
