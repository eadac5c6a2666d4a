// Node files for `bootstack node import`: TripleO's instackenv.json, or the same structure in
// YAML. Parsing names the file, line and field of every problem; planning compares a node
// file entry with what the API already has and says what to create or change, so an import
// can be repeated and only does what is missing.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Document } from 'yaml';
import { ValidationError } from '../common/errors.js';
import type { PatchOp } from './api/json-patch.js';
import { isSecretKey, maskSecrets } from './secrets.js';

export interface PortSpec {
  address: string;
  physical_network?: string;
  local_link_connection?: Record<string, unknown>;
  pxe_enabled?: boolean;
}

export interface NodeSpec {
  /** Where it came from, for messages: "nodes[2] (node-2)". */
  label: string;
  name?: string;
  driver: string;
  driver_info: Record<string, unknown>;
  properties: Record<string, unknown>;
  resource_class: string;
  ports: PortSpec[];
}

const DRIVERS: Record<string, string> = {
  ipmi: 'ipmi',
  pxe_ipmitool: 'ipmi',
  ipmitool: 'ipmi',
  redfish: 'redfish',
  'fake-hardware': 'fake-hardware',
  fake: 'fake-hardware',
  'manual-management': 'fake-hardware',
};

const PASSTHROUGH = /^(ipmi|redfish|fake)_/;
const MAC_RE = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;

export function parseNodeFile(file: string, text = readFileSync(file, 'utf8')): NodeSpec[] {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ValidationError(e.message.split('\n')[0]!, { file, line: e.linePos?.[0]?.line });
  }
  const fail = (path: Array<string | number>, message: string): never => {
    throw new ValidationError(message, { file, line: lineOf(doc, counter, path), path: path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '') });
  };
  const data = doc.toJS() as unknown;
  if (!data || typeof data !== 'object' || !Array.isArray((data as { nodes?: unknown }).nodes)) fail(['nodes'], 'the file must have a "nodes" list');
  const nodes = (data as { nodes: unknown[] }).nodes;
  const seenMacs = new Map<string, string>();
  const seenNames = new Set<string>();
  return nodes.map((raw, i) => {
    const at = (...p: Array<string | number>) => ['nodes', i, ...p];
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail(at(), 'each node must be a mapping');
    const n = raw as Record<string, unknown>;
    const name = n.name === undefined || n.name === null ? undefined : String(n.name);
    const label = `nodes[${i}]${name ? ` (${name})` : ''}`;
    if (name !== undefined) {
      if (seenNames.has(name)) fail(at('name'), `node name "${name}" appears twice`);
      seenNames.add(name);
    }
    const pmType = String(n.pm_type ?? n.driver ?? 'ipmi');
    const driver = DRIVERS[pmType];
    if (!driver) fail(at('pm_type'), `unsupported pm_type "${pmType}"; supported: ${Object.keys(DRIVERS).join(', ')}`);
    const info: Record<string, unknown> = {};
    const str = (k: string) => (n[k] === undefined || n[k] === null ? undefined : String(n[k]));
    if (driver === 'ipmi') {
      if (!str('pm_addr') && !str('ipmi_address')) fail(at('pm_addr'), 'is required for pm_type ipmi');
      Object.assign(info, { ipmi_address: str('pm_addr'), ipmi_username: str('pm_user'), ipmi_password: str('pm_password'), ipmi_port: str('pm_port') });
    } else if (driver === 'redfish') {
      const addr = str('pm_addr');
      if (!addr && !str('redfish_address')) fail(at('pm_addr'), 'is required for pm_type redfish');
      Object.assign(info, {
        redfish_address: addr && str('pm_port') && !/:\d+(\/|$)/.test(addr.replace(/^https?:\/\//, '')) ? `${addr}:${str('pm_port')}` : addr,
        redfish_username: str('pm_user'),
        redfish_password: str('pm_password'),
        redfish_system_id: str('pm_system_id'),
      });
    }
    for (const [k, v] of Object.entries(n)) if (PASSTHROUGH.test(k)) info[k] = v;
    for (const k of Object.keys(info)) if (info[k] === undefined) delete info[k];

    const properties: Record<string, unknown> = {};
    const int = (k: string, prop: string) => {
      if (n[k] === undefined || n[k] === null || n[k] === '') return;
      const v = Number(n[k]);
      if (!Number.isInteger(v) || v < 0) fail(at(k), `must be a whole number, got ${JSON.stringify(n[k])}`);
      properties[prop] = v;
    };
    int('cpu', 'cpus');
    int('memory', 'memory_mb');
    int('disk', 'local_gb');
    if (n.arch !== undefined) properties.cpu_arch = String(n.arch);
    if (n.capabilities !== undefined) {
      const caps = n.capabilities;
      properties.capabilities =
        typeof caps === 'string'
          ? caps
          : caps && typeof caps === 'object'
            ? Object.entries(caps as Record<string, unknown>).map(([k, v]) => `${k}:${String(v)}`).join(',')
            : fail(at('capabilities'), 'must be "key:value,..." or a mapping');
    }
    if (n.root_device !== undefined) properties.root_device = n.root_device;

    const ports: PortSpec[] = [];
    const addPort = (p: PortSpec, path: Array<string | number>) => {
      if (!MAC_RE.test(p.address)) fail(path, `"${p.address}" is not a MAC address`);
      const mac = p.address.toLowerCase().replace(/-/g, ':');
      const other = seenMacs.get(mac);
      if (other) fail(path, `MAC ${mac} is also listed for ${other}`);
      seenMacs.set(mac, label);
      ports.push({ ...p, address: mac });
    };
    if (n.mac !== undefined) {
      if (!Array.isArray(n.mac)) fail(at('mac'), 'must be a list of MAC addresses');
      (n.mac as unknown[]).forEach((m, j) => addPort({ address: String(m) }, at('mac', j)));
    }
    if (n.ports !== undefined) {
      if (!Array.isArray(n.ports)) fail(at('ports'), 'must be a list');
      (n.ports as Array<Record<string, unknown>>).forEach((p, j) => {
        if (!p || typeof p.address !== 'string') fail(at('ports', j, 'address'), 'is required');
        addPort(
          {
            address: p.address as string,
            ...(p.physical_network !== undefined ? { physical_network: String(p.physical_network) } : {}),
            ...(p.local_link_connection !== undefined ? { local_link_connection: p.local_link_connection as Record<string, unknown> } : {}),
            ...(p.pxe_enabled !== undefined ? { pxe_enabled: Boolean(p.pxe_enabled) } : {}),
          },
          at('ports', j),
        );
      });
    }
    return { label, name, driver: driver!, driver_info: info, properties, resource_class: str('resource_class') ?? 'baremetal', ports };
  });
}

function lineOf(doc: Document, counter: LineCounter, path: Array<string | number>): number | undefined {
  for (let p = path; p.length; p = p.slice(0, -1)) {
    const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
    const range = node && typeof node === 'object' && 'range' in node ? node.range : undefined;
    if (range) return counter.linePos(range[0]).line;
  }
  const root = doc.contents;
  return root && (isMap(root) || isSeq(root)) && root.range ? counter.linePos(root.range[0]).line : undefined;
}

/** What the API has for a node, as far as the import compares it. */
export interface ExistingNode {
  uuid: string;
  name: string | null;
  driver: string;
  driver_info: Record<string, unknown>;
  properties: Record<string, unknown>;
  resource_class: string | null;
}

export interface ExistingPort {
  uuid: string;
  address: string;
  node_uuid: string;
  physical_network: string | null;
  local_link_connection: Record<string, unknown>;
  pxe_enabled: boolean;
}

export interface NodePlan {
  /** JSON patch for the node; secrets are always re-applied (they cannot be compared). */
  patch: PatchOp[];
  /** Human-readable changes that are real differences (secrets excluded). */
  changes: string[];
  createPorts: PortSpec[];
  updatePorts: Array<{ uuid: string; address: string; patch: PatchOp[] }>;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function planNode(spec: NodeSpec, node: ExistingNode, ports: ExistingPort[]): NodePlan {
  const patch: PatchOp[] = [];
  const changes: string[] = [];
  if (node.driver !== spec.driver) {
    patch.push({ op: 'replace', path: '/driver', value: spec.driver });
    changes.push(`driver ${node.driver} -> ${spec.driver}`);
  }
  for (const [k, v] of Object.entries(spec.driver_info)) {
    // A value the API shows masked (a password, a URL with one: secrets.ts) cannot be compared.
    if (!same(maskSecrets(v), v) || isSecretKey(k)) {
      patch.push({ op: 'add', path: `/driver_info/${k}`, value: v });
      continue;
    }
    if (!same(node.driver_info[k], v)) {
      patch.push({ op: 'add', path: `/driver_info/${k}`, value: v });
      changes.push(`driver_info.${k}`);
    }
  }
  for (const [k, v] of Object.entries(spec.properties)) {
    if (!same(node.properties[k], v)) {
      patch.push({ op: 'add', path: `/properties/${k}`, value: v });
      changes.push(`properties.${k}`);
    }
  }
  if (node.resource_class !== spec.resource_class) {
    patch.push({ op: 'add', path: '/resource_class', value: spec.resource_class });
    changes.push(`resource_class ${node.resource_class ?? 'None'} -> ${spec.resource_class}`);
  }
  const createPorts: PortSpec[] = [];
  const updatePorts: NodePlan['updatePorts'] = [];
  for (const p of spec.ports) {
    const existing = ports.find((x) => x.address === p.address);
    if (!existing) {
      createPorts.push(p);
      changes.push(`port ${p.address} created`);
      continue;
    }
    if (existing.node_uuid !== node.uuid) {
      throw new ValidationError(`MAC ${p.address} of ${spec.label} already belongs to node ${existing.node_uuid}`, { path: 'mac' });
    }
    const pp: PatchOp[] = [];
    if (p.physical_network !== undefined && existing.physical_network !== p.physical_network) pp.push({ op: 'add', path: '/physical_network', value: p.physical_network });
    if (p.local_link_connection !== undefined && !same(existing.local_link_connection, p.local_link_connection)) {
      pp.push({ op: 'add', path: '/local_link_connection', value: p.local_link_connection });
    }
    if (p.pxe_enabled !== undefined && existing.pxe_enabled !== p.pxe_enabled) pp.push({ op: 'add', path: '/pxe_enabled', value: p.pxe_enabled });
    if (pp.length) {
      updatePorts.push({ uuid: existing.uuid, address: p.address, patch: pp });
      changes.push(`port ${p.address} updated`);
    }
  }
  return { patch, changes, createPorts, updatePorts };
}
