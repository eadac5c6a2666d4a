import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCatalog } from './catalog.js';
import type { ApiService } from '../common/service.js';

const self = { type: 'identity', name: 'keystone', prefix: '/identity' };
const heat = {
  name: 'orchestration', prefix: '/orchestration', faultStyle: 'heat', migrations: [], routes() {},
  catalog: { type: 'orchestration', name: 'heat', prefix: '/orchestration', projectPath: (p: string) => `/orchestration/v1/${p}` },
} satisfies ApiService;

test('endpoints are the public URL plus the prefix, three interfaces, stable ids', () => {
  const a = buildCatalog('http://seed:6385', [heat], self);
  const b = buildCatalog('http://seed:6385', [heat], self);
  assert.deepEqual(a, b);
  assert.deepEqual(a.map((s) => s.type), ['identity', 'orchestration']);
  assert.deepEqual(a[0]!.endpoints.map((e) => e.interface), ['public', 'internal', 'admin']);
  assert.equal(a[0]!.endpoints[0]!.url, 'http://seed:6385/identity');
  assert.equal(a[1]!.endpoints[0]!.url, 'http://seed:6385/orchestration');
});

test("a project-scoped catalog fills the project into endpoints that carry it (Heat's)", () => {
  const c = buildCatalog('http://seed:6385', [heat], self, 'p123');
  assert.equal(c[1]!.endpoints[0]!.url, 'http://seed:6385/orchestration/v1/p123');
  assert.equal(c[0]!.endpoints[0]!.url, 'http://seed:6385/identity');
});
