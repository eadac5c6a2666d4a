// templates/overcloud-demo.yaml through our engine with the named fake compute provider: it
// validates with its files gathered from disk as heatclient sends them, the database server and
// its deployment come first, each web deployment gets the database's address and ports, the
// scripts the machines would run are the installer (valid sh) with the right program inside, and
// the outputs name every web machine's URL. (The programs themselves run in
// src/devtest/demo-programs.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Kysely } from 'kysely';
import { bundleFromDisk } from './support/orchestration/bundle.js';
import { testEngine, type TestEngine } from './support/orchestration/test-support.js';
import { DbSoftwareStore } from '../src/orchestration/software-store.js';
import type { OrchestrationDB } from '../src/orchestration/migrations.js';
import type { JsonMap } from '../src/orchestration/yaml-source.js';

const ROOT = join(import.meta.dirname, '..');
const TEMPLATE = join(ROOT, 'templates', 'overcloud-demo.yaml');
const program = (name: string) => readFileSync(join(ROOT, 'templates', 'overcloud-demo', name), 'utf8');

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

type MachineDeployment = JsonMap & { inputs: Array<{ name: string; value: unknown }> };

/** What the machine of `serverId` reads: its deployments with their inputs and config. */
async function onMachine(store: DbSoftwareStore, serverId: string): Promise<MachineDeployment[]> {
  return (await store.serverMetadata(serverId, 'p')) as MachineDeployment[];
}

function inputsOf(d: MachineDeployment): Record<string, unknown> {
  return Object.fromEntries(d.inputs.map((i) => [i.name, i.value]));
}

/** What heat-config on the machine would signal for a deployment that ran. */
async function signalDone(t: TestEngine, d: MachineDeployment, hostname: string): Promise<void> {
  const m = /\/signal\/deployments\/([^/]+)\/([^/]+)$/.exec(String(inputsOf(d).deploy_signal_id));
  assert.ok(m, `deployment ${String(d.id)} has a signal URL: ${String(inputsOf(d).deploy_signal_id)}`);
  await t.engine.signalByToken(m[1]!, m[2]!, { deploy_status_code: 0, deploy_stdout: `overcloud-demo running on ${hostname}\n`, deploy_stderr: '', hostname });
}

/** The Node program the rendered installer writes, taken out of its here-document. */
function embeddedProgram(script: string): string {
  const m = /<<'OVERCLOUD_DEMO_PROGRAM_END'\n([\s\S]*?)\nOVERCLOUD_DEMO_PROGRAM_END\n/.exec(script);
  assert.ok(m, 'the installer carries the program in a quoted here-document');
  return m[1]!;
}

test('the overcloud demo on the fake compute provider: db first, webs pointed at it, outputs', async (t) => {
  const bundle = bundleFromDisk(TEMPLATE);
  assert.deepEqual(bundle.missing, [], 'every get_file target is next to the template');
  assert.deepEqual(Object.keys(bundle.files).map((u) => u.slice(u.lastIndexOf('/') + 1)).sort(), ['db.mjs', 'install-service.sh', 'web.mjs']);

  const e = await testEngine();
  t.after(() => e.close());
  e.network.addNetwork('p', 'ctlplane', '192.168.24.0/24', true);
  const store = new DbSoftwareStore(e.database.db as unknown as Kysely<OrchestrationDB>);
  const stack = await e.engine.create('p', {
    stack_name: 'overcloud',
    template: bundle.template,
    template_file: bundle.templateKey,
    files: bundle.files,
    parameters: { key_name: 'devtest' },
  });

  // 1. The database machine and its deployment; the web deployments wait for it.
  const dbDeployment = await until('the db deployment', async () => {
    const ds = await store.listDeployments('p');
    return ds.length === 1 && ds[0]!.status === 'IN_PROGRESS' ? ds[0] : undefined;
  });
  const dbSpec = e.compute.list().find((s) => s.name === 'overcloud-db');
  assert.ok(dbSpec, `servers: ${e.compute.list().map((s) => s.name).join(', ')}`);
  assert.equal(dbSpec.image, 'sample');
  assert.equal(dbSpec.flavor, 'baremetal');
  assert.equal(dbSpec.keyName, 'devtest');
  assert.deepEqual(dbSpec.networks, [{ network: 'ctlplane' }]);
  assert.deepEqual((dbSpec.collectConfig as { collectors: string[] }).collectors, ['heat_local', 'heat'], 'POLL_SERVER_HEAT');
  assert.equal(dbSpec.userData ?? '', '', 'SOFTWARE_CONFIG with nothing but deployments: no user data');
  const dbStatus = await e.compute.status(dbDeployment.serverId, 'p');
  const dbAddress = dbStatus.addresses.ctlplane?.[0]?.addr;
  assert.ok(dbAddress);

  const [dbOnMachine] = await onMachine(store, dbDeployment.serverId);
  assert.ok(dbOnMachine);
  assert.equal(dbOnMachine.group, 'script');
  assert.equal(inputsOf(dbOnMachine).port, 8081);
  const dbScript = String(dbOnMachine.config);
  assert.match(dbScript, /^#!\/bin\/sh\n/);
  assert.match(dbScript, /^name=db$/m);
  assert.equal(embeddedProgram(dbScript), program('db.mjs'));
  assert.doesNotMatch(dbScript, /__SERVICE__|__PROGRAM__/);
  assert.equal(spawnSync('sh', ['-n'], { input: dbScript }).status, 0, 'the rendered installer is valid sh');
  await signalDone(e, dbOnMachine, 'overcloud-db');

  // 2. Two web machines, each with a deployment that names the database.
  const webDeployments = await until('the web deployments', async () => {
    const ds = (await store.listDeployments('p')).filter((d) => d.id !== dbDeployment.id && d.status === 'IN_PROGRESS');
    return ds.length === 2 ? ds : undefined;
  });
  const webSpecs = e.compute.list().filter((s) => s.name.startsWith('overcloud-web-'));
  assert.deepEqual(webSpecs.map((s) => s.name).sort(), ['overcloud-web-0', 'overcloud-web-1']);
  for (const s of webSpecs) {
    assert.equal(s.image, 'sample');
    assert.equal(s.keyName, 'devtest');
    assert.deepEqual(s.networks, [{ network: 'ctlplane' }]);
    assert.deepEqual((s.collectConfig as { collectors: string[] }).collectors, ['heat_local', 'heat']);
  }
  const webAddresses: string[] = [];
  for (const d of webDeployments) {
    const [md] = await onMachine(store, d.serverId);
    assert.ok(md);
    const inputs = inputsOf(md);
    assert.equal(inputs.db_address, dbAddress, 'the web machine is given the database machine\'s address');
    assert.equal(inputs.db_port, 8081);
    assert.equal(inputs.port, 8080);
    const script = String(md.config);
    assert.match(script, /^name=web$/m);
    assert.equal(embeddedProgram(script), program('web.mjs'));
    assert.equal(spawnSync('sh', ['-n'], { input: script }).status, 0);
    const status = await e.compute.status(d.serverId, 'p');
    webAddresses.push(status.addresses.ctlplane![0]!.addr);
    await signalDone(e, md, status.name);
  }

  // 3. Complete, with the outputs the devtest smoke stage reads.
  const row = await e.settle(stack.id);
  assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
  const outputs = Object.fromEntries((await e.engine.outputs(row)).map((o) => [o.output_key, o.output_value]));
  assert.equal(outputs.db_address, dbAddress);
  assert.equal(outputs.db_url, `http://${dbAddress}:8081/`);
  assert.equal(outputs.db_hostname, 'overcloud-db');
  const urls = outputs.web_urls as string[];
  assert.equal(urls.length, 2);
  assert.deepEqual([...urls].sort(), webAddresses.map((a) => `http://${a}:8080/`).sort());
  assert.deepEqual(Object.values(outputs.web_hostnames as Record<string, string>).sort(), ['overcloud-web-0', 'overcloud-web-1']);
});

test('web_count and the ports are parameters; key_name is required', async (t) => {
  const bundle = bundleFromDisk(TEMPLATE);
  const e = await testEngine();
  t.after(() => e.close());
  e.network.addNetwork('p', 'ctlplane', '192.168.24.0/24', true);
  await assert.rejects(
    e.engine.create('p', { stack_name: 'nokey', template: bundle.template, template_file: bundle.templateKey, files: bundle.files }),
    /key_name/,
  );
  const stack = await e.engine.create('p', {
    stack_name: 'three',
    template: bundle.template,
    template_file: bundle.templateKey,
    files: bundle.files,
    parameters: { key_name: 'k', web_count: 3, web_port: 9000, db_port: 9001 },
  });
  const store = new DbSoftwareStore(e.database.db as unknown as Kysely<OrchestrationDB>);
  // Complete every deployment as it appears (the db's, then the three webs').
  const signalled = new Set<string>();
  const row = await until('the stack to complete', async () => {
    for (const d of await store.listDeployments('p')) {
      if (d.status !== 'IN_PROGRESS' || signalled.has(d.id)) continue;
      signalled.add(d.id);
      const [md] = await onMachine(store, d.serverId);
      if (md?.group === 'script' && String(md.config).includes('name=web')) assert.equal(inputsOf(md).db_port, 9001);
      await signalDone(e, md!, (await e.compute.status(d.serverId, 'p')).name);
    }
    const s = await e.engine.getStack(stack.id);
    return s && s.status !== 'IN_PROGRESS' ? s : undefined;
  });
  assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
  assert.equal(signalled.size, 4);
  const outputs = Object.fromEntries((await e.engine.outputs(row)).map((o) => [o.output_key, o.output_value]));
  assert.equal((outputs.web_urls as string[]).length, 3);
  for (const u of outputs.web_urls as string[]) assert.match(u, /^http:\/\/192\.0\.2\.\d+:9000\/$/);
});
