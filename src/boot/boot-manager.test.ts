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

/** A manager over one restored pending boot, with the given secret store and event bus. */
const restoredManager = (nodeId: string, mac: string, secretStore = new MemoryBootSecretStore(), events = new BootEventBus()) =>
  new BootManager({
    store: restoredStore(nodeId, mac),
    secrets: new BootSecrets(secretStore, 60_000),
    commands: new MemoryDeployCommands(),
    events,
    baseUrl: () => 'http://seed/boot',
    kernel: 'k',
    ramdisk: 'r',
    kernelArgs: '',
  });

test('a restored pending boot: a failed secret write is retried on the next script fetch', async () => {
  const secretStore = new FlakySecretStore();
  const mac = '52:54:00:12:34:56';
  const manager = restoredManager('n1', mac, secretStore);
  await manager.restore();
  secretStore.failures = 1;
  await assert.rejects(manager.scriptFor(mac), /database is locked/);
  const script = await manager.scriptFor(mac);
  assert.match(script, new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=\\S+`), 'the second fetch gets a script with a secret');
  const secret = new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=(\\S+)`).exec(script)![1]!;
  assert.equal((await manager.lookup([mac], secret)).nodeId, 'n1', 'and that secret works');
});

test("the lookup's ramdisk figures: checked, emitted just before the lookup at the same time", async () => {
  const mac = '52:54:00:12:34:57';
  const events = new BootEventBus();
  const seen: Array<{ kind: string; at: Date; detail: Record<string, unknown> }> = [];
  events.subscribe((e) => void seen.push(e));
  const manager = restoredManager('n2', mac, undefined, events);
  await manager.restore();
  const secretOf = (script: string) => new RegExp(`${CMDLINE.secret.replace('.', '\\.')}=(\\S+)`).exec(script)![1]!;
  await manager.lookup([mac], secretOf(await manager.scriptFor(mac)), undefined, { init_s: 3.1, network_s: 2, lookup_s: 1e9 });
  const [stages, lookup] = seen.filter((e) => e.kind === 'ramdisk_stages' || e.kind === 'agent_lookup');
  assert.equal(stages?.kind, 'ramdisk_stages');
  assert.equal(lookup?.kind, 'agent_lookup');
  assert.equal(stages.at.getTime(), lookup.at.getTime());
  assert.deepEqual(stages.detail.stages, { init_s: 3.1 });
  assert.deepEqual(stages.detail.ignored, [
    'ramdisk_stages.network_s: 2 s is before init_s (3.1 s)',
    'ramdisk_stages.lookup_s: 1000000000 is not a guest uptime (a number of seconds, 0 ≤ s < 86400)',
  ]);
});
