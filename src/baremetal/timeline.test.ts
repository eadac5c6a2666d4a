// The boot timeline's wording, the phase-timeout hint for each last step a machine reached, and
// the order rows are written in (into a recording stand-in for the database; the end-to-end
// tests in test/boot-deploy-e2e.test.ts read them back through the API).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { BaremetalKysely, HistoryRow } from './db.js';
import { BootTimeline, describe } from './timeline.js';
import { inventoryToProperties } from './drivers/agent-inspect.js';

test('describe: DHCP, fetches and agent commands in operator words; heartbeats are not rows', () => {
  const at = new Date();
  assert.equal(describe({ kind: 'dhcp', at, mac: '52:54:00:00:00:01', detail: { message: 'DHCPACK', ip: '10.0.0.5' } })?.text, 'DHCP DHCPACK 52:54:00:00:00:01 10.0.0.5');
  assert.equal(describe({ kind: 'dhcp', at, mac: 'x', detail: { message: 'DHCPDISCOVER', ignored: true, reason: 'no address available' } })?.severity, 'WARNING');
  assert.equal(describe({ kind: 'file_fetched', at, detail: { file: 'deploy.kernel', bytes: 8 * 1024 * 1024, seconds: 0.5 } })?.text, 'deploy.kernel fetched: 8.0 MiB in 0.50 s');
  assert.equal(
    describe({ kind: 'file_fetched', at, detail: { file: 'image x', bytes: 4.1 * 1024 * 1024, seconds: 0.14, transfer: 'sparse', image_bytes: 24 * 1024 * 1024, extents: 3 } })?.text,
    'image x fetched: 24.0 MiB in 0.14 s, sparse: 4.1 MiB sent in 3 data extents',
  );
  assert.equal(
    describe({ kind: 'command_finished', at, detail: { name: 'write_image', status: 'succeeded', result: { bytes: 3 * 1024 * 1024, seconds: 1.5, mb_per_s: 2.1 } } })?.text,
    'agent command write_image succeeded: 3.0 MiB in 1.50 s (2.1 MB/s)',
  );
  assert.deepEqual(describe({ kind: 'command_finished', at, detail: { name: 'erase', status: 'failed', error: 'wipefs: boom' } }), { text: 'agent command erase failed: wipefs: boom', severity: 'ERROR' });
  assert.equal(describe({ kind: 'heartbeat', at, detail: {} }), undefined);
});

test("describe: the ramdisk's start on the guest clock, one row; dropped figures named, no figures a warning", () => {
  const at = new Date();
  const row = describe({ kind: 'ramdisk_stages', at, nodeId: 'n1', detail: { stages: { init_s: 3.1, agent_start_s: 6, agent_ready_s: 7.5, network_s: 11.7, lookup_s: 13.5 }, ignored: [] } });
  assert.deepEqual(row, {
    text: 'ramdisk (guest clock): kernel → init 3.10 s, → agent started 2.90 s, → agent loaded 1.50 s, → network up 4.20 s, → lookup 1.80 s (uptime 13.50 s)',
    severity: 'INFO',
  });
  const none = describe({ kind: 'ramdisk_stages', at, nodeId: 'n1', detail: { stages: {}, ignored: ['ramdisk_stages.init_s: -1 is not a guest uptime'] } });
  assert.deepEqual(none, { text: 'ramdisk (guest clock): no usable figures; ignored: ramdisk_stages.init_s: -1 is not a guest uptime', severity: 'WARNING' });
});

test('timeout hints follow the last step; rows are stored in order', async () => {
  const rows: HistoryRow[] = [];
  const db = { insertInto: () => ({ values: (row: HistoryRow) => ({ execute: async () => void rows.push(row) }) }) } as unknown as BaremetalKysely;
  {
    const t = new BootTimeline(db, pino({ level: 'silent' }), 'test');
    const macs = ['52:54:00:00:00:01'];
    assert.match(t.timeoutHint('n1', macs, 120), /^no DHCP request from 52:54:00:00:00:01 in 120 s — check that the machine boots from the network on its provisioning NIC$/);
    const at = new Date();
    t.record({ kind: 'dhcp', at, nodeId: 'n1', mac: macs[0], detail: { message: 'DHCPACK', ip: '10.0.0.5' } });
    assert.match(t.timeoutHint('n1', macs, 120), /last step reached: DHCP DHCPACK .* never fetched its iPXE script/);
    t.record({ kind: 'script_fetched', at, nodeId: 'n1', detail: { name: '52-54-00-00-00-01' } });
    assert.match(t.timeoutHint('n1', macs, 120), /kernel and ramdisk were not fetched/);
    t.record({ kind: 'file_fetched', at, nodeId: 'n1', detail: { file: 'deploy.initramfs', bytes: 1, seconds: 0 } });
    assert.match(t.timeoutHint('n1', macs, 120), /ramdisk never looked up/);
    t.record({ kind: 'command_started', at, nodeId: 'n1', detail: { name: 'write_image' } });
    assert.match(t.timeoutHint('n1', macs, 120), /last step reached: agent command write_image started .* stopped reporting/);
    t.record({ kind: 'dhcp', at, detail: { message: 'DHCPDISCOVER' } }); // no node: not stored
    await t.flush();
    assert.deepEqual(rows.map((r) => r.event_type), ['boot', 'boot', 'boot', 'boot']);
    assert.equal(rows[3]!.event, 'agent command write_image started');
    // Same instant, strictly increasing stamps: the history keeps the order.
    const stamps = rows.map((r) => r.created_at);
    assert.deepEqual([...stamps].sort(), stamps);
    assert.equal(new Set(stamps).size, 4);
    t.begin('n1');
    assert.match(t.timeoutHint('n1', macs, 5), /^no DHCP request/);
  }
});

test('inspection inventory to properties: root disk by name hint or the smallest of 4 GiB, GiB minus one', () => {
  const GiB = 1024 ** 3;
  const inv = {
    cpu: { count: 4, architecture: 'x86_64' },
    memory: { physical_mb: 2048 },
    disks: [{ name: '/dev/sda', size: 2 * GiB }, { name: '/dev/sdb', size: 50 * GiB }, { name: '/dev/sdc', size: 20 * GiB }],
    interfaces: [{ mac_address: 'aa:bb:cc:00:00:01', physical: true }, { mac_address: 'aa:bb:cc:00:00:02', physical: false }],
  };
  assert.deepEqual(inventoryToProperties(inv, undefined), { result: 'done', properties: { cpus: 4, cpu_arch: 'x86_64', memory_mb: 2048, local_gb: 19 }, macs: ['aa:bb:cc:00:00:01'] });
  assert.equal(inventoryToProperties(inv, { name: 'sdb' }).properties!.local_gb, 49);
});
