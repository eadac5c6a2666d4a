import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { main } from './cli.js';

/** A seed that hands out one session and then, as at the end of a clean, revokes it. */
async function seedThat(nextStatus: number, resultStatus = 204) {
  const server = createServer((req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/agent/lookup') return json(200, { node_id: 'n1', agent_token: 't', heartbeat_interval_s: 60 });
    if (req.url?.endsWith('/heartbeat')) return json(204, {});
    if (req.url?.endsWith('/commands/next')) {
      if (nextStatus === 200) return json(200, { command: { id: 'c1', name: 'no_such_command', params: {} } });
      return json(nextStatus, { code: nextStatus, message: 'Invalid agent token for this node.' });
    }
    if (req.url?.endsWith('/result')) return json(resultStatus, { code: resultStatus, message: 'Invalid agent token for this node.' });
    json(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** Runs the agent against `seed`: it exits 0 and says on stderr that the seed ended the session. */
async function assertEndsQuietly(seed: { url: string; close: () => void }) {
  const err: string[] = [];
  try {
    const code = await main(['--api-url', seed.url, '--boot-secret', 's', '--macs', '52:54:00:00:00:01'], { env: {}, stdout: () => undefined, stderr: (t) => err.push(t) });
    assert.equal(code, 0);
    assert.match(err.join(''), /the seed ended this session/);
  } finally {
    seed.close();
  }
}

test('a revoked session ends the agent quietly (exit 0), not with a stack trace on the console', async () => {
  await assertEndsQuietly(await seedThat(401));
});

test('a session revoked while the agent reports a result also ends it quietly (exit 0)', async () => {
  // The seed hands out a command, then revokes the token before the result arrives (the deploy
  // timed out, or was aborted): the agent must end as it does when polling, not crash.
  await assertEndsQuietly(await seedThat(200, 401));
});
