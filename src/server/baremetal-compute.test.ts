import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlavor } from './baremetal-compute.js';

test('a flavor names the resource class, with optional required traits after "+"', () => {
  assert.deepEqual(parseFlavor('baremetal'), { resourceClass: 'baremetal', traits: [] });
  assert.deepEqual(parseFlavor('compute+CUSTOM_GPU+HW_CPU_X86_AVX2'), { resourceClass: 'compute', traits: ['CUSTOM_GPU', 'HW_CPU_X86_AVX2'] });
});
