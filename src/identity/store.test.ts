// The identity repository on both engines: SQLite (the seed) and a real PostgreSQL (HA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, migrate } from '../common/db.js';
import { startPostgres } from '../../test/support/postgres.js';
import { IdentityStore, SYSTEM_ALL } from './store.js';
import { TokenService } from './tokens.js';
import { identityMigrations } from './migrations.js';
import { hashPassword, verifyPassword } from './passwords.js';

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`identity store on ${engine}`, async (t) => {
    const pg = engine === 'postgres' ? await startPostgres() : undefined;
    const database = openDatabase(pg?.url ?? 'sqlite::memory:');
    try {
      await migrate(database.db, { identity: identityMigrations });
      const store = new IdentityStore(database.db);
      const domain = await store.createDomain({ id: 'default', name: 'Default' });

      await t.test('names are unique per domain: a duplicate is a 409', async () => {
        await store.createProject({ name: 'p1', domain_id: domain.id, tags: ['a'] });
        await assert.rejects(store.createProject({ name: 'p1', domain_id: domain.id }), { status: 409 });
        await store.createUser({ name: 'u1', domain_id: domain.id, password_hash: null });
        await assert.rejects(store.createUser({ name: 'u1', domain_id: domain.id, password_hash: null }), { status: 409 });
        await store.createRole({ name: 'member' });
        await assert.rejects(store.createRole({ name: 'member' }), { status: 409 });
        const other = await store.createDomain({ name: 'Other' });
        await store.createProject({ name: 'p1', domain_id: other.id });
        assert.equal((await store.listProjects({ name: 'p1' })).length, 2);
        assert.equal((await store.listProjects({ name: 'p1', domain_id: domain.id })).length, 1);
      });

      await t.test('grants are idempotent, listed, and revoked', async () => {
        const p = (await store.getProjectByName('p1', domain.id))!;
        const u = (await store.getUserByName('u1', domain.id))!;
        const r = (await store.getRoleByName('member'))!;
        const g = { user_id: u.id, target_type: 'project' as const, target_id: p.id, role_id: r.id };
        await store.grant(g);
        await store.grant(g);
        assert.equal((await store.listAssignments({ user_id: u.id })).length, 1);
        assert.deepEqual((await store.rolesOn(u.id, 'project', p.id)).map((x) => x.name), ['member']);
        assert.equal(await store.revoke(g), true);
        assert.equal(await store.revoke(g), false);
        assert.equal(await store.hasGrant(g), false);
      });

      await t.test('tokens: issue, validate, revoke, expire, purge', async () => {
        const p = (await store.getProjectByName('p1', domain.id))!;
        const u = (await store.getUserByName('u1', domain.id))!;
        const r = (await store.getRoleByName('member'))!;
        await store.grant({ user_id: u.id, target_type: 'project', target_id: p.id, role_id: r.id });
        const tokens = new TokenService(store, 3600_000, 60_000);
        const { token } = await tokens.issue({ user: u, methods: ['password'], scope: { project: p } });
        const info = await tokens.validate(token);
        assert.equal(info.auth.projectId, p.id);
        assert.deepEqual(info.auth.roles, ['member']);
        await tokens.revoke(token);
        await assert.rejects(tokens.validate(token), { status: 401 });
        const short = new TokenService(store, 1, 60_000);
        const { token: t2 } = await short.issue({ user: u, methods: ['password'], scope: { project: p } });
        await new Promise((r) => setTimeout(r, 5));
        await assert.rejects(short.validate(t2), /expired/);
        assert.ok((await store.purgeExpiredTokens(new Date().toISOString())) >= 1);
        // Scoping needs a role on the target.
        const bare = await store.createProject({ name: 'no-roles', domain_id: domain.id });
        await assert.rejects(tokens.issue({ user: u, methods: ['password'], scope: { project: bare } }), { status: 401 });
      });

      await t.test('groups: roles held through a group, system grants, and what deleting removes', async () => {
        const p = await store.createProject({ name: 'grp-p', domain_id: domain.id });
        const u = await store.createUser({ name: 'grp-u', domain_id: domain.id, password_hash: null });
        const reader = (await store.getRoleByName('reader')) ?? (await store.createRole({ name: 'reader' }));
        const g = await store.createGroup({ name: 'ops', domain_id: domain.id });
        await assert.rejects(store.createGroup({ name: 'ops', domain_id: domain.id }), { status: 409 });
        await store.grantGroup({ group_id: g.id, target_type: 'project', target_id: p.id, role_id: reader.id });
        await store.grantGroup({ group_id: g.id, target_type: 'project', target_id: p.id, role_id: reader.id });
        await store.grantGroup({ group_id: g.id, target_type: 'system', target_id: SYSTEM_ALL, role_id: reader.id });
        assert.deepEqual(await store.rolesOn(u.id, 'project', p.id), [], 'not a member yet');
        await store.addGroupMember(g.id, u.id);
        await store.addGroupMember(g.id, u.id);
        assert.deepEqual((await store.rolesOn(u.id, 'project', p.id)).map((r) => r.name), ['reader']);
        assert.deepEqual((await store.rolesOn(u.id, 'project', p.id, { direct: true })), []);
        assert.deepEqual((await store.rolesOn(u.id, 'system', SYSTEM_ALL)).map((r) => r.name), ['reader']);
        assert.deepEqual([...(await store.membersOf([g.id])).get(g.id)!], [u.id]);
        const tokens = new TokenService(store, 3600_000, 0);
        const { info } = await tokens.issue({ user: u, methods: ['password'], scope: { system: true } });
        assert.equal(info.auth.system, true);
        assert.equal(info.auth.projectId, null);
        assert.deepEqual(info.auth.roles, ['reader']);
        await store.deleteProject(p.id);
        assert.deepEqual(await store.listGroupAssignments({ target_id: p.id }), []);
        await store.deleteGroup(g.id);
        assert.deepEqual(await store.rolesOn(u.id, 'system', SYSTEM_ALL), []);
        assert.deepEqual(await store.listUserGroups(u.id), []);
      });

      await t.test('disabling a user or deleting a project ends their tokens', async () => {
        const p = (await store.getProjectByName('p1', domain.id))!;
        const u = (await store.getUserByName('u1', domain.id))!;
        const tokens = new TokenService(store, 3600_000, 0);
        const { token } = await tokens.issue({ user: u, methods: ['password'], scope: { project: p } });
        await store.updateUser(u.id, { enabled: 0 });
        await assert.rejects(tokens.validate(token), { status: 401 });
        await store.updateUser(u.id, { enabled: 1 });
        await assert.rejects(tokens.validate(token), /revoked/);
        await store.deleteProject(p.id);
        assert.equal(await store.getProject(p.id), undefined);
        assert.deepEqual(await store.listAssignments({ target_id: p.id }), []);
      });
    } finally {
      await database.close();
      pg?.stop();
    }
  });
}

test('passwords: scrypt hashes verify, differ per salt, and reject the wrong password', async () => {
  const a = await hashPassword('s3cret');
  const b = await hashPassword('s3cret');
  assert.notEqual(a, b);
  assert.match(a, /^scrypt\$16384\$8\$1\$/);
  assert.equal(await verifyPassword('s3cret', a), true);
  assert.equal(await verifyPassword('s3cret!', a), false);
  assert.equal(await verifyPassword('s3cret', null), false);
  assert.equal(await verifyPassword('s3cret', 'plain'), false);
});
