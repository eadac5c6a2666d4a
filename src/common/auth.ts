// Who is calling, and what they may do. Identity issues tokens; every service receives the
// caller as an AuthContext and asks the policy table whether an operation is allowed.
// Policy is data: operation name → roles that may call it, and whether non-admins are limited
// to their own project's records.
import { ForbiddenError } from './errors.js';

export interface AuthContext {
  userId: string;
  userName: string;
  domainId: string;
  /** Null for a domain-scoped or unscoped token. */
  projectId: string | null;
  projectName: string | null;
  /** Role names on the scoped project, domain or system (implied roles included). */
  roles: string[];
  /**
   * A system-scoped token (Keystone's `"system": {"all": true}`): its roles hold on the whole
   * deployment, as Ironic's and Keystone's SYSTEM_ADMIN/MEMBER/READER rules mean.
   */
  system?: boolean;
  tokenExpiresAt: string;
}

export interface PolicyRule {
  /** Any of these roles may call the operation. */
  roles: readonly string[];
  /** Non-admins may act only on records of their own project (the target's projectId). */
  ownProjectOnly?: boolean;
}

export type PolicyTable = Record<string, PolicyRule>;

export function isAdmin(auth: AuthContext): boolean {
  return auth.roles.includes('admin');
}

export class Policy {
  private readonly rules = new Map<string, PolicyRule>();

  /** Adds a service's table; an operation defined twice is a programming error. */
  add(table: PolicyTable): void {
    for (const [op, rule] of Object.entries(table)) {
      if (this.rules.has(op)) throw new Error(`policy rule "${op}" defined twice`);
      this.rules.set(op, rule);
    }
  }

  allows(operation: string, auth: AuthContext, target: { projectId?: string | null } = {}): boolean {
    const rule = this.rules.get(operation);
    // An operation missing from the table is admin-only: forgetting a rule must not open it.
    if (!rule) return isAdmin(auth);
    // A system-scoped token is the cloud's admin when it has the admin role. Its reader and member
    // roles (Ironic's SYSTEM_READER/SYSTEM_MEMBER) are not rules of their own here yet: such a
    // token has no project, so the project rules below would let it act for no project. Refused.
    if (auth.system && !isAdmin(auth)) return false;
    if (!rule.roles.some((r) => auth.roles.includes(r))) return false;
    // A project-limited rule checked without its target fails closed: forgetting to pass the
    // record's project must not open it to every project.
    if (rule.ownProjectOnly && !isAdmin(auth)) return target.projectId !== undefined && target.projectId !== null && target.projectId === auth.projectId;
    return true;
  }

  /** Throws a 403 naming the operation when the caller may not do it. */
  enforce(operation: string, auth: AuthContext, target: { projectId?: string | null } = {}): void {
    if (!this.allows(operation, auth, target)) {
      throw new ForbiddenError(`Policy does not allow ${operation} to be performed.`, {
        fields: { operation, roles: auth.roles },
      });
    }
  }

  table(): PolicyTable {
    return Object.fromEntries(this.rules);
  }
}
