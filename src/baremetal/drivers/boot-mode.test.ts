import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeBootMode } from './boot-mode.js';

test('boot mode: the field, else the capability, else the instance, else unknown', () => {
  const n = (boot_mode: string | null, capabilities?: string, deploy_boot_mode?: string) => ({
    boot_mode,
    properties: capabilities === undefined ? {} : { capabilities },
    instance_info: deploy_boot_mode === undefined ? {} : { deploy_boot_mode },
  });
  assert.equal(nodeBootMode(n('bios', 'boot_mode:uefi')), 'bios');
  assert.equal(nodeBootMode(n(null, 'profile:compute,boot_mode:uefi')), 'uefi');
  assert.equal(nodeBootMode(n(null, 'boot_mode:bios')), 'bios');
  assert.equal(nodeBootMode(n(null, undefined, 'uefi')), 'uefi');
  assert.equal(nodeBootMode(n(null, 'boot_mode:weird')), undefined);
  assert.equal(nodeBootMode(n(null)), undefined);
});
