// Nested projects through the HTTP API: parent_id as Keystone shows it, the children filter,
// the depth limit and a parent that cannot be deleted before its children.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from '../../test/support/seed.js';
import { MAX_PROJECT_DEPTH } from './project-tree.js';

let seed: TestSeed;
let admin: string;
before(async () => {
  seed = await startSeed();
  admin = await seed.token();
});
after(() => seed.stop());

const create = (project: Record<string, unknown>) => seed.call('POST', '/identity/v3/projects', { token: admin, body: { project } });

test('a project under a project: parent_id, the children filter, and delete order', async () => {
  const top = await create({ name: 'tree-top' });
  assert.equal(top.status, 201);
  assert.equal(top.body.project.parent_id, 'default', 'at the top, the parent is the domain');
  const child = await create({ name: 'tree-child', parent_id: top.body.project.id });
  assert.equal(child.status, 201);
  assert.equal(child.body.project.parent_id, top.body.project.id);
  assert.equal(child.body.project.domain_id, 'default');
  const children = await seed.call('GET', `/identity/v3/projects?parent_id=${top.body.project.id}`, { token: admin });
  assert.deepEqual(children.body.projects.map((p: { id: string }) => p.id), [child.body.project.id]);
  const atTop = await seed.call('GET', '/identity/v3/projects?parent_id=default', { token: admin });
  assert.ok(atTop.body.projects.every((p: { parent_id: string }) => p.parent_id === 'default'));
  assert.ok(atTop.body.projects.some((p: { id: string }) => p.id === top.body.project.id));
  const refused = await seed.call('DELETE', `/identity/v3/projects/${top.body.project.id}`, { token: admin });
  assert.equal(refused.status, 403);
  assert.match(refused.body.error.message, new RegExp(child.body.project.id));
  assert.equal((await seed.call('DELETE', `/identity/v3/projects/${child.body.project.id}`, { token: admin })).status, 204);
  assert.equal((await seed.call('DELETE', `/identity/v3/projects/${top.body.project.id}`, { token: admin })).status, 204);
});

test('bad parents: unknown, another domain, too deep', async () => {
  const missing = await create({ name: 'orphan', parent_id: 'f'.repeat(32) });
  assert.equal(missing.status, 400);
  assert.match(missing.body.error.message, /parent_id/);
  const other = (await seed.call('POST', '/identity/v3/domains', { token: admin, body: { domain: { name: 'tree-other' } } })).body.domain.id as string;
  const top = (await create({ name: 'tree-deep-1' })).body.project.id as string;
  const cross = await create({ name: 'cross', parent_id: top, domain_id: other });
  assert.equal(cross.status, 400);
  let parent = top;
  for (let depth = 2; depth <= MAX_PROJECT_DEPTH; depth++) {
    const r = await create({ name: `tree-deep-${depth}`, parent_id: parent });
    assert.equal(r.status, 201, `depth ${depth}`);
    parent = r.body.project.id;
  }
  const tooDeep = await create({ name: 'tree-too-deep', parent_id: parent });
  assert.equal(tooDeep.status, 403);
  assert.match(tooDeep.body.error.message, /at most 5 deep/);
});
