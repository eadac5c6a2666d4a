// BootManager after a seed restart: a pending boot restored from the store has no plaintext
// secret, so the first script fetch issues another one. If that write fails (database busy or
// away), the failure must not stick: the next fetch tries again instead of failing for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BootManager, type PendingBootStore } from './boot-manager.js';
import { BootSecrets, MemoryBootSecretStore, type BootSecretRecord } from './boot-secrets.js';
import { BootEventBus } from './boot-events.js';
import { MemoryDeployCommands } from './deploy-commands.js';
import { CMDLINE } from './ipxe-script.js';

/** A secret store whose next `failures` puts throw. */
class FlakySecretStore extends MemoryBootSecretStore {
  failures = 0;
  override async put(record: BootSecretRecord): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('database is locked');
    }
    await super.put(record);
  }
}

const restoredStore = (nodeId: string, mac: string): PendingBootStore => ({
  putPending: async () => undefined,
  putBinding: async () => undefined,
  loadPending: async () => [{ nodeId, macs: [mac], firmware: 'bios', expiresAt: new Date(Date.now() + 60_000) }],
  putGrant: async () => undefined,
  getGrant: async () => undefined,
  deleteNode: async () => undefined,
});

test('a restored pending boot: a failed secret write is retried on the next script fetch', async () => {
  const secretStore = new FlakySecretStore();
  const mac = '52:54:00:12:34:56';
  const manager = new BootManager({
    store: restoredStore('n1', mac),
    secrets: new BootSecrets(secretStore, 60_000),
    commands: new MemoryDeployCommands(),
    events: new BootEventBus(),
    baseUrl: () => 'http://seed/boot',
    kernel: 'k',
    ramdisk: 'r',
    kernelArgs: '',
  });
  await manager.restore();
  secretStore.failures = 1;
  await assert.rejects(manager.scriptFor(mac), /database is locked/);
  const script = await manager.scriptFor(mac);
  assert.match(script, new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=\\S+`), 'the second fetch gets a script with a secret');
  const secret = new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=(\\S+)`).exec(script)![1]!;
  assert.equal((await manager.lookup([mac], secret)).nodeId, 'n1', 'and that secret works');
});
