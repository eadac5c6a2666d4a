import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, redactSecrets } from './logging.js';

test('secret keys are redacted at any depth we log', () => {
  const lines: string[] = [];
  const destination = new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } });
  const log = createLogger({ destination, level: 'info' });
  log.info({ driver_info: { redfish_password: 'p1', redfish_username: 'admin' }, password: 'p2', req: { headers: { 'x-auth-token': 't1' } } }, 'x');
  const out = lines.join('');
  for (const secret of ['p1', 'p2', 't1']) assert.ok(!out.includes(`"${secret}"`), out);
  assert.ok(out.includes('"redfish_username":"admin"'));
});

test('redactSecrets masks values for API output and keeps the shape', () => {
  assert.deepEqual(redactSecrets({ a: 1, pm_password: 'x', nested: [{ Password: 'y', token: null }] }), {
    a: 1,
    pm_password: '******',
    nested: [{ Password: '******', token: null }],
  });
});
