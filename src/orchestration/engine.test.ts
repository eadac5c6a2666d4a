// The engine on a real SQLite database with the named FakeComputeProvider: servers and software
// deployments completed by signals, parallel and batched creation, cancel, timeouts,
// deletion_policy Retain, schema-only types, health marks.
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { testEngine, until, withEngine } from '../../test/support/orchestration/test-support.js';
import type { JsonMap } from './yaml-source.js';



const SERVERS = `
heat_template_version: 2015-04-30
parameters:
  image: {type: string, default: overcloud-full}
resources:
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      inputs: [{name: greeting}]
      outputs: [{name: result}]
      config: "#!/bin/sh\\necho $greeting"
  sconfig:
    type: OS::Heat::StructuredConfig
    properties:
      group: os-apply-config
      config: {motd: {get_input: greeting}, role: {get_input: deploy_server_id}}
  key:
    type: OS::Nova::KeyPair
    properties: {name: heat-key, save_private_key: true}
  server:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      flavor: baremetal
      key_name: {get_resource: key}
      user_data_format: SOFTWARE_CONFIG
      software_config_transport: POLL_SERVER_HEAT
      metadata: {role: compute}
  deploy:
    type: OS::Heat::SoftwareDeployment
    properties:
      config: {get_resource: config}
      server: {get_resource: server}
      input_values: {greeting: hello}
  sdeploy:
    type: OS::Heat::StructuredDeployment
    properties:
      config: {get_resource: sconfig}
      server: {get_resource: server}
      signal_transport: NO_SIGNAL
      input_values: {greeting: hi}
outputs:
  stdout: {value: {get_attr: [deploy, deploy_stdout]}}
  result: {value: {get_attr: [deploy, result]}}
  ip: {value: {get_attr: [server, first_address]}}
  public_key: {value: {get_attr: [key, public_key]}}
`;

test('servers on the fake compute provider with software deployments completed by signals', () =>
  withEngine(async (t) => {
    const s = await t.engine.create('p', { stack_name: 'servers', template: SERVERS });
    let deploymentId = '';
    await until(async () => {
      const rows = await t.engine.resources(s.id);
      const d = rows.find((r) => r.name === 'deploy');
      deploymentId = d?.physical_id ?? '';
      // Both deployments in the server's metadata: on a busy machine the second comes a moment later.
      const server = rows.find((r) => r.name === 'server');
      const listed = server ? ((JSON.parse(server.metadata) as { deployments?: unknown[] }).deployments ?? []).length : 0;
      return d?.action === 'CREATE' && d.status === 'IN_PROGRESS' && JSON.parse(d.data).deployment_id !== undefined && listed === 2;
    });
    const spec = t.compute.list()[0]!;
    assert.equal(spec.flavor, 'baremetal');
    // A stack user was made for the server; os-collect-config's section names it (the shape the
    // os-collect-config.conf template reads).
    assert.equal(t.stackUsers.users.size, 1);
    const [userId, user] = [...t.stackUsers.users][0]!;
    assert.deepEqual(spec.collectConfig, {
      collectors: ['heat_local', 'heat'],
      polling_interval: 30,
      heat: { auth_url: 'http://127.0.0.1:1/identity/v3', user_id: userId, password: user!.password, project_id: 'p', stack_id: `servers/${s.id}`, resource_name: 'server' },
    });
    const server = (await t.engine.resources(s.id)).find((r) => r.name === 'server')!;
    // What os-collect-config's heat collector reads: the server resource's metadata.
    const md = JSON.parse(server.metadata) as { deployments: JsonMap[] };
    const deps = md.deployments;
    assert.equal(deps.length, 2);
    const script = deps.find((d) => d.group === 'script')!;
    const inputs = Object.fromEntries((script.inputs as JsonMap[]).map((i) => [i.name, i.value]));
    assert.equal(inputs.greeting, 'hello');
    assert.equal(inputs.deploy_server_id, server.physical_id);
    assert.match(String(inputs.deploy_signal_id), /^http:\/\/127\.0\.0\.1:1\/orchestration\/signal\/deployments\/[0-9a-f-]+\/[0-9a-f]+$/);
    const structured = deps.find((d) => d.group === 'os-apply-config')!;
    assert.deepEqual(structured.config, { motd: 'hi', role: server.physical_id });
    // The hook signals success with outputs through the token URL.
    const [, , token] = /deployments\/([^/]+)\/([^/]+)$/.exec(String(inputs.deploy_signal_id))!;
    await assert.rejects(t.engine.signalByToken(deploymentId, 'wrong', {}), /could not be found/);
    await t.engine.signalByToken(deploymentId, token!, { deploy_status_code: 0, deploy_stdout: 'hello\n', deploy_stderr: '', result: 'done' });
    const row = await t.settle(s.id);
    assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
    const outs = Object.fromEntries((await t.engine.outputs(row)).map((o) => [o.output_key, o.output_value]));
    assert.equal(outs.stdout, 'hello\n');
    assert.equal(outs.result, 'done');
    assert.match(String(outs.ip), /^192\.0\.2\.\d+$/);
    assert.match(String(outs.public_key), /^ssh-rsa AAAA[0-9A-Za-z+/=]+ heat-key$/);
    // Delete removes the deployments from the metadata and the server from the provider.
    await t.engine.delete(row);
    await t.settle(s.id);
    assert.equal(t.compute.list().length, 0);
    assert.equal(t.stackUsers.users.size, 0, 'the stack user is deleted with its server');
  }));

test('a failed deployment fails the stack with the reason; a broken image fails the server', () =>
  withEngine(async (t) => {
    const s = await t.engine.create('p', { stack_name: 'bad', template: SERVERS });
    await until(async () => {
      const d = (await t.engine.resources(s.id)).find((r) => r.name === 'deploy');
      return d?.status === 'IN_PROGRESS' && JSON.parse(d.data).deployment_id !== undefined;
    });
    const d = (await t.engine.resources(s.id)).find((r) => r.name === 'deploy')!;
    // Only the end of a long stderr is kept (where the error is).
    const stderr = `${'x'.repeat(5000)}\nError: the disk is full\n`;
    await t.engine.signalByToken(d.physical_id!, String(JSON.parse(d.data).signal_token), { deploy_status_code: 3, deploy_stderr: stderr });
    const row = await t.settle(s.id);
    assert.equal(row.status, 'FAILED');
    assert.match(row.status_reason, /resources\.deploy: Deployment to server failed: deploy_status_code : Deployment exited with non-zero status code: 3; deploy_stderr: …x+\nError: the disk is full$/);
    assert.ok(row.status_reason.length < 1400, `bounded reason: ${row.status_reason.length}`);
    const s2 = await t.engine.create('p', { stack_name: 'img', template: SERVERS, parameters: { image: 'broken-image' } });
    const row2 = await t.settle(s2.id);
    assert.match(row2.status_reason, /resources\.server: Went to status ERROR due to "image broken-image failed to deploy \(fake\)"/);
  }));

test('independent resources are created in parallel; batch_create limits a group to one at a time', () =>
  withEngine(async (t) => {
    const tpl = {
      heat_template_version: '2015-04-30',
      resources: {
        a: { type: 'OS::Heat::TestResource', properties: { action_wait_secs: { create: 0.2 } } },
        b: { type: 'OS::Heat::TestResource', properties: { action_wait_secs: { create: 0.2 } } },
        g: {
          type: 'OS::Heat::ResourceGroup',
          update_policy: { batch_create: { max_batch_size: 1 } },
          properties: { count: 3, resource_def: { type: 'OS::Heat::TestResource', properties: { action_wait_secs: { create: 0.1 } } } },
        },
      },
    };
    const s = await t.engine.create('p', { stack_name: 'par', template: tpl });
    await t.settle(s.id);
    const ev = (await t.engine.events(s.id)).map((e) => `${e.resource_name}:${e.status}`);
    assert.ok(ev.indexOf('b:IN_PROGRESS') < ev.indexOf('a:COMPLETE'), `a and b overlap: ${ev.join(' ')}`);
    const g = (await t.engine.resources(s.id)).find((r) => r.name === 'g')!;
    const gev = (await t.engine.events(g.physical_id!)).filter((e) => e.resource_type !== 'OS::Heat::Stack').map((e) => `${e.resource_name}:${e.status}`);
    assert.deepEqual(gev, ['0:IN_PROGRESS', '0:COMPLETE', '1:IN_PROGRESS', '1:COMPLETE', '2:IN_PROGRESS', '2:COMPLETE']);
  }));

test('cancel update rolls back; a timeout fails the stack with the reason', () =>
  withEngine(async (t) => {
    const tpl = (v: string, secs: number) => ({ heat_template_version: '2015-04-30', resources: { r: { type: 'OS::Heat::TestResource', properties: { value: v, action_wait_secs: { update: secs } } } }, outputs: { v: { value: { get_attr: ['r', 'output'] } } } });
    const s = await t.engine.create('p', { stack_name: 'c', template: tpl('one', 0) });
    let row = await t.settle(s.id);
    await t.engine.update(row, { template: tpl('two', 30) });
    await until(async () => (await t.engine.events(s.id)).some((e) => e.resource_name === 'r' && e.action === 'UPDATE' && e.status === 'IN_PROGRESS'));
    await t.engine.cancelUpdate((await t.engine.getStack(s.id))!);
    row = await t.settle(s.id);
    assert.equal(`${row.action}_${row.status}`, 'ROLLBACK_COMPLETE', row.status_reason);
    assert.ok((await t.engine.events(s.id)).some((e) => e.resource_name === 'c' && e.status === 'FAILED' && e.reason === 'Stack UPDATE cancelled'));
    assert.equal((await t.engine.outputs(row))[0]!.output_value, 'one');
    await assert.rejects(t.engine.cancelUpdate(row), /Cancelling update when stack is ROLLBACK_COMPLETE is not supported/);

    const slow = { heat_template_version: '2015-04-30', resources: { r: { type: 'OS::Heat::TestResource', properties: { action_wait_secs: { create: 30 } } } } };
    const s2 = await t.engine.create('p', { stack_name: 'slow', template: slow, timeout_mins: 0.01 });
    const row2 = await t.settle(s2.id);
    assert.equal(row2.status, 'FAILED');
    assert.match(row2.status_reason, /CREATE timed out/);
  }));

test('deletion_policy Retain keeps the server; schema-only types refuse create clearly; mark unhealthy and check', () =>
  withEngine(async (t) => {
    const tpl = { heat_template_version: '2015-04-30', resources: { s: { type: 'OS::Nova::Server', deletion_policy: 'Retain', properties: { image: 'img', flavor: 'baremetal' } }, r: { type: 'OS::Heat::RandomString' } } };
    const s = await t.engine.create('p', { stack_name: 'keep', template: tpl });
    let row = await t.settle(s.id);
    assert.equal(row.status, 'COMPLETE', row.status_reason);
    await t.engine.markUnhealthy(s.id, 'r', true, 'disk died');
    await t.engine.check(row);
    row = await t.settle(s.id);
    assert.equal(`${row.action}_${row.status}`, 'CHECK_FAILED');
    assert.match(row.status_reason, /Resource CHECK failed: r/);
    await t.engine.delete(row);
    row = await t.settle(s.id);
    assert.equal(`${row.action}_${row.status}`, 'DELETE_COMPLETE');
    assert.equal(t.compute.list().length, 1, 'the retained server still exists');
    assert.ok((await t.engine.events(s.id)).some((e) => e.resource_name === 's' && e.reason === 'Retained'));

    const net = { heat_template_version: '2015-04-30', resources: { n: { type: 'OS::Neutron::Router', properties: { name: 'x' } } } };
    const s2 = await t.engine.create('p', { stack_name: 'net', template: net });
    const row2 = await t.settle(s2.id);
    assert.match(row2.status_reason, /resources\.n: OS::Neutron::Router is not provided by this cloud .* map it to OS::Heat::None/);
  }));

test('a stack whose server stopped mid-create resumes on the next start; nothing stays IN_PROGRESS', async () => {
  const t = await testEngine();
  try {
    const tpl = { heat_template_version: '2015-04-30', resources: { g: { type: 'OS::Heat::ResourceGroup', properties: { count: 2, resource_def: { type: 'OS::Heat::TestResource', properties: { action_wait_secs: { create: 0.5 } } } } } } };
    const s = await t.engine.create('p', { stack_name: 'r', template: tpl });
    await until(async () => (await t.engine.events(s.id)).some((e) => e.resource_name === 'g' && e.status === 'IN_PROGRESS'));
    await new Promise((r) => setTimeout(r, 100));
    await t.engine.stop(); // like a server going away: nothing is marked failed
    const mid = (await t.engine.getStack(s.id))!;
    assert.equal(mid.status, 'IN_PROGRESS');
    const t2 = await testEngine({ dir: t.dir });
    try {
      await t2.engine.resumeAll();
      const row = await t2.settle(s.id);
      assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
      const stuck = await t2.engine.db.selectFrom('orchestration_stacks').select('id').where('status', '=', 'IN_PROGRESS').execute();
      assert.deepEqual(stuck, []);
    } finally {
      await t2.close();
    }
  } finally {
    await t.database.close().catch(() => undefined);
    rmSync(t.dir, { recursive: true, force: true });
  }
});

test('deleting a stack while it is being created stops the create and deletes what was made', () =>
  withEngine(async (t) => {
    const tpl = { heat_template_version: '2015-04-30', resources: { fast: { type: 'OS::Heat::TestResource' }, slow: { type: 'OS::Heat::TestResource', depends_on: 'fast', properties: { action_wait_secs: { create: 30 } } } } };
    const s = await t.engine.create('p', { stack_name: 'gone', template: tpl, disable_rollback: false });
    await until(async () => (await t.engine.events(s.id)).some((e) => e.resource_name === 'slow' && e.status === 'IN_PROGRESS'));
    await t.engine.delete((await t.engine.getStack(s.id))!);
    const row = await t.settle(s.id);
    assert.equal(`${row.action}_${row.status}`, 'DELETE_COMPLETE', row.status_reason);
    assert.deepEqual(await t.engine.resources(s.id), []);
    assert.ok(!(await t.engine.events(s.id)).some((e) => e.action === 'ROLLBACK'), 'no rollback races the delete');
  }));

const MEMBER = `
heat_template_version: 2015-04-30
parameters:
  version: {type: string}
resources:
  server:
    type: OS::Nova::Server
    properties: {image: overcloud-full, flavor: baremetal}
  config:
    type: OS::Heat::SoftwareConfig
    properties: {group: script, inputs: [{name: version}], config: 'echo upgrade'}
  deploy:
    type: OS::Heat::SoftwareDeployment
    properties:
      config: {get_resource: config}
      server: {get_resource: server}
      input_values: {version: {get_param: version}}
outputs:
  version: {value: {get_param: version}}
`;

const GROUP = (version: string) => ({
  heat_template_version: '2015-04-30',
  resources: {
    nodes: {
      type: 'OS::Heat::ResourceGroup',
      update_policy: { rolling_update: { max_batch_size: 2, min_in_service: 2 } },
      properties: { count: 3, resource_def: { type: 'file:///member.yaml', properties: { version } } },
    },
  },
  outputs: { versions: { value: { get_attr: ['nodes', 'version'] } } },
});

test('rolling update: batches gated on the deployments\' signals; a failed gate stops and reverts the batch', () =>
  withEngine(async (t) => {
    // The machines: answer every deployment waiting for a signal; member "1" fails version v2.
    const answered = new Set<string>();
    let stop = false;
    const machines = (async () => {
      while (!stop) {
        const rows = await t.engine.db.selectFrom('orchestration_resources').selectAll().where('name', '=', 'deploy').where('status', '=', 'IN_PROGRESS').execute();
        for (const row of rows) {
          const data = JSON.parse(row.data) as JsonMap;
          if (!data.deployment_id) continue;
          const dep = (await t.engine.db.selectFrom('orchestration_software_deployments').selectAll().where('id', '=', String(data.deployment_id)).executeTakeFirst())!;
          const inputs = JSON.parse(dep.input_values) as JsonMap;
          const key = `${dep.id}:${dep.action}:${String(inputs.version)}`;
          if (dep.status !== 'IN_PROGRESS' || answered.has(key)) continue;
          answered.add(key);
          const owner = (await t.engine.getStack(row.stack_id))!.owner_resource;
          const fail = owner === '1' && inputs.version === 'v2';
          await t.engine.signalByToken(row.physical_id!, String(data.signal_token), { deploy_status_code: fail ? 7 : 0, deploy_stdout: `${owner}:${String(inputs.version)}` });
        }
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    try {
      const files = { 'file:///member.yaml': MEMBER };
      const s = await t.engine.create('p', { stack_name: 'roll', template: GROUP('v1'), files });
      let row = await t.settle(s.id);
      assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
      await t.engine.update(row, { template: GROUP('v2'), files });
      row = await t.settle(s.id);
      assert.equal(`${row.action}_${row.status}`, 'UPDATE_FAILED');
      assert.match(row.status_reason, /Deployment exited with non-zero status code: 7/);
      const group = (await t.engine.resources(s.id)).find((r) => r.name === 'nodes')!;
      const ev = (await t.engine.events(group.physical_id!)).map((e) => e.reason);
      // min_in_service 2 of 3 makes batches of one: member 0 passes, member 1 fails, member 2 is untouched.
      assert.ok(ev.includes('Rolling update: batch 1/3 (0) passed the health gate'), ev.join('\n'));
      assert.ok(ev.some((r) => /^Rolling update: health gate failed at batch 2\/3 \(1\): .*non-zero status code: 7; rolling the batch back$/.test(r)), ev.join('\n'));
      assert.ok(!ev.some((r) => r.includes('batch 3/3')));
      const versions = Object.fromEntries((await t.engine.outputs((await t.engine.getStack(s.id))!)).map((o) => [o.output_key, o.output_value])).versions;
      assert.deepEqual(versions, ['v2', 'v1', 'v1'], 'member 1 went back to v1; member 2 was never touched');
    } finally {
      stop = true;
      await machines;
    }
  }));

const ONE_SERVER = (image: string) => ({ heat_template_version: '2015-04-30', resources: { s: { type: 'OS::Nova::Server', properties: { image, flavor: 'baremetal' } } } });

test('changing a server\'s image replaces it: a new server, the old one deleted', () =>
  withEngine(async (t) => {
    const s = await t.engine.create('p', { stack_name: 'repl', template: ONE_SERVER('img-a') });
    let row = await t.settle(s.id);
    assert.equal(row.status, 'COMPLETE', row.status_reason);
    const oldId = (await t.engine.resources(s.id))[0]!.physical_id;
    await t.engine.update(row, { template: ONE_SERVER('img-b') });
    row = await t.settle(s.id);
    assert.equal(`${row.action}_${row.status}`, 'UPDATE_COMPLETE', row.status_reason);
    const newId = (await t.engine.resources(s.id))[0]!.physical_id;
    assert.ok(newId && newId !== oldId, 'a new physical id');
    assert.deepEqual(t.compute.list().map((x) => x.image), ['img-b'], 'only the new server exists');
    assert.equal((await t.compute.status(oldId!, 'p')).status, 'DELETED');
  }));

test('a failed server replacement deletes the new server and keeps the original (with and without rollback)', () =>
  withEngine(async (t) => {
    for (const rollback of [true, false]) {
      const s = await t.engine.create('p', { stack_name: `rb-${rollback}`, template: ONE_SERVER('img-a') });
      let row = await t.settle(s.id);
      const oldId = (await t.engine.resources(s.id))[0]!.physical_id;
      await t.engine.update(row, { template: ONE_SERVER('broken-image'), rollback });
      row = await t.settle(s.id);
      assert.equal(`${row.action}_${row.status}`, rollback ? 'ROLLBACK_COMPLETE' : 'UPDATE_FAILED', row.status_reason);
      assert.equal((await t.engine.resources(s.id))[0]!.physical_id, oldId, 'the row still points at the original');
      assert.deepEqual(t.compute.list().map((x) => x.image), ['img-a'], 'the broken replacement was deleted');
      await t.engine.delete(row);
      row = await t.settle(s.id);
      assert.equal(`${row.action}_${row.status}`, 'DELETE_COMPLETE', row.status_reason);
      assert.equal(t.compute.list().length, 0, 'no server is left behind');
    }
  }));

test('a stack check that crashes ends CHECK_FAILED with the reason', () =>
  withEngine(async (t) => {
    const s = await t.engine.create('p', { stack_name: 'chk', template: { heat_template_version: '2015-04-30', resources: { r: { type: 'OS::Heat::RandomString' } } } });
    let row = await t.settle(s.id);
    const e = t.engine as unknown as { resources: (id: string) => Promise<unknown> };
    const orig = e.resources;
    e.resources = async () => {
      throw new Error('database went away');
    };
    try {
      await t.engine.check(row);
      await t.engine.idle();
    } finally {
      e.resources = orig;
    }
    row = (await t.engine.getStack(s.id))!;
    assert.equal(`${row.action}_${row.status}`, 'CHECK_FAILED');
    assert.match(row.status_reason, /database went away/);
  }));
