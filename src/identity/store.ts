// Identity's repository: every query on the identity_* tables, for SQLite and PostgreSQL alike.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { isUniqueViolation, now, toJson, fromJson, type AnyDB } from '../common/db.js';
import { ConflictError } from '../common/errors.js';

export interface DomainRow { id: string; name: string; description: string; enabled: number; created_at: string }
/** parent_id: the parent project, null at the top of the domain. */
export interface ProjectRow { id: string; name: string; domain_id: string; parent_id: string | null; description: string; enabled: number; tags: string; created_at: string }
export interface UserRow {
  id: string; name: string; domain_id: string; password_hash: string | null; enabled: number;
  default_project_id: string | null; email: string | null; description: string; created_at: string;
  /** Keystone's user option: null when unset, else 0/1. Set: never locked by wrong passwords. */
  ignore_lockout_failure_attempts: number | null;
  /** Keystone's extra attributes: a JSON object (see user-extras.ts). */
  extra: string;
}

/** Keystone's user `options` this server implements (the others are refused by the schema). */
export interface UserOptions { ignore_lockout_failure_attempts?: boolean | null }

/** A column value for an option: null (unset) or 0/1. */
function optionValue(v: boolean | null | undefined): number | null {
  return v === undefined || v === null ? null : v ? 1 : 0;
}
/** domain_id: null for a global role, else the domain of a domain-specific role. */
export interface RoleRow { id: string; name: string; description: string; domain_id: string | null; created_at: string }
export interface ImplicationRow { prior_role_id: string; implied_role_id: string }
/** What a role is assigned on: a project, a domain, or the whole deployment ('system', target 'all'). */
export type TargetType = 'project' | 'domain' | 'system' | InheritedTarget;
/**
 * Keystone's inherited assignments (OS-INHERIT): on a domain, they hold on every project of the
 * domain; on a project, on every project below it (not on the project itself). Stored beside the
 * others with their own target types, so that listing "roles on project P" never shows them.
 */
export type InheritedTarget = 'domain:inherited' | 'project:inherited';
/** The one target id of the system scope (Keystone's `"system": {"all": true}`). */
export const SYSTEM_ALL = 'all';
export interface AssignmentRow { user_id: string; target_type: TargetType; target_id: string; role_id: string }
export interface GroupRow { id: string; name: string; domain_id: string; description: string; extra: string; created_at: string }
export interface GroupAssignmentRow { group_id: string; target_type: TargetType; target_id: string; role_id: string }
export interface GroupMemberRow { group_id: string; user_id: string }
export interface TokenRow {
  token_hash: string; user_id: string; project_id: string | null; domain_id: string | null;
  /** 'all' for a system-scoped token, else null. */
  system_scope: string | null;
  methods: string; audit_id: string; issued_at: string; expires_at: string; revoked: number;
}

export interface LoginFailureRow { subject: string; failures: number; last_failure_at: string }

interface IdentityDB {
  identity_domains: DomainRow;
  identity_projects: ProjectRow;
  identity_users: UserRow;
  identity_roles: RoleRow;
  identity_assignments: AssignmentRow;
  identity_tokens: TokenRow;
  identity_login_failures: LoginFailureRow;
  identity_groups: GroupRow;
  identity_role_implications: ImplicationRow;
  identity_group_members: GroupMemberRow;
  identity_group_assignments: GroupAssignmentRow;
}

/** Keystone shows ids as 32 hex digits. */
export function newId(): string {
  return randomUUID().replace(/-/g, '');
}

async function insertUnique<T>(what: string, name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`Conflict occurred attempting to store ${what} - Duplicate entry found with name ${name}.`, { cause: err, fields: { name } });
    throw err;
  }
}

export interface ListFilter { name?: string; domain_id?: string; enabled?: boolean }

export class IdentityStore {
  readonly db: Kysely<IdentityDB>;
  constructor(db: AnyDB) {
    this.db = db as unknown as Kysely<IdentityDB>;
  }

  // --- domains
  async createDomain(input: { id?: string; name: string; description?: string; enabled?: boolean }): Promise<DomainRow> {
    const row: DomainRow = { id: input.id ?? newId(), name: input.name, description: input.description ?? '', enabled: input.enabled === false ? 0 : 1, created_at: now() };
    await insertUnique('domain', input.name, () => this.db.insertInto('identity_domains').values(row).execute());
    return row;
  }
  getDomain(id: string) {
    return this.db.selectFrom('identity_domains').selectAll().where('id', '=', id).executeTakeFirst();
  }
  getDomainByName(name: string) {
    return this.db.selectFrom('identity_domains').selectAll().where('name', '=', name).executeTakeFirst();
  }
  listDomains(filter: ListFilter = {}) {
    let q = this.db.selectFrom('identity_domains').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    return q.execute();
  }

  // --- projects
  async createProject(input: { name: string; domain_id: string; parent_id?: string | null; description?: string; enabled?: boolean; tags?: string[] }): Promise<ProjectRow> {
    const row: ProjectRow = {
      id: newId(), name: input.name, domain_id: input.domain_id, parent_id: input.parent_id ?? null, description: input.description ?? '',
      enabled: input.enabled === false ? 0 : 1, tags: toJson(input.tags ?? []), created_at: now(),
    };
    await insertUnique('project', input.name, () => this.db.insertInto('identity_projects').values(row).execute());
    return row;
  }
  getProject(id: string) {
    return this.db.selectFrom('identity_projects').selectAll().where('id', '=', id).executeTakeFirst();
  }
  getProjectByName(name: string, domainId: string) {
    return this.db.selectFrom('identity_projects').selectAll().where('name', '=', name).where('domain_id', '=', domainId).executeTakeFirst();
  }
  /** `parent_id`: a project's children, or with a domain's id the projects at its top. */
  listProjects(filter: ListFilter & { ids?: string[]; parent_id?: string } = {}) {
    let q = this.db.selectFrom('identity_projects').selectAll().orderBy('name');
    if (filter.parent_id !== undefined) {
      const parent = filter.parent_id;
      q = q.where((eb) => eb.or([eb('parent_id', '=', parent), eb.and([eb('parent_id', 'is', null), eb('domain_id', '=', parent)])]));
    }
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.domain_id !== undefined) q = q.where('domain_id', '=', filter.domain_id);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    if (filter.ids !== undefined) {
      if (filter.ids.length === 0) return Promise.resolve([]);
      q = q.where('id', 'in', filter.ids);
    }
    return q.execute();
  }
  async updateProject(id: string, patch: { name?: string; description?: string; enabled?: boolean; tags?: string[] }): Promise<void> {
    const set: Partial<ProjectRow> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
    if (patch.tags !== undefined) set.tags = toJson(patch.tags);
    if (Object.keys(set).length === 0) return;
    await insertUnique('project', patch.name ?? id, () => this.db.updateTable('identity_projects').set(set).where('id', '=', id).execute());
  }
  async deleteProject(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // Assignments on it, inherited ones (OS-INHERIT) too.
      await trx.deleteFrom('identity_assignments').where('target_type', 'in', ['project', 'project:inherited']).where('target_id', '=', id).execute();
      await trx.deleteFrom('identity_group_assignments').where('target_type', 'in', ['project', 'project:inherited']).where('target_id', '=', id).execute();
      await trx.updateTable('identity_tokens').set({ revoked: 1 }).where('project_id', '=', id).execute();
      await trx.deleteFrom('identity_projects').where('id', '=', id).execute();
    });
  }

  // --- users
  async createUser(input: { name: string; domain_id: string; password_hash: string | null; enabled?: boolean; default_project_id?: string | null; email?: string | null; description?: string; options?: UserOptions; extra?: Record<string, unknown> }): Promise<UserRow> {
    const row: UserRow = {
      id: newId(), name: input.name, domain_id: input.domain_id, password_hash: input.password_hash,
      enabled: input.enabled === false ? 0 : 1, default_project_id: input.default_project_id ?? null,
      email: input.email ?? null, description: input.description ?? '', created_at: now(),
      ignore_lockout_failure_attempts: optionValue(input.options?.ignore_lockout_failure_attempts),
      extra: toJson(input.extra ?? {}),
    };
    await insertUnique('user', input.name, () => this.db.insertInto('identity_users').values(row).execute());
    return row;
  }
  getUser(id: string) {
    return this.db.selectFrom('identity_users').selectAll().where('id', '=', id).executeTakeFirst();
  }
  getUserByName(name: string, domainId: string) {
    return this.db.selectFrom('identity_users').selectAll().where('name', '=', name).where('domain_id', '=', domainId).executeTakeFirst();
  }
  listUsers(filter: ListFilter = {}) {
    let q = this.db.selectFrom('identity_users').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.domain_id !== undefined) q = q.where('domain_id', '=', filter.domain_id);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    return q.execute();
  }
  /**
   * `options` as in Keystone's PATCH: only the options named change; null removes one (shown
   * as absent), true/false set it.
   */
  async updateUser(id: string, patch: Partial<Omit<UserRow, 'id' | 'created_at' | 'ignore_lockout_failure_attempts'>>, options: UserOptions = {}): Promise<void> {
    const set: Partial<Omit<UserRow, 'id' | 'created_at'>> = { ...patch };
    if (options.ignore_lockout_failure_attempts !== undefined) set.ignore_lockout_failure_attempts = optionValue(options.ignore_lockout_failure_attempts);
    if (Object.keys(set).length === 0) return;
    await insertUnique('user', set.name ?? id, () => this.db.updateTable('identity_users').set(set).where('id', '=', id).execute());
    // A disabled user or a changed password ends the user's tokens, as in Keystone.
    if (set.enabled === 0 || set.password_hash !== undefined) {
      await this.db.updateTable('identity_tokens').set({ revoked: 1 }).where('user_id', '=', id).execute();
    }
    // An admin enabling the user (again) or setting a password is how a locked account is
    // unlocked before its lockout_duration ends, as in Keystone. So is setting or removing
    // ignore_lockout_failure_attempts: failures are still counted while it is set (every login
    // does the same work), and removing it must not lock the user at once for those.
    if (set.enabled === 1 || set.password_hash !== undefined || set.ignore_lockout_failure_attempts !== undefined) await this.clearLoginFailures(id);
  }
  async deleteUser(id: string): Promise<void> {
    await this.db.deleteFrom('identity_users').where('id', '=', id).execute();
    await this.clearLoginFailures(id);
  }

  // --- roles
  async createRole(input: { name: string; description?: string; domain_id?: string | null }): Promise<RoleRow> {
    const row: RoleRow = { id: newId(), name: input.name, description: input.description ?? '', domain_id: input.domain_id ?? null, created_at: now() };
    await insertUnique('role', input.name, () => this.db.insertInto('identity_roles').values(row).execute());
    return row;
  }
  getRole(id: string) {
    return this.db.selectFrom('identity_roles').selectAll().where('id', '=', id).executeTakeFirst();
  }
  getRoleByName(name: string) {
    return this.db.selectFrom('identity_roles').selectAll().where('name', '=', name).executeTakeFirst();
  }
  /** Global roles, or a domain's roles with `domain_id` (Keystone lists them apart). */
  listRoles(filter: { name?: string; domain_id?: string } = {}) {
    let q = this.db.selectFrom('identity_roles').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    q = filter.domain_id !== undefined ? q.where('domain_id', '=', filter.domain_id) : q.where('domain_id', 'is', null);
    return q.execute();
  }
  /** Every role, global and domain-specific (to resolve implications). */
  allRoles() {
    return this.db.selectFrom('identity_roles').selectAll().execute();
  }
  async updateRole(id: string, patch: { name?: string; description?: string }): Promise<void> {
    const set: Partial<RoleRow> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (Object.keys(set).length === 0) return;
    await insertUnique('role', patch.name ?? id, () => this.db.updateTable('identity_roles').set(set).where('id', '=', id).execute());
  }

  // --- role inference rules
  async addImplication(r: ImplicationRow): Promise<void> {
    await this.db.insertInto('identity_role_implications').values(r).onConflict((oc) => oc.doNothing()).execute();
  }
  async hasImplication(r: ImplicationRow): Promise<boolean> {
    const row = await this.db.selectFrom('identity_role_implications').select('prior_role_id')
      .where('prior_role_id', '=', r.prior_role_id).where('implied_role_id', '=', r.implied_role_id).executeTakeFirst();
    return row !== undefined;
  }
  async removeImplication(r: ImplicationRow): Promise<boolean> {
    const res = await this.db.deleteFrom('identity_role_implications')
      .where('prior_role_id', '=', r.prior_role_id).where('implied_role_id', '=', r.implied_role_id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
  listImplications(priorRoleId?: string) {
    let q = this.db.selectFrom('identity_role_implications').selectAll();
    if (priorRoleId !== undefined) q = q.where('prior_role_id', '=', priorRoleId);
    return q.execute();
  }
  async deleteRole(id: string): Promise<void> {
    await this.db.deleteFrom('identity_roles').where('id', '=', id).execute();
  }

  // --- assignments
  async grant(a: AssignmentRow): Promise<void> {
    const exists = await this.hasGrant(a);
    if (!exists) await this.db.insertInto('identity_assignments').values(a).execute();
  }
  async hasGrant(a: AssignmentRow): Promise<boolean> {
    const row = await this.db
      .selectFrom('identity_assignments').select('role_id')
      .where('user_id', '=', a.user_id).where('target_type', '=', a.target_type)
      .where('target_id', '=', a.target_id).where('role_id', '=', a.role_id)
      .executeTakeFirst();
    return row !== undefined;
  }
  async revoke(a: AssignmentRow): Promise<boolean> {
    const res = await this.db
      .deleteFrom('identity_assignments')
      .where('user_id', '=', a.user_id).where('target_type', '=', a.target_type)
      .where('target_id', '=', a.target_id).where('role_id', '=', a.role_id)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
  listAssignments(filter: { user_id?: string; target_type?: TargetType; target_id?: string; role_id?: string } = {}) {
    let q = this.db.selectFrom('identity_assignments').selectAll();
    if (filter.user_id !== undefined) q = q.where('user_id', '=', filter.user_id);
    if (filter.target_type !== undefined) q = q.where('target_type', '=', filter.target_type);
    if (filter.target_id !== undefined) q = q.where('target_id', '=', filter.target_id);
    if (filter.role_id !== undefined) q = q.where('role_id', '=', filter.role_id);
    return q.execute();
  }
  /** The roles a user holds directly on a project, domain or the system (`direct`), or also through its groups. */
  async rolesOn(userId: string, targetType: TargetType, targetId: string, opts: { direct?: boolean } = {}): Promise<RoleRow[]> {
    const own = await this.db
      .selectFrom('identity_assignments as a')
      .innerJoin('identity_roles as r', 'r.id', 'a.role_id')
      .select(['r.id', 'r.name', 'r.description', 'r.domain_id', 'r.created_at'])
      .where('a.user_id', '=', userId).where('a.target_type', '=', targetType).where('a.target_id', '=', targetId)
      .orderBy('r.name')
      .execute();
    if (opts.direct) return own;
    const viaGroups = await this.db
      .selectFrom('identity_group_assignments as a')
      .innerJoin('identity_group_members as m', 'm.group_id', 'a.group_id')
      .innerJoin('identity_roles as r', 'r.id', 'a.role_id')
      .select(['r.id', 'r.name', 'r.description', 'r.domain_id', 'r.created_at'])
      .where('m.user_id', '=', userId).where('a.target_type', '=', targetType).where('a.target_id', '=', targetId)
      .execute();
    if (!viaGroups.length) return own;
    const byId = new Map([...own, ...viaGroups].map((r) => [r.id, r]));
    return [...byId.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The inherited assignments that reach a project (OS-INHERIT): those on its domain and on each
   * of its ancestors, each as {target_type, target_id}. The walk up is bounded by the tree's depth.
   */
  async inheritedSources(project: ProjectRow, maxDepth: number): Promise<{ target_type: InheritedTarget; target_id: string }[]> {
    const out: { target_type: InheritedTarget; target_id: string }[] = [{ target_type: 'domain:inherited', target_id: project.domain_id }];
    let up = project.parent_id;
    for (let i = 0; up !== null && i < maxDepth; i++) {
      out.push({ target_type: 'project:inherited', target_id: up });
      up = (await this.getProject(up))?.parent_id ?? null;
    }
    return out;
  }

  /** The roles a user holds on a project through inherited assignments (directly or via groups). */
  async inheritedRolesOn(userId: string, project: ProjectRow, maxDepth: number): Promise<RoleRow[]> {
    const byId = new Map<string, RoleRow>();
    for (const src of await this.inheritedSources(project, maxDepth)) {
      for (const r of await this.rolesOn(userId, src.target_type, src.target_id)) byId.set(r.id, r);
    }
    return [...byId.values()];
  }

  /** The roles a group holds on a target. */
  rolesOfGroup(groupId: string, targetType: TargetType, targetId: string): Promise<RoleRow[]> {
    return this.db
      .selectFrom('identity_group_assignments as a')
      .innerJoin('identity_roles as r', 'r.id', 'a.role_id')
      .select(['r.id', 'r.name', 'r.description', 'r.domain_id', 'r.created_at'])
      .where('a.group_id', '=', groupId).where('a.target_type', '=', targetType).where('a.target_id', '=', targetId)
      .orderBy('r.name')
      .execute();
  }

  // --- groups
  async createGroup(input: { name: string; domain_id: string; description?: string; extra?: Record<string, unknown> }): Promise<GroupRow> {
    const row: GroupRow = { id: newId(), name: input.name, domain_id: input.domain_id, description: input.description ?? '', extra: toJson(input.extra ?? {}), created_at: now() };
    await insertUnique('group', input.name, () => this.db.insertInto('identity_groups').values(row).execute());
    return row;
  }
  getGroup(id: string) {
    return this.db.selectFrom('identity_groups').selectAll().where('id', '=', id).executeTakeFirst();
  }
  listGroups(filter: { name?: string; domain_id?: string } = {}) {
    let q = this.db.selectFrom('identity_groups').selectAll().orderBy('name');
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.domain_id !== undefined) q = q.where('domain_id', '=', filter.domain_id);
    return q.execute();
  }
  async updateGroup(id: string, patch: { name?: string; description?: string; extra?: Record<string, unknown> }): Promise<void> {
    const set: Partial<GroupRow> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.extra !== undefined) set.extra = toJson(patch.extra);
    if (Object.keys(set).length === 0) return;
    await insertUnique('group', patch.name ?? id, () => this.db.updateTable('identity_groups').set(set).where('id', '=', id).execute());
  }
  async deleteGroup(id: string): Promise<void> {
    // Members and assignments go with it (ON DELETE CASCADE; SQLite needs foreign_keys on, so
    // they are also deleted explicitly, in one transaction).
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('identity_group_assignments').where('group_id', '=', id).execute();
      await trx.deleteFrom('identity_group_members').where('group_id', '=', id).execute();
      await trx.deleteFrom('identity_groups').where('id', '=', id).execute();
    });
  }
  async addGroupMember(groupId: string, userId: string): Promise<void> {
    await this.db.insertInto('identity_group_members').values({ group_id: groupId, user_id: userId }).onConflict((oc) => oc.doNothing()).execute();
  }
  async isGroupMember(groupId: string, userId: string): Promise<boolean> {
    const row = await this.db.selectFrom('identity_group_members').select('user_id').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
    return row !== undefined;
  }
  async removeGroupMember(groupId: string, userId: string): Promise<boolean> {
    const res = await this.db.deleteFrom('identity_group_members').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
  listGroupMembers(groupId: string) {
    return this.db
      .selectFrom('identity_group_members as m').innerJoin('identity_users as u', 'u.id', 'm.user_id')
      .selectAll('u').where('m.group_id', '=', groupId).orderBy('u.name').execute();
  }
  listUserGroups(userId: string) {
    return this.db
      .selectFrom('identity_group_members as m').innerJoin('identity_groups as g', 'g.id', 'm.group_id')
      .selectAll('g').where('m.user_id', '=', userId).orderBy('g.name').execute();
  }
  async grantGroup(a: GroupAssignmentRow): Promise<void> {
    await this.db.insertInto('identity_group_assignments').values(a).onConflict((oc) => oc.doNothing()).execute();
  }
  async hasGroupGrant(a: GroupAssignmentRow): Promise<boolean> {
    const row = await this.db
      .selectFrom('identity_group_assignments').select('role_id')
      .where('group_id', '=', a.group_id).where('target_type', '=', a.target_type)
      .where('target_id', '=', a.target_id).where('role_id', '=', a.role_id)
      .executeTakeFirst();
    return row !== undefined;
  }
  async revokeGroup(a: GroupAssignmentRow): Promise<boolean> {
    const res = await this.db
      .deleteFrom('identity_group_assignments')
      .where('group_id', '=', a.group_id).where('target_type', '=', a.target_type)
      .where('target_id', '=', a.target_id).where('role_id', '=', a.role_id)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
  listGroupAssignments(filter: { group_ids?: string[]; target_type?: TargetType; target_id?: string; role_id?: string } = {}) {
    let q = this.db.selectFrom('identity_group_assignments').selectAll();
    if (filter.group_ids !== undefined) {
      if (filter.group_ids.length === 0) return Promise.resolve([] as GroupAssignmentRow[]);
      q = q.where('group_id', 'in', filter.group_ids);
    }
    if (filter.target_type !== undefined) q = q.where('target_type', '=', filter.target_type);
    if (filter.target_id !== undefined) q = q.where('target_id', '=', filter.target_id);
    if (filter.role_id !== undefined) q = q.where('role_id', '=', filter.role_id);
    return q.execute();
  }
  /** Group ids → their member user ids (for effective role assignments). */
  async membersOf(groupIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!groupIds.length) return out;
    const rows = await this.db.selectFrom('identity_group_members').selectAll().where('group_id', 'in', groupIds).execute();
    for (const r of rows) out.set(r.group_id, [...(out.get(r.group_id) ?? []), r.user_id]);
    return out;
  }

  // --- tokens
  async insertToken(row: TokenRow): Promise<void> {
    await this.db.insertInto('identity_tokens').values(row).execute();
  }
  getToken(hash: string) {
    return this.db.selectFrom('identity_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  }
  async revokeToken(hash: string): Promise<boolean> {
    const res = await this.db.updateTable('identity_tokens').set({ revoked: 1 }).where('token_hash', '=', hash).where('revoked', '=', 0).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  // --- password failures (lockout)
  /**
   * Counts one password attempt for `subject` before its password is checked, in one atomic
   * statement, so that concurrent attempts cannot all slip under the limit. Returns the count
   * including this attempt: more than `max` means locked. A count whose last failure is at or
   * before `forgetBefore` starts again at 1 (an expired lock, or old failures). While locked,
   * last_failure_at is kept, so hammering a locked account does not extend the lock.
   */
  async countLoginAttempt(subject: string, at: string, forgetBefore: string, max: number): Promise<number> {
    const t = 'identity_login_failures';
    const row = await this.db
      .insertInto(t)
      .values({ subject, failures: 1, last_failure_at: at })
      .onConflict((oc) => oc.column('subject').doUpdateSet({
        failures: sql<number>`CASE WHEN ${sql.ref(`${t}.last_failure_at`)} <= ${forgetBefore} THEN 1 ELSE ${sql.ref(`${t}.failures`)} + 1 END`,
        last_failure_at: sql<string>`CASE WHEN ${sql.ref(`${t}.last_failure_at`)} > ${forgetBefore} AND ${sql.ref(`${t}.failures`)} >= ${max} THEN ${sql.ref(`${t}.last_failure_at`)} ELSE ${at} END`,
      }))
      .returning('failures')
      .executeTakeFirstOrThrow();
    return Number(row.failures);
  }
  /** A successful login, or an admin re-enabling the user or setting their password. */
  async clearLoginFailures(subject: string): Promise<void> {
    await this.db.deleteFrom('identity_login_failures').where('subject', '=', subject).execute();
  }
  /** Drops counts whose last failure is at or before `before`: they would start again anyway. */
  async purgeLoginFailures(before: string): Promise<number> {
    const res = await this.db.deleteFrom('identity_login_failures').where('last_failure_at', '<=', before).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Removes tokens that expired before `before`; they can never validate again. */
  async purgeExpiredTokens(before: string): Promise<number> {
    const res = await this.db.deleteFrom('identity_tokens').where('expires_at', '<', before).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}

export function projectTags(row: ProjectRow): string[] {
  return fromJson<string[]>(row.tags, []);
}
