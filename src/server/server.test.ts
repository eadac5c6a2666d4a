import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { startSeed } from '../../test/support/seed.js';

test('stop() ends even when a client left a request half-sent (a machine powered off mid-request)', async () => {
  const seed = await startSeed({ services: ['identity'] });
  const { hostname, port } = new URL(seed.url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  // Headers never finished: the connection is neither idle nor ever going to complete.
  socket.write('GET /identity/v3 HTTP/1.1\r\nHost: x\r\n');
  socket.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  await seed.stop();
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 15, `stop() took ${seconds} s`);
  socket.destroy();
});

test('every route schema of every service compiles (they compile lazily, so a broken one would only fail on first use)', async () => {
  const seed = await startSeed();
  try {
    // Fastify builds the validators once the routes are ready, i.e. after listen.
    const count = seed.server.app.compileAllSchemas();
    assert.ok(count > 0, "no route schema was registered");
  } finally {
    await seed.stop();
  }
});
