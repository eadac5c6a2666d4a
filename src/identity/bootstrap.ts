// First start: the default domain, the admin project and user (admin of the project and of the
// system), the three standard roles, and a
// clouds.yaml so that `openstack --os-cloud bootstack ...` works at once. Later starts only
// rewrite clouds.yaml (the URL may change: port 0 picks a new port each time).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../common/atomic-write.js';
import { SYSTEM_ALL, type IdentityStore } from './store.js';
import { generatePassword, hashPassword } from './passwords.js';
import { REGION } from './catalog.js';
import { DEFAULT_IMPLICATIONS } from './implied-roles.js';

export const DEFAULT_DOMAIN_ID = 'default';
export const STANDARD_ROLES = ['admin', 'member', 'reader'] as const;

export interface BootstrapResult {
  created: boolean;
  cloudsYaml: string;
  passwordFile: string;
}

export function cloudsYaml(authUrl: string, password: string): string {
  return stringify({
    clouds: {
      bootstack: {
        auth: {
          auth_url: authUrl,
          username: 'admin',
          password,
          project_name: 'admin',
          user_domain_name: 'Default',
          project_domain_name: 'Default',
        },
        region_name: REGION,
        interface: 'public',
        identity_api_version: 3,
      },
    },
  });
}

export async function bootstrap(store: IdentityStore, stateDir: string, publicUrl: string, log: Logger): Promise<BootstrapResult> {
  const passwordFile = join(stateDir, 'admin-password');
  const cloudsFile = join(stateDir, 'clouds.yaml');
  let created = false;
  let domain = await store.getDomain(DEFAULT_DOMAIN_ID);
  domain ??= await store.createDomain({ id: DEFAULT_DOMAIN_ID, name: 'Default', description: 'The default domain' });
  for (const name of STANDARD_ROLES) {
    if (!(await store.getRoleByName(name))) await store.createRole({ name });
  }
  // Keystone's default inference rules, as keystone-manage bootstrap makes them: when there are
  // no rules at all (a new seed, or one made before rules were data), so that an operator who
  // removes one does not get it back at the next start.
  const haveRules = (await store.listImplications()).length > 0;
  for (const [prior, implied] of haveRules ? [] : DEFAULT_IMPLICATIONS) {
    const p = await store.getRoleByName(prior);
    const i = await store.getRoleByName(implied);
    if (p && i) await store.addImplication({ prior_role_id: p.id, implied_role_id: i.id });
  }
  let project = await store.getProjectByName('admin', domain.id);
  project ??= await store.createProject({ name: 'admin', domain_id: domain.id, description: 'Bootstrap project for the cloud administrator' });
  let password: string | undefined;
  let admin = await store.getUserByName('admin', domain.id);
  if (!admin) {
    // The password file before the user: if we die in between, a restart finds no admin but
    // the file, and creates the admin with the password already written there.
    const kept = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : '';
    if (kept) {
      password = kept;
    } else {
      password = generatePassword();
      await writeFileAtomic(passwordFile, password + '\n', { mode: 0o600 });
    }
    // ignore_lockout_failure_attempts: the password is 24 random bytes (192 bits), which no
    // guessing gets near; a lockout would protect nothing and let anyone who reaches the API lock
    // the operator out with six wrong passwords. See docs/identity.md before changing it.
    admin = await store.createUser({
      name: 'admin', domain_id: domain.id, password_hash: await hashPassword(password), default_project_id: project.id,
      options: { ignore_lockout_failure_attempts: true },
    });
    created = true;
    log.info({ user: 'admin', project: 'admin', passwordFile }, 'created the admin user and project');
  } else if (existsSync(passwordFile)) {
    password = readFileSync(passwordFile, 'utf8').trim();
  }
  const adminRole = await store.getRoleByName('admin');
  if (adminRole) {
    await store.grant({ user_id: admin.id, target_type: 'project', target_id: project.id, role_id: adminRole.id });
    // As keystone-manage bootstrap: the admin is also the system's admin, so that a
    // system-scoped token (what Ironic's and Keystone's system rules expect) can be had.
    await store.grant({ user_id: admin.id, target_type: 'system', target_id: SYSTEM_ALL, role_id: adminRole.id });
  }
  if (password !== undefined) {
    await writeFileAtomic(cloudsFile, cloudsYaml(`${publicUrl}/identity`, password), { mode: 0o600 });
  } else {
    log.warn({ passwordFile }, 'the admin password file is missing; clouds.yaml was not rewritten');
  }
  return { created, cloudsYaml: cloudsFile, passwordFile };
}
