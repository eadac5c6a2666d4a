// Quotas (os-quota-sets, limits): a project's limits are the configured defaults unless an admin
// set them. Usage is counted from the rows themselves, never kept as a counter that could drift.
// A create checks before it inserts and again after (Nova's quota recheck): two concurrent
// creates that both passed the first check cannot both stay over the limit, on SQLite or
// PostgreSQL alike, and the loser is removed and refused.
import { ForbiddenError } from '../common/errors.js';
import type { ComputeKysely } from './db.js';
import { QUOTA_NAMES, type ComputeConfig, type QuotaName } from './config.js';

export type QuotaSet = Record<QuotaName, number>;

export interface Usage {
  instances: number;
  cores: number;
  ram: number;
  server_groups: number;
}

export class Quotas {
  constructor(
    private readonly db: ComputeKysely,
    private readonly defaults: ComputeConfig['quotas'],
  ) {}

  defaultSet(): QuotaSet {
    return { ...this.defaults };
  }

  async limits(projectId: string): Promise<QuotaSet> {
    const rows = await this.db.selectFrom('compute_quotas').selectAll().where('project_id', '=', projectId).execute();
    const set = this.defaultSet();
    for (const r of rows) if ((QUOTA_NAMES as readonly string[]).includes(r.resource)) set[r.resource as QuotaName] = Number(r.hard_limit);
    return set;
  }

  async update(projectId: string, changes: Partial<QuotaSet>): Promise<QuotaSet> {
    for (const [resource, limit] of Object.entries(changes)) {
      await this.db.deleteFrom('compute_quotas').where('project_id', '=', projectId).where('resource', '=', resource).execute();
      await this.db.insertInto('compute_quotas').values({ project_id: projectId, resource, hard_limit: limit }).execute();
    }
    return this.limits(projectId);
  }

  async reset(projectId: string): Promise<void> {
    await this.db.deleteFrom('compute_quotas').where('project_id', '=', projectId).execute();
  }

  async usage(projectId: string): Promise<Usage> {
    const s = await this.db
      .selectFrom('compute_servers')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.sum<number | string | null>('vcpus').as('cores'), eb.fn.sum<number | string | null>('ram').as('ram')])
      .where('project_id', '=', projectId)
      .executeTakeFirstOrThrow();
    const g = await this.db.selectFrom('compute_server_groups').select((eb) => eb.fn.countAll<number | string>().as('n')).where('project_id', '=', projectId).executeTakeFirstOrThrow();
    return { instances: Number(s.n), cores: Number(s.cores ?? 0), ram: Number(s.ram ?? 0), server_groups: Number(g.n) };
  }

  /** Throws Nova's 403 when adding `want` would go over a limit; `already` is usage to compare against. */
  static over(resource: string, want: number, used: number, limit: number): void {
    if (limit < 0 || used + want <= limit) return;
    throw new ForbiddenError(`Quota exceeded for ${resource}: Requested ${want}, but already used ${used} of ${limit} ${resource}`, { fields: { resource, limit, used } });
  }

  /** Checks instances/cores/ram for `count` servers of this size (usage counts rows already inserted). */
  async checkServers(projectId: string, count: number, vcpus: number, ram: number, includeInserted = 0): Promise<void> {
    const [limits, used] = await Promise.all([this.limits(projectId), this.usage(projectId)]);
    Quotas.over('instances', count, used.instances - includeInserted, limits.instances);
    Quotas.over('cores', count * vcpus, used.cores - includeInserted * vcpus, limits.cores);
    Quotas.over('ram', count * ram, used.ram - includeInserted * ram, limits.ram);
  }

  async checkKeypairs(projectId: string, userId: string): Promise<void> {
    const limits = await this.limits(projectId);
    const n = await this.db.selectFrom('compute_keypairs').select((eb) => eb.fn.countAll<number | string>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
    Quotas.over('key_pairs', 1, Number(n.n), limits.key_pairs);
  }
}
