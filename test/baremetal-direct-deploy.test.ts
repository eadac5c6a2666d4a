// The "ipxe" boot + "direct" deploy interfaces against a real BootManager, with a power driver
// that fails: a deploy whose power-on fails must not leave the MAC served the deploy ramdisk
// with a live boot secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBaremetal, waitForNode } from './baremetal-helpers.js';
import { defaultRegistry } from '../src/baremetal/drivers/default-registry.js';
import { FakePower } from '../src/baremetal/drivers/fake-power.js';
import { IpxeBoot } from '../src/baremetal/drivers/ipxe-boot.js';
import { DirectDeploy } from '../src/baremetal/drivers/direct-deploy.js';
import type { DriverContext, DriverNode, PowerTarget } from '../src/baremetal/drivers/interfaces.js';
import { Provisioning } from '../src/baremetal/provisioning.js';
import { BootManager, LOCAL_BOOT_SCRIPT } from '../src/boot/boot-manager.js';
import { BootEventBus } from '../src/boot/boot-events.js';
import { BootSecrets, MemoryBootSecretStore } from '../src/boot/boot-secrets.js';
import { MemoryDeployCommands } from '../src/boot/deploy-commands.js';

const MAC = '52:54:00:aa:bb:01';

/** Fake power whose power-on (and reboot) fails, as a BMC refusing the action would. */
class PowerOnFails extends FakePower {
  override async setPowerState(node: DriverNode, target: PowerTarget, ctx: DriverContext): Promise<void> {
    if (target === 'power on' || target === 'rebooting') throw new Error('BMC refused to power on');
    return super.setPowerState(node, target, ctx);
  }
}

test('power-on fails after the ramdisk boot was prepared: deploy failed and the MAC is no longer served the ramdisk', async () => {
  const events = new BootEventBus();
  const manager = new BootManager({
    secrets: new BootSecrets(new MemoryBootSecretStore(), 60_000),
    commands: new MemoryDeployCommands(),
    events,
    baseUrl: () => 'http://127.0.0.1:1/boot',
    kernel: 'deploy.kernel',
    ramdisk: 'deploy.initramfs',
    kernelArgs: '',
  });
  const provisioning = new Provisioning();
  provisioning.attach({
    boot: {
      prepare: async (o) => void (await manager.prepareBoot(o)),
      cleanUp: (nodeId) => manager.cleanBoot(nodeId),
      setPorts: async () => undefined,
      addPort: async () => undefined,
      removePort: async () => undefined,
    },
    agent: { lookedUp: () => false, run: async () => ({ status: 'failed', error: 'not in this test' }) },
    images: { locate: async () => Promise.reject(new Error('not in this test')) },
    timeline: events,
  });
  let prepared = 0;
  const boot = new IpxeBoot(provisioning, async () => [MAC]);
  const origPrepare = boot.prepareRamdisk.bind(boot);
  boot.prepareRamdisk = async (node, ctx) => {
    await origPrepare(node, ctx);
    prepared++;
    assert.notEqual(await manager.scriptFor(MAC), LOCAL_BOOT_SCRIPT, 'the ramdisk boot is pending after prepare');
  };
  const h = await startBaremetal({
    registry: (c) => defaultRegistry(c).register('power', new PowerOnFails()).register('boot', boot).register('deploy', new DirectDeploy(provisioning)),
  });
  try {
    const c = await h.call('POST', '/baremetal/v1/nodes', {
      name: 'power-on-fails',
      driver: 'fake-hardware',
      boot_interface: 'ipxe',
      deploy_interface: 'direct',
      automated_clean: false,
      instance_info: { image_source: 'some-image' },
    });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const id = c.body.uuid as string;
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'manage' });
    await waitForNode(h, id, (n) => n.provision_state === 'manageable' && !n.reservation);
    await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'provide' });
    await waitForNode(h, id, (n) => n.provision_state === 'available' && !n.reservation);
    assert.equal((await h.call('PUT', `/baremetal/v1/nodes/${id}/states/provision`, { target: 'active' })).status, 202);
    const failed = await waitForNode(h, id, (n) => n.provision_state === 'deploy failed' && !n.reservation);
    assert.match(failed.last_error, /BMC refused to power on/);
    assert.equal(prepared, 1);
    assert.equal(manager.nodeForMac(MAC), undefined);
    assert.equal(await manager.scriptFor(MAC), LOCAL_BOOT_SCRIPT);
  } finally {
    await h.stop();
  }
});
