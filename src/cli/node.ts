// `bootstack node import FILE`: enrols the nodes of an instackenv.json (TripleO's format) or its
// YAML equivalent through the bare-metal API, creating what is missing and updating what
// differs, then reports what changed. It authenticates like the openstack CLI: a cloud from
// clouds.yaml (--os-cloud / OS_CLOUD) or the OS_* variables, and finds the bare-metal endpoint
// in the service catalog.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BootstackError, ConfigError } from '../common/errors.js';
import { parseNodeFile, planNode, type ExistingNode, type ExistingPort, type NodeSpec } from '../baremetal/node-import.js';
import { formatList, parseFormat } from './output.js';
import { keystoneLogin, type CloudAuth } from '../common/keystone-login.js';


/** The cloud's credentials from clouds.yaml or OS_* variables, as python-openstackclient finds them. */
export function loadCloud(cloudName: string | undefined, env = process.env): { auth: CloudAuth; interface: string } {
  const name = cloudName ?? env.OS_CLOUD;
  if (name) {
    const files = [env.OS_CLIENT_CONFIG_FILE, 'clouds.yaml', join(homedir(), '.config/openstack/clouds.yaml'), '/etc/openstack/clouds.yaml'].filter(
      (f): f is string => !!f,
    );
    for (const file of files) {
      if (!existsSync(file)) continue;
      const doc = parseYaml(readFileSync(file, 'utf8')) as { clouds?: Record<string, { auth?: CloudAuth; interface?: string }> };
      const cloud = doc?.clouds?.[name];
      if (cloud?.auth?.auth_url) return { auth: cloud.auth, interface: cloud.interface ?? 'public' };
    }
    throw new ConfigError(`cloud "${name}" was not found in ${files.join(', ')}`);
  }
  if (!env.OS_AUTH_URL) throw new ConfigError('set --os-cloud / OS_CLOUD (clouds.yaml) or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME');
  return {
    auth: {
      auth_url: env.OS_AUTH_URL,
      username: env.OS_USERNAME,
      password: env.OS_PASSWORD,
      project_name: env.OS_PROJECT_NAME,
      user_domain_name: env.OS_USER_DOMAIN_NAME ?? 'Default',
      project_domain_name: env.OS_PROJECT_DOMAIN_NAME ?? 'Default',
      token: env.OS_TOKEN,
    },
    interface: env.OS_INTERFACE ?? 'public',
  };
}

/** A small Ironic API client: keystone password auth, catalog lookup, ironic fault messages. */
export class BaremetalClient {
  private constructor(
    private readonly token: string,
    readonly endpoint: string,
  ) {}

  static async connect(cloudName?: string): Promise<BaremetalClient> {
    const { auth, interface: iface } = loadCloud(cloudName);
    const { token, endpoint } = await keystoneLogin(auth);
    return new BaremetalClient(token, endpoint('baremetal', iface));
  }

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.endpoint}/v1${path}`, {
      method,
      headers: { 'x-auth-token': this.token, 'x-openstack-ironic-api-version': '1.78', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 400) {
      let message = text;
      try {
        message = JSON.parse(JSON.parse(text).error_message).faultstring;
      } catch {
        /* not an ironic fault */
      }
      throw new BootstackError(res.status, 'api_error', `${method} ${path}: ${message}`);
    }
    return (text ? JSON.parse(text) : null) as T;
  }
}

export interface ImportRow {
  node: string;
  uuid: string;
  action: 'created' | 'updated' | 'unchanged';
  changes: string;
}

/** Creates or updates every node of the file; nothing is deleted. */
export async function importNodes(client: BaremetalClient, specs: NodeSpec[], progress: (msg: string) => void = () => undefined): Promise<ImportRow[]> {
  const nodes = (await client.call<{ nodes: ExistingNode[] }>('GET', '/nodes/detail')).nodes;
  let ports = (await client.call<{ ports: ExistingPort[] }>('GET', '/ports/detail')).ports;
  const rows: ImportRow[] = [];
  for (const [i, spec] of specs.entries()) {
    progress(`${i + 1}/${specs.length} ${spec.label}`);
    const byName = spec.name ? nodes.find((n) => n.name === spec.name) : undefined;
    const byMac = ports.find((p) => spec.ports.some((s) => s.address === p.address));
    const existing = byName ?? (byMac ? nodes.find((n) => n.uuid === byMac.node_uuid) : undefined);
    if (!existing) {
      const created = await client.call<ExistingNode>('POST', '/nodes', {
        ...(spec.name ? { name: spec.name } : {}),
        driver: spec.driver,
        driver_info: spec.driver_info,
        properties: spec.properties,
        resource_class: spec.resource_class,
      });
      for (const p of spec.ports) await client.call('POST', '/ports', { ...p, node_uuid: created.uuid });
      rows.push({ node: spec.name ?? created.uuid, uuid: created.uuid, action: 'created', changes: spec.ports.length ? `ports ${spec.ports.map((p) => p.address).join(', ')}` : '' });
      continue;
    }
    const plan = planNode(spec, existing, ports);
    // A driver change resets the interfaces to the new driver's defaults (the old ones may not suit it).
    const reset = plan.patch.some((op) => op.path === '/driver') ? '?reset_interfaces=true' : '';
    if (plan.patch.length) await client.call('PATCH', `/nodes/${existing.uuid}${reset}`, plan.patch);
    for (const p of plan.createPorts) await client.call('POST', '/ports', { ...p, node_uuid: existing.uuid });
    for (const p of plan.updatePorts) await client.call('PATCH', `/ports/${p.uuid}`, p.patch);
    if (plan.createPorts.length) ports = (await client.call<{ ports: ExistingPort[] }>('GET', '/ports/detail')).ports;
    rows.push({ node: spec.name ?? existing.uuid, uuid: existing.uuid, action: plan.changes.length ? 'updated' : 'unchanged', changes: plan.changes.join('; ') });
  }
  return rows;
}

export interface HistoryEntry {
  created_at: string;
  event: string;
  event_type?: string;
  severity?: string;
}

/** The node's history as a timeline: each step with its time, the gap since the previous step and since the first. */
export function timelineRows(history: HistoryEntry[], since?: string): Array<Record<string, unknown>> {
  const entries = history.filter((h) => !since || h.created_at >= since);
  const first = entries[0] ? Date.parse(entries[0].created_at) : 0;
  let prev = first;
  return entries.map((h) => {
    const t = Date.parse(h.created_at);
    const row = { time: h.created_at, delta: `+${((t - prev) / 1000).toFixed(3)}`, elapsed: ((t - first) / 1000).toFixed(3), type: h.event_type ?? '', severity: h.severity ?? '', event: h.event };
    prev = t;
    return row;
  });
}

/** Where the last provisioning operation began (the last "x -> y (verb)" move out of a stable state). */
function lastOperationStart(history: HistoryEntry[]): string | undefined {
  const starts = history.filter((h) => h.event_type === 'provisioning' && /^(available|manageable|active|deploy failed|clean failed|inspect failed|enroll|error) -> /.test(h.event));
  return starts.at(-1)?.created_at;
}

export function registerNode(program: Command): void {
  const node = program.command('node').description('bare-metal nodes (the bare-metal API; see also `openstack baremetal`)');
  node
    .command('import')
    .description('create or update nodes and ports from an instackenv.json or YAML node file (idempotent; deletes nothing)')
    .argument('<file>', 'instackenv.json, or the same structure in YAML')
    .option('--os-cloud <name>', 'cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables)')
    .option('-f, --format <format>', 'output format: table, json, yaml, value', 'table')
    .option('--dry-run', 'only parse and validate the file')
    .action(async (file: string, o: { osCloud?: string; format: string; dryRun?: boolean }) => {
      const format = parseFormat(o.format);
      const specs = parseNodeFile(file);
      if (o.dryRun) {
        process.stdout.write(formatList(specs.map((s) => ({ node: s.name ?? s.label, driver: s.driver, ports: s.ports.map((p) => p.address).join(' ') })), ['node', 'driver', 'ports'], format) + '\n');
        return;
      }
      const client = await BaremetalClient.connect(o.osCloud);
      const rows = await importNodes(client, specs, (m) => process.stderr.write(`node import: ${m}\n`));
      process.stdout.write(formatList(rows as unknown as Array<Record<string, unknown>>, ['node', 'uuid', 'action', 'changes'], format) + '\n');
      const counts = ['created', 'updated', 'unchanged'].map((a) => `${rows.filter((r) => r.action === a).length} ${a}`).join(', ');
      process.stderr.write(`node import: ${counts}\n`);
    });
  node
    .command('timeline')
    .description("a node's boot and deploy timeline from its history: DHCP, iPXE script, ramdisk fetch, the ramdisk's start on its own clock (kernel → init → agent → network → lookup), agent lookup, each agent command (bytes, MB/s), reboot, with times and gaps")
    .argument('<node>', 'node name or UUID')
    .option('--os-cloud <name>', 'cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables)')
    .option('--all', 'the whole history (default: from the start of the last provisioning operation)')
    .option('-f, --format <format>', 'output format: table, json, yaml, value', 'table')
    .action(async (ident: string, o: { osCloud?: string; all?: boolean; format: string }) => {
      const format = parseFormat(o.format);
      const client = await BaremetalClient.connect(o.osCloud);
      const { history } = await client.call<{ history: HistoryEntry[] }>('GET', `/nodes/${encodeURIComponent(ident)}/history?detail=true`);
      const rows = timelineRows(history, o.all ? undefined : lastOperationStart(history));
      process.stdout.write(formatList(rows, ['time', 'delta', 'elapsed', 'type', 'severity', 'event'], format) + '\n');
    });
}
