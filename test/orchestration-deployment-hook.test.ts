// End to end: a stack of OS::Nova::Server on a fake-hardware bare-metal node (allocated by
// resource class and deployed through the bare-metal service) with a SoftwareDeployment; the
// machine side is the project's REAL heat-config tool (src/agents) run as its own process: it
// reads the server's deployment metadata (as the heat collector fetches it from the API), runs
// the script hook and signals the result to the pre-signed URL; the stack then completes with
// the script's stdout and outputs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { startSeed, type TestSeed } from './support/seed.js';
import type { OrchestrationService } from '../src/orchestration/index.js';

let seed: TestSeed;
let token: string;
let work: string;

let overcloudFull = '';

before(async () => {
  // The direct bare-metal adapter (flavor = resource class); the compute path: test/orchestration-compute.test.ts.
  seed = await startSeed({ log: { level: 'warn' }, orchestration: { compute_provider: 'baremetal' } });
  token = await seed.token();
  work = mkdtempSync(join(tmpdir(), 'orch-hook-'));
  // The servers name their images: they must exist, active and visible to the stack's project.
  for (const name of ['overcloud-full', 'img']) {
    const img = await seed.call('POST', '/image/v2/images', { token, body: { name, disk_format: 'raw', container_format: 'bare' } });
    assert.equal(img.status, 201, JSON.stringify(img.body));
    const put = await fetch(`${seed.url}/image/v2/images/${img.body.id}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1024) });
    assert.equal(put.status, 204);
    if (name === 'overcloud-full') overcloudFull = img.body.id as string;
  }
});
after(async () => {
  await seed?.stop();
  rmSync(work, { recursive: true, force: true });
});

const TEMPLATE = {
  heat_template_version: '2015-04-30',
  resources: {
    config: {
      type: 'OS::Heat::SoftwareConfig',
      properties: {
        group: 'script',
        inputs: [{ name: 'who' }],
        outputs: [{ name: 'result' }],
        config: '#!/bin/sh\necho "hello $who from $deploy_server_id"\nprintf converged > "$heat_outputs_path.result"\n',
      },
    },
    server: { type: 'OS::Nova::Server', properties: { image: 'overcloud-full', flavor: 'baremetal', user_data_format: 'SOFTWARE_CONFIG', software_config_transport: 'POLL_SERVER_HEAT' } },
    deployment: { type: 'OS::Heat::SoftwareDeployment', properties: { config: { get_resource: 'config' }, server: { get_resource: 'server' }, input_values: { who: 'heat' } } },
  },
  outputs: { stdout: { value: { get_attr: ['deployment', 'deploy_stdout'] } }, result: { value: { get_attr: ['deployment', 'result'] } } },
};

const IRONIC = { 'x-openstack-ironic-api-version': '1.78' };

/** Enrols a fake-hardware node of resource class "baremetal" and makes it available. */
async function availableNode(name: string, driverInfo: Record<string, unknown> = {}, resourceClass = 'baremetal'): Promise<string> {
  const made = await seed.call('POST', '/baremetal/v1/nodes', { token, headers: IRONIC, body: { name, driver: 'fake-hardware', resource_class: resourceClass, driver_info: driverInfo } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  for (const [target, state] of [['manage', 'manageable'], ['provide', 'available']] as const) {
    const r = await seed.call('PUT', `/baremetal/v1/nodes/${name}/states/provision`, { token, headers: IRONIC, body: { target } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await nodeState(name, state);
  }
  return made.body.uuid as string;
}

async function nodeState(name: string, state: string): Promise<Record<string, unknown>> {
  let node: Record<string, unknown> = {};
  for (let i = 0; i < 200; i++) {
    node = (await seed.call('GET', `/baremetal/v1/nodes/${name}`, { token, headers: IRONIC })).body;
    if (node.provision_state === state && !node.reservation) return node;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`node ${name} did not reach "${state}": ${JSON.stringify(node)}`);
}

test('the real heat-config hook completes a SoftwareDeployment on a bare-metal server through the signal URL', async () => {
  const nodeUuid = await availableNode('hook-node');
  const created = await seed.call('POST', '/orchestration/stacks', { token, body: { stack_name: 'hooked', template: TEMPLATE } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.stack.id as string;
  // Wait until the deployment waits for its signal.
  let metadata: { deployments?: unknown[] } = {};
  for (let i = 0; i < 100 && !metadata.deployments?.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const md = await seed.call('GET', `/orchestration/stacks/hooked/${id}/resources/server/metadata`, { token });
    metadata = md.body.metadata ?? {};
  }
  assert.equal(metadata.deployments?.length, 1, JSON.stringify(metadata));
  const file = join(work, 'metadata.json');
  writeFileSync(file, JSON.stringify(metadata));
  const hook = await run(process.execPath, ['--import', 'tsx', 'src/agents/heat-config/main.ts', '-m', file, '--work-dir', join(work, 'heat-config'), '--signal-attempts', '2'], { timeoutMs: 60_000, allowFailure: true });
  assert.equal(hook.code, 0, hook.stderr);
  await (seed.server.services.find((s) => s.name === 'orchestration') as OrchestrationService).engine.idle();
  const stack = await seed.call('GET', `/orchestration/stacks/hooked/${id}`, { token });
  assert.equal(stack.body.stack.stack_status, 'CREATE_COMPLETE', stack.body.stack.stack_status_reason);
  const outs = Object.fromEntries((stack.body.stack.outputs as { output_key: string; output_value: unknown }[]).map((o) => [o.output_key, o.output_value]));
  const server = (await seed.call('GET', `/orchestration/stacks/hooked/${id}/resources/server`, { token })).body.resource.physical_resource_id;
  assert.equal(outs.stdout, `hello heat from ${server}\n`);
  assert.equal(outs.result, 'converged');
  // The deployment record says so too (what `openstack software deployment show` reads).
  const deps = await seed.call('GET', `/orchestration/software_deployments?server_id=${server}`, { token });
  assert.equal(deps.body.software_deployments[0].status, 'COMPLETE');
  // The server is the bare-metal node, deployed with the stack's image.
  const node = await nodeState('hook-node', 'active');
  assert.equal(node.uuid, nodeUuid);
  assert.equal(node.instance_uuid, server);
  // By id: the name was resolved as the stack's project sees it.
  assert.equal((node.instance_info as { image_source: string }).image_source, overcloudFull);
  // Deleting the stack undeploys the node and gives it back.
  const deleted = await seed.call('DELETE', `/orchestration/stacks/hooked/${id}`, { token });
  assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
  const freed = await nodeState('hook-node', 'available');
  assert.equal(freed.instance_uuid, null);
  assert.equal(freed.allocation_uuid, null);
});

test('a server with no node to place it on fails the stack with the reason', async () => {
  const tpl = { heat_template_version: '2015-04-30', resources: { s: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'gpu' } } } };
  const created = await seed.call('POST', '/orchestration/stacks', { token, body: { stack_name: 'unplaceable', template: tpl } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  let stack: { stack_status: string; stack_status_reason: string } = { stack_status: '', stack_status_reason: '' };
  for (let i = 0; i < 100; i++) {
    stack = (await seed.call('GET', `/orchestration/stacks/unplaceable/${created.body.stack.id}`, { token })).body.stack;
    if (!stack.stack_status.endsWith('IN_PROGRESS')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(stack.stack_status, 'CREATE_FAILED');
  assert.match(stack.stack_status_reason, /No available nodes match the resource class gpu/);
});

test('deleting a stack while its server is still deploying gives the node back once the deploy ends', async () => {
  // A fake deploy that takes 1.5 s, so the delete arrives while the node is "deploying".
  await availableNode('slow-node', { fake_delay_ms: 1500 }, 'slow');
  const tpl = { heat_template_version: '2015-04-30', resources: { s: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'slow' } } } };
  const created = await seed.call('POST', '/orchestration/stacks', { token, body: { stack_name: 'early-delete', template: tpl } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  // Poll the state alone: "deploying" holds the node's lock, which nodeState() waits out.
  let node: Record<string, unknown> = {};
  for (let i = 0; i < 100 && node.provision_state !== 'deploying'; i++) {
    node = (await seed.call('GET', '/baremetal/v1/nodes/slow-node', { token, headers: IRONIC })).body;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(node.provision_state, 'deploying');
  const deleted = await seed.call('DELETE', `/orchestration/stacks/early-delete/${created.body.stack.id}`, { token });
  assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
  const freed = await nodeState('slow-node', 'available');
  assert.equal(freed.instance_uuid, null);
  assert.equal(freed.allocation_uuid, null);
  let status = '';
  for (let i = 0; i < 100; i++) {
    const r = await seed.call('GET', `/orchestration/stacks/early-delete/${created.body.stack.id}`, { token });
    status = r.status === 404 ? 'GONE' : r.body.stack.stack_status;
    if (status === 'GONE' || status === 'DELETE_COMPLETE' || status === 'DELETE_FAILED') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(status === 'GONE' || status === 'DELETE_COMPLETE', status);
});
