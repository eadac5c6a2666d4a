// `openstack software config ...` and `openstack software deployment ...` with the REAL client
// (Debian's python3-heatclient) against a seed: configs created from files with inputs and
// outputs, listed, shown and deleted; a deployment of a config to a server (fake compute)
// created (heatclient derives a config with the inputs' values), listed (per server), shown,
// its outputs shown once signalled, its server's metadata shown, and deleted with its derived
// config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { startSeed, type TestSeed } from './support/seed.js';
import { openstackCli } from './support/openstack-cli.js';

let seed: TestSeed;
let work: string;

const { openstack, ok, json } = openstackCli(() => seed.stateDir);

before(async () => {
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'fake' } });
  work = mkdtempSync(join(tmpdir(), 'orch-sw-cli-'));
});
after(async () => {
  await seed?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('software config create, list, show, delete', async () => {
  const script = join(work, 'hello.sh');
  writeFileSync(script, '#!/bin/sh\necho "hello $name" > $heat_outputs_path.greeting\n');
  const definition = join(work, 'def.yaml');
  writeFileSync(definition, stringify({ inputs: [{ name: 'name', default: 'world' }], outputs: [{ name: 'greeting' }], options: { retain: true } }));
  const made = await json(['software', 'config', 'create', '--config-file', script, '--definition-file', definition, '--group', 'script', 'hello']);
  assert.equal(made.name, 'hello');
  assert.equal(made.group, 'script');
  assert.match(made.config, /echo "hello \$name"/);
  assert.deepEqual(made.inputs, [{ name: 'name', default: 'world' }]);
  assert.deepEqual(made.outputs, [{ name: 'greeting' }]);
  assert.deepEqual(made.options, { retain: true });
  assert.match(made.id, /^[0-9a-f-]{36}$/);

  const list = await json(['software', 'config', 'list']);
  assert.ok(list.some((c: { id: string; name: string; group: string }) => c.id === made.id && c.name === 'hello' && c.group === 'script'), JSON.stringify(list));
  const shown = await json(['software', 'config', 'show', made.id]);
  assert.equal(shown.id, made.id);
  assert.deepEqual(shown.inputs, made.inputs);
  // --config prints the config alone.
  assert.equal((await ok(['software', 'config', 'show', '--config', made.id])).trim(), String(made.config).trim());

  await ok(['software', 'config', 'delete', made.id]);
  const gone = await openstack(['software', 'config', 'show', made.id]);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr + gone.stdout, /not found/i);
  assert.ok(!(await json(['software', 'config', 'list'])).some((c: { id: string }) => c.id === made.id));
});

test('software deployment create, list, show, output show, metadata, delete', async () => {
  const admin = await seed.token();
  // A server to deploy to: an OS::Nova::Server of a stack (fake compute) in the CLI's project.
  const stack = await seed.call('POST', '/orchestration/stacks', {
    token: admin,
    body: { stack_name: 'sw-cli', template: { heat_template_version: '2018-08-31', resources: { srv: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'baremetal' } } } } },
  });
  assert.equal(stack.status, 201, JSON.stringify(stack.body));
  let server = '';
  for (let i = 0; i < 200 && !server; i++) {
    const r = await seed.call('GET', `/orchestration/stacks/sw-cli/${stack.body.stack.id as string}/resources/srv`, { token: admin });
    if (r.body?.resource?.resource_status === 'CREATE_COMPLETE') server = r.body.resource.physical_resource_id;
    else await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(server, 'server created');

  const script = join(work, 'greet.sh');
  writeFileSync(script, 'echo hi\n');
  const definition = join(work, 'greet.yaml');
  writeFileSync(definition, stringify({ inputs: [{ name: 'name', default: 'world' }], outputs: [{ name: 'greeting' }] }));
  const cfg = await json(['software', 'config', 'create', '--config-file', script, '--definition-file', definition, '--group', 'script', 'greet']);

  const d = await json(['software', 'deployment', 'create', '--config', cfg.id, '--server', server, '--signal-transport', 'NO_SIGNAL', '--input-value', 'name=bootstack', '--input-value', 'extra=1', 'greet-deploy']);
  assert.equal(d.server_id, server);
  assert.equal(d.action, 'UPDATE');
  assert.equal(d.status, 'IN_PROGRESS');
  assert.notEqual(d.config_id, cfg.id, 'heatclient derives a config holding the input values');

  const list = await json(['software', 'deployment', 'list']);
  assert.ok(list.some((x: { id: string; server_id: string; status: string }) => x.id === d.id && x.server_id === server && x.status === 'IN_PROGRESS'), JSON.stringify(list));
  assert.deepEqual((await json(['software', 'deployment', 'list', '--server', server])).map((x: { id: string }) => x.id), [d.id]);
  assert.deepEqual(await json(['software', 'deployment', 'list', '--server', 'no-such-server']), []);

  const shown = await json(['software', 'deployment', 'show', d.id, '--long']);
  assert.equal(shown.id, d.id);
  assert.equal(shown.config_id, d.config_id);
  assert.equal(shown.status, 'IN_PROGRESS');

  // What the server's machine receives: the derived config with its inputs' values.
  const md = JSON.parse(await ok(['software', 'config', 'show', d.config_id, '-f', 'json']));
  const values = Object.fromEntries(md.inputs.map((i: { name: string; value: unknown }) => [i.name, i.value]));
  assert.equal(values.name, 'bootstack');
  assert.equal(values.extra, '1');
  assert.equal(values.deploy_server_id, server);
  assert.equal(values.deploy_signal_transport, 'NO_SIGNAL');
  const meta = JSON.parse(await ok(['software', 'deployment', 'metadata', 'show', server]));
  const entry = meta.find((x: { id: string }) => x.id === d.id);
  assert.ok(entry, JSON.stringify(meta));
  assert.equal(entry.inputs.find((i: { name: string }) => i.name === 'name').value, 'bootstack');

  // No outputs yet: nothing to show.
  assert.doesNotMatch(await ok(['software', 'deployment', 'output', 'show', d.id, 'greeting']), /hello/);
  // The machine reports (as heat-config does through the API): status and outputs.
  const put = await seed.call('PUT', `/orchestration/software_deployments/${d.id as string}`, {
    token: admin,
    body: { status: 'COMPLETE', status_reason: 'Outputs received', output_values: { greeting: 'hello bootstack', deploy_stdout: 'out', deploy_stderr: '', deploy_status_code: 0 } },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.match(await ok(['software', 'deployment', 'output', 'show', d.id, 'greeting']), /hello bootstack/);
  const all = await ok(['software', 'deployment', 'output', 'show', d.id, '--all']);
  assert.match(all, /greeting/);
  assert.match(all, /hello bootstack/);
  const missing = await openstack(['software', 'deployment', 'output', 'show', d.id, 'nosuch']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /Output nosuch does not exist in deployment/);
  assert.equal((await json(['software', 'deployment', 'show', d.id])).status, 'COMPLETE');

  // Delete removes the deployment and its derived config (not the source config).
  await ok(['software', 'deployment', 'delete', d.id]);
  assert.notEqual((await openstack(['software', 'deployment', 'show', d.id])).code, 0);
  assert.notEqual((await openstack(['software', 'config', 'show', d.config_id])).code, 0);
  assert.equal((await json(['software', 'config', 'show', cfg.id])).id, cfg.id);
  const bad = await openstack(['software', 'deployment', 'delete', 'no-such-deployment']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout + bad.stderr, /Deployment with ID no-such-deployment not found/);
});
