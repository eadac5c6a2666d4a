// Server groups (os-server-groups): a policy among affinity, anti-affinity, soft-affinity and
// soft-anti-affinity, and members (servers created with the scheduler hint `group`). Before
// 2.64 the policy travels as a one-element `policies` list; from 2.64 as `policy` + `rules`.
import { randomUUID } from 'node:crypto';
import type { AuthContext, Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { BadRequestError, NotFoundError } from '../common/errors.js';
import { fromJson, now, toJson } from '../common/db.js';
import type { ComputeKysely, ServerGroupRow } from './db.js';
import { Quotas } from './quotas.js';

export const GROUP_POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const;

export interface ServerGroup extends ServerGroupRow {
  members: string[];
}

export class ServerGroups {
  constructor(
    private readonly db: ComputeKysely,
    private readonly policy: Policy,
    private readonly quotas: Quotas,
  ) {}

  async create(auth: AuthContext, body: { name: string; policy: string; rules?: Record<string, unknown> }): Promise<ServerGroup> {
    if (!auth.projectId) throw new BadRequestError('A project-scoped token is required to create a server group.');
    this.policy.enforce('os_compute_api:os-server-groups:create', auth, { projectId: auth.projectId });
    if (!body.name.trim() || body.name.length > 255) throw new BadRequestError('server_group.name: must be 1-255 characters');
    if (!(GROUP_POLICIES as readonly string[]).includes(body.policy)) throw new BadRequestError(`server_group.policy: must be one of ${GROUP_POLICIES.join(', ')}, not "${body.policy}"`);
    const rules = body.rules ?? {};
    for (const [k, v] of Object.entries(rules)) {
      if (k !== 'max_server_per_host') throw new BadRequestError(`server_group.rules.${k}: is not an allowed rule (max_server_per_host)`);
      if (body.policy !== 'anti-affinity') throw new BadRequestError('server_group.rules: only the anti-affinity policy takes rules');
      if (!Number.isInteger(v) || (v as number) < 1) throw new BadRequestError('server_group.rules.max_server_per_host: must be a positive integer');
    }
    const limits = await this.quotas.limits(auth.projectId);
    Quotas.over('server_groups', 1, (await this.quotas.usage(auth.projectId)).server_groups, limits.server_groups);
    const row: ServerGroupRow = { id: randomUUID(), name: body.name, project_id: auth.projectId, user_id: auth.userId, policy: body.policy, rules: toJson(rules), created_at: now() };
    await this.db.insertInto('compute_server_groups').values(row).execute();
    return { ...row, members: [] };
  }

  /** A group of the caller's project (any for admins); another project's is 404. */
  async get(auth: AuthContext, id: string): Promise<ServerGroup> {
    const row = await this.db.selectFrom('compute_server_groups').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || (!isAdmin(auth) && row.project_id !== auth.projectId)) throw new NotFoundError('Instance group', id);
    this.policy.enforce('os_compute_api:os-server-groups:show', auth, { projectId: row.project_id });
    return { ...row, members: await this.members(id) };
  }

  async members(id: string): Promise<string[]> {
    return (await this.db.selectFrom('compute_servers').select('id').where('group_id', '=', id).orderBy('created_at').execute()).map((r) => r.id);
  }

  async list(auth: AuthContext, allProjects: boolean): Promise<ServerGroup[]> {
    this.policy.enforce('os_compute_api:os-server-groups:index', auth, { projectId: auth.projectId });
    if (allProjects) this.policy.enforce('os_compute_api:os-server-groups:index:all_projects', auth);
    let q = this.db.selectFrom('compute_server_groups').selectAll();
    if (!allProjects) q = q.where('project_id', '=', auth.projectId ?? '');
    const rows = await q.orderBy('created_at').execute();
    const members = await this.db.selectFrom('compute_servers').select(['id', 'group_id']).where('group_id', 'is not', null).execute();
    return rows.map((r) => ({ ...r, members: members.filter((m) => m.group_id === r.id).map((m) => m.id) }));
  }

  async delete(auth: AuthContext, id: string): Promise<void> {
    const group = await this.get(auth, id);
    this.policy.enforce('os_compute_api:os-server-groups:delete', auth, { projectId: group.project_id });
    await this.db.deleteFrom('compute_server_groups').where('id', '=', id).execute();
    // Members stay; they simply no longer belong to a group (Nova does the same).
    await this.db.updateTable('compute_servers').set({ group_id: null }).where('group_id', '=', id).execute();
  }

  rules(group: ServerGroupRow): Record<string, unknown> {
    return fromJson<Record<string, unknown>>(group.rules, {});
  }
}
