// POST /v3/auth/tokens: who is asking (password or an existing token) and for what scope
// (a project, a domain, or none). Every failure to authenticate is the same 401, so a caller
// cannot tell an unknown user from a wrong password.
import { UnauthorizedError, BadRequestError } from '../common/errors.js';
import type { IdentityStore, DomainRow, ProjectRow, UserRow } from './store.js';
import type { TokenService, TokenInfo } from './tokens.js';
import { verifyPassword } from './passwords.js';

export interface DomainRef { id?: string; name?: string }
export interface AuthRequest {
  identity: {
    methods: string[];
    password?: { user: { id?: string; name?: string; domain?: DomainRef; password: string } };
    token?: { id: string };
  };
  scope?: 'unscoped' | { project?: { id?: string; name?: string; domain?: DomainRef }; domain?: DomainRef };
}

const domainRefSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { id: { type: 'string' }, name: { type: 'string' } },
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
                  properties: { id: { type: 'string' }, name: { type: 'string' }, domain: domainRefSchema, password: { type: 'string', maxLength: 4096 } },
                },
              },
            },
            token: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string' } } },
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
                  properties: { id: { type: 'string' }, name: { type: 'string' }, domain: domainRefSchema },
                },
                domain: domainRefSchema,
              },
            },
          ],
        },
      },
    },
  },
} as const;

const failed = () => new UnauthorizedError('The request you have made requires authentication.');

async function findDomain(store: IdentityStore, ref: DomainRef | undefined): Promise<DomainRow | undefined> {
  if (!ref) return undefined;
  if (ref.id !== undefined) return store.getDomain(ref.id);
  if (ref.name !== undefined) return store.getDomainByName(ref.name);
  return undefined;
}

export class Authenticator {
  constructor(
    private readonly store: IdentityStore,
    private readonly tokens: TokenService,
  ) {}

  async authenticate(req: AuthRequest): Promise<{ token: string; info: TokenInfo }> {
    const methods = req.identity.methods;
    let user: UserRow | undefined;
    let notAfter: string | undefined;
    if (methods.length !== 1 || (methods[0] !== 'password' && methods[0] !== 'token')) {
      throw new UnauthorizedError(`Unsupported authentication method: ${methods.join(', ')}. Use password or token.`);
    }
    if (methods[0] === 'password') {
      const p = req.identity.password;
      if (!p) throw new BadRequestError('auth.identity.password is required for the password method.', { fields: { path: 'body.auth.identity.password' } });
      user = await this.findUser(p.user);
      if (!user || !user.enabled || !(await verifyPassword(p.user.password, user.password_hash))) throw failed();
    } else {
      const t = req.identity.token;
      if (!t) throw new BadRequestError('auth.identity.token is required for the token method.', { fields: { path: 'body.auth.identity.token' } });
      const from = await this.tokens.validate(t.id);
      user = from.user;
      notAfter = from.row.expires_at;
    }
    const scope = await this.resolveScope(user, req.scope);
    return this.tokens.issue({ user, methods, scope, notAfter });
  }

  private async findUser(ref: { id?: string; name?: string; domain?: DomainRef }): Promise<UserRow | undefined> {
    if (ref.id !== undefined) return this.store.getUser(ref.id);
    if (ref.name === undefined) throw new BadRequestError('auth.identity.password.user needs an id or a name.', { fields: { path: 'body.auth.identity.password.user' } });
    if (!ref.domain) throw new BadRequestError('auth.identity.password.user.domain is required with a user name.', { fields: { path: 'body.auth.identity.password.user.domain' } });
    const domain = await findDomain(this.store, ref.domain);
    if (!domain) return undefined;
    return this.store.getUserByName(ref.name, domain.id);
  }

  private async resolveScope(user: UserRow, scope: AuthRequest['scope']): Promise<{ project?: ProjectRow; domain?: DomainRow }> {
    if (scope === 'unscoped') return {};
    if (!scope || (!scope.project && !scope.domain)) {
      // Like Keystone: no scope asked for means the user's default project, if they may use it.
      if (user.default_project_id) {
        const project = await this.store.getProject(user.default_project_id);
        if (project?.enabled && (await this.store.rolesOn(user.id, 'project', project.id)).length) return { project };
      }
      return {};
    }
    if (scope.project && scope.domain) throw new BadRequestError('Scope to either a project or a domain, not both.', { fields: { path: 'body.auth.scope' } });
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
