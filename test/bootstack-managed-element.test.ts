// The bootstack-managed element without an image: its os-collect-config.conf template rendered by
// our os-apply-config and by Debian's for both shapes orchestration writes, the result read by our
// os-collect-config's config loader; the first-boot bootstrap against a stand-in config drive, a
// local metadata service and a root prefix; and os-collect-config (the bundle that goes into the
// image) starting again with new settings when a run rewrites its config file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';
import { main as applyMain } from '../src/agents/os-apply-config/cli.js';
import { loadConfig } from '../src/agents/os-collect-config/config.js';
import { BUILTIN_ELEMENTS } from '../src/image-builder/build.js';
import { bundleAgents } from '../src/image-builder/deploy-ramdisk.js';

const ELEMENT = join(BUILTIN_ELEMENTS, 'bootstack-managed');
const TEMPLATES = join(ELEMENT, 'os-apply-config');
const BOOTSTRAP = join(ELEMENT, 'static', 'bootstack-managed-bootstrap');
const ORACLE = '/usr/bin/os-apply-config';

const HEAT_SHAPE = {
  collectors: ['heat_local', 'heat'],
  polling_interval: 30,
  heat: {
    auth_url: 'http://192.0.2.1:8080/identity/v3',
    user_id: 'a1b2',
    password: 'Zq9-secret',
    project_id: 'p-1',
    stack_id: 'overcloud/5c3f',
    resource_name: 'controller',
  },
};
const REQUEST_SHAPE = { collectors: ['heat_local', 'request'], polling_interval: 30, request: { metadata_url: 'http://192.0.2.1:8080/metadata/v1/servers/abc/deployments?sig=x' } };

let work: string;
let agents: string;
before(async () => {
  work = mkdtempSync(join(tmpdir(), 'bootstack-managed-'));
  agents = join(work, 'agents');
  await bundleAgents(agents);
});
after(() => rmSync(work, { recursive: true, force: true }));

async function renderOurs(meta: unknown, out: string): Promise<string> {
  const m = join(out, '..', `${out.split('/').pop()}.json`);
  writeFileSync(m, JSON.stringify(meta));
  let err = '';
  const code = await applyMain(['-t', TEMPLATES, '-o', out, '-m', m], { env: {}, stdout: () => undefined, stderr: (s) => (err += s) });
  assert.equal(code, 0, err);
  return readFileSync(join(out, 'etc', 'os-collect-config.conf'), 'utf8');
}

for (const [name, shape] of [['heat', HEAT_SHAPE], ['request', REQUEST_SHAPE]] as const) {
  test(`os-collect-config.conf for the ${name} shape: same bytes as Debian's os-apply-config, read back by our loader`, async () => {
    const dir = join(work, `render-${name}`);
    mkdirSync(dir, { recursive: true });
    const ours = await renderOurs({ 'os-collect-config': shape }, join(dir, 'ours'));
    const meta = join(dir, 'py.json');
    writeFileSync(meta, JSON.stringify({ 'os-collect-config': shape }));
    await run(ORACLE, ['-t', TEMPLATES, '-o', join(dir, 'py'), '-m', meta], { timeoutMs: 60_000 });
    assert.equal(ours, readFileSync(join(dir, 'py', 'etc', 'os-collect-config.conf'), 'utf8'));

    const conf = join(dir, 'ours', 'etc', 'os-collect-config.conf');
    const cfg = loadConfig(['--config-file', conf]);
    assert.equal(cfg.command, 'os-refresh-config');
    assert.equal(cfg.pollingInterval, 30);
    if (name === 'heat') {
      assert.deepEqual(cfg.heat, {
        authUrl: HEAT_SHAPE.heat.auth_url,
        userId: HEAT_SHAPE.heat.user_id,
        password: HEAT_SHAPE.heat.password,
        projectId: HEAT_SHAPE.heat.project_id,
        stackId: HEAT_SHAPE.heat.stack_id,
        resourceName: HEAT_SHAPE.heat.resource_name,
        regionName: undefined,
      });
      assert.equal(cfg.request.metadataUrl, undefined);
    } else {
      assert.equal(cfg.request.metadataUrl, REQUEST_SHAPE.request.metadata_url);
      assert.equal(cfg.heat.authUrl, undefined);
    }
  });

  // `collectors` is multi-valued (MultiStrOpt in the original): the template writes one line per
  // collector, and both parsers add the lines up.
  test(`the ${name} shape's collectors lines are read as ${JSON.stringify(shape.collectors)}`, async () => {
    const dir = join(work, `render-${name}`);
    const cfg = loadConfig(['--config-file', join(dir, 'ours', 'etc', 'os-collect-config.conf')]);
    assert.deepEqual(cfg.collectors, shape.collectors);
  });
}

function root(name: string) {
  const dir = join(work, name);
  const target = join(dir, 'root');
  mkdirSync(join(target, 'usr', 'libexec', 'os-apply-config'), { recursive: true });
  cpSync(TEMPLATES, join(target, 'usr', 'libexec', 'os-apply-config', 'templates'), { recursive: true });
  const drive = join(dir, 'drive');
  mkdirSync(join(drive, 'openstack', 'latest'), { recursive: true });
  const bootstrap = (env: Record<string, string> = {}) =>
    run(BOOTSTRAP, [], {
      env: { ...process.env, PATH: `${agents}:${process.env.PATH ?? ''}`, TARGET: target, CONFIG_DRIVE_DIR: drive, BOOTSTACK_METADATA_TRIES: '2', ...env },
      timeoutMs: 60_000,
    });
  return { dir, target, drive, bootstrap, data: join(target, 'var', 'lib', 'heat-cfntools', 'cfn-init-data'), conf: join(target, 'etc', 'os-collect-config.conf') };
}

test('bootstrap from the config drive: cfn-init-data (0600) and the rendered config; a second boot does nothing', async () => {
  const r = root('drive');
  writeFileSync(join(r.drive, 'openstack', 'latest', 'meta_data.json'), JSON.stringify({ uuid: 'u-1', name: 'c-1', 'os-collect-config': HEAT_SHAPE }));
  const first = await r.bootstrap({ BOOTSTACK_METADATA_URL: 'http://127.0.0.1:9/never-asked' });
  assert.match(first.stdout, /^bootstack-managed: managed: collectors=heat_local,heat from config drive, \S+\/etc\/os-collect-config\.conf written$/m);
  assert.deepEqual(JSON.parse(readFileSync(r.data, 'utf8')), { 'os-collect-config': HEAT_SHAPE });
  assert.equal(statSync(r.data).mode & 0o777, 0o600);
  assert.equal(statSync(join(r.target, 'var', 'lib', 'heat-cfntools')).mode & 0o777, 0o700);
  assert.equal(readFileSync(r.conf, 'utf8'), await renderOurs({ 'os-collect-config': HEAT_SHAPE }, join(r.dir, 'expected')));

  writeFileSync(join(r.drive, 'openstack', 'latest', 'meta_data.json'), JSON.stringify({ 'os-collect-config': REQUEST_SHAPE }));
  const second = await r.bootstrap();
  assert.match(second.stdout, /cfn-init-data exists, nothing to do/);
  assert.deepEqual(JSON.parse(readFileSync(r.data, 'utf8')), { 'os-collect-config': HEAT_SHAPE });
});

test('bootstrap from the metadata service when there is no drive (after a failed try); no os-collect-config key: unmanaged, exit 0', async () => {
  let asked = 0;
  let body: unknown = { uuid: 'u-2', 'os-collect-config': REQUEST_SHAPE };
  const server: Server = createServer((req, res) => {
    asked++;
    // The first request fails, as when the service does not know the machine yet.
    if (asked === 1 || req.url !== '/openstack/latest/meta_data.json') {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openstack/latest/meta_data.json`;
    const r = root('service');
    const ok = await r.bootstrap({ BOOTSTACK_METADATA_URL: url });
    assert.equal(asked, 2);
    assert.match(ok.stdout, new RegExp(`managed: collectors=heat_local,request from ${url.replace(/[.?/]/g, '\\$&')}`));
    assert.match(readFileSync(r.conf, 'utf8'), /^\[request\]\nmetadata_url = http:\/\/192\.0\.2\.1:8080\/metadata\/v1\/servers\/abc\/deployments\?sig=x$/m);

    body = { uuid: 'u-3', meta: { 'os-collect-config': 'a string is not the object' } };
    const u = root('unmanaged');
    const none = await u.bootstrap({ BOOTSTACK_METADATA_URL: url });
    assert.match(none.stdout, /has no os-collect-config object: this machine is not managed/);
    assert.ok(!existsSync(u.data) && !existsSync(u.conf));

    const gone = await root('nothing').bootstrap({ BOOTSTACK_METADATA_URL: 'http://127.0.0.1:9/x', BOOTSTACK_METADATA_TRIES: '1' });
    assert.equal(gone.code, 0);
    assert.match(gone.stdout, /no config drive and no answer from http:\/\/127\.0\.0\.1:9\/x after 1 tries: this machine is not managed/);
  } finally {
    server.close();
  }
});

test('os-collect-config starts again with the new settings when its command rewrote the config file', async () => {
  const dir = join(work, 'reexec');
  mkdirSync(join(dir, 'local'), { recursive: true });
  writeFileSync(join(dir, 'local', 'data.json'), JSON.stringify({ x: 1 }));
  const conf = join(dir, 'occ.conf');
  const marker = join(dir, 'second-config-ran');
  const conf$ = (extra: string) =>
    `[DEFAULT]\ncollectors = local\ncachedir = ${dir}/cache\nbackup_cachedir = ${dir}/backup\nmin_polling_interval = 0.2\n${extra}[local]\npath = ${dir}/local\n`;
  // The first command does what os-refresh-config's 20-os-apply-config does to this file; the
  // settings it writes end the run (one_time) and run a command only they name.
  writeFileSync(join(dir, 'second.conf'), conf$(`one_time = true\nforce = true\ncommand = touch ${marker}\n`));
  writeFileSync(conf, conf$(`command = cp ${dir}/second.conf ${conf}\n`));
  const r = await run(join(agents, 'os-collect-config'), ['--config-file', conf], { timeoutMs: 60_000, allowFailure: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Configuration changed\. Re-executing/);
  assert.ok(existsSync(marker), 'the command of the new configuration ran');
});
