import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_COMMANDS } from './agent-protocol.js';
import { AgentProtocolError, checkCommandParams, checkCommandResult, isAgentCommand } from './agent-protocol-check.js';
import { AGENT_ROUTES, agentPath } from './agent-protocol-http.js';

const refused = (fn: () => unknown, field: RegExp) => assert.throws(fn, (e: unknown) => e instanceof AgentProtocolError && field.test(e.message));

const image = { image_url: 'http://seed/boot/images/t', checksum: 'ab' };

test('the command names are the wire names', () => {
  assert.deepEqual([...AGENT_COMMANDS], ['inspect', 'erase', 'write_image', 'write_config_drive', 'sync']);
  assert.equal(isAgentCommand('write_image'), true);
  assert.equal(isAgentCommand('format_disk'), false);
  refused(() => checkCommandParams('format_disk', {}), /^unknown command format_disk$/);
});

test('malformed params are refused naming the field', () => {
  refused(() => checkCommandParams('write_image', { checksum: 'ab' }), /^params\.image_url is required$/);
  refused(() => checkCommandParams('write_image', { ...image, checksum: 5 }), /^params\.checksum must be a string$/);
  refused(() => checkCommandParams('write_image', { ...image, checksum_algo: 'crc32' }), /^params\.checksum_algo must be one of md5, sha256, sha512$/);
  refused(() => checkCommandParams('write_image', { ...image, image_type: 'iso' }), /^params\.image_type must be whole-disk or partition$/);
  refused(() => checkCommandParams('write_image', { ...image, image_type: 'partition' }), /params\.image_size or params\.root_mb is required/);
  refused(() => checkCommandParams('write_image', { ...image, device: ['/dev/sda'] }), /^params\.device must be a string$/);
  refused(() => checkCommandParams('write_config_drive', { user_data: 'x' }), /^params\.meta_data must be an object$/);
  refused(() => checkCommandParams('erase', { device: null }), /^params\.device is required$/);
  refused(() => checkCommandParams('sync', 'now'), /^params must be an object$/);
});

test('params are coerced as the agent always did, so an older seed is still served', () => {
  assert.deepEqual(checkCommandParams('write_image', { ...image, image_type: 'partition', image_size: '1024', root_mb: null }), {
    ...image,
    checksum_algo: 'sha256',
    image_type: 'partition',
    image_size: 1024,
  });
  assert.deepEqual(checkCommandParams('erase', { devices: ['/dev/vda', 7] }), { devices: ['/dev/vda', '7'] });
  assert.deepEqual(checkCommandParams('erase', undefined), {});
  // Hints given as null differ from no hints (the agent then re-chooses the disk instead of reusing write_image's).
  assert.deepEqual(checkCommandParams('write_config_drive', { meta_data: {}, user_data: 3, root_device_hints: null }), {
    meta_data: {},
    root_device_hints: null,
    network_data: undefined,
    user_data: null,
    vendor_data: undefined,
    vendor_data2: undefined,
  });
  assert.deepEqual(checkCommandParams('inspect', { extra: 1 }), {});
});

test('results are checked for the fields the seed reads', () => {
  refused(() => checkCommandResult('write_image', { checksum: 'ab' }), /^result\.bytes must be a number$/);
  refused(() => checkCommandResult('inspect', { disks: [{ name: '/dev/vda', size: 1 }, { name: '/dev/vdb', size: '1' }] }), /^result\.disks\[1\]\.size must be a number$/);
  refused(() => checkCommandResult('inspect', { interfaces: [{}] }), /^result\.interfaces\[0\]\.mac_address must be a string$/);
  refused(() => checkCommandResult('inspect', { cpu: { count: '2' } }), /^result\.cpu\.count must be a number$/);
  refused(() => checkCommandResult('erase', { devices: 'all' }), /^result\.devices must be an array$/);
  refused(() => checkCommandResult('write_config_drive', { device: '/dev/vda' }), /^result\.files must be an array$/);
  refused(() => checkCommandResult('sync', null), /^result must be an object$/);
  assert.deepEqual(checkCommandResult('inspect', { cpu: { count: 2 } }), { cpu: { count: 2 } });
  assert.deepEqual(checkCommandResult('sync', { synced: true }), { synced: true });
});

test('routes keep their wire paths; node and command ids are URI-encoded', () => {
  assert.equal(AGENT_ROUTES.lookup, '/agent/lookup');
  assert.equal(agentPath(AGENT_ROUTES.heartbeat, { nodeId: 'n 1' }), '/agent/nodes/n%201/heartbeat');
  assert.equal(agentPath(AGENT_ROUTES.next, { nodeId: 'n1' }), '/agent/nodes/n1/commands/next');
  assert.equal(agentPath(AGENT_ROUTES.result, { nodeId: 'n1', commandId: 'c/2' }), '/agent/nodes/n1/commands/c%2F2/result');
  assert.throws(() => agentPath(AGENT_ROUTES.result, { nodeId: 'n1' }), /commandId is required/);
});
