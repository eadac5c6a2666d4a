// recover() after a restart: a node it fails (interrupted in a deploy/clean/inspect state or a
// wait state it cannot resume) has its network boot cleaned up too. The boot service keeps
// pending boots, agent sessions and image grants in the database, so without this the failed
// node kept a live boot secret, agent token and image download grant after the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal } from './baremetal-helpers.js';
import { defaultRegistry } from '../src/baremetal/drivers/default-registry.js';
import { FakeBoot } from '../src/baremetal/drivers/fake-boot.js';
import type { DriverNode } from '../src/baremetal/drivers/interfaces.js';

/** The fake boot interface, recording which nodes' ramdisk boots were cleaned up. */
class RecordingBoot extends FakeBoot {
  readonly cleaned: string[] = [];
  override async cleanUpRamdisk(node?: DriverNode): Promise<void> {
    if (node) this.cleaned.push(node.uuid);
  }
}

test('recover(): nodes failed after a restart lose their ramdisk boot; others are left alone', async () => {
  const boot = new RecordingBoot();
  const h = await startBaremetal({ registry: (c) => defaultRegistry(c).register('boot', boot), background: false });
  try {
    const host = h.service.conductor.options.host;
    const node = async (name: string, state: string, reservation: string | null) => {
      const r = await h.call('POST', '/baremetal/v1/nodes', { name, driver: 'fake-hardware' }, { 'x-openstack-ironic-api-version': '1.9' });
      assert.equal(r.status, 201);
      await h.database.db
        .updateTable('baremetal_nodes')
        .set({ provision_state: state, reservation, operation: reservation ? JSON.stringify({ kind: 'deploy', started_at: '2026-01-01T00:00:00Z' }) : null })
        .where('uuid', '=', r.body.uuid)
        .execute();
      return r.body.uuid as string;
    };
    const deploying = await node('deploying', 'deploying', host);
    const waiting = await node('waiting', 'wait call-back', null);
    const active = await node('active', 'active', null);
    boot.cleaned.length = 0;
    const out = await h.service.conductor.recover();
    assert.deepEqual([...out.failed].sort(), [deploying, waiting].sort());
    assert.deepEqual([...boot.cleaned].sort(), [deploying, waiting].sort());
    assert.ok(!boot.cleaned.includes(active));
  } finally {
    await h.stop();
  }
});
