// The bootstack-undercloud element without an image: its element list (the managed sample image's,
// plus the server), the install.d hook that masks Debian's dnsmasq.service against a root prefix,
// the bootstack.yaml template rendered by our os-apply-config and by Debian's from the same
// metadata (same bytes, same modes) and accepted by the server's own config loader, and
// os-refresh-config's 80-bootstack-server run on this host with stand-in systemctl, curl and
// journalctl: unchanged config → no restart, changed → restart, an API that never answers → exit 1
// with the cause.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { run } from '../src/common/child-process.js';
import { main as applyMain } from '../src/agents/os-apply-config/cli.js';
import { BUILTIN_ELEMENTS } from '../src/image-builder/build.js';
import { SAMPLE_IMAGE_ELEMENTS } from '../src/image-builder/sample-image.js';
import { loadServerConfig } from '../src/server/config.js';

const ELEMENT = join(BUILTIN_ELEMENTS, 'bootstack-undercloud');
const TEMPLATES = join(ELEMENT, 'os-apply-config');
const INSTALL_HOOK = join(ELEMENT, 'install.d', '60-bootstack-undercloud');
const RESTART = join(ELEMENT, 'os-refresh-config', 'post-configure.d', '80-bootstack-server');
const ORACLE = '/usr/bin/os-apply-config';

/** The metadata key templates/undercloud.yaml deploys, as the lab environment fills it. */
const BOOTSTACK = {
  listen: { host: '0.0.0.0', port: 6385 },
  public_url: 'http://10.213.0.5:6385',
  database_url: '',
  log_level: 'info',
  admin: { password: 'Adm1n-pw.x' },
  ctlplane: { interface: 'ens3', range_start: '10.213.0.100', range_end: '10.213.0.199', netmask: '255.255.255.0', gateway: '' },
  metadata_enabled: true,
  pivot: { receive: true, token: 'Zx81qLmN0pQrStUvWxYz0123456789ab' },
};

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'bootstack-undercloud-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

test('element-deps: the managed sample image\'s elements (without its sample template) plus bootstack-server and growroot', () => {
  const deps = readFileSync(join(ELEMENT, 'element-deps'), 'utf8').split('\n').filter(Boolean);
  const expected = [...SAMPLE_IMAGE_ELEMENTS.filter((e) => e !== 'bootstack-sample-config'), 'bootstack-server', 'growroot'];
  assert.deepEqual([...deps].sort(), [...expected].sort());
  for (const d of deps) assert.ok(existsSync(join(BUILTIN_ELEMENTS, d)), `element ${d} exists`);
  const packages = Object.keys(parseYaml(readFileSync(join(ELEMENT, 'package-installs.yaml'), 'utf8')) as Record<string, unknown>);
  assert.deepEqual(packages.sort(), ['curl', 'dnsmasq', 'ipmitool', 'iproute2', 'ipxe', 'qemu-utils']);
});

test('install.d masks Debian\'s dnsmasq.service (no systemd needed) and removes what enabled it', async () => {
  const root = join(work, 'install-root');
  mkdirSync(join(root, 'usr', 'sbin'), { recursive: true });
  writeFileSync(join(root, 'usr', 'sbin', 'dnsmasq'), '#!/bin/sh\n');
  chmodSync(join(root, 'usr', 'sbin', 'dnsmasq'), 0o755);
  const wants = join(root, 'etc', 'systemd', 'system', 'multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  symlinkSync('/lib/systemd/system/dnsmasq.service', join(wants, 'dnsmasq.service'));
  symlinkSync('/lib/systemd/system/ssh.service', join(wants, 'ssh.service'));
  const r = await run(INSTALL_HOOK, [], { env: { ...process.env, BOOTSTACK_UNDERCLOUD_ROOT: root } });
  assert.match(r.stdout, /dnsmasq\.service masked/);
  assert.equal(readlinkSync(join(root, 'etc', 'systemd', 'system', 'dnsmasq.service')), '/dev/null');
  assert.deepEqual(readdirSync(wants), ['ssh.service'], 'only dnsmasq\'s link goes');
  // Run twice (a rebuild over a cached tree): still masked, no error.
  await run(INSTALL_HOOK, [], { env: { ...process.env, BOOTSTACK_UNDERCLOUD_ROOT: root } });
  assert.ok(lstatSync(join(root, 'etc', 'systemd', 'system', 'dnsmasq.service')).isSymbolicLink());

  const bare = join(work, 'install-bare');
  mkdirSync(bare);
  const missing = await run(INSTALL_HOOK, [], { env: { ...process.env, BOOTSTACK_UNDERCLOUD_ROOT: bare }, allowFailure: true });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /usr\/sbin\/dnsmasq missing/);
});

/** Renders the element's templates with ours and with Debian's os-apply-config into two roots. */
async function renderBoth(name: string, meta: unknown, roots?: { ours: string; py: string }): Promise<{ ours: string; py: string }> {
  const dir = join(work, `render-${name}`);
  mkdirSync(dir, { recursive: true });
  const metaFile = join(dir, 'metadata.json');
  writeFileSync(metaFile, JSON.stringify(meta));
  const out = roots ?? { ours: join(dir, 'ours'), py: join(dir, 'py') };
  let err = '';
  const code = await applyMain(['-t', TEMPLATES, '-o', out.ours, '-m', metaFile], { env: {}, stdout: () => undefined, stderr: (s) => (err += s) });
  assert.equal(code, 0, err);
  await run(ORACLE, ['-t', TEMPLATES, '-o', out.py, '-m', metaFile], { timeoutMs: 60_000 });
  return out;
}

const FILES = [join('etc', 'bootstack', 'bootstack.yaml'), join('var', 'lib', 'bootstack', 'admin-password')];

function assertSameFiles(roots: { ours: string; py: string }): void {
  for (const f of FILES) {
    const [a, b] = [join(roots.ours, f), join(roots.py, f)];
    assert.equal(existsSync(a), existsSync(b), `${f}: both or neither`);
    if (!existsSync(a)) continue;
    assert.equal(readFileSync(a, 'utf8'), readFileSync(b, 'utf8'), `${f}: same bytes`);
    assert.equal(statSync(a).mode & 0o777, 0o600, `${f}: 0600 (ours)`);
    assert.equal(statSync(b).mode & 0o777, 0o600, `${f}: 0600 (Debian's)`);
  }
}

test('bootstack.yaml: the same bytes from both os-apply-configs, 0600, and a valid server configuration', async () => {
  const roots = await renderBoth('lab', { bootstack: BOOTSTACK });
  assertSameFiles(roots);
  const file = join(roots.ours, 'etc', 'bootstack', 'bootstack.yaml');
  const cfg = loadServerConfig(file, {}, {});
  assert.equal(cfg.state_dir, '/var/lib/bootstack');
  assert.deepEqual(cfg.listen, { host: '0.0.0.0', port: 6385 });
  assert.equal(cfg.public_url, 'http://10.213.0.5:6385');
  assert.equal(cfg.database.url, undefined, 'no database_url: SQLite under the state directory');
  assert.equal(cfg.log.level, 'info');
  assert.equal(cfg.boot.dnsmasq.enabled, true);
  assert.equal(cfg.boot.dnsmasq.mode, 'dhcp');
  assert.equal(cfg.boot.dnsmasq.interface, 'ens3');
  assert.equal(cfg.boot.dnsmasq.range_start, '10.213.0.100');
  assert.equal(cfg.boot.dnsmasq.range_end, '10.213.0.199');
  assert.equal(cfg.boot.dnsmasq.netmask, '255.255.255.0');
  assert.equal(cfg.network.provisioning.gateway, undefined);
  assert.equal(cfg.metadata.enabled, true);
  assert.deepEqual(cfg.pivot, { receive: true, token: BOOTSTACK.pivot.token });
  // A receiver gets the seed's admin (and password) with the pivot: no password file of its own,
  // which would make its clouds.yaml wrong.
  assert.ok(!existsSync(join(roots.ours, 'var', 'lib', 'bootstack', 'admin-password')));
});

test('optional keys: database URL, gateway and log level in or out; booleans false or missing; the admin password file only when not receiving', async () => {
  const full = {
    ...BOOTSTACK,
    database_url: 'postgres://bootstack:pw@10.213.0.6/bootstack',
    log_level: 'debug',
    listen: { host: '10.213.0.5', port: 7000 },
    ctlplane: { ...BOOTSTACK.ctlplane, gateway: '10.213.0.1' },
    metadata_enabled: false,
    pivot: { receive: false, token: BOOTSTACK.pivot.token },
  };
  const a = await renderBoth('full', { bootstack: full });
  assertSameFiles(a);
  const cfg = loadServerConfig(join(a.ours, 'etc', 'bootstack', 'bootstack.yaml'), {}, {});
  assert.equal(cfg.database.url, full.database_url);
  assert.equal(cfg.log.level, 'debug');
  assert.deepEqual(cfg.listen, { host: '10.213.0.5', port: 7000 });
  assert.equal(cfg.network.provisioning.gateway, '10.213.0.1');
  assert.equal(cfg.metadata.enabled, false);
  assert.equal(cfg.pivot.receive, false);
  // Not a receiver: the password the identity bootstrap takes on an empty database, and a newline.
  assert.equal(readFileSync(join(a.ours, 'var', 'lib', 'bootstack', 'admin-password'), 'utf8'), 'Adm1n-pw.x\n');

  // The fewest keys the template takes: no log level, booleans and token absent.
  const { log_level: _l, metadata_enabled: _m, database_url: _d, pivot: _p, ...least } = BOOTSTACK;
  const b = await renderBoth('least', { bootstack: least });
  assertSameFiles(b);
  const min = loadServerConfig(join(b.ours, 'etc', 'bootstack', 'bootstack.yaml'), {}, {});
  assert.equal(min.log.level, undefined);
  assert.equal(min.metadata.enabled, false);
  assert.deepEqual(min.pivot, { receive: false });
});

test('without the "bootstack" key (the first-boot run) nothing is written; when it goes, the files go', async () => {
  const none = await renderBoth('none', { 'os-collect-config': { collectors: ['heat_local', 'heat'] } });
  for (const f of FILES) {
    assert.ok(!existsSync(join(none.ours, f)), `${f} not written (ours)`);
    assert.ok(!existsSync(join(none.py, f)), `${f} not written (Debian's)`);
  }
  const roots = await renderBoth('gone', { bootstack: { ...BOOTSTACK, pivot: { receive: false } } });
  assertSameFiles(roots);
  for (const f of FILES) assert.ok(existsSync(join(roots.ours, f)), `${f} written`);
  await renderBoth('gone', { other: 1 }, roots);
  for (const f of FILES) assert.ok(!existsSync(join(roots.ours, f)) && !existsSync(join(roots.py, f)), `${f} removed by both`);
});

// ---------- 80-bootstack-server ----------

const FAKE_SYSTEMCTL = `#!/bin/bash
# Stand-in systemctl: logs its calls; the unit's state is the file "state".
echo "$*" >>"$FAKE/systemctl.log"
case "$1" in
  is-active) s=$(cat "$FAKE/state" 2>/dev/null || echo inactive); echo "$s"; [ "$s" = active ] ;;
  enable) exit 0 ;;
  restart)
    [ -f "$FAKE/restart-fails" ] && { echo "Job for $2.service failed." >&2; exit 1; }
    cat "$FAKE/state-after-restart" 2>/dev/null >"$FAKE/state" || echo active >"$FAKE/state"
    [ -f "$FAKE/api-comes-up" ] && touch "$FAKE/api-up"
    exit 0 ;;
  *) exit 1 ;;
esac
`;
const FAKE_CURL = `#!/bin/bash
# Stand-in curl: the URL is its last argument; answers 200 once the "API is up".
echo "\${@: -1}" >>"$FAKE/curl.log"
if [ -f "$FAKE/api-up" ]; then printf 200; exit 0; fi
echo "curl: (7) Failed to connect to \${@: -1}: Connection refused" >&2
printf 000
exit 7
`;
const FAKE_JOURNALCTL = `#!/bin/bash
echo "$*" >>"$FAKE/journalctl.log"
echo "bootstack[42]: listen EADDRINUSE: address already in use 0.0.0.0:6385"
`;

interface Box {
  dir: string;
  fake: string;
  config: string;
  record: string;
  set(file: string, content?: string): void;
  unset(file: string): void;
  log(name: string): string[];
  clearLogs(): void;
  run(env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
}

function box(name: string): Box {
  const dir = join(work, `orc-${name}`);
  const fake = join(dir, 'fake');
  const bin = join(dir, 'bin');
  mkdirSync(fake, { recursive: true });
  mkdirSync(bin, { recursive: true });
  for (const [n, text] of [['systemctl', FAKE_SYSTEMCTL], ['curl', FAKE_CURL], ['journalctl', FAKE_JOURNALCTL]] as const) {
    writeFileSync(join(bin, n), text);
    chmodSync(join(bin, n), 0o755);
  }
  const config = join(dir, 'etc', 'bootstack', 'bootstack.yaml');
  const record = join(dir, 'var', 'lib', 'bootstack', 'applied-config.sha256');
  return {
    dir,
    fake,
    config,
    record,
    set: (file, content = '') => writeFileSync(join(fake, file), content),
    unset: (file) => rmSync(join(fake, file), { force: true }),
    log: (n) => (existsSync(join(fake, `${n}.log`)) ? readFileSync(join(fake, `${n}.log`), 'utf8').split('\n').filter(Boolean) : []),
    clearLogs: () => {
      for (const n of ['systemctl', 'curl', 'journalctl']) rmSync(join(fake, `${n}.log`), { force: true });
    },
    run: async (env = {}) => {
      const r = await run(RESTART, [], {
        env: {
          PATH: `${bin}:${process.env.PATH ?? ''}`,
          FAKE: fake,
          BOOTSTACK_CONFIG: config,
          BOOTSTACK_APPLIED_SHA256: record,
          BOOTSTACK_PROBE_INTERVAL: '0.1',
          ...env,
        },
        allowFailure: true,
        timeoutMs: 60_000,
      });
      return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('80-bootstack-server: no config → nothing; first config → enable, restart, wait, record; unchanged → no restart; changed → restart', async () => {
  const b = box('cycle');
  const none = await b.run();
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /no \S+bootstack\.yaml \(no "bootstack" metadata yet\): nothing to start/);
  assert.deepEqual(b.log('systemctl'), []);

  // The config the element's template renders for the lab (listen 0.0.0.0:6385).
  const roots = await renderBoth('orc', { bootstack: BOOTSTACK });
  mkdirSync(join(b.dir, 'etc', 'bootstack'), { recursive: true });
  writeFileSync(b.config, readFileSync(join(roots.ours, 'etc', 'bootstack', 'bootstack.yaml')));
  b.set('api-comes-up');
  const first = await b.run();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /first configuration: restarting bootstack/);
  assert.match(first.stdout, /bootstack answers at http:\/\/127\.0\.0\.1:6385\/ after \d+ s; applied/);
  assert.deepEqual(b.log('systemctl').filter((l) => !l.startsWith('is-active')), ['enable bootstack', 'restart bootstack']);
  assert.deepEqual(b.log('curl'), ['http://127.0.0.1:6385/']);
  assert.equal(readFileSync(b.record, 'utf8'), `${sha256(b.config)}\n`);

  b.clearLogs();
  const same = await b.run();
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /unchanged \(sha256 [0-9a-f]{12}\) and bootstack active: not restarted/);
  assert.deepEqual(b.log('systemctl'), ['is-active bootstack']);
  assert.deepEqual(b.log('curl'), []);

  // A new listen address and port: restarted, and the API asked there.
  b.clearLogs();
  const before = sha256(b.config);
  writeFileSync(b.config, readFileSync(b.config, 'utf8').replace("host: '0.0.0.0'", "host: '10.213.0.5'").replace('port: 6385', 'port: 7000'));
  const changed = await b.run();
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout, new RegExp(`configuration changed \\(sha256 ${before.slice(0, 12)} -> ${sha256(b.config).slice(0, 12)}\\): restarting bootstack`));
  assert.ok(b.log('systemctl').includes('restart bootstack'));
  assert.deepEqual(b.log('curl'), ['http://10.213.0.5:7000/']);
  assert.equal(readFileSync(b.record, 'utf8'), `${sha256(b.config)}\n`);

  // Unchanged, but the unit is not running (it crashed, someone stopped it): started again.
  b.clearLogs();
  b.set('state', 'inactive\n');
  const down = await b.run();
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /bootstack is inactive, not active: restarting bootstack/);
  assert.ok(b.log('systemctl').includes('restart bootstack'));
});

test('80-bootstack-server: an API that never answers → exit 1 with the cause and the journal; the next run tries again', async () => {
  const b = box('never');
  mkdirSync(join(b.dir, 'etc', 'bootstack'), { recursive: true });
  writeFileSync(b.config, "listen:\n  host: '0.0.0.0'\n  port: 6385\n");
  const r = await b.run({ BOOTSTACK_START_TIMEOUT: '1' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the API at http:\/\/127\.0\.0\.1:6385\/ did not answer within 1 s of restarting bootstack \(active\); last: curl: \(7\) Failed to connect/);
  assert.match(r.stderr, /--- journalctl -u bootstack -n 50 ---\nbootstack\[42\]: listen EADDRINUSE/);
  assert.deepEqual(b.log('journalctl'), ['-u bootstack -n 50 --no-pager']);
  assert.ok(b.log('curl').length >= 2, 'asked more than once before giving up');
  assert.ok(!existsSync(b.record), 'a failed start is not recorded as applied');

  // The unit active and the file the same: still restarted, since it was never applied.
  b.clearLogs();
  b.set('api-comes-up');
  const again = await b.run();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /first configuration: restarting bootstack/);
  assert.equal(readFileSync(b.record, 'utf8'), `${sha256(b.config)}\n`);
});

test('80-bootstack-server: a unit that fails at once or cannot be restarted → exit 1 without waiting out the timeout', async () => {
  const b = box('fails');
  mkdirSync(join(b.dir, 'etc', 'bootstack'), { recursive: true });
  writeFileSync(b.config, "listen:\n  host: '0.0.0.0'\n  port: 6385\n");
  b.set('state-after-restart', 'failed\n');
  const failed = await b.run({ BOOTSTACK_START_TIMEOUT: '600' });
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /bootstack is failed after the restart; its API at http:\/\/127\.0\.0\.1:6385\/ never answered/);
  assert.match(failed.stderr, /listen EADDRINUSE/);

  b.set('restart-fails');
  const refused = await b.run({ BOOTSTACK_START_TIMEOUT: '600' });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /systemctl could not enable and restart bootstack; \S+ \(sha256 [0-9a-f]{12}\) is not applied/);
  assert.ok(!existsSync(b.record));
});
