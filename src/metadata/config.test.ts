import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metadataConfigSchema } from './config.js';

test('defaults: off, 169.254.169.254:80, no interface of its own', () => {
  assert.deepEqual(metadataConfigSchema.parse({}), { enabled: false, listen_host: '169.254.169.254', port: 80 });
});

test('strict: unknown keys, bad addresses, ports and interface names are refused with their path', () => {
  for (const [bad, path] of [
    [{ enable: true }, ''],
    [{ listen_host: 'metadata.local' }, 'listen_host'],
    [{ port: 0 }, 'port'],
    [{ port: '80' }, 'port'],
    [{ interface: 'eth0; rm -rf /' }, 'interface'],
    [{ enabled: 'auto' }, 'enabled'],
  ] as const) {
    const r = metadataConfigSchema.safeParse(bad);
    assert.equal(r.success, false, JSON.stringify(bad));
    assert.equal(r.error!.issues[0]!.path.join('.'), path, JSON.stringify(r.error!.issues));
  }
});
