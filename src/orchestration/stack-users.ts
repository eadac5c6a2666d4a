// Stack users: Keystone users Heat creates for machines (POLL_SERVER_HEAT servers, HEAT_SIGNAL
// deployments), so that a machine can read its own server's metadata and signal its own
// deployments with a token, and do nothing else. Orchestration declares what it needs;
// src/server/stack-users.ts implements it over the identity service (a user in the `heat_stack`
// domain with the role `heat_stack_user` on the stack's project, and that role only).
export const STACK_USER_DOMAIN = 'heat_stack';
export const STACK_USER_ROLE = 'heat_stack_user';

export interface StackUserRequest {
  /** The stack's project: the user gets heat_stack_user on it. */
  projectId: string;
  stackId: string;
  /** The resource the user is for (server or deployment), for the user's name and description. */
  resourceName: string;
}

export interface StackUser {
  userId: string;
  /** Random; kept in the resource's data only, never logged. */
  password: string;
}

export interface StackUsers {
  create(req: StackUserRequest): Promise<StackUser>;
  /** Deletes the user and ends its tokens; an unknown id is not an error. */
  delete(userId: string): Promise<void>;
}

/** For engines without an identity service (unit tests): users that exist only in memory. */
export class FakeStackUsers implements StackUsers {
  readonly users = new Map<string, StackUserRequest & { password: string }>();
  private n = 0;

  async create(req: StackUserRequest): Promise<StackUser> {
    const userId = `stack-user-${++this.n}`;
    const password = `pw-${this.n}-${Math.random().toString(36).slice(2)}`;
    this.users.set(userId, { ...req, password });
    return { userId, password };
  }

  async delete(userId: string): Promise<void> {
    this.users.delete(userId);
  }
}

/** Used when nothing was passed in: every request for a stack user fails with the reason. */
export const NO_STACK_USERS: StackUsers = {
  create: () => Promise.reject(new Error('stack users need the identity service (POLL_SERVER_HEAT and HEAT_SIGNAL are not available)')),
  delete: async () => undefined,
};
