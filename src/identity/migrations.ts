// Identity's tables. Ids are text (UUID hex as Keystone shows them), booleans 0/1, times ISO text.
import type { AnyDB, ServiceMigration } from '../common/db.js';

export const identityMigrations: ServiceMigration[] = [
  {
    name: '0001_identity',
    async up(db: AnyDB) {
      await db.schema
        .createTable('identity_domains')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('identity_projects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('domain_id', 'text', (c) => c.notNull().references('identity_domains.id'))
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('identity_projects_domain_name', ['domain_id', 'name'])
        .execute();
      await db.schema
        .createTable('identity_users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('domain_id', 'text', (c) => c.notNull().references('identity_domains.id'))
        .addColumn('password_hash', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('default_project_id', 'text')
        .addColumn('email', 'text')
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('identity_users_domain_name', ['domain_id', 'name'])
        .execute();
      await db.schema
        .createTable('identity_roles')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      // target_type is 'project' or 'domain'; target_id is that project's or domain's id.
      await db.schema
        .createTable('identity_assignments')
        .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id').onDelete('cascade'))
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('role_id', 'text', (c) => c.notNull().references('identity_roles.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('identity_assignments_pk', ['user_id', 'target_type', 'target_id', 'role_id'])
        .execute();
      // Only the sha256 of a token is stored: a copy of the database does not hand out tokens.
      await db.schema
        .createTable('identity_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id').onDelete('cascade'))
        .addColumn('project_id', 'text')
        .addColumn('domain_id', 'text')
        .addColumn('methods', 'text', (c) => c.notNull())
        .addColumn('audit_id', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('identity_tokens_expires').on('identity_tokens').column('expires_at').execute();
    },
  },
  {
    name: '0002_login_failures',
    async up(db: AnyDB) {
      // Wrong passwords in a row per login subject: a user id, or "unknown:<sha256>" for a name
      // or id that matches no user (counted too, so a lockout does not tell who exists). Not a
      // column of identity_users for that reason. last_failure_at is ISO text.
      await db.schema
        .createTable('identity_login_failures')
        .addColumn('subject', 'text', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('last_failure_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    name: '0003_user_ignore_lockout',
    async up(db: AnyDB) {
      // Keystone's user option ignore_lockout_failure_attempts: null when unset, else 0/1.
      await db.schema.alterTable('identity_users').addColumn('ignore_lockout_failure_attempts', 'integer').execute();
      // The bootstrap admin of a seed made before lockout existed gets the option that bootstrap
      // now gives a new one (its password is 24 random bytes: lockout adds no protection, only a
      // way for anyone to lock the operator out). Once: an operator who removes it keeps it off.
      // On a new database there is no admin yet; bootstrap sets it when it creates the user.
      await db
        .updateTable('identity_users')
        .set({ ignore_lockout_failure_attempts: 1 })
        .where('name', '=', 'admin')
        .where('domain_id', '=', 'default')
        .execute();
    },
  },
  {
    name: '0004_user_extra',
    async up(db: AnyDB) {
      // Keystone's "extra" user attributes (any attribute it does not know): a JSON object,
      // text on SQLite and PostgreSQL alike, as identity_projects.tags is.
      await db.schema.alterTable('identity_users').addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}')).execute();
    },
  },
];
