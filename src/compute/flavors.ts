// Flavors, their extra specs and access lists (Nova's os-flavor-manage, os-flavor-extra-specs,
// os-flavor-access). Everyone reads the public flavors; a private flavor is visible to admins
// and to the projects on its access list, and to nobody else (404, as a missing one).
import { randomUUID } from 'node:crypto';
import type { AuthContext, Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.js';
import { fromJson, now, toJson } from '../common/db.js';
import type { ComputeKysely, FlavorRow } from './db.js';
import { checkExtraSpec } from './scheduler.js';

/** A flavor as the API sees it: its row with is_public and extra_specs decoded, without created_at. */
export type Flavor = Omit<FlavorRow, 'is_public' | 'extra_specs' | 'created_at'> & { is_public: boolean; extra_specs: Record<string, string> };

export function fromRow(r: FlavorRow): Flavor {
  return { ...r, is_public: r.is_public === 1, extra_specs: fromJson<Record<string, string>>(r.extra_specs, {}) };
}

export interface FlavorCreate {
  name: string;
  id?: string | null;
  ram: number;
  vcpus: number;
  disk: number;
  'OS-FLV-EXT-DATA:ephemeral'?: number;
  swap?: number | string;
  rxtx_factor?: number;
  'os-flavor-access:is_public'?: boolean;
  description?: string | null;
}

const NAME_RE = /^[^\x00-\x1f\x7f]{1,255}$/;
const ID_RE = /^[a-zA-Z0-9 ._-]{1,255}$/;
/** Extra specs per flavor: keeps one flavor row (and every server's snapshot of it) small. */
const MAX_EXTRA_SPECS = 128;

export class Flavors {
  constructor(
    private readonly db: ComputeKysely,
    private readonly policy: Policy,
  ) {}

  /** Flavors the caller may see, filtered as Nova's list (is_public, minRam, minDisk). */
  async list(auth: AuthContext, q: { is_public?: string; minRam?: number; minDisk?: number; limit?: number; marker?: string }): Promise<Flavor[]> {
    this.policy.enforce('os_compute_api:flavors:index', auth);
    const pub = (q.is_public ?? '').toLowerCase();
    let query = this.db.selectFrom('compute_flavors').selectAll();
    if (isAdmin(auth)) {
      // Admins: public ones by default, "none" for all, "false" for private ones.
      if (pub === 'none') query = query;
      else if (['false', 'f', '0', 'no'].includes(pub)) query = query.where('is_public', '=', 0);
      else query = query.where('is_public', '=', 1);
    } else {
      const project = auth.projectId ?? '';
      const access = this.db.selectFrom('compute_flavor_access').select('flavor_id').where('project_id', '=', project);
      if (['false', 'f', '0', 'no'].includes(pub)) query = query.where('is_public', '=', 0).where('id', 'in', access);
      else query = query.where((eb) => eb.or([eb('is_public', '=', 1), eb('id', 'in', access)]));
    }
    if (q.minRam !== undefined) query = query.where('ram', '>=', q.minRam);
    if (q.minDisk !== undefined) query = query.where('disk', '>=', q.minDisk);
    let rows = (await query.orderBy('id').execute()).map(fromRow);
    if (q.marker !== undefined) {
      const at = rows.findIndex((f) => f.id === q.marker);
      if (at < 0) throw new BadRequestError(`marker [${q.marker}] not found (query.marker)`);
      rows = rows.slice(at + 1);
    }
    return q.limit !== undefined ? rows.slice(0, q.limit) : rows;
  }

  /** A flavor the caller may use (404 for a private one without access). */
  async get(auth: AuthContext, id: string): Promise<Flavor> {
    this.policy.enforce('os_compute_api:flavors:show', auth);
    const row = await this.db.selectFrom('compute_flavors').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || !(await this.mayUse(auth, row))) throw new NotFoundError('Flavor', id);
    return fromRow(row);
  }

  async mayUse(auth: AuthContext, row: FlavorRow): Promise<boolean> {
    if (row.is_public === 1 || isAdmin(auth)) return true;
    const access = await this.db.selectFrom('compute_flavor_access').select('flavor_id').where('flavor_id', '=', row.id).where('project_id', '=', auth.projectId ?? '').executeTakeFirst();
    return !!access;
  }

  async create(auth: AuthContext, body: FlavorCreate): Promise<Flavor> {
    this.policy.enforce('os_compute_api:os-flavor-manage:create', auth);
    const name = body.name.trim();
    if (!NAME_RE.test(name)) throw new BadRequestError('flavor.name: must be 1-255 printable characters');
    const id = body.id === undefined || body.id === null || body.id === 'auto' ? randomUUID() : String(body.id);
    if (!ID_RE.test(id)) throw new BadRequestError('flavor.id: must be 1-255 letters, digits, spaces, ".", "_" or "-"');
    const swap = body.swap === undefined || body.swap === '' ? 0 : Number(body.swap);
    if (!Number.isInteger(swap) || swap < 0) throw new BadRequestError('flavor.swap: must be a non-negative integer');
    const taken = await this.db.selectFrom('compute_flavors').select(['id', 'name']).where((eb) => eb.or([eb('id', '=', id), eb('name', '=', name)])).executeTakeFirst();
    if (taken) throw new ConflictError(taken.id === id ? `Flavor with ID ${id} already exists.` : `Flavor with name ${name} already exists.`);
    const row: FlavorRow = {
      id,
      name,
      vcpus: body.vcpus,
      ram: body.ram,
      disk: body.disk,
      ephemeral: body['OS-FLV-EXT-DATA:ephemeral'] ?? 0,
      swap,
      rxtx_factor: body.rxtx_factor ?? 1,
      is_public: body['os-flavor-access:is_public'] === false ? 0 : 1,
      description: body.description ?? null,
      extra_specs: '{}',
      created_at: now(),
    };
    try {
      await this.db.insertInto('compute_flavors').values(row).execute();
    } catch (err) {
      throw new ConflictError(`Flavor with ID ${id} or name ${name} already exists.`, { cause: err });
    }
    return fromRow(row);
  }

  /**
   * At first start (no caller, no policy): a public bare-metal flavor named `name` selecting nodes
   * of the resource class of that name, unless a flavor of that name exists. Idempotent.
   */
  async ensureBaremetalFlavor(name: string): Promise<void> {
    if (await this.db.selectFrom('compute_flavors').select('id').where('name', '=', name).executeTakeFirst()) return;
    const resourceClass = `CUSTOM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
    const specs = { [`resources:${resourceClass}`]: '1', 'resources:VCPU': '0', 'resources:MEMORY_MB': '0', 'resources:DISK_GB': '0' };
    const row: FlavorRow = {
      id: randomUUID(), name, vcpus: 1, ram: 1, disk: 0, ephemeral: 0, swap: 0, rxtx_factor: 1, is_public: 1,
      description: `bare-metal nodes of resource class ${name} (compute.default_flavors)`, extra_specs: JSON.stringify(specs), created_at: now(),
    };
    // A concurrent first start of another seed on the same database may have made it: fine.
    await this.db.insertInto('compute_flavors').values(row).execute().catch(async (err: unknown) => {
      if (!(await this.db.selectFrom('compute_flavors').select('id').where('name', '=', name).executeTakeFirst())) throw err;
    });
  }

  async delete(auth: AuthContext, id: string): Promise<void> {
    this.policy.enforce('os_compute_api:os-flavor-manage:delete', auth);
    const res = await this.db.deleteFrom('compute_flavors').where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('Flavor', id);
    await this.db.deleteFrom('compute_flavor_access').where('flavor_id', '=', id).execute();
  }

  async extraSpecs(auth: AuthContext, id: string): Promise<Record<string, string>> {
    this.policy.enforce('os_compute_api:os-flavor-extra-specs:index', auth);
    return (await this.get(auth, id)).extra_specs;
  }

  /** Adds or replaces keys (POST merges; PUT of one key replaces it). */
  async setExtraSpecs(auth: AuthContext, id: string, specs: Record<string, unknown>, op: 'create' | 'update'): Promise<Record<string, string>> {
    this.policy.enforce(`os_compute_api:os-flavor-extra-specs:${op}`, auth);
    const flavor = await this.get(auth, id);
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(specs)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new BadRequestError(`extra_specs.${k}: must be a string`);
      if (!k) throw new BadRequestError('extra_specs: a key may not be empty');
      checkExtraSpec(k, String(v));
      clean[k] = String(v);
    }
    const merged = { ...flavor.extra_specs, ...clean };
    if (Object.keys(merged).length > MAX_EXTRA_SPECS) throw new BadRequestError(`extra_specs: at most ${MAX_EXTRA_SPECS} keys per flavor`);
    await this.db.updateTable('compute_flavors').set({ extra_specs: toJson(merged) }).where('id', '=', id).execute();
    return clean;
  }

  async deleteExtraSpec(auth: AuthContext, id: string, key: string): Promise<void> {
    this.policy.enforce('os_compute_api:os-flavor-extra-specs:delete', auth);
    const flavor = await this.get(auth, id);
    if (!(key in flavor.extra_specs)) throw new NotFoundError(`Flavor ${id} has no extra specs with key`, key);
    const { [key]: _gone, ...rest } = flavor.extra_specs;
    await this.db.updateTable('compute_flavors').set({ extra_specs: toJson(rest) }).where('id', '=', id).execute();
  }

  async accessList(auth: AuthContext, id: string): Promise<{ flavor_id: string; tenant_id: string }[]> {
    this.policy.enforce('os_compute_api:os-flavor-access', auth);
    const flavor = await this.get(auth, id);
    if (flavor.is_public) throw new NotFoundError('Access list for public flavor', id, { fields: { why: 'Access list not available for public flavors.' } });
    const rows = await this.db.selectFrom('compute_flavor_access').selectAll().where('flavor_id', '=', id).orderBy('project_id').execute();
    return rows.map((r) => ({ flavor_id: r.flavor_id, tenant_id: r.project_id }));
  }

  async changeAccess(auth: AuthContext, id: string, tenant: string, add: boolean): Promise<{ flavor_id: string; tenant_id: string }[]> {
    this.policy.enforce(add ? 'os_compute_api:os-flavor-access:add_tenant_access' : 'os_compute_api:os-flavor-access:remove_tenant_access', auth);
    const flavor = await this.get(auth, id);
    if (!tenant || tenant.length > 255) throw new BadRequestError(`${add ? 'addTenantAccess' : 'removeTenantAccess'}.tenant: is required (a project id)`);
    if (flavor.is_public) throw new ConflictError(`Can not ${add ? 'add' : 'remove'} access to a public flavor.`);
    if (add) {
      const exists = await this.db.selectFrom('compute_flavor_access').select('flavor_id').where('flavor_id', '=', id).where('project_id', '=', tenant).executeTakeFirst();
      if (exists) throw new ConflictError(`Flavor access already exists for flavor ${id} and project ${tenant} combination.`);
      await this.db.insertInto('compute_flavor_access').values({ flavor_id: id, project_id: tenant }).execute();
    } else {
      const res = await this.db.deleteFrom('compute_flavor_access').where('flavor_id', '=', id).where('project_id', '=', tenant).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw new NotFoundError(`Flavor access for project ${tenant} on flavor`, id);
    }
    const rows = await this.db.selectFrom('compute_flavor_access').selectAll().where('flavor_id', '=', id).orderBy('project_id').execute();
    return rows.map((r) => ({ flavor_id: r.flavor_id, tenant_id: r.project_id }));
  }
}
