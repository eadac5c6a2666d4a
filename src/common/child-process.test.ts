import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, commandExists } from './child-process.js';
import { CommandError } from './errors.js';

test('returns output of a successful command, with stdin', async () => {
  const r = await run('sh', ['-c', 'cat; echo done >&2'], { input: 'hello' });
  assert.equal(r.stdout, 'hello');
  assert.equal(r.stderr, 'done\n');
});

test('a failing command rejects with its exit code and stderr in the message', async () => {
  await assert.rejects(run('sh', ['-c', 'echo broken disk >&2; exit 3']), (err: unknown) =>
    err instanceof CommandError && err.exitCode === 3 && /exited with code 3: broken disk/.test(err.message));
});

test('a hanging command is killed at its timeout', async () => {
  const started = Date.now();
  await assert.rejects(run('sleep', ['30'], { timeoutMs: 200 }), /timed out after 200 ms/);
  assert.ok(Date.now() - started < 5000);
});

test('a missing program is a CommandError, and commandExists says so', async () => {
  await assert.rejects(run('no-such-program-here', []), CommandError);
  assert.equal(await commandExists('no-such-program-here'), false);
  assert.equal(await commandExists('sh'), true);
});
