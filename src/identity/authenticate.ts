// POST /v3/auth/tokens: who is asking (password or an existing token) and for what scope
// (a project, a domain, or none). Every failure to authenticate is the same 401 after the same
// work (one count, one scrypt), so a caller can tell an unknown user from a wrong password
// neither by the answer nor by its time. Wrong passwords in a row lock the account (Keystone's
// security_compliance lockout), counted in the database so a restart does not reset them.
import { createHash } from 'node:crypto';
import { UnauthorizedError, BadRequestError } from '../common/errors.js';
import type { IdentityStore, DomainRow, ProjectRow, UserRow } from './store.js';
import { tokenMethods, type TokenService, type TokenInfo, type TokenScope } from './tokens.js';
import { passwordSlots, verifyPassword } from './passwords.js';

export interface DomainRef { id?: string; name?: string }
export interface AuthRequest {
  identity: {
    methods: string[];
    password?: { user: { id?: string; name?: string; domain?: DomainRef; password: string } };
    token?: { id: string };
  };
  scope?: 'unscoped' | { project?: { id?: string; name?: string; domain?: DomainRef }; domain?: DomainRef; system?: { all?: boolean } };
}

// Keystone's limits: ids 64, user names 255, project and domain names 64. Longer ones can never
// match; refusing them up front keeps megabyte strings out of queries and error messages.
const id = { type: 'string', maxLength: 64 } as const;
const shortName = { type: 'string', maxLength: 64 } as const;

const domainRefSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { id, name: shortName },
};

export const authRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['auth'],
  properties: {
    auth: {
      type: 'object',
      additionalProperties: false,
      required: ['identity'],
      properties: {
        identity: {
          type: 'object',
          additionalProperties: false,
          required: ['methods'],
          properties: {
            methods: { type: 'array', minItems: 1, items: { type: 'string' } },
            password: {
              type: 'object',
              additionalProperties: false,
              required: ['user'],
              properties: {
                user: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['password'],
                  properties: { id, name: { type: 'string', maxLength: 255 }, domain: domainRefSchema, password: { type: 'string', maxLength: 4096 } },
                },
              },
            },
            token: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', maxLength: 1024 } } },
          },
        },
        scope: {
          anyOf: [
            { type: 'string', enum: ['unscoped'] },
            {
              type: 'object',
              additionalProperties: false,
              properties: {
                project: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { id, name: shortName, domain: domainRefSchema },
                },
                domain: domainRefSchema,
                system: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
              },
            },
          ],
        },
      },
    },
  },
} as const;

const failed = () => new UnauthorizedError('The request you have made requires authentication.');

type PasswordUser = { id?: string; name?: string; domain?: DomainRef; password: string };

/** Where failures of a name or id that matches no user are counted (hashed: it is user input). */
function unknownSubject(...parts: unknown[]): string {
  return `unknown:${createHash('sha256').update(JSON.stringify(parts)).digest('hex')}`;
}

async function findDomain(store: IdentityStore, ref: DomainRef | undefined): Promise<DomainRow | undefined> {
  if (!ref) return undefined;
  if (ref.id !== undefined) return store.getDomain(ref.id);
  if (ref.name !== undefined) return store.getDomainByName(ref.name);
  return undefined;
}

/** Keystone's user option ignore_lockout_failure_attempts: wrong passwords never lock this user. */
function ignoresLockout(user: UserRow | undefined): boolean {
  return Number(user?.ignore_lockout_failure_attempts) === 1;
}

export interface LockoutPolicy {
  /** Wrong passwords in a row that lock the account; 0: never locked. */
  attempts: number;
  durationMs: number;
}

export class Authenticator {
  // Failure counts older than the lockout duration are dropped now and then, so names tried by
  // a guesser do not pile up in the table.
  private nextPurge = 0;

  constructor(
    private readonly store: IdentityStore,
    private readonly tokens: TokenService,
    private readonly lockout: LockoutPolicy = { attempts: 0, durationMs: 0 },
  ) {}

  async authenticate(req: AuthRequest): Promise<{ token: string; info: TokenInfo }> {
    let methods = req.identity.methods;
    let user: UserRow | undefined;
    let notAfter: string | undefined;
    if (methods.length !== 1 || (methods[0] !== 'password' && methods[0] !== 'token')) {
      throw new UnauthorizedError(`Unsupported authentication method: ${methods.join(', ')}. Use password or token.`);
    }
    if (methods[0] === 'password') {
      const p = req.identity.password;
      if (!p) throw new BadRequestError('auth.identity.password is required for the password method.', { fields: { path: 'body.auth.identity.password' } });
      user = await this.checkPassword(p.user);
    } else {
      const t = req.identity.token;
      if (!t) throw new BadRequestError('auth.identity.token is required for the token method.', { fields: { path: 'body.auth.identity.token' } });
      const from = await this.tokens.validate(t.id);
      user = from.user;
      notAfter = from.row.expires_at;
      // As Keystone: a token made from a token keeps how the user first proved who they are.
      methods = [...new Set([...tokenMethods(from.row), ...methods])];
    }
    const scope = await this.resolveScope(user, req.scope);
    return this.tokens.issue({ user, methods, scope, notAfter });
  }

  /**
   * Checks a user's own password outside a login (POST /v3/users/{id}/password): the same
   * counting, lockout and one answer for every failure as a password login.
   */
  async checkUserPassword(userId: string, password: string): Promise<UserRow> {
    return this.checkPassword({ id: userId, password });
  }

  /**
   * The user whose password this is. Unknown user, user without a password, disabled user and
   * wrong password are one answer after the same work. The attempt is counted before the
   * password is checked, so a burst of concurrent guesses cannot all get in under the limit.
   */
  private async checkPassword(ref: PasswordUser): Promise<UserRow> {
    const { user, subject } = await this.findUser(ref);
    return passwordSlots.run(async () => {
      const { attempts, durationMs } = this.lockout;
      if (attempts > 0) {
        const nowMs = Date.now();
        const forgetBefore = new Date(nowMs - durationMs).toISOString();
        if (nowMs >= this.nextPurge) {
          this.nextPurge = nowMs + durationMs;
          await this.store.purgeLoginFailures(forgetBefore);
        }
        // Counted for every subject, users with ignore_lockout_failure_attempts too, so that their
        // logins do the same work as anybody else's; for them the count is just not acted on.
        const count = await this.store.countLoginAttempt(subject, new Date(nowMs).toISOString(), forgetBefore, attempts);
        // Keystone's wording; it names the user as the caller did (Keystone shows the id, which
        // for a name would tell a guesser that the user exists and what its id is).
        if (count > attempts && !ignoresLockout(user)) throw new UnauthorizedError(`The account is locked for user: ${ref.id ?? ref.name}.`);
      }
      const ok = await verifyPassword(ref.password, user?.password_hash);
      if (!user || !ok || !user.enabled) throw failed();
      if (attempts > 0) await this.store.clearLoginFailures(subject);
      return user;
    });
  }

  /** The user a password login names (if any) and the key its attempts are counted under. */
  private async findUser(ref: Omit<PasswordUser, 'password'>): Promise<{ user?: UserRow; subject: string }> {
    if (ref.id !== undefined) {
      const user = await this.store.getUser(ref.id);
      return { user, subject: user?.id ?? unknownSubject('id', ref.id) };
    }
    if (ref.name === undefined) throw new BadRequestError('auth.identity.password.user needs an id or a name.', { fields: { path: 'body.auth.identity.password.user' } });
    if (!ref.domain) throw new BadRequestError('auth.identity.password.user.domain is required with a user name.', { fields: { path: 'body.auth.identity.password.user.domain' } });
    const domain = await findDomain(this.store, ref.domain);
    const user = domain ? await this.store.getUserByName(ref.name, domain.id) : undefined;
    // Keyed by the domain's id when it exists, so that naming the domain by id or by name
    // counts alike for unknown users as it does for real ones.
    return { user, subject: user?.id ?? unknownSubject('name', domain?.id ?? ref.domain, ref.name) };
  }

  private async resolveScope(user: UserRow, scope: AuthRequest['scope']): Promise<TokenScope> {
    if (scope === 'unscoped') return {};
    if (scope && [scope.project, scope.domain, scope.system].filter((x) => x !== undefined).length > 1) {
      throw new BadRequestError('Scope to one of a project, a domain or the system.', { fields: { path: 'body.auth.scope' } });
    }
    if (scope?.system !== undefined) {
      // The only system Keystone knows is the whole deployment: {"all": true}.
      if (scope.system.all !== true) throw new BadRequestError('auth.scope.system must be {"all": true}.', { fields: { path: 'body.auth.scope.system.all' } });
      return { system: true };
    }
    if (!scope || (!scope.project && !scope.domain)) {
      // Like Keystone: no scope asked for means the user's default project, if they may use it.
      if (user.default_project_id) {
        const project = await this.store.getProject(user.default_project_id);
        if (project?.enabled && (await this.store.rolesOn(user.id, 'project', project.id)).length) return { project };
      }
      return {};
    }
    if (scope.project) {
      let project: ProjectRow | undefined;
      if (scope.project.id !== undefined) project = await this.store.getProject(scope.project.id);
      else if (scope.project.name !== undefined) {
        if (!scope.project.domain) throw new BadRequestError('auth.scope.project.domain is required with a project name.', { fields: { path: 'body.auth.scope.project.domain' } });
        const domain = await findDomain(this.store, scope.project.domain);
        project = domain ? await this.store.getProjectByName(scope.project.name, domain.id) : undefined;
      } else throw new BadRequestError('auth.scope.project needs an id or a name.', { fields: { path: 'body.auth.scope.project' } });
      if (!project) throw new UnauthorizedError('The project to scope to could not be found.');
      return { project };
    }
    const domain = await findDomain(this.store, scope.domain);
    if (!domain) throw new UnauthorizedError('The domain to scope to could not be found.');
    return { domain };
  }
}
