// The service catalog: one entry per enabled service that declares one, three interfaces each,
// all at this server's public URL plus the service's prefix. Ids are derived from the service
// and interface so they stay the same across restarts. Tokens use the stored catalog
// (catalog-store.ts, which stores these entries with these ids at start); this computed one only
// until it is loaded.
import { createHash } from 'node:crypto';
import type { ApiService, CatalogEntry } from '../common/service.js';

export const REGION = 'RegionOne';
const INTERFACES = ['public', 'internal', 'admin'] as const;

export interface CatalogEndpoint { id: string; interface: string; region: string; region_id: string; url: string }
export interface CatalogService { id: string; type: string; name: string; endpoints: CatalogEndpoint[] }

export function stableId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}

/**
 * `services` is read each time: services registered after identity appear too. With a project
 * (a project-scoped token's catalog), endpoints that carry the project id in their URL (Heat's
 * /orchestration/v1/<project_id>) get it filled in, as Keystone's %(tenant_id)s templates do.
 */
export function buildCatalog(
  publicUrl: string,
  services: readonly ApiService[],
  self: CatalogEntry,
  projectId: string | null = null,
): CatalogService[] {
  const entries: CatalogEntry[] = [self];
  for (const s of services) {
    if (s.catalog && !entries.some((e) => e.type === s.catalog!.type)) entries.push(s.catalog);
  }
  return entries.map((e) => ({
    id: stableId('service', e.type),
    type: e.type,
    name: e.name,
    endpoints: INTERFACES.map((iface) => ({
      id: stableId('endpoint', e.type, iface),
      interface: iface,
      region: REGION,
      region_id: REGION,
      url: publicUrl + (projectId && e.projectPath ? e.projectPath(projectId) : e.prefix),
    })),
  }));
}
