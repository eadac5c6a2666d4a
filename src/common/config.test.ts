import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig, configFromEnv } from './config.js';
import { ConfigError } from './errors.js';

const schema = z.strictObject({
  listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().default(6385) }).default({ host: '127.0.0.1', port: 6385 }),
  log: z.strictObject({ level: z.enum(['debug', 'info', 'warn']).default('info') }).default({ level: 'info' }),
});

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-config-'));
  dirs.push(dir);
  const path = join(dir, 'bootstack.yaml');
  writeFileSync(path, text);
  return path;
}

test('file, then environment, then flags; later wins', () => {
  const cfg = loadConfig({
    schema,
    file: file('listen:\n  host: 0.0.0.0\n  port: 7000\n'),
    env: { BOOTSTACK_LISTEN__PORT: '7100' },
    flags: { log: { level: 'debug' } },
  });
  assert.deepEqual(cfg, { listen: { host: '0.0.0.0', port: 7100 }, log: { level: 'debug' } });
});

test('an unknown key is refused with its path and line', () => {
  const path = file('listen:\n  host: x\n  prot: 1\n');
  assert.throws(
    () => loadConfig({ schema, file: path, env: {} }),
    (err: unknown) =>
      err instanceof ConfigError && err.message.includes(`${path}:3: unknown configuration key "listen.prot"`),
  );
});

test('a mistyped value is refused with its path', () => {
  assert.throws(
    () => loadConfig({ schema, file: file('listen:\n  port: eighty\n'), env: {} }),
    (err: unknown) => err instanceof ConfigError && /:2: listen\.port: /.test(err.message),
  );
});

test('a YAML syntax error names the file and line', () => {
  const path = file('listen:\n  port: [1,\n');
  assert.throws(() => loadConfig({ schema, file: path, env: {} }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(path));
});

test('environment keys use double underscores and keep scalar types', () => {
  assert.deepEqual(configFromEnv({ BOOTSTACK_A__B: '3', BOOTSTACK_LOG_LEVEL: 'debug', BOOTSTACK_C__D: 'true' }), {
    a: { b: 3 },
    c: { d: true },
  });
});
