// `bootstack serve` as an operator runs it: a real process, a real port, SIGTERM to stop,
// optional TLS, and configuration mistakes refused before anything starts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

const bin = join(import.meta.dirname, '..', 'bin', 'bootstack.js');

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], {
    env: { ...process.env, BOOTSTACK_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += String(c)));
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += String(c);
      const m = /serving on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  url.catch(() => undefined); // a test that expects the exit reads stderr instead
  return { child, url, stderr: () => stderr };
}

test('serves, answers, and stops cleanly on SIGTERM', async () => {
  const state = tempDir('bootstack-serve-');
  const s = serve(['--state-dir', state]);
  const url = await s.url;
  const r = await fetch(`${url}/`);
  assert.equal(r.status, 200);
  assert.ok(r.headers.get('x-openstack-request-id'));
  const exited = once(s.child, 'exit');
  s.child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, s.stderr());
});

test('serves over TLS from cert and key paths', async () => {
  const state = tempDir('bootstack-tls-');
  const cert = join(state, 'cert.pem');
  const key = join(state, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const config = join(state, 'bootstack.yaml');
  writeFileSync(config, `state_dir: ${state}\ntls:\n  cert: ${cert}\n  key: ${key}\n`);
  const s = serve(['--config', config]);
  try {
    const url = await s.url;
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = execFileSync('curl', ['-s', '--cacert', cert, `${url}/`]).toString();
    assert.equal(JSON.parse(body).name, 'bootstack');
  } finally {
    s.child.kill('SIGTERM');
    await once(s.child, 'exit');
  }
});

test('a configuration mistake is refused with the file, line and key, before listening', async () => {
  const state = tempDir('bootstack-badcfg-');
  const config = join(state, 'bootstack.yaml');
  writeFileSync(config, `state_dir: ${state}\nlisten:\n  prot: 80\n`);
  const s = serve(['--config', config]);
  const [code] = await once(s.child, 'exit');
  assert.equal(code, 1);
  assert.match(s.stderr(), new RegExp(`${config}:3: unknown configuration key "listen.prot"`));
});

test('a service that fails to initialise stops the start and frees the port', async () => {
  const { startServer } = await import('../src/server/server.js');
  const { serverConfigSchema } = await import('../src/server/config.js');
  const { createLogger } = await import('../src/common/logging.js');
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  // Orchestration's servers go through compute (the default) and the compute service is off: its init() refuses.
  const config = serverConfigSchema.parse({
    state_dir: tempDir('bootstack-initfail-'),
    listen: { host: '127.0.0.1', port },
    services: ['identity', 'orchestration'],
  });
  await assert.rejects(startServer(config, createLogger({ level: 'silent' })), /compute_provider is "compute" but the compute service is not enabled/);
  await new Promise<void>((res, rej) => {
    const s = createServer().once('error', rej).listen(port, '127.0.0.1', () => s.close(() => res()));
  });
});
