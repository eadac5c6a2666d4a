// Servers: the API's records and their lifecycle. A create is answered at once (202, BUILD);
// the build runs in the background: the scheduler input comes from the flavor, the virt
// driver claims a host atomically and starts the machine, and the lifecycle loop (run())
// follows every server in transition through the driver's status() — one batched query per
// pass — to ACTIVE, a reschedule (Nova's retry: the failed host is released and excluded, once
// by default) or ERROR with Nova's fault. Everything the loop needs is on the server row, so a
// restarted seed carries on where it stopped.
import { randomUUID, createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { RE2JS } from 're2js';
import type { AuthContext, Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { BadRequestError, BootstackError, ConflictError, NotFoundError } from '../common/errors.js';
import { fromJson, now, toJson } from '../common/db.js';
import type { ComputeKysely, InstanceActionRow, ServerRow } from './db.js';
import type { ComputeConfig } from './config.js';
import type { ComputeImages } from './images.js';
import type { ComputeNetwork, NeutronPort } from './network.js';
import { NoValidHostError, type ConfigDriveContents, type ClaimedHost, type DriverStatus, type VirtDriver } from './virt-driver.js';
import type { Flavor, Flavors } from './flavors.js';
import { Quotas } from './quotas.js';
import type { ServerGroups } from './groups.js';
import type { Keypairs } from './keypairs.js';
import { noValidHost, placementRequest } from './scheduler.js';

export interface NetworkRequest {
  uuid?: string;
  port?: string;
  fixed_ip?: string;
}

export interface ServerCreate {
  name: string;
  imageRef: string;
  flavorRef: string;
  key_name?: string | null;
  user_data?: string | null;
  config_drive?: boolean | string | null;
  metadata?: Record<string, string>;
  networks?: 'auto' | 'none' | NetworkRequest[];
  description?: string | null;
  min_count?: number;
  max_count?: number;
  availability_zone?: string | null;
}

export interface ListQuery {
  name?: string;
  status?: string;
  image?: string;
  flavor?: string;
  host?: string;
  all_tenants?: string;
  project_id?: string;
  tenant_id?: string;
  limit?: number;
  marker?: string;
}

/** Nova's power_state codes. */
export const POWER = { NOSTATE: 0, RUNNING: 1, SHUTDOWN: 4 } as const;

/** The API status from vm_state and task_state (Nova's common.status_from_state). */
export function statusOf(vm: string, task: string | null): string {
  if (vm === 'building') return 'BUILD';
  if (vm === 'error') return 'ERROR';
  if (vm === 'stopped') return 'SHUTOFF';
  if (task === 'rebooting') return 'REBOOT';
  if (task === 'rebooting_hard') return 'HARD_REBOOT';
  if (task === 'rebuilding') return 'REBUILD';
  return 'ACTIVE';
}

/** API status filter → vm_state (and task_state where the status is a task). */
const STATUS_FILTER: Record<string, { vm?: string; task?: string }> = {
  ACTIVE: { vm: 'active' },
  BUILD: { vm: 'building' },
  ERROR: { vm: 'error' },
  SHUTOFF: { vm: 'stopped' },
  REBOOT: { task: 'rebooting' },
  HARD_REBOOT: { task: 'rebooting_hard' },
  REBUILD: { task: 'rebuilding' },
};

/** Nova's osapi_max_limit: a page of servers is at most this long. */
export const MAX_LIMIT = 1000;
/** Metadata keys and values are at most 255 characters (Nova's schema). */
const MAX_META_LEN = 255;
/** user_data is at most 65535 bytes once decoded (Nova's column). */
const MAX_USER_DATA = 65535;
const MAX_NAME_FILTER = 255;
/** Upper bound of a name pattern's expanded size (see list()). */
const MAX_NAME_PROGRAM = 10_000;
/** Servers made by one request (max_count): bounded so one call cannot take the loop for long. */
const MAX_COUNT = 100;

interface PortRef {
  id: string;
  /** Made by compute for this server (deleted with it) rather than given by the user (only unbound). */
  created: boolean;
}

interface FaultView {
  code: number;
  message: string;
  created: string;
  details?: string;
}

export interface ServersDeps {
  db: ComputeKysely;
  policy: Policy;
  driver: VirtDriver;
  images: ComputeImages | undefined;
  network: ComputeNetwork | undefined;
  flavors: Flavors;
  keypairs: Keypairs;
  quotas: Quotas;
  groups: ServerGroups;
  config: ComputeConfig;
  log: Logger;
}

export class Servers {
  /** Servers whose build (claim + start) is running in this process: the loop leaves them alone. */
  private readonly inflight = new Set<string>();
  /** Background builds, so tests and stop() can wait for them. */
  private readonly builds = new Set<Promise<void>>();

  constructor(private readonly d: ServersDeps) {}

  // ------------------------------------------------------------------ reads

  /** The server if the caller may see it: its project's, or any for an admin; else 404. */
  async get(auth: AuthContext, id: string, op = 'os_compute_api:servers:show'): Promise<ServerRow> {
    const row = await this.d.db.selectFrom('compute_servers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || (!isAdmin(auth) && row.project_id !== auth.projectId)) throw new NotFoundError('Instance', id);
    this.d.policy.enforce(op, auth, { projectId: row.project_id });
    return row;
  }

  async list(auth: AuthContext, q: ListQuery, detail: boolean): Promise<{ rows: ServerRow[]; more: boolean }> {
    const op = detail ? 'os_compute_api:servers:detail' : 'os_compute_api:servers:index';
    this.d.policy.enforce(op, auth, { projectId: auth.projectId });
    const admin = isAdmin(auth);
    const allTenants = q.all_tenants !== undefined && !['0', 'false', 'f', 'no', 'off'].includes(q.all_tenants.toLowerCase());
    if (allTenants) this.d.policy.enforce(`${op}:get_all_tenants`, auth);
    let query = this.d.db.selectFrom('compute_servers').selectAll();
    const project = admin && (q.project_id ?? q.tenant_id) ? (q.project_id ?? q.tenant_id)! : allTenants ? null : (auth.projectId ?? '');
    if (project !== null) query = query.where('project_id', '=', project);
    if (q.status !== undefined) {
      const f = STATUS_FILTER[q.status.toUpperCase()];
      if (!f) {
        if (q.status.toUpperCase() === 'DELETED') return { rows: [], more: false };
        throw new BadRequestError(`Invalid status value: query.status "${q.status}" (one of ${Object.keys(STATUS_FILTER).join(', ')})`);
      }
      if (f.vm) query = query.where('vm_state', '=', f.vm);
      if (f.task) query = query.where('task_state', '=', f.task);
    }
    if (q.image !== undefined) query = query.where('image_id', '=', q.image);
    if (q.flavor !== undefined) query = query.where('flavor_id', '=', q.flavor);
    // Non-admins' host filter is dropped, as Nova drops filters it does not allow them.
    if (q.host !== undefined && admin) query = query.where('host', '=', q.host);
    query = query.orderBy('created_at', 'desc').orderBy('id', 'desc');
    let rows = await query.execute();
    if (q.name !== undefined) {
      // Nova's name filter is a regular expression search. RE2 matches in linear time, so a
      // tenant's pattern cannot stall the server; its length bounds the compile work.
      if (q.name.length > MAX_NAME_FILTER) throw new BadRequestError(`query.name: at most ${MAX_NAME_FILTER} characters`);
      // Counted repeats multiply the compiled program ("(a{100}){100}"): bound the product
      // from the text before compiling, as if every repeat were nested in every other.
      let bound = q.name.length;
      for (const m of q.name.matchAll(/\{(\d+)(?:,(\d*))?\}/g)) bound *= Math.max(1, Number(m[2] || m[1]));
      if (bound > MAX_NAME_PROGRAM) throw new BadRequestError(`query.name: the pattern's counted repeats expand to more than ${MAX_NAME_PROGRAM} steps`);
      let re: RE2JS;
      try {
        re = RE2JS.compile(q.name);
      } catch (err) {
        throw new BadRequestError(`query.name: not a usable regular expression (${(err as Error).message.replace(/^error parsing regexp: /, '')})`, { cause: err });
      }
      rows = rows.filter((r) => re.matcher(r.name).find());
    }
    if (q.marker !== undefined) {
      const at = rows.findIndex((r) => r.id === q.marker);
      if (at < 0) throw new BadRequestError(`marker [${q.marker}] not found (query.marker)`);
      rows = rows.slice(at + 1);
    }
    const limit = Math.min(q.limit ?? MAX_LIMIT, MAX_LIMIT);
    return { rows: rows.slice(0, limit), more: rows.length > limit };
  }

  // ------------------------------------------------------------------ create

  /**
   * `instanceMeta`: extra top-level meta_data.json keys, for trusted in-process callers only
   * (orchestration's os-collect-config section); the API never passes it.
   */
  async create(auth: AuthContext, body: ServerCreate, ctx: { requestId: string; group?: string; networksRequired: boolean; instanceMeta?: Record<string, unknown> }): Promise<ServerRow[]> {
    const projectId = auth.projectId;
    if (!projectId) throw new BadRequestError('A project-scoped token is required to create a server.');
    this.d.policy.enforce('os_compute_api:servers:create', auth, { projectId });
    const name = body.name.trim();
    if (!name || name.length > 255) throw new BadRequestError('server.name: must be 1-255 characters, not only spaces');
    const min = body.min_count ?? 1;
    const max = body.max_count ?? min;
    if (min < 1 || max < min || max > MAX_COUNT) throw new BadRequestError(`server.min_count/max_count: need 1 <= min_count <= max_count <= ${MAX_COUNT}`);

    // Flavor: by id (or a link ending in it), usable by the project.
    const flavorId = body.flavorRef.replace(/^.*\/flavors\//, '');
    let flavor: Flavor;
    try {
      flavor = await this.d.flavors.get(auth, flavorId);
    } catch (err) {
      if (err instanceof NotFoundError) throw new BadRequestError(`Flavor ${flavorId} could not be found. (server.flavorRef)`, { cause: err });
      throw err;
    }
    // Image: by id or name, as the project sees it (Nova asks Glance with the user's token).
    if (!this.d.images) throw new ConflictError('No image service is configured: servers cannot be created.');
    const imageRef = body.imageRef.replace(/^.*\/images\//, '');
    const image = await this.resolveImage(auth, imageRef, 'server.imageRef');

    // Key pair of the calling user.
    let keyData: string | null = null;
    if (body.key_name) {
      try {
        keyData = (await this.d.keypairs.get(auth, body.key_name)).public_key;
      } catch (err) {
        if (err instanceof NotFoundError) throw new BadRequestError(`Invalid key_name provided. (server.key_name: ${body.key_name})`, { cause: err });
        throw err;
      }
    }
    const userData = body.user_data ? decodeUserData(body.user_data) : null;
    const metadata = body.metadata ?? {};
    for (const [k, v] of Object.entries(metadata)) {
      if (!k || k.length > MAX_META_LEN || typeof v !== 'string' || v.length > MAX_META_LEN) throw new BadRequestError(`server.metadata.${k.slice(0, 64)}: keys are 1-255 characters and values strings of at most 255`);
    }
    const limits = await this.d.quotas.limits(projectId);
    Quotas.over('metadata_items', Object.keys(metadata).length, 0, limits.metadata_items);
    if (body.availability_zone && body.availability_zone !== 'nova') throw new BadRequestError(`The requested availability zone is not available (server.availability_zone: ${body.availability_zone}; only "nova")`);

    // Group (scheduler hint): one of the project's; its members count against the quota.
    let groupId: string | null = null;
    if (ctx.group !== undefined) {
      let group;
      try {
        group = await this.d.groups.get(auth, ctx.group);
      } catch (err) {
        if (err instanceof NotFoundError) throw new BadRequestError(`Invalid server group ${ctx.group} (os:scheduler_hints.group)`, { cause: err });
        throw err;
      }
      groupId = group.id;
      Quotas.over('server_group_members', max, group.members.length, limits.server_group_members);
      if (group.policy === 'affinity' && !this.d.driver.sharesHosts && group.members.length + max > 1) {
        // Refused up front rather than left to fail in the scheduler: no bare-metal node can hold two servers.
        throw new BadRequestError(`Server group ${group.id} has the affinity policy, and the ${this.d.driver.name} driver cannot put more than one server on a host (a bare-metal node holds one server); the group already has ${group.members.length} member(s).`);
      }
    }
    const networks = this.checkNetworkShape(body.networks, ctx.networksRequired);

    await this.d.quotas.checkServers(projectId, max, flavor.vcpus, flavor.ram);
    const rows: ServerRow[] = [];
    const stamp = now();
    for (let i = 0; i < max; i++) {
      const id = randomUUID();
      rows.push({
        id,
        name: max > 1 ? `${name}-${i + 1}` : name,
        project_id: projectId,
        user_id: auth.userId,
        image_id: image.id,
        flavor_id: flavor.id,
        flavor: toJson(flavor),
        vcpus: flavor.vcpus,
        ram: flavor.ram,
        key_name: body.key_name ?? null,
        key_data: keyData,
        user_data: userData,
        config_drive: body.config_drive === true || body.config_drive === 'true' || body.config_drive === 'True' ? 1 : 0,
        instance_meta: toJson(ctx.instanceMeta ?? {}),
        metadata: toJson(metadata),
        description: body.description ?? null,
        networks: toJson(networks),
        ports: '[]',
        addresses: '{}',
        group_id: groupId,
        vm_state: 'building',
        task_state: 'scheduling',
        power_state: POWER.NOSTATE,
        host: null,
        tried_hosts: '[]',
        attempts: 0,
        releasing: 0,
        fault: null,
        launched_at: null,
        created_at: stamp,
        updated_at: stamp,
      });
    }
    await this.d.db.insertInto('compute_servers').values(rows).execute();
    try {
      // Quota recheck with the rows in: concurrent creates that all passed the first check.
      await this.d.quotas.checkServers(projectId, max, flavor.vcpus, flavor.ram, max);
      // Ports: made or checked now, so that a bad network or port is this request's 400/404.
      for (const row of rows) row.ports = toJson(await this.makePorts(auth, row, networks));
    } catch (err) {
      for (const row of rows) await this.releasePorts(row);
      await this.d.db.deleteFrom('compute_servers').where('id', 'in', rows.map((r) => r.id)).execute();
      throw err;
    }
    for (const row of rows) {
      if (row.ports !== '[]') await this.d.db.updateTable('compute_servers').set({ ports: row.ports }).where('id', '=', row.id).execute();
      await this.recordAction(row, 'create', ctx.requestId, auth.userId);
      this.startBuild(row.id);
    }
    return rows;
  }

  private async resolveImage(auth: AuthContext, ref: string, field: string): Promise<{ id: string }> {
    try {
      const image = await this.d.images!.resolve(ref, { projectId: auth.projectId ?? '', admin: false });
      if (image.status !== 'active') throw new BadRequestError(`Image ${image.id} is not active. (${field})`);
      return image;
    } catch (err) {
      if (err instanceof BootstackError && err.status === 404) throw new BadRequestError(`Image ${ref} could not be found. (${field})`, { cause: err });
      if (err instanceof BootstackError && err.status === 409) throw new ConflictError(`Multiple possible images named ${ref}: use the image id. (${field})`, { cause: err });
      throw err;
    }
  }

  private checkNetworkShape(networks: ServerCreate['networks'], required: boolean): 'auto' | 'none' | NetworkRequest[] {
    if (networks === undefined) {
      if (required) throw new BadRequestError('server.networks: is required from microversion 2.37 ("auto", "none" or a list)');
      return this.d.network ? 'auto' : 'none';
    }
    if (networks === 'none') return 'none';
    if (networks === 'auto') {
      if (this.d.network) throw new BadRequestError('Unable to automatically allocate a network for the project (server.networks "auto"): name a network with [{"uuid": ...}].');
      // Without a network service the node's provisioning network is the only one there is.
      return 'none';
    }
    if (networks.length && !this.d.network) throw new BadRequestError('server.networks: no network service is configured; use "none" (addresses come from the provisioning network\'s DHCP).');
    networks.forEach((n, i) => {
      if (!n.uuid && !n.port) throw new BadRequestError(`server.networks[${i}]: needs "uuid" or "port"`);
      if (n.port && n.fixed_ip) throw new BadRequestError(`server.networks[${i}]: "fixed_ip" cannot be given with "port"`);
    });
    return networks;
  }

  private async makePorts(auth: AuthContext, row: ServerRow, networks: 'auto' | 'none' | NetworkRequest[]): Promise<PortRef[]> {
    if (!this.d.network || !Array.isArray(networks)) return [];
    const refs: PortRef[] = [];
    try {
      for (const [i, n] of networks.entries()) {
        if (n.port) {
          const port = await this.d.network.getPort(n.port, row.project_id).catch((err: unknown) => {
            throw err instanceof BootstackError && err.status === 404 ? new BadRequestError(`Port ${n.port} could not be found. (server.networks[${i}].port)`, { cause: err }) : err;
          });
          if (port.device_id && port.device_id !== row.id) throw new ConflictError(`Port ${port.id} is still in use by ${port.device_id}. (server.networks[${i}].port)`);
          refs.push({ id: port.id, created: false });
        } else {
          const net = await this.d.network.resolveNetwork(n.uuid!, row.project_id).catch((err: unknown) => {
            throw err instanceof BootstackError && err.status === 404 ? new BadRequestError(`Network ${n.uuid} could not be found. (server.networks[${i}].uuid)`, { cause: err }) : err;
          });
          const port = await this.d.network.createPort({
            projectId: row.project_id,
            networkId: net.id,
            deviceId: row.id,
            deviceOwner: 'compute:nova',
            ...(n.fixed_ip ? { fixedIps: [{ ipAddress: n.fixed_ip }] } : {}),
          });
          refs.push({ id: port.id, created: true });
        }
      }
    } catch (err) {
      for (const r of refs) if (r.created) await this.d.network.deletePort(r.id).catch(() => undefined);
      throw err;
    }
    return refs;
  }

  // ------------------------------------------------------------------ build

  private startBuild(id: string): void {
    if (this.inflight.has(id)) return;
    this.inflight.add(id);
    const p = this.build(id)
      .catch((err: unknown) => this.d.log.error({ err, server: id }, 'compute: server build failed unexpectedly'))
      .finally(() => {
        this.inflight.delete(id);
        this.builds.delete(p);
      });
    this.builds.add(p);
  }

  /** Waits for the builds started so far (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.builds.size) await Promise.all([...this.builds]);
  }

  private async build(id: string): Promise<void> {
    const row = await this.d.db.selectFrom('compute_servers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.task_state !== 'scheduling') return;
    const flavor = fromJson<Flavor>(row.flavor, { vcpus: 0, ram: 0, disk: 0, extra_specs: {} } as unknown as Flavor);
    const placement = placementRequest(flavor);
    const exclude = fromJson<string[]>(row.tried_hosts, []);
    let requireHosts: string[] | undefined;
    if (row.group_id) {
      const group = await this.d.db.selectFrom('compute_server_groups').selectAll().where('id', '=', row.group_id).executeTakeFirst();
      const others = await this.d.db.selectFrom('compute_servers').select('host').where('group_id', '=', row.group_id).where('id', '!=', id).where('host', 'is not', null).execute();
      const hosts = others.map((o) => o.host!);
      if (group?.policy === 'anti-affinity') exclude.push(...hosts);
      if (group?.policy === 'affinity' && hosts.length) requireHosts = hosts;
    }
    let host: ClaimedHost;
    try {
      host = await this.d.driver.spawn({
        serverId: id,
        name: row.name,
        projectId: row.project_id,
        userId: row.user_id,
        placement,
        excludeHosts: exclude,
        ...(requireHosts ? { requireHosts } : {}),
        imageId: row.image_id,
        configDrive: row.config_drive === 1 || this.d.config.force_config_drive,
        prepare: (h) => this.prepareHost(id, h),
      });
    } catch (err) {
      const message = err instanceof NoValidHostError ? noValidHost(err.message) : `Build of instance ${id} aborted: ${(err as Error).message}`;
      await this.d.db
        .updateTable('compute_servers')
        .set({ attempts: row.attempts + 1, updated_at: now() })
        .where('id', '=', id)
        .execute();
      await this.recordEvent(id, 'compute__schedule_and_build', 'Error', message, null);
      // Never claimed: nothing on a host to release, but a stray allocation may be.
      await this.fail(id, message, 500, false);
      return;
    }
    await this.d.db.updateTable('compute_servers').set({ host: host.hypervisorHostname, attempts: row.attempts + 1, updated_at: now() }).where('id', '=', id).execute();
    await this.d.db.updateTable('compute_servers').set({ task_state: 'spawning' }).where('id', '=', id).where('task_state', '=', 'scheduling').execute();
  }

  /** Binds the server's ports to the claimed host and returns its config drive. */
  private async prepareHost(id: string, host: ClaimedHost): Promise<ConfigDriveContents> {
    const row = await this.d.db.selectFrom('compute_servers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const refs = fromJson<PortRef[]>(row.ports, []);
    const bound: NeutronPort[] = [];
    if (this.d.network && refs.length) {
      if (host.macs.length && refs.length > host.macs.length) {
        throw new BootstackError(500, 'too_many_ports', `host ${host.hypervisorHostname} has ${host.macs.length} network interface(s) for ${refs.length} port(s)`);
      }
      for (const [i, ref] of refs.entries()) {
        const mac = host.macs[i];
        bound.push(await this.d.network.bindPort(ref.id, { hostId: host.hypervisorHostname, deviceId: id, deviceOwner: 'compute:nova', vnicType: 'baremetal', ...(mac ? { macAddress: mac } : {}) }));
      }
      await this.d.db.updateTable('compute_servers').set({ addresses: toJson(await this.addressesOf(bound)) }).where('id', '=', id).execute();
    }
    return this.configDrive(row, bound.length ? await this.d.network!.networkData(bound.map((p) => p.id)) : undefined);
  }

  private async addressesOf(ports: NeutronPort[]): Promise<Record<string, unknown[]>> {
    const out: Record<string, unknown[]> = {};
    const names = new Map<string, string>();
    for (const p of ports) {
      let name = names.get(p.network_id);
      if (name === undefined) {
        name = await this.d.network!.resolveNetwork(p.network_id, p.project_id ?? p.tenant_id ?? '').then((n) => n.name, () => p.network_id);
        names.set(p.network_id, name);
      }
      for (const ip of p.fixed_ips) {
        (out[name] ??= []).push({ addr: ip.ip_address, version: ip.ip_address.includes(':') ? 6 : 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': p.mac_address });
      }
    }
    return out;
  }

  /** The config drive: OpenStack metadata format (meta_data.json, user_data, network_data.json). */
  configDrive(row: ServerRow, networkData?: Record<string, unknown>): ConfigDriveContents {
    const meta: Record<string, unknown> = {
      // Trusted extras first: the standard keys below always win.
      ...fromJson<Record<string, unknown>>(row.instance_meta, {}),
      uuid: row.id,
      name: row.name,
      hostname: hostnameOf(row.name),
      launch_index: 0,
      availability_zone: 'nova',
      project_id: row.project_id,
      meta: fromJson<Record<string, string>>(row.metadata, {}),
      devices: [],
      ...(row.key_name && row.key_data
        ? { public_keys: { [row.key_name]: row.key_data }, keys: [{ name: row.key_name, type: 'ssh', data: row.key_data }] }
        : {}),
    };
    return { meta_data: meta, ...(row.user_data !== null ? { user_data: row.user_data } : {}), ...(networkData ? { network_data: networkData } : {}) };
  }

  // ------------------------------------------------------------------ lifecycle loop

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.syncOnce();
      } catch (err) {
        this.d.log.error({ err }, 'compute: lifecycle pass failed');
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, this.d.config.sync_interval_ms);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    await this.idle();
  }

  /** One pass over the servers in transition. */
  async syncOnce(): Promise<void> {
    const rows = (await this.d.db
      .selectFrom('compute_servers')
      .selectAll()
      .where((eb) => eb.or([eb('task_state', 'is not', null), eb('releasing', '=', 1)]))
      .execute()).filter((r) => !this.inflight.has(r.id));
    if (!rows.length) return;
    const statuses = await this.d.driver.status(rows.map((r) => ({ id: r.id, projectId: r.project_id })));
    for (const row of rows) {
      const st = statuses.get(row.id) ?? { state: 'deleted', busy: false, power: null };
      try {
        await this.step(row, st);
      } catch (err) {
        this.d.log.warn({ err, server: row.id, task: row.task_state }, 'compute: lifecycle step failed; retried next pass');
      }
    }
  }

  private async step(row: ServerRow, st: DriverStatus): Promise<void> {
    const set = (changes: Partial<ServerRow>) => this.d.db.updateTable('compute_servers').set({ ...changes, updated_at: now() }).where('id', '=', row.id).where('task_state', row.task_state === null ? 'is' : '=', row.task_state).execute();
    switch (row.task_state) {
      case 'scheduling':
        // Left by a restart (or not started): build now.
        this.startBuild(row.id);
        return;
      case 'spawning':
        // Deployed: the driver's "stopped" only means the host reports power off (the fake
        // hardware does); the server is ACTIVE with the power state the host reports, as Nova's
        // ironic driver shows it.
        if ((st.state === 'active' || st.state === 'stopped') && !st.busy) {
          await set({ vm_state: 'active', task_state: null, power_state: st.power === 'off' ? POWER.SHUTDOWN : POWER.RUNNING, launched_at: now() });
          await this.recordEvent(row.id, 'compute__do_build_and_run_instance', 'Success', null, row.host);
          await this.refreshAddresses(row);
        } else if (st.state === 'error') {
          await this.deployFailed(row, st.reason ?? 'the deploy failed');
        } else if (st.state === 'deleted') {
          await this.deployFailed(row, `host ${row.host} no longer holds the instance`);
        }
        return;
      case 'rescheduling':
        if (st.state !== 'deleted') return void (await this.d.driver.destroy(row.id, row.project_id));
        await this.unbindPorts(row);
        await set({ task_state: 'scheduling', host: null });
        this.startBuild(row.id);
        return;
      case 'deleting':
        if (st.state !== 'deleted') return void (await this.d.driver.destroy(row.id, row.project_id));
        await this.finishDelete(row);
        return;
      case 'rebooting':
      case 'rebooting_hard':
      case 'powering-on':
        if (st.busy) return;
        if (st.state === 'error') return void (await set({ vm_state: 'error', task_state: null, fault: faultJson(500, st.reason ?? 'the host failed') }));
        await set({ task_state: null, vm_state: st.power === 'off' ? 'stopped' : 'active', power_state: st.power === 'off' ? POWER.SHUTDOWN : POWER.RUNNING });
        return;
      case 'powering-off':
        if (st.busy) return;
        await set({ task_state: null, vm_state: st.power === 'on' ? 'active' : 'stopped', power_state: st.power === 'on' ? POWER.RUNNING : POWER.SHUTDOWN });
        return;
      case 'rebuilding':
        if (st.busy || st.state === 'building') return;
        if (st.state === 'active' || st.state === 'stopped') return void (await set({ task_state: null, vm_state: 'active', power_state: POWER.RUNNING, launched_at: now() }));
        await set({ task_state: null, vm_state: 'error', fault: faultJson(500, `Rebuild of instance ${row.id} failed: ${st.reason ?? 'the host failed'}`) });
        return;
      case null:
        if (row.releasing === 1) {
          if (st.state !== 'deleted') return void (await this.d.driver.destroy(row.id, row.project_id));
          await this.unbindPorts(row);
          await this.d.db.updateTable('compute_servers').set({ releasing: 0, host: null }).where('id', '=', row.id).execute();
        }
        return;
      default:
        return;
    }
  }

  /** A failed deploy: release the host and reschedule while attempts remain, else ERROR. */
  private async deployFailed(row: ServerRow, reason: string): Promise<void> {
    await this.recordEvent(row.id, 'compute__do_build_and_run_instance', 'Error', reason, row.host);
    const tried = [...new Set([...fromJson<string[]>(row.tried_hosts, []), ...(row.host ? [row.host] : [])])];
    if (row.attempts < this.d.config.max_attempts) {
      this.d.log.info({ server: row.id, host: row.host, reason }, 'compute: deploy failed; rescheduling to another host');
      await this.d.db.updateTable('compute_servers').set({ task_state: 'rescheduling', tried_hosts: toJson(tried), updated_at: now() }).where('id', '=', row.id).where('task_state', '=', 'spawning').execute();
      await this.d.driver.destroy(row.id, row.project_id);
      return;
    }
    await this.d.db.updateTable('compute_servers').set({ tried_hosts: toJson(tried) }).where('id', '=', row.id).execute();
    await this.fail(row.id, noValidHost(`Exceeded max scheduling attempts ${this.d.config.max_attempts} for instance ${row.id}. Last exception: ${reason}`), 500, true);
  }

  /** ERROR with a fault; the host (if any) is released by the loop (`releasing`). */
  private async fail(id: string, message: string, code: number, release: boolean): Promise<void> {
    await this.d.db
      .updateTable('compute_servers')
      .set({ vm_state: 'error', task_state: null, power_state: POWER.NOSTATE, fault: faultJson(code, message), releasing: 1, updated_at: now() })
      .where('id', '=', id)
      // A delete that came meanwhile wins: the loop tears down and removes the server.
      .where((eb) => eb.or([eb('task_state', 'is', null), eb('task_state', '!=', 'deleting')]))
      .execute();
    if (release) {
      const row = await this.d.db.selectFrom('compute_servers').select(['project_id']).where('id', '=', id).executeTakeFirst();
      if (row) await this.d.driver.destroy(id, row.project_id).catch(() => undefined);
    }
  }

  private async refreshAddresses(row: ServerRow): Promise<void> {
    if (this.d.network && fromJson<PortRef[]>(row.ports, []).length) return;
    const found = await this.d.driver.addresses(row.id, row.project_id).catch(() => []);
    if (!found.length) return;
    const out: Record<string, unknown[]> = {};
    for (const a of found) (out[a.network] ??= []).push({ addr: a.ip, version: a.version, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': a.mac });
    await this.d.db.updateTable('compute_servers').set({ addresses: toJson(out) }).where('id', '=', row.id).execute();
  }

  /** For show: addresses learnt late (the OS's first DHCP comes after ACTIVE). */
  async addressesFor(row: ServerRow): Promise<ServerRow> {
    if (row.vm_state !== 'active' || row.addresses !== '{}') return row;
    await this.refreshAddresses(row);
    return (await this.d.db.selectFrom('compute_servers').selectAll().where('id', '=', row.id).executeTakeFirst()) ?? row;
  }

  // ------------------------------------------------------------------ delete, update, actions

  async delete(auth: AuthContext, id: string, requestId: string): Promise<void> {
    const row = await this.get(auth, id, 'os_compute_api:servers:delete');
    if (row.task_state === 'deleting') return;
    await this.d.db.updateTable('compute_servers').set({ task_state: 'deleting', updated_at: now() }).where('id', '=', id).execute();
    await this.recordAction(row, 'delete', requestId, auth.userId);
    // Start the teardown now; the loop finishes it (a node busy now is retried there).
    if (!this.inflight.has(id)) await this.d.driver.destroy(id, row.project_id).catch((err: unknown) => this.d.log.warn({ err, server: id }, 'compute: teardown will be retried'));
  }

  private async finishDelete(row: ServerRow): Promise<void> {
    await this.unbindPorts(row);
    if (this.d.network) {
      for (const ref of fromJson<PortRef[]>(row.ports, [])) if (ref.created) await this.d.network.deletePort(ref.id);
    }
    await this.d.db.deleteFrom('compute_servers').where('id', '=', row.id).execute();
    await this.d.db.deleteFrom('compute_instance_actions').where('server_id', '=', row.id).execute();
  }

  private async unbindPorts(row: ServerRow): Promise<void> {
    if (!this.d.network) return;
    for (const ref of fromJson<PortRef[]>(row.ports, [])) await this.d.network.unbindPort(ref.id);
  }

  private async releasePorts(row: ServerRow): Promise<void> {
    if (!this.d.network) return;
    for (const ref of fromJson<PortRef[]>(row.ports, [])) if (ref.created) await this.d.network.deletePort(ref.id).catch(() => undefined);
  }

  async update(auth: AuthContext, id: string, body: { name?: string; description?: string | null }): Promise<ServerRow> {
    const row = await this.get(auth, id, 'os_compute_api:servers:update');
    const changes: Partial<ServerRow> = {};
    if (body.name !== undefined) {
      if (!body.name.trim() || body.name.length > 255) throw new BadRequestError('server.name: must be 1-255 characters, not only spaces');
      changes.name = body.name;
    }
    if (body.description !== undefined) changes.description = body.description;
    if (Object.keys(changes).length) await this.d.db.updateTable('compute_servers').set({ ...changes, updated_at: now() }).where('id', '=', id).execute();
    return { ...row, ...changes };
  }

  /** Nova's 409 for an action in the wrong state. */
  private conflict(row: ServerRow, action: string): never {
    if (row.task_state) throw new ConflictError(`Cannot '${action}' instance ${row.id} while it is in task_state ${row.task_state}`);
    throw new ConflictError(`Cannot '${action}' instance ${row.id} while it is in vm_state ${row.vm_state}`);
  }

  async reboot(auth: AuthContext, id: string, type: string, requestId: string): Promise<void> {
    const row = await this.get(auth, id, 'os_compute_api:servers:reboot');
    const hard = type.toUpperCase() === 'HARD';
    if (!hard && type.toUpperCase() !== 'SOFT') throw new BadRequestError(`reboot.type: must be SOFT or HARD, not "${type}"`);
    const allowed = hard ? ['active', 'stopped', 'error'] : ['active'];
    if (row.task_state || !allowed.includes(row.vm_state) || !row.host) this.conflict(row, 'reboot');
    await this.claimTask(row, hard ? 'rebooting_hard' : 'rebooting', 'reboot');
    await this.recordAction(row, 'reboot', requestId, auth.userId);
    await this.runTask(row, () => this.d.driver.reboot(id, row.project_id, hard));
  }

  async stop(auth: AuthContext, id: string, requestId: string): Promise<void> {
    const row = await this.get(auth, id, 'os_compute_api:servers:stop');
    if (row.task_state || !['active', 'error'].includes(row.vm_state) || !row.host) this.conflict(row, 'stop');
    await this.claimTask(row, 'powering-off', 'stop');
    await this.recordAction(row, 'stop', requestId, auth.userId);
    await this.runTask(row, () => this.d.driver.powerOff(id, row.project_id));
  }

  async start(auth: AuthContext, id: string, requestId: string): Promise<void> {
    const row = await this.get(auth, id, 'os_compute_api:servers:start');
    if (row.task_state || row.vm_state !== 'stopped' || !row.host) this.conflict(row, 'start');
    await this.claimTask(row, 'powering-on', 'start');
    await this.recordAction(row, 'start', requestId, auth.userId);
    await this.runTask(row, () => this.d.driver.powerOn(id, row.project_id));
  }

  async rebuild(auth: AuthContext, id: string, body: { imageRef: string; name?: string; metadata?: Record<string, string>; user_data?: string | null }, requestId: string): Promise<ServerRow> {
    const row = await this.get(auth, id, 'os_compute_api:servers:rebuild');
    if (row.task_state || !['active', 'stopped', 'error'].includes(row.vm_state) || !row.host || row.releasing) this.conflict(row, 'rebuild');
    const image = await this.resolveImage(auth, body.imageRef.replace(/^.*\/images\//, ''), 'rebuild.imageRef');
    if (body.metadata !== undefined) {
      for (const [k, v] of Object.entries(body.metadata)) {
        if (!k || k.length > MAX_META_LEN || typeof v !== 'string' || v.length > MAX_META_LEN) throw new BadRequestError(`rebuild.metadata.${k.slice(0, 64)}: keys are 1-255 characters and values strings of at most 255`);
      }
      Quotas.over('metadata_items', Object.keys(body.metadata).length, 0, (await this.d.quotas.limits(row.project_id)).metadata_items);
    }
    const changes: Partial<ServerRow> = { image_id: image.id };
    if (body.name !== undefined) changes.name = body.name;
    if (body.metadata !== undefined) changes.metadata = toJson(body.metadata);
    if (body.user_data !== undefined) changes.user_data = body.user_data === null ? null : decodeUserData(body.user_data);
    const next = { ...row, ...changes };
    await this.claimTask(row, 'rebuilding', 'rebuild', changes);
    await this.recordAction(row, 'rebuild', requestId, auth.userId);
    const refs = fromJson<PortRef[]>(row.ports, []);
    const networkData = this.d.network && refs.length ? await this.d.network.networkData(refs.map((r) => r.id)) : undefined;
    await this.runTask(row, () => this.d.driver.rebuild(id, row.project_id, image.id, this.configDrive(next, networkData)));
    return { ...next, task_state: 'rebuilding' };
  }

  async consoleOutput(auth: AuthContext, id: string, length: number | null): Promise<string> {
    const row = await this.get(auth, id, 'os_compute_api:os-console-output');
    if (!row.host || row.vm_state === 'building') throw new ConflictError(`Cannot 'get console output' instance ${id} while it is in vm_state ${row.vm_state}`);
    return this.d.driver.consoleOutput(id, row.project_id, length);
  }

  /** Sets the task state only if nobody else did meanwhile (two concurrent reboots: one 409). */
  private async claimTask(row: ServerRow, task: string, action: string, extra: Partial<ServerRow> = {}): Promise<void> {
    const res = await this.d.db.updateTable('compute_servers').set({ ...extra, task_state: task, updated_at: now() }).where('id', '=', row.id).where('task_state', 'is', null).where('vm_state', '=', row.vm_state).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) this.conflict({ ...row, task_state: 'another action' }, action);
  }

  /** Runs the driver call; on refusal the task state is cleared again and the error returned. */
  private async runTask(row: ServerRow, call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (err) {
      await this.d.db.updateTable('compute_servers').set({ task_state: null, name: row.name, image_id: row.image_id, metadata: row.metadata, user_data: row.user_data }).where('id', '=', row.id).execute();
      throw err;
    }
  }

  // ------------------------------------------------------------------ instance actions

  private async recordAction(row: Pick<ServerRow, 'id' | 'project_id'>, action: string, requestId: string, userId: string | null): Promise<void> {
    const entry: InstanceActionRow = { id: randomUUID(), server_id: row.id, action, request_id: requestId, user_id: userId, project_id: row.project_id, start_time: now(), message: null, events: '[]' };
    await this.d.db.insertInto('compute_instance_actions').values(entry).execute();
  }

  /** Adds an event to the server's latest create/rebuild action (where Nova records build attempts). */
  private async recordEvent(serverId: string, event: string, result: 'Success' | 'Error', message: string | null, host: string | null): Promise<void> {
    const action = await this.d.db.selectFrom('compute_instance_actions').selectAll().where('server_id', '=', serverId).where('action', 'in', ['create', 'rebuild']).orderBy('start_time', 'desc').executeTakeFirst();
    if (!action) return;
    const events = fromJson<unknown[]>(action.events, []);
    const at = now();
    events.push({ event, start_time: at, finish_time: at, result, traceback: message, host });
    await this.d.db
      .updateTable('compute_instance_actions')
      .set({ events: toJson(events), ...(result === 'Error' ? { message: 'Error' } : {}) })
      .where('id', '=', action.id)
      .execute();
  }

  async actions(auth: AuthContext, id: string): Promise<InstanceActionRow[]> {
    await this.get(auth, id, 'os_compute_api:os-instance-actions:list');
    return this.d.db.selectFrom('compute_instance_actions').selectAll().where('server_id', '=', id).orderBy('start_time', 'desc').execute();
  }

  async action(auth: AuthContext, id: string, requestId: string): Promise<InstanceActionRow> {
    await this.get(auth, id, 'os_compute_api:os-instance-actions:show');
    const row = await this.d.db.selectFrom('compute_instance_actions').selectAll().where('server_id', '=', id).where('request_id', '=', requestId).executeTakeFirst();
    if (!row) throw new NotFoundError('Action for request_id', `${requestId} on instance ${id}`);
    return row;
  }
}

function faultJson(code: number, message: string): string {
  const f: FaultView = { code, message, created: now() };
  return toJson(f);
}

/** Nova's hostname from a display name: lower case, [a-z0-9-], at most 63 characters. */
export function hostnameOf(name: string): string {
  const h = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return h || 'server';
}

/** user_data is base64 in the API; the config drive holds the decoded text. */
function decodeUserData(b64: string): string {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(b64)) throw new BadRequestError('server.user_data: must be base64');
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length > MAX_USER_DATA) throw new BadRequestError(`server.user_data: at most ${MAX_USER_DATA} bytes once decoded`);
  return bytes.toString('utf8');
}

/** Nova's hostId: an opaque per-project digest of the host, so tenants can tell co-location apart. */
export function hostIdOf(projectId: string, host: string | null): string {
  if (!host) return '';
  const key = `${projectId} ${host}`;
  let id = hostIds.get(key);
  if (!id) {
    id = createHash('sha224').update(projectId + host).digest('hex');
    // Bounded: a list renders each server's; the cache only saves the hashing on the next list.
    if (hostIds.size >= 20_000) hostIds.clear();
    hostIds.set(key, id);
  }
  return id;
}
const hostIds = new Map<string, string>();

