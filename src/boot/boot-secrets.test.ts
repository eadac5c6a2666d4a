import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnauthorizedError } from '../common/errors.js';
import { BootSecrets, MemoryBootSecretStore, hashSecret } from './boot-secrets.js';
import { BootManager } from './boot-manager.js';
import { BootEventBus } from './boot-events.js';
import { MemoryDeployCommands } from './deploy-commands.js';

const reason = (r: string) => (e: unknown) => e instanceof UnauthorizedError && e.fields.reason === r;

test('a boot secret is long and random, works once, and is refused when used, expired or unknown', async () => {
  let now = 1_000_000;
  const secrets = new BootSecrets(new MemoryBootSecretStore(), 60_000, () => now);
  const a = await secrets.issue('node-a');
  const b = await secrets.issue('node-b');
  assert.notEqual(a.secret, b.secret);
  assert.ok(a.secret.length >= 43 && /^[A-Za-z0-9_-]+$/.test(a.secret)); // 256 bits, URL-safe
  assert.equal(await secrets.consume(a.secret), 'node-a');
  await assert.rejects(secrets.consume(a.secret), reason('used'));
  now += 60_000;
  await assert.rejects(secrets.consume(b.secret), reason('expired'));
  await assert.rejects(secrets.consume('not-a-secret'), reason('unknown'));
});

test('a new secret for a node revokes the older one; a refused check does not burn it', async () => {
  const secrets = new BootSecrets(new MemoryBootSecretStore(), 60_000);
  const first = await secrets.issue('n');
  const second = await secrets.issue('n');
  await assert.rejects(secrets.consume(first.secret), reason('unknown'));
  await assert.rejects(secrets.consume(second.secret, () => { throw new UnauthorizedError('wrong MAC'); }), /wrong MAC/);
  assert.equal(await secrets.consume(second.secret), 'n');
});

test('cleanBoot revokes the node\'s boot secret: it is gone from the store, a lookup calls it unknown', async () => {
  const store = new MemoryBootSecretStore();
  const manager = new BootManager({
    secrets: new BootSecrets(store, 60_000),
    commands: new MemoryDeployCommands(),
    events: new BootEventBus(),
    baseUrl: () => 'http://127.0.0.1:1/boot',
    kernel: 'k',
    ramdisk: 'r',
    kernelArgs: '',
  });
  const mac = '52:54:00:aa:00:09';
  await manager.prepareBoot({ nodeId: 'n9', macs: [mac], firmware: 'bios' });
  const secret = /bootstack\.boot_secret=(\S+)/.exec((await manager.scriptFor(mac)))?.[1];
  assert.ok(secret);
  assert.ok(await store.get(hashSecret(secret)));
  await manager.cleanBoot('n9');
  assert.equal(await store.get(hashSecret(secret)), undefined);
  await assert.rejects(manager.lookup([mac], secret), reason('unknown'));
});
