// The whole configuration path on one machine, with the bundled tools as separate processes:
// os-collect-config (request collector, long-poll server on 127.0.0.1) runs os-refresh-config,
// whose configure.d runs os-apply-config (templates → files) and heat-config (script deployment →
// signal to an HTTP endpoint). A metadata change updates the file and re-runs only what changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { run } from '../src/common/child-process.js';
import { LongPollDocument, serveLongPoll } from './support/agents/long-poll-server.js';

test('collect → refresh → apply + deploy → signal, and again on change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agents-converge-'));
  const signals: { path: string; body: Record<string, unknown> }[] = [];
  let doc: LongPollDocument | undefined;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/signal/')) {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        signals.push({ path: req.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
        res.end();
      });
      return;
    }
    serveLongPoll(doc as LongPollDocument, req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const bin = join(dir, 'bin');
    await run(process.execPath, ['scripts/bundle-agents.mjs', '--outdir', bin], { timeoutMs: 120_000 });
    const root = join(dir, 'root');
    const templates = join(dir, 'templates');
    mkdirSync(join(templates, 'etc'), { recursive: true });
    writeFileSync(join(templates, 'etc', 'app.conf'), '[app]\nport={{app.port}}\n{{#app.peers}}\npeer={{.}}\n{{/app.peers}}\n');
    const refresh = join(dir, 'refresh');
    mkdirSync(join(refresh, 'configure.d'), { recursive: true });
    writeFileSync(join(refresh, 'configure.d', '20-os-apply-config'), `#!/bin/sh\nset -e\n${bin}/os-apply-config -t ${templates} -o ${root}\n`, { mode: 0o755 });
    writeFileSync(
      join(refresh, 'configure.d', '55-heat-config'),
      `#!/bin/sh\nset -e\n${bin}/heat-config --work-dir ${join(dir, 'heat-config')} --signal-backoff 0.05\n`,
      { mode: 0o755 },
    );
    const metadata = (port: number, greeting: string) =>
      JSON.stringify({
        app: { port, peers: ['10.0.0.1', '10.0.0.2'] },
        deployments: [
          {
            id: 'dep-1',
            name: 'greet',
            group: 'script',
            config: '#!/bin/sh\necho -n "$greeting from $(cat ' + join(root, 'etc/app.conf') + ' | head -2 | tail -1)" > "$heat_outputs_path.result"\n',
            inputs: [
              { name: 'greeting', value: greeting },
              { name: 'deploy_signal_transport', value: 'TEMP_URL_SIGNAL' },
              { name: 'deploy_signal_id', value: `${base}/signal/dep-1` },
            ],
            outputs: [{ name: 'result' }],
          },
        ],
      });
    doc = new LongPollDocument(metadata(8080, 'hello'));
    writeFileSync(join(dir, 'empty.conf'), '');
    const collect = [
      join(bin, 'os-collect-config'),
      [
        '--config-file',
        join(dir, 'empty.conf'),
        '--cachedir',
        join(dir, 'cache'),
        '--backup-cachedir',
        join(dir, 'backup'),
        '--request-metadata-url',
        `${base}/metadata`,
        '--command',
        `${bin}/os-refresh-config --lockfile ${join(dir, 'orc.lock')}`,
        '--one-time',
        'request',
      ],
    ] as const;
    const env = { ...process.env, OS_REFRESH_CONFIG_BASE_DIR: refresh };
    await run(collect[0], collect[1], { env, timeoutMs: 120_000 });
    assert.equal(readFileSync(join(root, 'etc/app.conf'), 'utf8'), '[app]\nport=8080\npeer=10.0.0.1\npeer=10.0.0.2\n');
    assert.equal(signals.length, 1);
    assert.deepEqual(signals[0]?.body, { result: 'hello from port=8080', deploy_stdout: '', deploy_stderr: '', deploy_status_code: 0 });

    // Only the template input changes: the file follows, the deployment (same inputs) does not rerun.
    doc.set(metadata(9090, 'hello'));
    await run(collect[0], collect[1], { env, timeoutMs: 120_000 });
    assert.match(readFileSync(join(root, 'etc/app.conf'), 'utf8'), /^port=9090$/m);
    assert.equal(signals.length, 1);

    // The deployment's input changes: it runs again and signals.
    doc.set(metadata(9090, 'bonjour'));
    await run(collect[0], collect[1], { env, timeoutMs: 120_000 });
    assert.equal(signals.length, 2);
    assert.equal(signals[1]?.body.result, 'bonjour from port=9090');

    // Nothing changes: the command does not even run.
    await run(collect[0], collect[1], { env, timeoutMs: 120_000 });
    assert.equal(signals.length, 2);
  } finally {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
