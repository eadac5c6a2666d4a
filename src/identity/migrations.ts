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
  {
    name: '0005_system_scope_and_groups',
    async up(db: AnyDB) {
      // A token scoped to the whole deployment (Keystone's system scope: `"system": {"all": true}`)
      // has neither project nor domain; system_scope is 'all' for it, null otherwise. Role
      // assignments on the system are identity_assignments rows with target_type 'system' and
      // target_id 'all' (the table's columns already allow them).
      await db.schema.alterTable('identity_tokens').addColumn('system_scope', 'text').execute();
      // Nested projects: the parent project's id, null for a project at the top of its domain
      // (whose parent Keystone shows as the domain).
      await db.schema.alterTable('identity_projects').addColumn('parent_id', 'text').execute();
      // Groups of users in a domain; roles assigned to a group hold for each of its members.
      await db.schema
        .createTable('identity_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('domain_id', 'text', (c) => c.notNull().references('identity_domains.id'))
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        // Keystone's extra attributes, as identity_users.extra (user-extras.ts).
        .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('identity_groups_domain_name', ['domain_id', 'name'])
        .execute();
      await db.schema
        .createTable('identity_group_members')
        .addColumn('group_id', 'text', (c) => c.notNull().references('identity_groups.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('identity_group_members_pk', ['group_id', 'user_id'])
        .execute();
      await db.schema.createIndex('identity_group_members_user').on('identity_group_members').column('user_id').execute();
      // Keystone's domain-specific roles (domain_id set): they never appear in tokens themselves,
      // only the global roles they imply do. Names stay unique across all roles here.
      await db.schema.alterTable('identity_roles').addColumn('domain_id', 'text').execute();
      // Role inference rules: holding the prior role means holding the implied one too
      // (bootstrap keeps Keystone's defaults: admin → member → reader).
      await db.schema
        .createTable('identity_role_implications')
        .addColumn('prior_role_id', 'text', (c) => c.notNull().references('identity_roles.id').onDelete('cascade'))
        .addColumn('implied_role_id', 'text', (c) => c.notNull().references('identity_roles.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('identity_role_implications_pk', ['prior_role_id', 'implied_role_id'])
        .execute();
      // Role assignments of groups, beside the users' ones (same targets: project, domain, system).
      await db.schema
        .createTable('identity_group_assignments')
        .addColumn('group_id', 'text', (c) => c.notNull().references('identity_groups.id').onDelete('cascade'))
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('role_id', 'text', (c) => c.notNull().references('identity_roles.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('identity_group_assignments_pk', ['group_id', 'target_type', 'target_id', 'role_id'])
        .execute();
    },
  },
  {
    name: '0006_catalog',
    async up(db: AnyDB) {
      // The service catalog, stored as Keystone stores it so that an admin can edit it. extra is
      // a JSON object of the attributes Keystone keeps without knowing them.
      await db.schema
        .createTable('identity_regions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        // Checked by the code, not a foreign key: a pivot copies rows in id order, parents not first.
        .addColumn('parent_region_id', 'text')
        .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('identity_services')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('description', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      // builtin_of: for an endpoint of one of this server's own services, that service's catalog
      // type; its URL is then this server's current public URL plus the service's path (so it
      // stays right when the public URL changes or the records move in a pivot). Null for an
      // endpoint an admin created, or one whose url an admin set.
      await db.schema
        .createTable('identity_endpoints')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('service_id', 'text', (c) => c.notNull().references('identity_services.id'))
        .addColumn('interface', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('region_id', 'text', (c) => c.references('identity_regions.id'))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('builtin_of', 'text')
        .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('identity_endpoints_service').on('identity_endpoints').column('service_id').execute();
      // What the server has stored of its own catalog ("service:<type>", "region:<id>"): each
      // is stored once, so what an admin deletes stays deleted after a restart.
      await db.schema
        .createTable('identity_catalog_seeded')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .execute();
    },
  },
  {
    name: '0007_credentials',
    async up(db: AnyDB) {
      // Keystone credentials. blob_enc is the blob encrypted under <state_dir>/credential-key
      // (credential-store.ts), never the blob itself. An EC2 credential's id is the SHA-256 of
      // its access key, so it is found by access without storing the access in clear.
      await db.schema
        .createTable('identity_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('identity_users.id').onDelete('cascade'))
        .addColumn('project_id', 'text')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('blob_enc', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('identity_credentials_user').on('identity_credentials').column('user_id').execute();
      // Keystone's deprecated policy store: kept as given, enforced by nothing.
      await db.schema
        .createTable('identity_policies')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('blob', 'text', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    name: '0008_endpoint_groups',
    async up(db: AnyDB) {
      // Keystone's OS-EP-FILTER: endpoint groups (filters as JSON) and their projects, and
      // endpoints given to projects one by one (endpoint-groups.ts).
      await db.schema
        .createTable('identity_endpoint_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('filters', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('identity_project_endpoint_groups')
        .addColumn('endpoint_group_id', 'text', (c) => c.notNull().references('identity_endpoint_groups.id').onDelete('cascade'))
        .addColumn('project_id', 'text', (c) => c.notNull().references('identity_projects.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('identity_project_endpoint_groups_pk', ['endpoint_group_id', 'project_id'])
        .execute();
      await db.schema
        .createTable('identity_project_endpoints')
        .addColumn('endpoint_id', 'text', (c) => c.notNull().references('identity_endpoints.id').onDelete('cascade'))
        .addColumn('project_id', 'text', (c) => c.notNull().references('identity_projects.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('identity_project_endpoints_pk', ['endpoint_id', 'project_id'])
        .execute();
    },
  },
];
