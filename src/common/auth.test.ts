import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Policy, type AuthContext } from './auth.js';

const caller = (roles: string[], projectId: string | null = 'p1'): AuthContext => ({
  userId: 'u',
  userName: 'u',
  domainId: 'default',
  projectId,
  projectName: projectId,
  roles,
  tokenExpiresAt: '2999-01-01T00:00:00Z',
});

const policy = new Policy();
policy.add({ 'x:read': { roles: ['reader'] }, 'x:write': { roles: ['member'], ownProjectOnly: true } });

test('a missing rule is admin-only; roles are checked', () => {
  assert.equal(policy.allows('x:unknown', caller(['member', 'reader'])), false);
  assert.equal(policy.allows('x:unknown', caller(['admin'])), true);
  assert.equal(policy.allows('x:read', caller(['reader'])), true);
  assert.equal(policy.allows('x:write', caller(['reader']), { projectId: 'p1' }), false);
});

test('a project-limited rule holds only for the caller project, and fails closed without a target', () => {
  const member = caller(['member', 'reader']);
  assert.equal(policy.allows('x:write', member, { projectId: 'p1' }), true);
  assert.equal(policy.allows('x:write', member, { projectId: 'p2' }), false);
  assert.equal(policy.allows('x:write', member, { projectId: null }), false, 'a record of no project');
  assert.equal(policy.allows('x:write', member), false, 'no target given');
  assert.equal(policy.allows('x:write', caller(['member'], null), { projectId: null }), false, 'an unscoped caller');
  assert.equal(policy.allows('x:write', caller(['admin', 'member', 'reader']), { projectId: 'p2' }), true, 'admins (roles expanded at token time)');
  assert.throws(() => policy.enforce('x:write', member, { projectId: 'p2' }), /Policy does not allow x:write/);
});
