// <dir>/clouds.yaml, in the openstack CLI's format, with one entry per cloud of the run that is
// known so far: `seed`, `undercloud`, `overcloud`. The stages use it themselves (OS_CLOUD=...), and
// `--keep` leaves it for the operator.
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { writeFileAtomic } from '../common/atomic-write.js';
import { ConfigError } from '../common/errors.js';

export interface CloudEntry {
  auth: {
    auth_url: string;
    username: string;
    password: string;
    project_name: string;
    user_domain_name: string;
    project_domain_name: string;
  };
  region_name?: string;
  interface: string;
  identity_api_version: number;
}

/** The `bootstack` entry of the clouds.yaml a seed writes into its state directory. */
export async function seedCloudEntry(seedCloudsFile: string): Promise<CloudEntry> {
  let doc: { clouds?: Record<string, CloudEntry> };
  try {
    doc = parse(await readFile(seedCloudsFile, 'utf8')) as typeof doc;
  } catch (err) {
    throw new ConfigError(`the seed's ${seedCloudsFile} could not be read (did it start?): ${(err as Error).message}`, { cause: err });
  }
  const entry = doc?.clouds?.bootstack;
  if (!entry?.auth?.auth_url) throw new ConfigError(`${seedCloudsFile} has no "bootstack" cloud`);
  return entry;
}

/** Keystone's URL for a Bootstack API base URL (http://host:port → http://host:port/identity). */
export function identityUrl(apiUrl: string): string {
  const base = apiUrl.replace(/\/+$/, '');
  return /\/identity(\/v3)?$/.test(base) ? base : `${base}/identity`;
}

/** An admin entry for a Bootstack cloud at `apiUrl` (the undercloud's outputs give its URL and password). */
export function adminCloudEntry(apiUrl: string, password: string, like?: CloudEntry): CloudEntry {
  return {
    auth: {
      auth_url: identityUrl(apiUrl),
      username: 'admin',
      password,
      project_name: 'admin',
      user_domain_name: 'Default',
      project_domain_name: 'Default',
    },
    ...(like?.region_name ? { region_name: like.region_name } : {}),
    interface: 'public',
    identity_api_version: 3,
  };
}

export interface Clouds {
  seed?: CloudEntry;
  undercloud?: CloudEntry;
  overcloud?: CloudEntry;
}

export function renderClouds(clouds: Clouds, dir: string): string {
  const head = [
    `# Written by \`bootstack devtest\` (${dir}). Use: export OS_CLIENT_CONFIG_FILE=<this file>; openstack --os-cloud <name> ...`,
    '#   seed        the seed (`bootstack serve` on this host). The devtest stage seed-stop stops it after the',
    '#               pivot, so this entry answers only while it runs (its records are in <dir>/seed/state).',
    '#   undercloud  the undercloud: Bootstack deployed by the seed onto a lab machine, owner of the lab since the pivot.',
    "#   overcloud   the undercloud's admin project, which owns the overcloud stack: the overcloud demo is a stack of",
    '#               machines on the undercloud (a database and web machines), not a cloud with an API of its own,',
    '#               so this entry is the undercloud with the credentials that own that stack.',
  ];
  const body: Record<string, CloudEntry> = {};
  for (const name of ['seed', 'undercloud', 'overcloud'] as const) {
    const e = clouds[name];
    if (e) body[name] = e;
  }
  return `${head.join('\n')}\n${stringify({ clouds: body })}`;
}

export async function writeClouds(path: string, clouds: Clouds, dir: string): Promise<void> {
  await writeFileAtomic(path, renderClouds(clouds, dir), { mode: 0o600 });
}
