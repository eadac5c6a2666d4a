// The agent's report of the ramdisk's start: the guest clock read from /proc/uptime, the stages
// known at main(), and the lookup that carries them (with lookup_s) to a stand-in seed, which
// also plays an older seed that refuses the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUptime, startStages } from './boot-stages.js';
import { runAgent } from './agent.js';

test('readUptime: the first field of /proc/uptime; undefined when unreadable or not a number', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'boot-stages-'));
  try {
    await writeFile(join(dir, 'uptime'), '12.34 40.10\n');
    assert.equal(readUptime(join(dir, 'uptime')), 12.34);
    await writeFile(join(dir, 'bad'), 'x y\n');
    assert.equal(readUptime(join(dir, 'bad')), undefined);
    assert.equal(readUptime(join(dir, 'missing')), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('startStages: only when the ramdisk init started us; the process start is now minus its uptime', () => {
  assert.equal(startStages({}, 20, 1), undefined, 'run by hand: nothing to report');
  assert.equal(startStages({ BOOTSTACK_INIT_UPTIME: '3.1' }, undefined, 1), undefined, 'no guest clock');
  assert.deepEqual(startStages({ BOOTSTACK_INIT_UPTIME: '3.10' }, 9.5, 1.25), { init_s: 3.1, agent_start_s: 8.25, agent_ready_s: 9.5 });
  assert.deepEqual(startStages({ BOOTSTACK_INIT_UPTIME: 'garbage' }, 9.5, 1.25), { agent_start_s: 8.25, agent_ready_s: 9.5 }, 'a bad init reading is left out');
  assert.deepEqual(startStages({ BOOTSTACK_INIT_UPTIME: '' }, 9.5, 1.25), { agent_start_s: 8.25, agent_ready_s: 9.5 });
});

/** A stand-in seed: answers the lookup (or refuses ramdisk_stages like a seed that predates them) and the first heartbeat. */
async function seed(refuseStages: boolean) {
  const lookups: Array<Record<string, unknown>> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/agent/lookup') {
        const b = JSON.parse(body) as Record<string, unknown>;
        lookups.push(b);
        if (refuseStages && 'ramdisk_stages' in b) {
          return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error_message: 'body.ramdisk_stages: is not an allowed field' }));
        }
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ node_id: 'n1', agent_token: 't', heartbeat_interval_s: 60 }));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lookups, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('the lookup carries the stages with lookup_s read when it is sent; an older seed gets it without them', async () => {
  let clock = 14.9;
  const s = await seed(false);
  try {
    await runAgent({ apiUrl: s.url, bootSecret: 'x', macs: ['52:54:00:00:00:01'], maxCommands: 0, log: () => undefined, stages: { init_s: 3.1, agent_start_s: 5, network_s: 12 }, uptime: () => clock });
    assert.deepEqual(s.lookups[0]?.ramdisk_stages, { init_s: 3.1, agent_start_s: 5, network_s: 12, lookup_s: 14.9 });
    await runAgent({ apiUrl: s.url, bootSecret: 'x', macs: ['52:54:00:00:00:01'], maxCommands: 0, log: () => undefined });
    assert.equal('ramdisk_stages' in s.lookups[1]!, false, 'an agent not started by the ramdisk sends none');
  } finally {
    await s.close();
  }
  const old = await seed(true);
  try {
    clock = 20;
    await runAgent({ apiUrl: old.url, bootSecret: 'x', macs: ['52:54:00:00:00:01'], maxCommands: 0, log: () => undefined, stages: { init_s: 3.1 }, uptime: () => clock });
    assert.equal(old.lookups.length, 2);
    assert.deepEqual(old.lookups[0]?.ramdisk_stages, { init_s: 3.1, lookup_s: 20 });
    assert.deepEqual(old.lookups[1], { macs: ['52:54:00:00:00:01'], boot_secret: 'x' });
  } finally {
    await old.close();
  }
});
