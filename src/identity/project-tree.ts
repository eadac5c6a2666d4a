// Nested projects (Keystone's project hierarchy): a project's parent is another project of the
// same domain, or the domain itself at the top. The tree is at most MAX_PROJECT_DEPTH deep
// (Keystone's max_project_tree_depth default), checked when a project is made: walking up a
// parent chain is the only work that grows with the tree, and it stops there. A parent with
// children cannot be deleted (Keystone's answer without cascade: 403).
import { BadRequestError, ForbiddenError, NotFoundError } from '../common/errors.js';
import type { IdentityStore } from './store.js';
import { DEFAULT_DOMAIN_ID } from './bootstrap.js';

export const MAX_PROJECT_DEPTH = 5;

/**
 * Where a new project goes, from the body's domain_id and parent_id: a parent that is a domain
 * means the top of that domain; a parent project sets the domain (a different domain_id is 400).
 */
export async function placeProject(store: IdentityStore, domainId: string | null, parentId: string | null): Promise<{ domainId: string; parentId: string | null }> {
  if (parentId !== null && (await store.getDomain(parentId))) {
    if (domainId !== null && domainId !== parentId) throw new BadRequestError(`parent_id ${parentId} is a domain other than domain_id ${domainId}.`, { fields: { path: 'body.project.parent_id' } });
    return { domainId: parentId, parentId: null };
  }
  if (parentId === null) {
    const domain = domainId ?? DEFAULT_DOMAIN_ID;
    if (!(await store.getDomain(domain))) throw new NotFoundError('Domain', domain);
    return { domainId: domain, parentId: null };
  }
  const parent = await store.getProject(parentId);
  if (!parent) throw new BadRequestError(`parent_id: project ${parentId} could not be found.`, { fields: { path: 'body.project.parent_id' } });
  if (domainId !== null && domainId !== parent.domain_id) {
    throw new BadRequestError(`parent_id: project ${parentId} is in domain ${parent.domain_id}, not ${domainId}.`, { fields: { path: 'body.project.parent_id' } });
  }
  // The parent's depth (1 at the top); bounded, so a corrupted loop cannot spin.
  let depth = 1;
  for (let up = parent.parent_id; up !== null && depth <= MAX_PROJECT_DEPTH; depth++) up = (await store.getProject(up))?.parent_id ?? null;
  if (depth + 1 > MAX_PROJECT_DEPTH) {
    throw new ForbiddenError(`A project tree is at most ${MAX_PROJECT_DEPTH} deep: project ${parentId} is at depth ${depth}.`, { fields: { path: 'body.project.parent_id' } });
  }
  return { domainId: parent.domain_id, parentId: parent.id };
}

export async function refuseWithChildren(store: IdentityStore, projectId: string): Promise<void> {
  const children = await store.listProjects({ parent_id: projectId });
  if (children.length) {
    throw new ForbiddenError(`Project ${projectId} has ${children.length} child project(s) (${children.slice(0, 3).map((c) => c.id).join(', ')}): delete them first.`);
  }
}
