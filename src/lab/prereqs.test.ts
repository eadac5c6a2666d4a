import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPrerequisites, MissingPrerequisitesError } from './prereqs.js';

test('missing prerequisites are refused, naming the Debian packages', async () => {
  const probe = {
    hasCommand: async (cmd: string) => cmd !== 'qemu-img' && cmd !== 'qemu-system-x86_64',
    hasFile: (path: string) => !path.includes('OVMF'),
  };
  await assert.rejects(checkPrerequisites('uefi', { probe, needRoot: false }), (e: unknown) => {
    assert.ok(e instanceof MissingPrerequisitesError);
    assert.match(e.message, /install with: apt-get install -y qemu-system-x86 qemu-utils ovmf$/);
    return true;
  });
  // BIOS labs do not need OVMF.
  await assert.rejects(checkPrerequisites('bios', { probe, needRoot: false }), /apt-get install -y qemu-system-x86 qemu-utils$/);
});

test('this machine has everything (the package list in scripts/debian-packages/lab.txt)', async () => {
  await checkPrerequisites('uefi', { needRoot: false });
});
