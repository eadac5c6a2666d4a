// The binding rules on their own (the HTTP side is in test/security-boot-*.test.ts): the fetch
// limiter's buckets on a fake clock, dnsmasq lease times, and BootManager's lease binding: only
// an ACK after the boot was armed counts, a later ACK moves it, an expired lease or boot stops the
// script, and a restarted manager keeps refusing other addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchLimiter, clientAddress, leaseMs, type Binding } from './address-binding.js';
import { BootManager, type PendingBootStore } from './boot-manager.js';
import { BootSecrets, MemoryBootSecretStore } from './boot-secrets.js';
import { BootEventBus, type BootEvent } from './boot-events.js';
import { MemoryDeployCommands } from './deploy-commands.js';
import type { StoredPendingBoot } from './deploy-store.js';

test('FetchLimiter: a burst per address, then one more per 60/N s; the total caps every address; the first refusal is marked', () => {
  let now = 0;
  const l = new FetchLimiter(3, 5, () => now);
  for (let i = 0; i < 3; i++) assert.equal(l.take('a'), undefined);
  assert.deepEqual(l.take('a'), { limit: 'address', first: true });
  assert.deepEqual(l.take('a'), { limit: 'address', first: false });
  now += 20_000; // 3 a minute: one token back
  assert.equal(l.take('a'), undefined);
  assert.deepEqual(l.take('a'), { limit: 'address', first: true }, 'a new run of refusals is logged again');
  // The total: 5 a minute, 4 taken, 1.67 refilled in the 20 s.
  assert.equal(l.take('b'), undefined);
  assert.equal(l.take('c'), undefined);
  assert.deepEqual(l.take('d'), { limit: 'global', first: true });
  assert.deepEqual(l.take('e'), { limit: 'global', first: false });
});

test('lease times and client addresses as dnsmasq writes them', () => {
  assert.equal(leaseMs('1h'), 3_600_000);
  assert.equal(leaseMs('45m'), 2_700_000);
  assert.equal(leaseMs('600'), 600_000);
  assert.equal(leaseMs('infinite'), Infinity);
  assert.equal(clientAddress('::ffff:10.0.0.5'), '10.0.0.5');
  assert.equal(clientAddress('fe80::1'), 'fe80::1');
});

class MemoryPendingStore implements PendingBootStore {
  rows = new Map<string, StoredPendingBoot>();
  async putPending(p: StoredPendingBoot) {
    this.rows.set(p.nodeId, { ...p });
  }
  async loadPending() {
    return [...this.rows.values()];
  }
  async putBinding(nodeId: string, bound: Binding | undefined, scriptAt: Date | undefined) {
    const r = this.rows.get(nodeId);
    if (r) Object.assign(r, { bound, scriptAt });
  }
  async putGrant() {}
  async getGrant() {
    return undefined;
  }
  async deleteNode(nodeId: string) {
    this.rows.delete(nodeId);
  }
}

function manager(store: PendingBootStore, events = new BootEventBus(), leaseTime = '1h') {
  return new BootManager({
    store,
    secrets: new BootSecrets(new MemoryBootSecretStore(), 60_000),
    commands: new MemoryDeployCommands(),
    events,
    baseUrl: () => 'http://seed/boot',
    kernel: 'k',
    ramdisk: 'r',
    kernelArgs: '',
    leases: { leaseMs: leaseMs(leaseTime) },
  });
}

const MAC = '52:54:00:b1:00:01';
const refused = (code: string) => (err: unknown) => (err as { fields?: { reason?: string } }).fields?.reason === code;

test('lease binding: an ACK before the boot was armed does not count; the leased address gets the script; a later ACK moves it', async () => {
  const store = new MemoryPendingStore();
  const events: BootEvent[] = [];
  const bus = new BootEventBus();
  bus.subscribe((e) => events.push(e));
  const m = manager(store, bus);
  await m.restore();
  m.leaseSeen(MAC, '10.0.0.50'); // the machine's previous boot, before this one was armed
  await m.prepareBoot({ nodeId: 'n1', macs: [MAC], firmware: 'bios' });
  await assert.rejects(m.scriptFor(MAC, '10.0.0.50'), refused('no_lease'));
  await assert.rejects(m.scriptFor(MAC, '127.0.0.1').then(() => m.scriptFor(MAC, '10.0.0.50')), refused('not_bound_address'), 'the seed host binds by first fetch');

  await m.prepareBoot({ nodeId: 'n1', macs: [MAC], firmware: 'bios' });
  m.leaseSeen(MAC.toUpperCase(), '10.0.0.51');
  await assert.rejects(m.scriptFor(MAC, '10.0.0.50'), refused('not_bound_address'));
  assert.match(await m.scriptFor(MAC, '10.0.0.51'), /boot_secret=/);
  // The ramdisk's own DHCP got another address: the agent's calls follow the lease.
  m.leaseSeen(MAC, '10.0.0.52');
  assert.throws(() => m.assertFrom('n1', '10.0.0.51', 'agent call'), refused('address'));
  m.assertFrom('n1', '10.0.0.52', 'agent call');
  const refusedFetches = events.filter((e) => e.kind === 'script_fetched' && e.detail.granted === false).map((e) => e.detail.reason);
  assert.deepEqual(refusedFetches, [
    `no DHCP lease from our dnsmasq to ${MAC} since the boot was armed`,
    'bound to 127.0.0.1 (the first address that fetched it)',
    'bound to 10.0.0.51 (its DHCP lease)',
  ]);
  assert.deepEqual(events.filter((e) => e.kind === 'access_refused').map((e) => e.detail), [{ what: 'agent call', from: '10.0.0.51', bound: '10.0.0.52' }]);
});

test('lease binding: an expired lease stops the script; a restarted manager keeps the binding and the first fetch', async () => {
  const store = new MemoryPendingStore();
  const m = manager(store, new BootEventBus(), '1');
  await m.restore();
  await m.prepareBoot({ nodeId: 'n1', macs: [MAC], firmware: 'bios' });
  m.leaseSeen(MAC, '10.0.0.60', new Date(Date.now() - 2000));
  await assert.rejects(m.scriptFor(MAC, '10.0.0.60'), refused('lease_expired'));
  m.leaseSeen(MAC, '10.0.0.60');
  assert.match(await m.scriptFor(MAC, '10.0.0.60'), /boot_secret=/);
  await m.cleanBoot('unrelated'); // waits for the writes made behind the calls

  const restarted = manager(store, new BootEventBus(), '1h');
  await restarted.restore();
  await assert.rejects(restarted.scriptFor(MAC, '10.0.0.61'), refused('not_bound_address'));
  // Within the retry window the bound address gets a (new: the plaintext died) secret.
  assert.match(await restarted.scriptFor(MAC, '10.0.0.60'), /boot_secret=/);
  assert.equal(store.rows.get('n1')?.bound?.ip, '10.0.0.60');
});

test('lease binding: a fetch that overtakes the DHCPACK log line waits for it instead of being refused', async () => {
  const m = manager(new MemoryPendingStore());
  await m.restore();
  await m.prepareBoot({ nodeId: 'n1', macs: [MAC], firmware: 'bios' });
  const fetch = m.scriptFor(MAC, '10.0.0.70');
  setTimeout(() => m.leaseSeen(MAC, '10.0.0.70'), 200);
  assert.match(await fetch, /boot_secret=/);
});

test('lease binding: a later lease for the MAC (anyone can ask dnsmasq for one) gets no retry, and cannot move the boot after lookup', async () => {
  const m = manager(new MemoryPendingStore());
  await m.restore();
  await m.prepareBoot({ nodeId: 'n1', macs: [MAC], firmware: 'bios' });
  m.leaseSeen(MAC, '10.0.0.80');
  assert.match(await m.scriptFor(MAC, '10.0.0.80'), /boot_secret=/);
  // iPXE retrying after a broken chain asks for DHCP again (same lease): still served.
  m.leaseSeen(MAC, '10.0.0.80', new Date(Date.now() + 1));
  const secret = /bootstack\.boot_secret=(\S+)/.exec(await m.scriptFor(MAC, '10.0.0.80'))?.[1];
  assert.ok(secret);
  // A forged request naming the node's MAC gets a lease at another address: no script there.
  m.leaseSeen(MAC, '10.0.0.99', new Date(Date.now() + 5));
  await assert.rejects(m.scriptFor(MAC, '10.0.0.99'), refused('already_fetched'));
  // The real ramdisk's own lease brings the binding back; it looks up from there.
  m.leaseSeen(MAC, '10.0.0.81', new Date(Date.now() + 10));
  assert.equal((await m.lookup([MAC], secret, '10.0.0.81')).nodeId, 'n1');
  // After the lookup no lease moves the boot, and no retry is served: the agent keeps its address.
  await assert.rejects(m.scriptFor(MAC, '10.0.0.81'), refused('already_fetched'));
  m.leaseSeen(MAC, '10.0.0.99', new Date(Date.now() + 20));
  m.assertFrom('n1', '10.0.0.81', 'agent call');
  assert.throws(() => m.assertFrom('n1', '10.0.0.99', 'agent call'), refused('address'));
});
