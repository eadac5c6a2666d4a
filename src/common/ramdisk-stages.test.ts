// The ramdisk's start figures: what is kept, what is dropped (with a reason naming the field), the
// timeline row's wording and the lab benchmark's reading of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRamdiskStages, describeRamdiskStages, parseRamdiskStagesRow, MAX_UPTIME_S } from './ramdisk-stages.js';

test('checkRamdiskStages keeps plausible uptimes in stage order', () => {
  const c = checkRamdiskStages({ lookup_s: 14.9, init_s: 3.1, agent_start_s: 5.2, agent_ready_s: 7.8, network_s: 12 });
  assert.deepEqual(c, { stages: { init_s: 3.1, agent_start_s: 5.2, agent_ready_s: 7.8, network_s: 12, lookup_s: 14.9 }, ignored: [] });
  assert.deepEqual(checkRamdiskStages({}), { stages: {}, ignored: [] }, 'an agent may know none of them');
});

test('checkRamdiskStages drops what is not an uptime, goes back in time or is unknown, naming the field', () => {
  const c = checkRamdiskStages({ init_s: -1, agent_start_s: '5', agent_ready_s: MAX_UPTIME_S, network_s: 9, lookup_s: 8, boot_s: 1 });
  assert.deepEqual(c.stages, { network_s: 9 });
  assert.equal(c.ignored.length, 5, c.ignored.join('\n'));
  assert.match(c.ignored.join('\n'), /ramdisk_stages\.boot_s: not a stage this seed knows/);
  assert.match(c.ignored.join('\n'), /ramdisk_stages\.init_s: -1 is not a guest uptime/);
  assert.match(c.ignored.join('\n'), /ramdisk_stages\.agent_start_s: "5" is not a guest uptime/);
  assert.match(c.ignored.join('\n'), /ramdisk_stages\.agent_ready_s: 86400 is not a guest uptime/);
  assert.match(c.ignored.join('\n'), /ramdisk_stages\.lookup_s: 8 s is before network_s \(9 s\)/);
  assert.match(checkRamdiskStages([1]).ignored[0]!, /expected an object.*got an array/);
  assert.match(checkRamdiskStages(null).ignored[0]!, /expected an object/);
});

test('describeRamdiskStages: from the kernel through each stage, the time since the previous one', () => {
  const c = checkRamdiskStages({ init_s: 3.1, agent_start_s: 5.2, agent_ready_s: 7.8, network_s: 12, lookup_s: 14.9 });
  const row = describeRamdiskStages(c);
  assert.equal(row, 'ramdisk (guest clock): kernel → init 3.10 s, → agent started 2.10 s, → agent loaded 2.60 s, → network up 4.20 s, → lookup 2.90 s (uptime 14.90 s)');
  assert.deepEqual(parseRamdiskStagesRow(row), { init_s: 3.1, agent_start_s: 2.1, agent_ready_s: 2.6, network_s: 4.2, lookup_s: 2.9 });
  // A stage left out: the next one counts from the last one reported.
  const partial = describeRamdiskStages(checkRamdiskStages({ init_s: 'x', agent_start_s: 5, lookup_s: 6.5 }));
  assert.equal(partial, 'ramdisk (guest clock): kernel → agent started 5.00 s, → lookup 1.50 s (uptime 6.50 s); ignored: ramdisk_stages.init_s: "x" is not a guest uptime (a number of seconds, 0 ≤ s < 86400)');
  assert.deepEqual(parseRamdiskStagesRow(partial), { agent_start_s: 5, lookup_s: 1.5 });
  assert.equal(describeRamdiskStages({ stages: {}, ignored: [] }), 'ramdisk (guest clock): no usable figures');
  assert.equal(parseRamdiskStagesRow('deploy agent looked up (x)'), undefined);
});
