// templates/undercloud.yaml with templates/undercloud-env.yaml through our orchestration engine:
// validation (and the parameter checks that keep the rendered YAML well-formed), then a create on
// the named fakes (FakeComputeProvider, FakeNetworkProvider) with the lab's ctlplane: the server
// on its fixed-address port with the POLL_SERVER_HEAT section, the one os-apply-config deployment
// in the server's metadata carrying the "bootstack" key, that key rendered by the
// bootstack-undercloud element's template into a configuration the server accepts, and, after the
// machine's signal, the outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as applyMain } from '../src/agents/os-apply-config/cli.js';
import { requestEnvironment } from '../src/orchestration/engine.js';
import { createRegistry } from '../src/orchestration/resources/index.js';
import { loadTemplate } from '../src/orchestration/template.js';
import { until, withEngine, type TestEngine } from './support/orchestration/test-support.js';
import { validateStack } from '../src/orchestration/validate.js';
import type { Json, JsonMap } from '../src/orchestration/yaml-source.js';
import { BUILTIN_ELEMENTS } from '../src/image-builder/build.js';
import { loadServerConfig } from '../src/server/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEMPLATE = readFileSync(join(ROOT, 'templates', 'undercloud.yaml'), 'utf8');
const ENV = readFileSync(join(ROOT, 'templates', 'undercloud-env.yaml'), 'utf8');
const OAC_TEMPLATES = join(BUILTIN_ELEMENTS, 'bootstack-undercloud', 'os-apply-config');

function validate(params: JsonMap = {}, env: string = ENV): void {
  const environment = requestEnvironment({ environment: env });
  validateStack(loadTemplate(TEMPLATE, 'undercloud.yaml'), { registry: createRegistry(), env: environment, files: {}, params: { ...environment.parameters, ...params } });
}



test('the template validates with the lab environment', () => {
  validate();
  // and without it too (Heat's validate does not need values for parameters without defaults).
  validate({}, '{}');
});

test('parameters that would break the rendered YAML or the server\'s schema are refused', () => {
  assert.throws(() => validate({ admin_password: 'two words' }), /admin_password.*may not contain white space/);
  assert.throws(() => validate({ database_url: "postgres://u:it's@h/db" }), /database_url.*may not contain quotes/);
  assert.throws(() => validate({ ctlplane_interface: "ens3'" }), /ctlplane_interface/);
  assert.throws(() => validate({ ctlplane_ip: '10.213.0.x' }), /ctlplane_ip.*not a valid ip_addr/);
  assert.throws(() => validate({ ctlplane_gateway: 'gw' }), /ctlplane_gateway/);
  assert.throws(() => validate({ log_level: 'loud' }), /log_level/);
  assert.throws(() => validate({ port: 70000 }), /port/);
});

/** Creates the stack with the lab environment and waits for its deployment to wait for the machine. */
async function createUndercloud(t: TestEngine, parameters: JsonMap = {}) {
  t.network.addNetwork('p', 'ctlplane', '10.213.0.0/24', true);
  const s = await t.engine.create('p', { stack_name: 'undercloud', template: TEMPLATE, environment: ENV, parameters });
  let deployments: JsonMap[] = [];
  await until(async () => {
    const rows = await t.engine.resources(s.id);
    const d = rows.find((r) => r.name === 'bootstack_deployment');
    const server = rows.find((r) => r.name === 'server');
    deployments = server ? ((JSON.parse(server.metadata) as { deployments?: JsonMap[] }).deployments ?? []) : [];
    return d?.status === 'IN_PROGRESS' && JSON.parse(d.data).deployment_id !== undefined && deployments.length === 1;
  });
  const server = (await t.engine.resources(s.id)).find((r) => r.name === 'server')!;
  return { stack: s, server, deployment: deployments[0]! };
}

test('create on the fakes: the server on its ctlplane port, the "bootstack" key deployed, rendered into a valid configuration; outputs after the signal', () =>
  withEngine(async (t) => {
    const { stack, server, deployment } = await createUndercloud(t);
    const [spec] = t.compute.list();
    assert.equal(spec!.image, 'bootstack-undercloud');
    assert.equal(spec!.flavor, 'baremetal');
    assert.equal(spec!.configDrive, true);
    assert.equal(spec!.keyName, undefined, 'no key pair unless given');
    const port = (await t.engine.resourceRow(stack.id, 'ctlplane_port')).physical_id!;
    assert.deepEqual(spec!.networks, [{ port }]);
    assert.deepEqual([...t.network.ports.values()].map((p) => p.fixed_ips.map((f) => f.ip_address)), [['10.213.0.5']]);
    assert.deepEqual((spec!.collectConfig as JsonMap).collectors, ['heat_local', 'heat'], 'POLL_SERVER_HEAT');

    assert.equal(deployment.group, 'os-apply-config');
    assert.equal(deployment.name, 'bootstack_config', 'the config\'s name: os-collect-config\'s file for it');
    const config = deployment.config as { bootstack: Record<string, Json> & { admin: { password: string }; pivot: { receive: boolean; token: string } } };
    const { admin, pivot, ...rest } = config.bootstack;
    assert.match(admin.password, /^[A-Za-z0-9]{32}$/, 'a random admin password when none is given');
    assert.equal(pivot.receive, true);
    assert.match(pivot.token, /^[A-Za-z0-9]{32}$/);
    assert.deepEqual(rest, {
      listen: { host: '0.0.0.0', port: 6385 },
      public_url: 'http://10.213.0.5:6385',
      database_url: '',
      log_level: 'info',
      ctlplane: { interface: 'ens3', range_start: '10.213.0.100', range_end: '10.213.0.199', netmask: '255.255.255.0', gateway: '' },
      metadata_enabled: true,
    });

    // The deployment's config as os-collect-config hands it to os-apply-config (one file per
    // deployment), through the element's template, into what the server loads.
    const dir = mkdtempSync(join(tmpdir(), 'undercloud-template-'));
    try {
      writeFileSync(join(dir, 'deployment.json'), JSON.stringify(config));
      mkdirSync(join(dir, 'root'));
      let err = '';
      const code = await applyMain(['-t', OAC_TEMPLATES, '-o', join(dir, 'root'), '-m', join(dir, 'deployment.json')], { env: {}, stdout: () => undefined, stderr: (s) => (err += s) });
      assert.equal(code, 0, err);
      const cfg = loadServerConfig(join(dir, 'root', 'etc', 'bootstack', 'bootstack.yaml'), {}, {});
      assert.equal(cfg.public_url, 'http://10.213.0.5:6385');
      assert.deepEqual(cfg.pivot, { receive: true, token: pivot.token });
      assert.equal(cfg.boot.dnsmasq.interface, 'ens3');
      // A receiver takes the seed's admin with the pivot: no password file of its own.
      assert.ok(!existsSync(join(dir, 'root', 'var', 'lib', 'bootstack', 'admin-password')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // heat-config on the machine signals the os-apply-config deployment through its token URL.
    const inputs = Object.fromEntries((deployment.inputs as JsonMap[]).map((i) => [i.name, i.value]));
    const [, id, token] = /deployments\/([^/]+)\/([^/]+)$/.exec(String(inputs.deploy_signal_id))!;
    await t.engine.signalByToken(id!, token!, { deploy_status_code: 0 });
    const row = await t.settle(stack.id);
    assert.equal(`${row.action}_${row.status}`, 'CREATE_COMPLETE', row.status_reason);
    const outs = Object.fromEntries((await t.engine.outputs(row)).map((o) => [o.output_key, o.output_error ? `ERROR ${o.output_error}` : o.output_value]));
    assert.deepEqual(outs, {
      api_url: 'http://10.213.0.5:6385',
      admin_username: 'admin',
      admin_password: admin.password,
      pivot_token: pivot.token,
      server_id: server.physical_id,
      ctlplane_ip: '10.213.0.5',
    });
  }));

test('not a receiver: a given admin password, port, database and gateway reach the configuration and the outputs', () =>
  withEngine(async (t) => {
    const { stack, deployment } = await createUndercloud(t, {
      admin_password: 'Given-Passw0rd',
      port: 7000,
      database_url: 'postgres://bootstack:pw@10.213.0.6/bootstack',
      ctlplane_gateway: '10.213.0.1',
      key_name: 'default',
      metadata_enabled: 'false',
      pivot_receive: false,
    });
    assert.equal(t.compute.list()[0]!.keyName, 'default');
    const b = (deployment.config as { bootstack: JsonMap }).bootstack;
    assert.deepEqual(b.admin, { password: 'Given-Passw0rd' });
    assert.deepEqual(b.listen, { host: '0.0.0.0', port: 7000 });
    assert.equal(b.public_url, 'http://10.213.0.5:7000');
    assert.equal(b.metadata_enabled, false);
    const outs = Object.fromEntries((await t.engine.outputs((await t.engine.getStack(stack.id))!)).map((o) => [o.output_key, o.output_value]));
    assert.equal(outs.admin_password, 'Given-Passw0rd');
    assert.equal(outs.api_url, 'http://10.213.0.5:7000');

    const dir = mkdtempSync(join(tmpdir(), 'undercloud-template-'));
    try {
      writeFileSync(join(dir, 'deployment.json'), JSON.stringify(deployment.config));
      let err = '';
      const code = await applyMain(['-t', OAC_TEMPLATES, '-o', join(dir, 'root'), '-m', join(dir, 'deployment.json')], { env: {}, stdout: () => undefined, stderr: (s) => (err += s) });
      assert.equal(code, 0, err);
      const cfg = loadServerConfig(join(dir, 'root', 'etc', 'bootstack', 'bootstack.yaml'), {}, {});
      assert.equal(cfg.listen.port, 7000);
      assert.equal(cfg.database.url, 'postgres://bootstack:pw@10.213.0.6/bootstack');
      assert.equal(cfg.network.provisioning.gateway, '10.213.0.1');
      assert.equal(cfg.metadata.enabled, false);
      assert.equal(cfg.pivot.receive, false);
      // Not a receiver: its identity bootstrap creates the admin with the given password.
      assert.equal(readFileSync(join(dir, 'root', 'var', 'lib', 'bootstack', 'admin-password'), 'utf8'), 'Given-Passw0rd\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));
