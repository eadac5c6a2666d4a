// Starts the servers `npm run bench -- anchors` compares: Bootstack from its production bundle,
// and Debian's Ironic 21 and Heat 19 ("anchors") each as one process with a config written into
// a temporary directory (SQLite, no Keystone, no message broker). Each start returns the root pid
// (for /proc figures), the API base URL and a stop() that kills the whole process group.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { adminToken } from '../../test/support/serve-process.js';
import { freePort } from './http.js';

const REPO = resolve(import.meta.dirname, '..', '..');
export const BUNDLE = join(REPO, 'dist', 'server', 'bootstack.mjs');

export interface Server {
  name: string;
  pid: number;
  url: string;
  headers: Record<string, string>;
  stop(): Promise<void>;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spawns in its own process group (so stop() reaches forked workers) and keeps the last 4 kB of output for errors. */
function launch(name: string, cmd: string, argv: string[], env: Record<string, string> = {}, logFile?: string) {
  const child = spawn(cmd, argv, { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let tail = '';
  let head = ''; // the first 64 kB, where start-up lines are
  const keep = (d: Buffer) => {
    tail = (tail + d).slice(-4000);
    if (head.length < 65536) head += d;
    if (logFile) writeFileSync(logFile, d, { flag: 'a' });
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return; // already gone
    }
    const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!killed) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
      await exited;
    }
  };
  return { child, stop, output: () => `${name} output (last 4 kB):\n${tail}`, saw: (text: string) => head.includes(text) };
}

/** Polls `url` until it answers with `status`; fails with the server's output if it exits or takes over timeoutS. */
async function ready(child: ChildProcess, url: string, status: number, timeoutS: number, output: () => string, headers: Record<string, string> = {}) {
  const until = performance.now() + timeoutS * 1000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before answering ${url}\n${output()}`);
    try {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status === status) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > until) throw new Error(`no ${status} from ${url} after ${timeoutS} s\n${output()}`);
    await sleep(100);
  }
}

/** Brings dist/server up to date; if the build fails (sources mid-edit) an existing bundle is used and that is reported. */
export function buildBundle(): string {
  const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-server.mjs')], { cwd: REPO, encoding: 'utf8' });
  if (build.status === 0) return 'built from the current sources';
  if (existsSync(BUNDLE)) return `build failed, used the existing bundle: ${build.stderr.trim().split('\n').slice(-3).join(' ')}`;
  throw new Error(`build failed and there is no bundle:\n${build.stderr}`);
}

/** `node dist/server/bootstack.mjs serve` with default configuration (SQLite, access log at info level). */
export async function startBootstack(stateDir: string): Promise<Server> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const p = launch('bootstack', process.execPath, [BUNDLE, 'serve', '--state-dir', stateDir, '--port', String(port)]);
  try {
    // The API answers before the first start has finished bootstrapping the admin user; the
    // "serving on" line comes after it.
    for (let i = 0; !p.saw('serving on'); i++) {
      if (p.child.exitCode !== null || i > 1200) throw new Error(`no "serving on" line from bootstack serve\n${p.output()}`);
      await sleep(100);
    }
    await ready(p.child, `${url}/identity/v3`, 200, 120, p.output);
    const token = await adminToken(url, stateDir);
    return { name: 'bootstack', pid: p.child.pid!, url, headers: { 'x-auth-token': token }, stop: p.stop };
  } catch (err) {
    await p.stop();
    throw err;
  }
}

function need(cmd: string, pkg: string) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    throw new Error(`${cmd} not found: install Debian's ${pkg} first (sudo sh scripts/anchors-setup.sh), or let the bench do it (it runs that script when it is root)`);
  }
}

/** Installs the Debian packages of an anchor when its commands are missing (root only). */
export function ensureInstalled(anchor: 'ironic' | 'heat'): void {
  const cmd = anchor === 'ironic' ? 'ironic' : 'heat-all';
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0) return;
  const r = spawnSync('sh', [join(REPO, 'scripts', 'anchors-setup.sh'), anchor], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`installing Debian's ${anchor} failed (scripts/anchors-setup.sh ${anchor}, exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  need(cmd, anchor);
}

/** Installed Debian version of a package, e.g. "1:21.4.4-0+deb12u3". */
export function debVersion(pkg: string): string {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : 'not installed';
}

/**
 * Debian's Ironic as the single-process `ironic` launcher (API and conductor in one, no RPC
 * bus), SQLite, no authentication, fake-hardware with fake interfaces only (no DHCP, no network).
 */
export async function startIronic(dir: string): Promise<Server> {
  need('ironic', 'ironic-api and ironic-conductor');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'ironic.conf');
  writeFileSync(
    conf,
    `[DEFAULT]
auth_strategy = noauth
rpc_transport = none
host = bench-anchor
use_stderr = true
debug = false
enabled_hardware_types = fake-hardware
enabled_bios_interfaces = no-bios
enabled_boot_interfaces = fake
enabled_console_interfaces = no-console
enabled_deploy_interfaces = fake
enabled_inspect_interfaces = no-inspect
enabled_management_interfaces = fake
enabled_network_interfaces = noop
enabled_power_interfaces = fake
enabled_raid_interfaces = no-raid
enabled_rescue_interfaces = no-rescue
enabled_storage_interfaces = noop
enabled_vendor_interfaces = no-vendor
[api]
host_ip = 127.0.0.1
port = ${port}
[database]
connection = sqlite:///${join(dir, 'ironic.sqlite')}
[dhcp]
dhcp_provider = none
[oslo_concurrency]
lock_path = ${join(dir, 'lock')}
`,
  );
  const sync = spawnSync('ironic-dbsync', ['--config-file', conf, 'create_schema'], { encoding: 'utf8' });
  if (sync.status !== 0) throw new Error(`ironic-dbsync create_schema failed (${sync.status}):\n${sync.stderr.slice(-3000)}`);
  const p = launch('ironic', 'ironic', ['--config-file', conf], {}, join(dir, 'ironic.log'));
  const url = `http://127.0.0.1:${port}`;
  try {
    await ready(p.child, `${url}/v1/nodes`, 200, 120, p.output);
    return { name: 'ironic', pid: p.child.pid!, url: `${url}/v1`, headers: {}, stop: p.stop };
  } catch (err) {
    await p.stop();
    throw err;
  }
}

/**
 * Debian's Heat as `heat-all` (API and engine in one process, fake:// message transport) with the
 * noauth paste pipeline and the fake Keystone client, SQLite: the configuration of TripleO's
 * ephemeral Heat. Keystone itself is not run.
 */
export async function startHeat(dir: string): Promise<Server> {
  need('heat-all', 'heat-api and heat-engine');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'heat.conf');
  const token = join(dir, 'token.json');
  // What noauth hands the engine as keystone.token_info: a project-scoped admin token. Heat only
  // offers a resource type whose service is in the catalog (OS::Nova::Server needs "compute"...),
  // so the catalog lists each service at a closed port: types are available, and anything that
  // would really call a service fails at once instead of passing.
  const services: [string, string][] = [['compute', 'nova'], ['network', 'neutron'], ['image', 'glance'], ['volumev3', 'cinderv3'], ['object-store', 'swift'], ['orchestration', 'heat'], ['cloudformation', 'heat-cfn'], ['baremetal', 'ironic'], ['identity', 'keystone']];
  const catalog = services.map(([type, name]) => ({ type, name, id: name, endpoints: ['public', 'internal', 'admin'].map((iface) => ({ id: `${name}-${iface}`, interface: iface, region: 'regionOne', region_id: 'regionOne', url: 'http://127.0.0.1:9/' })) }));
  writeFileSync(token, JSON.stringify({ token: { project: { id: 'admin', name: 'admin', domain: { id: 'default', name: 'Default' } }, user: { id: 'admin', name: 'admin', domain: { id: 'default', name: 'Default' } }, roles: [{ id: 'admin', name: 'admin' }], catalog, expires_at: '2099-01-01T00:00:00.000000Z' } }));
  writeFileSync(
    conf,
    `[DEFAULT]
transport_url = fake://
keystone_backend = heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient
# Stored contexts (update, delete) would otherwise need Keystone trusts; the noauth user/key is stored instead.
deferred_auth_method = password
num_engine_workers = 1
max_resources_per_stack = -1
max_nested_stack_depth = 10
max_stacks_per_tenant = 10000
rpc_response_timeout = 600
use_stderr = true
debug = false
[heat_all]
enabled_services = api,engine
[database]
connection = sqlite:///${join(dir, 'heat.sqlite')}
[heat_api]
bind_host = 127.0.0.1
bind_port = ${port}
workers = 1
[paste_deploy]
flavor = noauth
api_paste_config = /etc/heat/api-paste.ini
[noauth]
token_response = ${token}
[oslo_concurrency]
lock_path = ${join(dir, 'lock')}
`,
  );
  const sync = spawnSync('heat-manage', ['--config-file', conf, 'db_sync'], { encoding: 'utf8' });
  if (sync.status !== 0) throw new Error(`heat-manage db_sync failed (${sync.status}):\n${sync.stderr.slice(-3000)}`);
  const p = launch('heat', 'heat-all', ['--config-file', conf], {}, join(dir, 'heat.log'));
  const url = `http://127.0.0.1:${port}/v1/admin`;
  try {
    await ready(p.child, `${url}/stacks`, 200, 180, p.output);
    return { name: 'heat', pid: p.child.pid!, url, headers: {}, stop: p.stop };
  } catch (err) {
    await p.stop();
    throw err;
  }
}

export const readLog = (dir: string, file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '');
