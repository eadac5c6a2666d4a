import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../common/logging.js';
import { standardMetaData, type InstanceContent } from '../common/instance-metadata.js';
import { buildMetadataApp } from './routes.js';
import { FakeInstanceLocator } from '../../test/support/metadata/fake-locator.js';
import { parseArpTable } from './neighbours.js';

const SECRET = 'user-data-secret-7f3e';
const CONTENT: InstanceContent = {
  meta_data: standardMetaData({ uuid: 'node-a', name: 'a', public_keys: { k: 'ssh-ed25519 AAAA k@a' }, 'os-collect-config': { request: { metadata_url: 'http://x/?token=1' } } }),
  user_data: `#!/bin/sh\necho ${SECRET}\n`,
};

function harness() {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
  const locator = new FakeInstanceLocator({ '192.0.2.10': { nodeId: 'node-a', content: CONTENT } });
  return { app: buildMetadataApp({ locator, log }), locator, lines };
}

test('a known address gets its tree with the right content types; the log has the source and node, never the content', async () => {
  const { app, lines, locator } = harness();
  const get = (url: string, ip = '192.0.2.10') => app.inject({ method: 'GET', url, remoteAddress: ip });
  const meta = await get('/openstack/latest/meta_data.json');
  assert.equal(meta.statusCode, 200);
  assert.match(String(meta.headers['content-type']), /^application\/json(;|$)/);
  assert.equal(meta.body, JSON.stringify(CONTENT.meta_data));
  const ud = await get('/openstack/latest/user_data');
  assert.equal(ud.statusCode, 200);
  assert.match(String(ud.headers['content-type']), /^text\/plain/);
  assert.equal(ud.body, CONTENT.user_data);
  assert.match(String((await get('/openstack/latest/network_data.json')).headers['content-type']), /^application\/json/);
  assert.equal((await get('/openstack/latest/vendor_data2.json')).body, '{}');
  assert.equal((await get('/openstack?x=1')).body.split('\n').at(-1), 'latest');
  assert.equal((await get('/latest/meta-data/public-keys/0/openssh-key')).body, 'ssh-ed25519 AAAA k@a');
  assert.equal((await get('/latest/user-data')).body, CONTENT.user_data);
  assert.equal((await get('/openstack/latest/nothing')).statusCode, 404);
  // IPv4-mapped IPv6 sources are the same caller.
  assert.equal((await get('/openstack/latest/meta_data.json', '::ffff:192.0.2.10')).statusCode, 200);
  assert.deepEqual(locator.asked.at(-1), '192.0.2.10');
  const logged = lines.join('');
  assert.match(logged, /"ip":"192\.0\.2\.10"/);
  assert.match(logged, /"node":"node-a"/);
  assert.ok(!logged.includes(SECRET), 'user data logged');
  assert.ok(!logged.includes('AAAA'), 'key logged');
  assert.ok(!logged.includes('token=1'), 'metadata logged');
  await app.close();
});

test('an unknown address gets 404 and nothing of anyone\'s data, on every path', async () => {
  const { app, lines } = harness();
  for (const url of ['/openstack/latest/meta_data.json', '/openstack', '/', '/latest/meta-data/', '/latest/user-data']) {
    const r = await app.inject({ method: 'GET', url, remoteAddress: '192.0.2.11' });
    assert.equal(r.statusCode, 404, url);
    assert.equal(r.body, 'Not Found');
  }
  assert.match(lines.join(''), /"ip":"192\.0\.2\.11".*request refused/);
  await app.close();
});

test('/proc/net/arp: complete entries only, MACs lower-cased', () => {
  const t = parseArpTable(
    'IP address       HW type     Flags       HW address            Mask     Device\n' +
      '10.0.0.5         0x1         0x2         52:54:00:AA:BB:CC     *        br0\n' +
      '10.0.0.6         0x1         0x0         00:00:00:00:00:00     *        br0\n',
  );
  assert.deepEqual([...t], [['10.0.0.5', '52:54:00:aa:bb:cc']]);
});
