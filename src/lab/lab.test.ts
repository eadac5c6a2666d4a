// Shrinking a lab without QEMU: lab.json keeps listing the machines being dropped until each is
// stopped and removed, so a failure half-way leaves them to `lab down`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeExtraMachines } from './lab.js';
import { LabPaths, readLabRecord, writeLabRecord } from './state.js';
import type { LabRecord, MachineRecord } from './spec.js';

const machine = (i: number): MachineRecord => ({
  name: `lab-${i}`, index: i, systemId: `00000000-0000-4000-8000-00000000000${i}`, mac: `52:54:00:00:00:0${i}`, tap: `tap${i}`, cpus: 1, memoryMiB: 512, diskGiB: 4,
});

const record = (n: number): LabRecord => ({
  version: 1, id: 'abc123', createdAt: '2026-01-01T00:00:00.000Z', firmware: 'bios', accel: 'tcg', accelReason: 'test',
  network: { namespace: 'bs-abc123', bridge: 'br0', seedInterface: 'bs-abc123', peerInterface: 'peer0', cidr: '10.77.0.0/24', seedAddress: '10.77.0.1', prefixLength: 24 },
  bmc: { host: '127.0.0.1', port: 8000, username: 'admin', url: 'http://127.0.0.1:8000', uuid: '00000000-0000-4000-8000-0000000000ff' },
  machines: Array.from({ length: n }, (_, i) => machine(i)),
});

test('shrinking: a failed removal leaves the dropped machines in lab.json; success saves the shorter list', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-lab-'));
  try {
    const p = new LabPaths(dir);
    const full = record(3);
    await writeLabRecord(p, full); // what labUp saves before removing: the short list plus the extras
    const short = { ...full, machines: full.machines.slice(0, 1) };
    const extra = full.machines.slice(1);

    const seen: string[] = [];
    await assert.rejects(
      removeExtraMachines(p, short, extra, async (m) => {
        seen.push(m.name);
        if (m.name === 'lab-2') throw new Error('qemu would not stop');
      }),
      /qemu would not stop/,
    );
    assert.deepEqual(seen, ['lab-1', 'lab-2']);
    assert.deepEqual((await readLabRecord(p))!.machines.map((m) => m.name), ['lab-0', 'lab-1', 'lab-2']);

    const removed = await removeExtraMachines(p, short, extra, async () => undefined);
    assert.deepEqual(removed, ['lab-1', 'lab-2']);
    assert.deepEqual((await readLabRecord(p))!.machines.map((m) => m.name), ['lab-0']);

    // Nothing to drop: the record is left as it is.
    assert.deepEqual(await removeExtraMachines(p, full, [], async () => assert.fail('nothing to remove')), []);
    assert.deepEqual((await readLabRecord(p))!.machines.map((m) => m.name), ['lab-0']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
