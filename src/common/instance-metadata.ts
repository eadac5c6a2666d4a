// One source for what a deployed machine learns about itself: the config drive the deploy agent
// writes and the metadata service (169.254.169.254) both call these functions on the same
// instance content, so the two can never disagree. Pure: no I/O, no server imports (the deploy
// agent bundles this file).
//
// Two trees come out of one content:
// - the OpenStack one: openstack/<version>/{meta_data.json, network_data.json, user_data,
//   vendor_data.json, vendor_data2.json}, for `latest` and every dated version;
// - the EC2-compatible one: one JSON document (ec2/<version>/meta-data.json on a drive) that the
//   HTTP service also walks as directory listings (/latest/meta-data/...), plus user-data.

// A type alias, not an interface: it is also write_config_drive's params (agent-protocol.ts),
// which must fit the command queue's Record<string, unknown>.
/** What a machine is told about itself (instance_info.configdrive + the node, see configDriveParams). */
export type InstanceContent = {
  meta_data: Record<string, unknown>;
  network_data?: Record<string, unknown>;
  user_data?: string | null;
  vendor_data?: Record<string, unknown>;
  vendor_data2?: Record<string, unknown>;
};

/** The dated OpenStack metadata versions (the list Nova's metadata API reference gives, cloud-init 22.4 knows them). */
export const OPENSTACK_VERSIONS = ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22', '2018-08-27'] as const;
/** The EC2-compatible versions served: the last dated one cloud-init asks for, and latest. */
export const EC2_VERSIONS = ['2009-04-04'] as const;

// The version each optional file first appeared in; older versions do not list it, as in Nova,
// so a consumer that asks an old version sees the files that version had.
const FILE_SINCE: Record<string, string> = {
  'vendor_data.json': '2013-10-17',
  'network_data.json': '2015-10-15',
  'vendor_data2.json': '2016-10-06',
};

const EMPTY_NETWORK = { links: [], networks: [], services: [] };

/** A file of either tree: its path without a leading slash and its exact bytes (as text). */
export type MetadataFiles = Map<string, string>;

export interface MetadataAnswer {
  body: string;
  contentType: 'application/json' | 'text/plain';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * meta_data.json's standard keys a consumer (cloud-init, os-collect-config) expects, then every
 * key the caller gave, which wins and is kept as given (orchestration's `os-collect-config`
 * object must arrive untouched). configDriveParams applies it once when it builds the content;
 * the trees below write meta_data as the content has it, so what a test or tool hands the
 * agent directly is written as given.
 */
export function standardMetaData(given: Record<string, unknown>): Record<string, unknown> {
  const publicKeys = isObject(given.public_keys) ? given.public_keys : {};
  const keys = Object.entries(publicKeys).map(([name, data]) => ({ name, type: 'ssh', data }));
  const name = typeof given.name === 'string' ? given.name : undefined;
  return {
    ...(typeof given.uuid === 'string' ? { uuid: given.uuid } : {}),
    ...(name ? { name, hostname: name } : {}),
    availability_zone: 'nova',
    launch_index: 0,
    public_keys: publicKeys,
    keys,
    meta: {},
    devices: [],
    ...given,
  };
}

function versionHas(version: string, file: string): boolean {
  const since = FILE_SINCE[file];
  return !since || version === 'latest' || version >= since;
}

/** The files of one OpenStack version directory, in listing order. */
function openstackVersionFiles(content: InstanceContent, version: string): Array<[string, string]> {
  const files: Array<[string, string]> = [['meta_data.json', JSON.stringify(content.meta_data)]];
  if (versionHas(version, 'network_data.json')) files.push(['network_data.json', JSON.stringify(content.network_data ?? EMPTY_NETWORK)]);
  if (content.user_data !== undefined && content.user_data !== null) files.push(['user_data', content.user_data]);
  if (versionHas(version, 'vendor_data.json')) files.push(['vendor_data.json', JSON.stringify(content.vendor_data ?? {})]);
  if (versionHas(version, 'vendor_data2.json')) files.push(['vendor_data2.json', JSON.stringify(content.vendor_data2 ?? {})]);
  return files;
}

/** openstack/<version>/<file> for latest and every dated version. */
export function openstackTree(content: InstanceContent): MetadataFiles {
  const out: MetadataFiles = new Map();
  for (const v of [...OPENSTACK_VERSIONS, 'latest']) {
    for (const [name, body] of openstackVersionFiles(content, v)) out.set(`openstack/${v}/${name}`, body);
  }
  return out;
}

/** The first IPv4 address network_data gives statically (a DHCP-only instance has none known). */
function knownIpv4(content: InstanceContent): string | undefined {
  const nets = content.network_data?.networks;
  if (!Array.isArray(nets)) return undefined;
  for (const n of nets) {
    if (isObject(n) && n.type === 'ipv4' && typeof n.ip_address === 'string') return n.ip_address;
  }
  return undefined;
}

/** The EC2-compatible meta-data document (the JSON form a config drive carries). */
export function ec2MetaData(content: InstanceContent): Record<string, unknown> {
  const meta = content.meta_data;
  const uuid = typeof meta.uuid === 'string' ? meta.uuid : '';
  // EC2 ids are short hex; derived from the uuid so they are stable for the instance.
  const hex = uuid.replace(/-/g, '').padEnd(16, '0');
  const hostname = typeof meta.hostname === 'string' ? meta.hostname : typeof meta.name === 'string' ? meta.name : '';
  const keys = isObject(meta.public_keys) ? Object.values(meta.public_keys).filter((k): k is string => typeof k === 'string') : [];
  const ip = knownIpv4(content);
  return {
    'ami-id': 'ami-00000000',
    'ami-launch-index': 0,
    hostname,
    'instance-id': `i-${hex.slice(0, 8)}`,
    'instance-type': 'baremetal',
    'local-hostname': hostname,
    ...(ip ? { 'local-ipv4': ip } : {}),
    placement: { 'availability-zone': typeof meta.availability_zone === 'string' ? meta.availability_zone : 'nova' },
    'public-keys': Object.fromEntries(keys.map((k, i) => [String(i), { 'openssh-key': k }])),
    'reservation-id': `r-${hex.slice(8, 16)}`,
    'security-groups': ['default'],
  };
}

/** Every file of a config drive: the OpenStack tree, then ec2/<version>/meta-data.json (+ user-data). */
export function configDriveFiles(content: InstanceContent): MetadataFiles {
  const out = openstackTree(content);
  const ec2 = JSON.stringify(ec2MetaData(content));
  for (const v of [...EC2_VERSIONS, 'latest']) {
    out.set(`ec2/${v}/meta-data.json`, ec2);
    if (content.user_data !== undefined && content.user_data !== null) out.set(`ec2/${v}/user-data`, content.user_data);
  }
  return out;
}

const text = (lines: string[]): MetadataAnswer => ({ body: lines.join('\n'), contentType: 'text/plain' });

/**
 * The metadata service's answer for a path (no query string), or undefined for 404. The
 * OpenStack files are looked up in the same map a config drive is written from.
 */
export function metadataAnswer(content: InstanceContent, path: string): MetadataAnswer | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  if (parts[0] === 'openstack') return openstackAnswer(content, parts.slice(1));
  if (!parts.length) return text([...EC2_VERSIONS, 'latest']);
  const version = parts[0]!;
  if (version !== 'latest' && !(EC2_VERSIONS as readonly string[]).includes(version)) return undefined;
  const hasUserData = content.user_data !== undefined && content.user_data !== null;
  if (parts.length === 1) return text(['meta-data', ...(hasUserData ? ['user-data'] : [])]);
  if (parts[1] === 'user-data' && parts.length === 2) return hasUserData ? { body: content.user_data!, contentType: 'text/plain' } : undefined;
  if (parts[1] !== 'meta-data') return undefined;
  const meta = content.meta_data;
  const keyNames = isObject(meta.public_keys) ? Object.entries(meta.public_keys).filter(([, k]) => typeof k === 'string').map(([name]) => name) : [];
  return ec2Walk(ec2MetaData(content), parts.slice(2), keyNames);
}

function openstackAnswer(content: InstanceContent, parts: string[]): MetadataAnswer | undefined {
  if (!parts.length) return text([...OPENSTACK_VERSIONS, 'latest']);
  const version = parts[0]!;
  if (version !== 'latest' && !(OPENSTACK_VERSIONS as readonly string[]).includes(version)) return undefined;
  if (parts.length === 1) return text(openstackVersionFiles(content, version).map(([name]) => name));
  if (parts.length !== 2) return undefined;
  const body = openstackTree(content).get(`openstack/${version}/${parts[1]}`);
  if (body === undefined) return undefined;
  return { body, contentType: parts[1]!.endsWith('.json') ? 'application/json' : 'text/plain' };
}

/** EC2 meta-data as directories: an object lists its keys (sub-objects with a trailing slash). */
function ec2Walk(doc: Record<string, unknown>, parts: string[], keyNames: string[]): MetadataAnswer | undefined {
  let node: unknown = doc;
  for (const p of parts) {
    if (!isObject(node) || !Object.hasOwn(node, p)) return undefined;
    node = node[p];
  }
  if (isObject(node)) {
    // public-keys lists "<index>=<key name>" as EC2 does (the JSON form has no names).
    if (parts.length === 1 && parts[0] === 'public-keys') return text(Object.keys(node).map((k) => `${k}=${keyNames[Number(k)] ?? k}`));
    return text(Object.entries(node).map(([k, v]) => (isObject(v) ? `${k}/` : k)));
  }
  if (Array.isArray(node)) return text(node.map(String));
  return { body: String(node), contentType: 'text/plain' };
}
