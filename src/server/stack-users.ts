// Orchestration's StackUsers over the identity service's store: real Keystone users in the
// `heat_stack` domain (created on first use), each with a random password and the role
// `heat_stack_user` on its stack's project. That role implies nothing (no inference rule
// names it: src/identity/implied-roles.ts) and no policy table grants it anything but orchestration's stack-user rules, whose
// routes check that the resource is the user's own. Passwords are never logged.
import { randomBytes } from 'node:crypto';
import { ConflictError } from '../common/errors.js';
import type { IdentityService } from '../identity/index.js';
import { generatePassword, hashPassword } from '../identity/passwords.js';
import { STACK_USER_DOMAIN, STACK_USER_ROLE, type StackUser, type StackUserRequest, type StackUsers } from '../orchestration/stack-users.js';

type Identity = Pick<IdentityService, 'store' | 'tokens'>;

export class IdentityStackUsers implements StackUsers {
  private ids: Promise<{ domainId: string; roleId: string }> | undefined;

  constructor(private readonly identity: Identity) {}

  /** The domain and the role, made the first time (another process may be making them too). */
  private domainAndRole(): Promise<{ domainId: string; roleId: string }> {
    this.ids ??= (async () => {
      const { store } = this.identity;
      const once = async <T>(get: () => Promise<T | undefined>, make: () => Promise<T>): Promise<T> => {
        const found = await get();
        if (found) return found;
        try {
          return await make();
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          const again = await get();
          if (!again) throw err;
          return again;
        }
      };
      const domain = await once(
        () => store.getDomainByName(STACK_USER_DOMAIN),
        () => store.createDomain({ name: STACK_USER_DOMAIN, description: 'Users Heat creates for servers and software deployments (stack users)' }),
      );
      const role = await once(
        () => store.getRoleByName(STACK_USER_ROLE),
        () => store.createRole({ name: STACK_USER_ROLE, description: 'A machine of a stack: reads its own metadata, signals its own deployments' }),
      );
      return { domainId: domain.id, roleId: role.id };
    })().catch((err: unknown) => {
      this.ids = undefined;
      throw err;
    });
    return this.ids;
  }

  async create(req: StackUserRequest): Promise<StackUser> {
    const { domainId, roleId } = await this.domainAndRole();
    const password = generatePassword();
    const { store, tokens } = this.identity;
    const user = await store.createUser({
      // Unique in the domain; Keystone user names are at most 255 characters.
      name: `${req.resourceName.slice(0, 200)}-${randomBytes(8).toString('hex')}`,
      domain_id: domainId,
      password_hash: await hashPassword(password),
      default_project_id: req.projectId,
      description: `Stack user of resource ${req.resourceName.slice(0, 200)} in stack ${req.stackId}`,
    });
    await store.grant({ user_id: user.id, target_type: 'project', target_id: req.projectId, role_id: roleId });
    tokens.invalidateAll();
    return { userId: user.id, password };
  }

  async delete(userId: string): Promise<void> {
    const { store, tokens } = this.identity;
    const user = await store.getUser(userId);
    if (!user) return;
    for (const a of await store.listAssignments({ user_id: userId })) await store.revoke(a);
    // Disabling first ends the user's tokens (Keystone revokes them with the user).
    await store.updateUser(userId, { enabled: 0 });
    await store.deleteUser(userId);
    tokens.invalidateAll();
  }
}
