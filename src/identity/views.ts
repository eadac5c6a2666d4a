// JSON shapes of Keystone v3 resources, as python-keystoneclient and openstacksdk read them.
import type { DomainRow, GroupRow, ProjectRow, RoleRow, UserRow } from './store.js';
import { projectTags } from './store.js';
import type { TokenInfo } from './tokens.js';
import { tokenMethods } from './tokens.js';
import type { CatalogService } from './catalog.js';
import { GROUP_EXTRAS, storedExtras } from './user-extras.js';

/** Keystone prints times with microseconds. */
export function keystoneTime(iso: string): string {
  return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function domainView(base: string, d: DomainRow) {
  return { id: d.id, name: d.name, description: d.description, enabled: d.enabled === 1, tags: [], options: {}, links: { self: `${base}/v3/domains/${d.id}` } };
}

export function projectView(base: string, p: ProjectRow) {
  return {
    id: p.id, name: p.name, domain_id: p.domain_id, description: p.description, enabled: p.enabled === 1,
    is_domain: false, parent_id: p.parent_id ?? p.domain_id, tags: projectTags(p), options: {},
    links: { self: `${base}/v3/projects/${p.id}` },
  };
}

/** Keystone shows the options that are set (true or false) and leaves out the unset ones. */
export function userOptionsView(u: UserRow): Record<string, boolean> {
  const v = u.ignore_lockout_failure_attempts;
  return v === null || v === undefined ? {} : { ignore_lockout_failure_attempts: Number(v) === 1 };
}

/** Keystone's user: its extra attributes first, the user's own attributes over them. */
export function userView(base: string, u: UserRow) {
  return {
    ...storedExtras(u.extra),
    id: u.id, name: u.name, domain_id: u.domain_id, enabled: u.enabled === 1,
    ...(u.default_project_id ? { default_project_id: u.default_project_id } : {}),
    ...(u.email ? { email: u.email } : {}),
    ...(u.description ? { description: u.description } : {}),
    password_expires_at: null, options: userOptionsView(u),
    links: { self: `${base}/v3/users/${u.id}` },
  };
}

export function roleView(base: string, r: RoleRow) {
  return { id: r.id, name: r.name, domain_id: r.domain_id ?? null, description: r.description || null, options: {}, links: { self: `${base}/v3/roles/${r.id}` } };
}

/** A role as a role inference rule shows it. */
export function roleRefView(base: string, r: RoleRow) {
  return { id: r.id, name: r.name, links: { self: `${base}/v3/roles/${r.id}` } };
}

export function tokenView(info: TokenInfo, catalog: CatalogService[] | null) {
  const token: Record<string, unknown> = {
    methods: tokenMethods(info.row),
    user: {
      domain: { id: info.userDomain.id, name: info.userDomain.name },
      id: info.user.id,
      name: info.user.name,
      password_expires_at: null,
    },
    audit_ids: [info.row.audit_id],
    expires_at: keystoneTime(info.row.expires_at),
    issued_at: keystoneTime(info.row.issued_at),
  };
  if (info.project) {
    token.project = {
      domain: { id: info.projectDomain?.id ?? info.project.domain_id, name: info.projectDomain?.name ?? '' },
      id: info.project.id,
      name: info.project.name,
    };
    token.is_domain = false;
  } else if (info.domain) {
    token.domain = { id: info.domain.id, name: info.domain.name };
  } else if (info.system) {
    token.system = { all: true };
  }
  if (info.project || info.domain || info.system) {
    token.roles = info.roles.map((r) => ({ id: r.id, name: r.name }));
    if (catalog) token.catalog = catalog;
  }
  return { token };
}

/** Keystone's group: its extra attributes first, the group's own attributes over them. */
export function groupView(base: string, g: GroupRow) {
  return {
    ...storedExtras(g.extra, GROUP_EXTRAS),
    id: g.id, name: g.name, domain_id: g.domain_id, description: g.description, links: { self: `${base}/v3/groups/${g.id}` },
  };
}
