// Stack users (docs/security.md "Stack users"): the Keystone user Heat makes for a
// POLL_SERVER_HEAT server (and for each HEAT_SIGNAL deployment) may read its own server's
// metadata and signal its own deployments, and nothing else. Everything through HTTP on a seed
// with the fake compute provider: the credentials are taken from where the machine gets them
// (the server's os-collect-config section, the deployment's inputs in its metadata).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, userWithRole, type TestSeed } from './support/seed.js';

let seed: TestSeed;
let admin: string;
let a: { token: string; projectId: string };
let b: { token: string; projectId: string };

before(async () => {
  seed = await startSeed({ log: { level: 'info' }, orchestration: { compute_provider: 'fake' } });
  admin = await seed.token();
  a = await userWithRole(seed, admin, 'su-a', 'su-a-member', 'member');
  b = await userWithRole(seed, admin, 'su-b', 'su-b-member', 'member');
});
after(async () => {
  await seed?.stop();
});

async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 400 && !done(v); i++) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  assert.ok(done(v), `${what}: ${JSON.stringify(v)}`);
  return v;
}

const template = (greeting = 'hello') => ({
  heat_template_version: '2018-08-31',
  resources: {
    config: {
      type: 'OS::Heat::SoftwareConfig',
      properties: { group: 'script', config: 'echo hi', outputs: [{ name: 'result' }] },
    },
    srv1: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'baremetal', software_config_transport: 'POLL_SERVER_HEAT' } },
    srv2: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'baremetal', software_config_transport: 'POLL_SERVER_HEAT' } },
    deploy1: {
      type: 'OS::Heat::SoftwareDeployment',
      properties: { config: { get_resource: 'config' }, server: { get_resource: 'srv1' }, signal_transport: 'HEAT_SIGNAL', input_values: { greeting } },
    },
    deploy2: {
      type: 'OS::Heat::SoftwareDeployment',
      properties: { config: { get_resource: 'config' }, server: { get_resource: 'srv2' }, signal_transport: 'HEAT_SIGNAL' },
    },
  },
  outputs: { result: { value: { get_attr: ['deploy1', 'result'] } } },
});

interface Stack {
  name: string;
  id: string;
  project: string;
  path: string;
}

async function createStack(token: string, project: string, name: string, tpl: unknown = template()): Promise<Stack> {
  const r = await seed.call('POST', `/orchestration/v1/${project}/stacks`, { token, body: { stack_name: name, template: tpl } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const s = { name, id: r.body.stack.id as string, project, path: `/orchestration/v1/${project}/stacks/${name}/${r.body.stack.id as string}` };
  // Both deployments are waiting for their signals once their servers exist.
  await waitFor(`${name}: deployments waiting`, async () => (await seed.call('GET', `${s.path}/resources`, { token })).body.resources as { resource_name: string; resource_status: string }[], (rs) =>
    ['deploy1', 'deploy2'].every((n) => rs?.some((x) => x.resource_name === n && x.resource_status === 'CREATE_IN_PROGRESS')),
  );
  await inMetadata(s.path, token, 'srv1', 'deploy1');
  await inMetadata(s.path, token, 'srv2', 'deploy2');
  return s;
}

/**
 * Waits until a deployment is in its server's metadata (the resource goes IN_PROGRESS just before
 * its deployment record is written and the server's metadata updated).
 */
async function inMetadata(stackPath: string, token: string, server: string, deployment: string, and: (inputs: Record<string, unknown>) => boolean = () => true): Promise<void> {
  await waitFor(`${deployment} in ${server}'s metadata`, async () => (await seed.call('GET', `${stackPath}/resources/${server}/metadata`, { token })).body?.metadata?.deployments as { inputs: { name: string; value: unknown }[] }[] | undefined, (ds) =>
    (ds ?? []).some((d) => {
      const inputs = Object.fromEntries(d.inputs.map((i) => [i.name, i.value]));
      return inputs.deploy_resource_name === deployment && and(inputs);
    }),
  );
}

async function stackStatus(s: Stack, token: string, want: RegExp): Promise<{ stack_status: string; stack_status_reason: string; outputs: { output_key: string; output_value: unknown }[] }> {
  return waitFor(`${s.name} ${want}`, async () => (await seed.call('GET', s.path, { token })).body.stack, (st) => want.test(st?.stack_status ?? ''));
}

/** The heat section of a server's os-collect-config, as the machine gets it (read by the project). */
type HeatSection = { auth_url: string; user_id: string; password: string; project_id: string; stack_id: string; resource_name: string };

async function heatSection(s: Stack, token: string, server: string): Promise<HeatSection> {
  const r = await seed.call('GET', `${s.path}/resources/${server}`, { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const cc = r.body.resource.attributes.os_collect_config;
  assert.deepEqual(cc.collectors, ['heat_local', 'heat']);
  assert.equal(cc.polling_interval, 30);
  assert.deepEqual(Object.keys(cc.heat).sort(), ['auth_url', 'password', 'project_id', 'resource_name', 'stack_id', 'user_id']);
  assert.equal(cc.heat.stack_id, `${s.name}/${s.id}`);
  assert.equal(cc.heat.resource_name, server);
  assert.deepEqual(r.body.resource.metadata['os-collect-config'], cc, 'the same section is in the server metadata');
  return cc.heat;
}

async function login(c: { user_id: string; password: string; project_id: string }): Promise<{ status: number; token: string | null; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await seed.call('POST', '/identity/v3/auth/tokens', {
    body: { auth: { identity: { methods: ['password'], password: { user: { id: c.user_id, password: c.password } } }, scope: { project: { id: c.project_id } } } },
  });
  return { status: r.status, token: r.headers.get('x-subject-token'), body: r.body };
}

function inputsOf(md: { deployments: { name: string; inputs: { name: string; value: unknown }[] }[] }, name: string): Record<string, unknown> {
  // A deployment's entry is named after its config (as Heat's derived configs are); the
  // resource is in its deploy_resource_name input.
  const d = md.deployments.find((x) => x.inputs.some((i) => i.name === 'deploy_resource_name' && i.value === name));
  assert.ok(d, `deployment ${name} in ${JSON.stringify(md.deployments)}`);
  return Object.fromEntries(d.inputs.map((i) => [i.name, i.value]));
}

test('a stack user reads its own server metadata and signals its own deployment, and is refused everything else', async () => {
  const s1 = await createStack(a.token, a.projectId, 'su-one');
  const s2 = await createStack(a.token, a.projectId, 'su-two');
  const sb = await createStack(b.token, b.projectId, 'su-bee');
  const creds = await heatSection(s1, a.token, 'srv1');
  assert.equal(creds.project_id, a.projectId);
  assert.match(creds.auth_url, /\/identity\/v3$/);

  // The machine's Keystone user: in the heat_stack domain, with heat_stack_user and nothing else.
  const su = await login(creds);
  assert.equal(su.status, 201, JSON.stringify(su.body));
  const token = su.token!;
  assert.deepEqual(su.body.token.roles.map((r: { name: string }) => r.name), ['heat_stack_user']);
  const user = await seed.call('GET', `/identity/v3/users/${creds.user_id}`, { token: admin });
  const domain = await seed.call('GET', `/identity/v3/domains/${user.body.user.domain_id as string}`, { token: admin });
  assert.equal(domain.body.domain.name, 'heat_stack');

  // Its own server's metadata: the deployments it runs, and its own os-collect-config section.
  const own = await seed.call('GET', `${s1.path}/resources/srv1/metadata`, { token });
  assert.equal(own.status, 200, JSON.stringify(own.body));
  assert.match(own.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
  const deploy1Inputs = inputsOf(own.body.metadata, 'deploy1');
  assert.equal(deploy1Inputs.greeting, 'hello');
  assert.equal(own.body.metadata['os-collect-config'].heat.password, creds.password);

  // HEAT_SIGNAL: the deployment's own stack user (not the server's) is in its inputs.
  assert.equal(deploy1Inputs.deploy_signal_transport, 'HEAT_SIGNAL');
  assert.equal(deploy1Inputs.deploy_project_id, a.projectId);
  assert.notEqual(deploy1Inputs.deploy_user_id, creds.user_id);
  assert.equal(deploy1Inputs.deploy_stack_id, `${s1.name}/${s1.id}`);
  assert.equal(deploy1Inputs.deploy_resource_name, 'deploy1');
  // The password is shown to the project only where the machine reads it (its server's metadata).
  const listed = (await seed.call('GET', `/orchestration/v1/${a.projectId}/software_deployments`, { token: a.token })).body.software_deployments as { input_values: Record<string, unknown> }[];
  const shown = listed.find((d) => d.input_values.deploy_user_id === deploy1Inputs.deploy_user_id)!;
  assert.equal(shown.input_values.deploy_password, '******');

  // Refused: identity, listing or reading stacks (its own included), another server's metadata
  // in the same stack, another stack's resources, the project's software records.
  const refusals: [string, string, unknown?][] = [
    ['GET', '/identity/v3/users'],
    ['GET', '/identity/v3/projects'],
    ['GET', `/orchestration/v1/${a.projectId}/stacks`],
    ['GET', '/orchestration/stacks'],
    ['GET', s1.path],
    ['GET', `${s1.path}/resources`],
    ['GET', `${s1.path}/resources/srv1`],
    ['GET', `${s1.path}/outputs`],
    ['GET', s2.path],
    ['GET', `${s1.path}/resources/srv2/metadata`],
    ['GET', `${s1.path}/resources/nosuch/metadata`],
    ['GET', `${s2.path}/resources/srv1/metadata`],
    ['GET', `/orchestration/v1/${a.projectId}/software_deployments`],
    ['GET', `/orchestration/v1/${a.projectId}/software_configs`],
    ['GET', `/orchestration/v1/${a.projectId}/resource_types`],
    ['POST', `${s1.path}/resources/deploy2/signal`, { deploy_status_code: 0 }],
    ['POST', `${s1.path}/resources/srv2/signal`, {}],
    ['POST', `${s2.path}/resources/deploy1/signal`, { deploy_status_code: 0 }],
    ['POST', `${sb.path}/resources/deploy1/signal`, { deploy_status_code: 0 }],
    ['POST', `/orchestration/v1/${a.projectId}/stacks/${sb.name}/${sb.id}/resources/deploy1/signal`, { deploy_status_code: 0 }],
    ['GET', `${sb.path}/resources/srv1/metadata`],
    ['PATCH', `${s1.path}`, { parameters: {} }],
    ['DELETE', s1.path],
  ];
  for (const [method, path, body] of refusals) {
    const r = await seed.call(method, path, { token, body });
    assert.ok([403, 404].includes(r.status), `${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
  }
  // Nothing it was refused happened: the other deployments still wait.
  for (const [s, tok] of [[s1, a.token], [s2, a.token], [sb, b.token]] as const) {
    const rs = (await seed.call('GET', `${s.path}/resources`, { token: tok })).body.resources as { resource_name: string; resource_status: string }[];
    assert.equal(rs.find((x) => x.resource_name === 'deploy2')?.resource_status, 'CREATE_IN_PROGRESS');
  }

  // Its own deployment: the server's user may signal it (a deployment of the server it belongs to)...
  const ok = await seed.call('POST', `${s1.path}/resources/deploy1/signal`, { token, body: { deploy_status_code: 0, deploy_stdout: 'ok', deploy_stderr: '', result: 'from-srv1' } });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  // ...and so may the deployment's own HEAT_SIGNAL user, as heat-config does; but not the other one.
  const dep = await login({ user_id: String(deploy1Inputs.deploy_user_id), password: String(deploy1Inputs.deploy_password), project_id: a.projectId });
  assert.equal(dep.status, 201);
  const again = await seed.call('POST', `${s1.path}/resources/deploy1/signal`, { token: dep.token, body: { deploy_status_code: 0, result: 'from-deploy1' } });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  const cross = await seed.call('POST', `${s1.path}/resources/deploy2/signal`, { token: dep.token, body: { deploy_status_code: 0 } });
  assert.equal(cross.status, 403);
  // The deployment user may not read the server's metadata either (it is not the server's user).
  assert.equal((await seed.call('GET', `${s1.path}/resources/srv1/metadata`, { token: dep.token })).status, 403);

  const srv2 = await login(await heatSection(s1, a.token, 'srv2'));
  assert.equal((await seed.call('POST', `${s1.path}/resources/deploy2/signal`, { token: srv2.token, body: { deploy_status_code: 0 } })).status, 200);
  const done = await stackStatus(s1, a.token, /CREATE_COMPLETE/);
  assert.equal(done.outputs.find((o) => o.output_key === 'result')?.output_value, 'from-deploy1');

  // No password reached the log.
  const log = seed.logLines.join('');
  assert.ok(!log.includes(creds.password), 'the server user password is not logged');
  assert.ok(!log.includes(String(deploy1Inputs.deploy_password)), 'the deployment user password is not logged');

  // Deleting the stack deletes its users: the credentials stop working.
  assert.equal((await seed.call('DELETE', s1.path, { token: a.token })).status, 204);
  await waitFor('stack deleted', async () => (await seed.call('GET', s1.path, { token: a.token })).body?.stack?.stack_status, (st) => st === 'DELETE_COMPLETE' || st === undefined);
  assert.equal((await login(creds)).status, 401);
  assert.equal((await seed.call('GET', `${s1.path}/resources/srv1/metadata`, { token })).status, 401);
});

test('heat metadata long-polls: held until the metadata changes, 304 when the wait passes, released on disconnect', async () => {
  const s = await createStack(a.token, a.projectId, 'su-poll');
  const token = (await login(await heatSection(s, a.token, 'srv1'))).token!;
  const url = `${seed.url}${s.path}/resources/srv1/metadata`;
  // The project's reader or member may signal too (resource:signal); the create completes.
  for (const d of ['deploy1', 'deploy2']) assert.equal((await seed.call('POST', `${s.path}/resources/${d}/signal`, { token: a.token, body: { deploy_status_code: 0 } })).status, 200);
  await stackStatus(s, a.token, /CREATE_COMPLETE/);
  const first = await fetch(url, { headers: { 'x-auth-token': token, prefer: 'wait=300' } });
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('preference-applied'), 'wait=120', 'the wait is capped at 120 s');
  const etag = first.headers.get('etag')!;
  await first.text();

  // Unchanged and wait=1: held about a second, then 304 with the same ETag.
  const t0 = Date.now();
  const idle = await fetch(url, { headers: { 'x-auth-token': token, prefer: 'wait=1', 'if-none-match': etag } });
  assert.equal(idle.status, 304);
  assert.equal(idle.headers.get('etag'), etag);
  assert.ok(Date.now() - t0 >= 900, 'it was held');
  // wait=0 or another ETag: answered at once.
  assert.equal((await fetch(url, { headers: { 'x-auth-token': token, prefer: 'wait=0', 'if-none-match': etag } })).status, 304);
  const other = await fetch(url, { headers: { 'x-auth-token': token, prefer: 'wait=60', 'if-none-match': '"old"' } });
  assert.equal(other.status, 200);
  await other.text();

  // Held for up to 60 s; a stack update changes deploy1's inputs, so srv1's metadata: released then.
  const held = fetch(url, { headers: { 'x-auth-token': token, prefer: 'wait=60', 'if-none-match': etag } });
  const orchestration = seed.server.services.find((x) => x.name === 'orchestration') as unknown as { engine: { notifier: { waiting(): number } } };
  await waitFor('request held', async () => orchestration.engine.notifier.waiting(), (n) => n >= 1);
  const started = Date.now();
  const upd = await seed.call('PATCH', s.path, { token: a.token, body: { template: template('changed') } });
  assert.equal(upd.status, 202, JSON.stringify(upd.body));
  const changed = await held;
  assert.equal(changed.status, 200);
  assert.ok(Date.now() - started < 20_000);
  assert.notEqual(changed.headers.get('etag'), etag);
  const md = (await changed.json()) as { metadata: Parameters<typeof inputsOf>[0] };
  assert.equal(inputsOf(md.metadata, 'deploy1').greeting, 'changed');

  // A client that goes away releases its wait at once.
  const controller = new AbortController();
  const gone = fetch(url, { headers: { 'x-auth-token': token, prefer: 'wait=60', 'if-none-match': changed.headers.get('etag')! }, signal: controller.signal }).catch(() => 'aborted');
  await waitFor('second request held', async () => orchestration.engine.notifier.waiting(), (n) => n >= 1);
  controller.abort();
  assert.equal(await gone, 'aborted');
  await waitFor('released', async () => orchestration.engine.notifier.waiting(), (n) => n === 0);
  await seed.call('DELETE', s.path, { token: a.token });
});

test('POLL_TEMP_URL and POLL_SERVER_CFN: a signed metadata URL, long-polled; TEMP_URL_SIGNAL by PUT; a failed signal fails the stack with code and stderr, a good update completes', async () => {
  const tpl = (greeting: string) => ({
    heat_template_version: '2018-08-31',
    resources: {
      config: { type: 'OS::Heat::SoftwareConfig', properties: { group: 'script', config: 'echo hi', outputs: [{ name: 'result' }] } },
      tmp: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'baremetal', software_config_transport: 'POLL_TEMP_URL' } },
      cfn: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'baremetal' } },
      deploy1: { type: 'OS::Heat::SoftwareDeployment', properties: { config: { get_resource: 'config' }, server: { get_resource: 'tmp' }, signal_transport: 'TEMP_URL_SIGNAL', input_values: { greeting } } },
      deploy2: { type: 'OS::Heat::SoftwareDeployment', properties: { config: { get_resource: 'config' }, server: { get_resource: 'cfn' }, signal_transport: 'NO_SIGNAL' } },
    },
    outputs: { result: { value: { get_attr: ['deploy1', 'result'] } } },
  });
  const r = await seed.call('POST', `/orchestration/v1/${a.projectId}/stacks`, { token: a.token, body: { stack_name: 'su-url', template: tpl('one') } });
  assert.equal(r.status, 201);
  const s = { name: 'su-url', id: r.body.stack.id as string, path: `/orchestration/v1/${a.projectId}/stacks/su-url/${r.body.stack.id as string}` };
  await inMetadata(s.path, a.token, 'tmp', 'deploy1');
  await inMetadata(s.path, a.token, 'cfn', 'deploy2');
  const urls: Record<string, string> = {};
  for (const name of ['tmp', 'cfn']) {
    const res = (await seed.call('GET', `${s.path}/resources/${name}`, { token: a.token })).body.resource;
    const cc = res.attributes.os_collect_config;
    assert.deepEqual(Object.keys(cc).sort(), ['collectors', 'polling_interval', 'request']);
    assert.deepEqual(cc.collectors, ['heat_local', 'request']);
    assert.equal(cc.polling_interval, 30);
    assert.match(cc.request.metadata_url, new RegExp(`^${seed.url}/orchestration/metadata/[0-9a-f-]{36}/[0-9a-f]{48}$`));
    urls[name] = cc.request.metadata_url;
  }
  // The same document as the heat metadata route, without a token; a wrong token is 404.
  const doc = await fetch(urls.tmp!, { headers: { prefer: 'wait=30' } });
  assert.equal(doc.status, 200);
  assert.equal(doc.headers.get('preference-applied'), 'wait=30');
  const body = (await doc.json()) as Parameters<typeof inputsOf>[0];
  const heat = await seed.call('GET', `${s.path}/resources/tmp/metadata`, { token: a.token });
  assert.deepEqual(body, heat.body.metadata);
  assert.equal(doc.headers.get('etag'), heat.headers.get('etag'));
  assert.equal((await fetch(urls.tmp!.replace(/[0-9a-f]{48}$/, 'f'.repeat(48)))).status, 404);
  assert.equal((await fetch(urls.tmp!.replace(/\/[0-9a-f]{48}$/, ''))).status, 404);
  // Another server's URL holds another document.
  assert.equal(inputsOf((await (await fetch(urls.cfn!)).json()) as Parameters<typeof inputsOf>[0], 'deploy2').deploy_signal_transport, 'NO_SIGNAL');

  const inputs = inputsOf(body, 'deploy1');
  assert.equal(inputs.deploy_signal_verb, 'PUT');
  const signalUrl = String(inputs.deploy_signal_id);
  // A failure: non-zero status and a long stderr. The stack fails with the code and stderr's end.
  const stderr = `${'noise\n'.repeat(400)}E: Unable to locate package nosuch\n`;
  const bad = await fetch(signalUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deploy_status_code: 100, deploy_stdout: '', deploy_stderr: stderr }) });
  assert.equal(bad.status, 200);
  const failed = await waitFor('CREATE_FAILED', async () => (await seed.call('GET', s.path, { token: a.token })).body.stack, (st) => st.stack_status !== 'CREATE_IN_PROGRESS');
  assert.equal(failed.stack_status, 'CREATE_FAILED');
  assert.match(failed.stack_status_reason, /deploy1.*non-zero status code: 100; deploy_stderr: …(noise\n)+E: Unable to locate package nosuch$/s);
  assert.ok(failed.stack_status_reason.length < 1400, `the reason is bounded (${failed.stack_status_reason.length})`);

  // The update's new metadata reaches a held request on the URL at once; a good signal (POST is
  // accepted too) completes the update, and the config's output is the stack's output.
  const held = fetch(urls.tmp!, { headers: { prefer: 'wait=60', 'if-none-match': doc.headers.get('etag')! } });
  const upd = await seed.call('PATCH', s.path, { token: a.token, body: { template: tpl('two') } });
  assert.equal(upd.status, 202);
  const next = await held;
  assert.equal(next.status, 200);
  // A failed deployment is replaced (as in Heat): until the new one completes, the metadata holds
  // the failed one (already run by the machine) and the new one.
  const entries = ((await next.json()) as Parameters<typeof inputsOf>[0]).deployments.map((d) => Object.fromEntries(d.inputs.map((i) => [i.name, i.value])));
  const nextInputs = entries.find((i) => i.deploy_resource_name === 'deploy1' && i.greeting === 'two');
  assert.ok(nextInputs, JSON.stringify(entries));
  await waitFor('deploy1 updating', async () => (await seed.call('GET', `${s.path}/resources/deploy1`, { token: a.token })).body?.resource?.resource_status, (st) => st === 'UPDATE_IN_PROGRESS');
  const good = await fetch(String(nextInputs.deploy_signal_id), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deploy_status_code: 0, result: 'fine' }) });
  assert.equal(good.status, 200);
  const st = await waitFor('UPDATE_COMPLETE', async () => (await seed.call('GET', s.path, { token: a.token })).body.stack, (x) => x.stack_status !== 'UPDATE_IN_PROGRESS');
  assert.equal(st.stack_status, 'UPDATE_COMPLETE', st.stack_status_reason);
  assert.equal(st.outputs.find((o: { output_key: string }) => o.output_key === 'result')?.output_value, 'fine');
  // The tokens of metadata URLs never reach the access log.
  assert.ok(!seed.logLines.join('').includes(urls.tmp!.split('/').pop()!), 'metadata token not logged');
  await seed.call('DELETE', s.path, { token: a.token });
});

test('heat-config signals a HEAT_SIGNAL deployment with its stack user: failure with the code and stderr, then an update completes', async () => {
  const { main } = await import('../src/agents/heat-config/cli.js');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const work = mkdtempSync(join(tmpdir(), 'su-heat-config-'));
  const tpl = (script: string) => ({
    heat_template_version: '2018-08-31',
    resources: {
      config: { type: 'OS::Heat::SoftwareConfig', properties: { group: 'script', config: script, outputs: [{ name: 'result' }] } },
      srv: { type: 'OS::Nova::Server', properties: { image: 'img', flavor: 'baremetal', software_config_transport: 'POLL_SERVER_HEAT' } },
      deploy: { type: 'OS::Heat::SoftwareDeployment', properties: { config: { get_resource: 'config' }, server: { get_resource: 'srv' }, signal_transport: 'HEAT_SIGNAL' } },
    },
    outputs: { result: { value: { get_attr: ['deploy', 'result'] } }, code: { value: { get_attr: ['deploy', 'deploy_status_code'] } } },
  });
  const r = await seed.call('POST', `/orchestration/v1/${a.projectId}/stacks`, { token: a.token, body: { stack_name: 'su-hook', template: tpl('echo oops >&2; exit 7') } });
  assert.equal(r.status, 201);
  const s = { name: 'su-hook', id: r.body.stack.id as string, project: a.projectId, path: `/orchestration/v1/${a.projectId}/stacks/su-hook/${r.body.stack.id as string}` };
  await inMetadata(s.path, a.token, 'srv', 'deploy');
  // What the machine does: its heat collector reads its metadata with its own stack user...
  const machine = (await login(await heatSection(s, a.token, 'srv'))).token!;
  const io = { stdout: () => undefined, stderr: () => undefined, env: {} as NodeJS.ProcessEnv };
  const runHook = async () => {
    const md = await seed.call('GET', `${s.path}/resources/srv/metadata`, { token: machine });
    assert.equal(md.status, 200);
    const file = join(work, 'heat.json');
    writeFileSync(file, JSON.stringify(md.body.metadata));
    // ...and heat-config runs the deployment and signals with the deployment's deploy_* user.
    return main(['-m', file, '--work-dir', join(work, 'hc'), '--deployed-dir', join(work, 'deployed'), '--signal-attempts', '1'], io);
  };
  try {
    await runHook();
    const failed = await stackStatus(s, a.token, /CREATE_(COMPLETE|FAILED)/);
    assert.equal(failed.stack_status, 'CREATE_FAILED');
    assert.match(failed.stack_status_reason, /non-zero status code: 7; deploy_stderr: oops$/);
    const upd = await seed.call('PATCH', s.path, { token: a.token, body: { template: tpl('echo -n done > $heat_outputs_path.result') } });
    assert.equal(upd.status, 202);
    // The failed deployment is replaced: the machine sees the new one in its metadata.
    await waitFor('new deployment in the metadata', async () => (await seed.call('GET', `${s.path}/resources/srv/metadata`, { token: machine })).body.metadata.deployments as { config: string }[], (ds) => ds.some((d) => d.config.includes('done')));
    assert.equal(await runHook(), 0);
    const done = await stackStatus(s, a.token, /UPDATE_(COMPLETE|FAILED)/);
    assert.equal(done.stack_status, 'UPDATE_COMPLETE', done.stack_status_reason);
    assert.equal(done.outputs.find((o) => o.output_key === 'result')?.output_value, 'done');
    assert.equal(done.outputs.find((o) => o.output_key === 'code')?.output_value, 0);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await seed.call('DELETE', s.path, { token: a.token });
  }
});
