// The stored service catalog (Keystone's regions, services and endpoints) and the token catalog
// built from it. This server's own services are stored once each, at start (identity_catalog_seeded
// remembers which), with the ids catalog.ts always gave them: they can then be listed, edited,
// disabled and deleted as an admin's own entries, and a deleted one is not stored again. Their
// endpoints' URLs follow this server's public URL (see builtin_of in migrations.ts) until an admin
// sets one. Token catalogs are built from an in-memory copy that every write here refreshes, so
// issuing a token costs no query.
import type { Kysely } from 'kysely';
import type { AnyDB } from '../common/db.js';
import { now, toJson, fromJson } from '../common/db.js';
import type { ApiService, CatalogEntry } from '../common/service.js';
import { ConflictError } from '../common/errors.js';
import { REGION, stableId, type CatalogService } from './catalog.js';
import { newId } from './store.js';

export interface RegionRow { id: string; description: string; parent_region_id: string | null; extra: string; created_at: string }
export interface ServiceRow { id: string; type: string; name: string | null; description: string | null; enabled: number; extra: string; created_at: string }
export interface EndpointRow {
  id: string; service_id: string; interface: string; url: string; region_id: string | null; enabled: number;
  builtin_of: string | null; extra: string; created_at: string;
}

interface CatalogDB {
  identity_regions: RegionRow;
  identity_services: ServiceRow;
  identity_endpoints: EndpointRow;
  identity_catalog_seeded: { key: string };
}

export const INTERFACES = ['public', 'internal', 'admin'] as const;

/** Keystone's URL substitutions for the project of a project-scoped token. */
const PROJECT_TEMPLATE = /\$\((?:project_id|tenant_id)\)s|%\((?:project_id|tenant_id)\)s/;
const PROJECT_TEMPLATES = new RegExp(PROJECT_TEMPLATE.source, 'g');

export function extrasOfRow(row: { extra: string }): Record<string, unknown> {
  const v = fromJson<unknown>(row.extra, {});
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export class CatalogStore {
  readonly db: Kysely<CatalogDB>;
  private snapshot: { services: ServiceRow[]; endpoints: EndpointRow[] } | null = null;

  constructor(db: AnyDB) {
    this.db = db as unknown as Kysely<CatalogDB>;
  }

  /**
   * Stores what is not stored yet of the region RegionOne and of each running service (three
   * endpoints each), once per service type ever; then loads the in-memory copy. A built-in
   * endpoint's url column keeps the URL of the day it was stored, shown only while this server
   * does not run that service.
   */
  async seed(services: readonly CatalogEntry[], publicUrl: string): Promise<void> {
    const seeded = new Set((await this.db.selectFrom('identity_catalog_seeded').select('key').execute()).map((r) => r.key));
    await this.db.transaction().execute(async (trx) => {
      if (!seeded.has(`region:${REGION}`)) {
        const exists = await trx.selectFrom('identity_regions').select('id').where('id', '=', REGION).executeTakeFirst();
        if (!exists) await trx.insertInto('identity_regions').values({ id: REGION, description: '', parent_region_id: null, extra: '{}', created_at: now() }).execute();
        await trx.insertInto('identity_catalog_seeded').values({ key: `region:${REGION}` }).execute();
      }
      for (const e of services) {
        const key = `service:${e.type}`;
        if (seeded.has(key)) continue;
        seeded.add(key);
        const id = stableId('service', e.type);
        const exists = await trx.selectFrom('identity_services').select('id').where('id', '=', id).executeTakeFirst();
        if (!exists) {
          await trx.insertInto('identity_services').values({ id, type: e.type, name: e.name, description: null, enabled: 1, extra: '{}', created_at: now() }).execute();
          for (const iface of INTERFACES) {
            await trx.insertInto('identity_endpoints').values({
              id: stableId('endpoint', e.type, iface), service_id: id, interface: iface, url: publicUrl + e.prefix,
              region_id: (await trx.selectFrom('identity_regions').select('id').where('id', '=', REGION).executeTakeFirst()) ? REGION : null,
              enabled: 1, builtin_of: e.type, extra: '{}', created_at: now(),
            }).execute();
          }
        }
        await trx.insertInto('identity_catalog_seeded').values({ key }).execute();
      }
    });
    await this.reload();
  }

  async reload(): Promise<void> {
    this.snapshot = {
      services: await this.db.selectFrom('identity_services').selectAll().orderBy('id').execute(),
      endpoints: await this.db.selectFrom('identity_endpoints').selectAll().orderBy('id').execute(),
    };
  }

  /** The endpoint's URL as shown: a built-in one is this server's public URL plus its service's path. */
  endpointUrl(e: EndpointRow, publicUrl: string, running: readonly CatalogEntry[], projectId: string | null = null): string | null {
    if (e.builtin_of === null) return e.url;
    const entry = running.find((r) => r.type === e.builtin_of);
    if (!entry) return null;
    return publicUrl + (projectId && entry.projectPath ? entry.projectPath(projectId) : entry.prefix);
  }

  /**
   * The catalog of a token: enabled services with their enabled endpoints. A built-in endpoint of
   * a service this server does not run is left out, and so is an endpoint whose URL wants a
   * project when the token has none (as Keystone leaves out what it cannot fill in).
   */
  catalog(publicUrl: string, running: readonly CatalogEntry[], projectId: string | null): CatalogService[] | null {
    if (!this.snapshot) return null;
    const out: CatalogService[] = [];
    for (const s of this.snapshot.services) {
      if (s.enabled !== 1) continue;
      const endpoints = [];
      for (const e of this.snapshot.endpoints) {
        if (e.service_id !== s.id || e.enabled !== 1) continue;
        let url = this.endpointUrl(e, publicUrl, running, projectId);
        if (url === null) continue;
        if (PROJECT_TEMPLATE.test(url)) {
          if (!projectId) continue;
          url = url.replace(PROJECT_TEMPLATES, projectId);
        }
        endpoints.push({ id: e.id, interface: e.interface, region: e.region_id ?? '', region_id: e.region_id ?? '', url });
      }
      // A service left without endpoints here is of no use to a client: not listed.
      if (endpoints.length) out.push({ id: s.id, type: s.type, name: s.name ?? '', endpoints });
    }
    return out;
  }

  // --- regions
  getRegion(id: string) {
    return this.db.selectFrom('identity_regions').selectAll().where('id', '=', id).executeTakeFirst();
  }
  listRegions(filter: { parent_region_id?: string } = {}) {
    let q = this.db.selectFrom('identity_regions').selectAll().orderBy('id');
    if (filter.parent_region_id !== undefined) q = q.where('parent_region_id', '=', filter.parent_region_id);
    return q.execute();
  }
  async createRegion(input: { id?: string; description?: string; parent_region_id?: string | null; extra?: Record<string, unknown> }): Promise<RegionRow> {
    const row: RegionRow = {
      id: input.id ?? newId(), description: input.description ?? '', parent_region_id: input.parent_region_id ?? null,
      extra: toJson(input.extra ?? {}), created_at: now(),
    };
    if (await this.getRegion(row.id)) throw new ConflictError(`Conflict occurred attempting to store region - Duplicate ID, ${row.id}.`, { fields: { id: row.id } });
    await this.db.insertInto('identity_regions').values(row).execute();
    return row;
  }
  async updateRegion(id: string, set: Partial<Pick<RegionRow, 'description' | 'parent_region_id' | 'extra'>>): Promise<void> {
    if (Object.keys(set).length) await this.db.updateTable('identity_regions').set(set).where('id', '=', id).execute();
  }
  /** The ids of `id`'s ancestors, nearest first (stops at a loop rather than spinning). */
  async ancestors(id: string): Promise<string[]> {
    const out: string[] = [];
    let cur = (await this.getRegion(id))?.parent_region_id ?? null;
    while (cur !== null && !out.includes(cur)) {
      out.push(cur);
      cur = (await this.getRegion(cur))?.parent_region_id ?? null;
    }
    return out;
  }
  async regionUsers(id: string): Promise<{ children: string[]; endpoints: string[] }> {
    const children = (await this.db.selectFrom('identity_regions').select('id').where('parent_region_id', '=', id).execute()).map((r) => r.id);
    const endpoints = (await this.db.selectFrom('identity_endpoints').select('id').where('region_id', '=', id).execute()).map((r) => r.id);
    return { children, endpoints };
  }
  async deleteRegion(id: string): Promise<void> {
    await this.db.deleteFrom('identity_regions').where('id', '=', id).execute();
  }

  // --- services
  getService(id: string) {
    return this.db.selectFrom('identity_services').selectAll().where('id', '=', id).executeTakeFirst();
  }
  listServices(filter: { type?: string; name?: string } = {}) {
    let q = this.db.selectFrom('identity_services').selectAll().orderBy('type').orderBy('id');
    if (filter.type !== undefined) q = q.where('type', '=', filter.type);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    return q.execute();
  }
  async createService(input: { type: string; name?: string | null; description?: string | null; enabled?: boolean; extra?: Record<string, unknown> }): Promise<ServiceRow> {
    const row: ServiceRow = {
      id: newId(), type: input.type, name: input.name ?? null, description: input.description ?? null,
      enabled: input.enabled === false ? 0 : 1, extra: toJson(input.extra ?? {}), created_at: now(),
    };
    await this.db.insertInto('identity_services').values(row).execute();
    await this.reload();
    return row;
  }
  async updateService(id: string, set: Partial<Pick<ServiceRow, 'type' | 'name' | 'description' | 'enabled' | 'extra'>>): Promise<void> {
    if (Object.keys(set).length) await this.db.updateTable('identity_services').set(set).where('id', '=', id).execute();
    await this.reload();
  }
  /** Deletes the service and its endpoints, as Keystone does. */
  async deleteService(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('identity_endpoints').where('service_id', '=', id).execute();
      await trx.deleteFrom('identity_services').where('id', '=', id).execute();
    });
    await this.reload();
  }

  // --- endpoints
  getEndpoint(id: string) {
    return this.db.selectFrom('identity_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
  }
  listEndpoints(filter: { service_id?: string; interface?: string; region_id?: string } = {}) {
    let q = this.db.selectFrom('identity_endpoints').selectAll().orderBy('service_id').orderBy('id');
    if (filter.service_id !== undefined) q = q.where('service_id', '=', filter.service_id);
    if (filter.interface !== undefined) q = q.where('interface', '=', filter.interface);
    if (filter.region_id !== undefined) q = q.where('region_id', '=', filter.region_id);
    return q.execute();
  }
  async createEndpoint(input: Omit<EndpointRow, 'id' | 'created_at' | 'builtin_of'>): Promise<EndpointRow> {
    const row: EndpointRow = { ...input, id: newId(), builtin_of: null, created_at: now() };
    await this.db.insertInto('identity_endpoints').values(row).execute();
    await this.reload();
    return row;
  }
  async updateEndpoint(id: string, set: Partial<Omit<EndpointRow, 'id' | 'created_at'>>): Promise<void> {
    if (Object.keys(set).length) await this.db.updateTable('identity_endpoints').set(set).where('id', '=', id).execute();
    await this.reload();
  }
  async deleteEndpoint(id: string): Promise<void> {
    await this.db.deleteFrom('identity_endpoints').where('id', '=', id).execute();
    await this.reload();
  }
}

/** The catalog entries of the running services, identity's own first, one per type. */
export function runningEntries(self: CatalogEntry, services: readonly ApiService[]): CatalogEntry[] {
  const entries: CatalogEntry[] = [self];
  for (const s of services) if (s.catalog && !entries.some((e) => e.type === s.catalog!.type)) entries.push(s.catalog);
  return entries;
}
