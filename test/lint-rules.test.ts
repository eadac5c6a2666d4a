// The architecture's import rules are enforced by lint: a service may not import another
// service, src/common imports no service, and value-import cycles are refused with the cycle named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { run } from '../src/common/child-process.js';

const eslint = new ESLint();

async function messages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'bootstack/boundaries').map((m) => m.message);
}

test('a service importing another service is refused, naming both', async () => {
  const m = await messages('src/orchestration/x.ts', "import { Conductor } from '../baremetal/conductor.js';\nexport const c = Conductor;\n");
  assert.equal(m.length, 1);
  assert.match(m[0]!, /src\/orchestration may import only itself and src\/common, not src\/baremetal/);
});

test('src/common importing a service is refused', async () => {
  const m = await messages('src/common/x.ts', "export { createIdentityService } from '../identity/index.js';\n");
  assert.match(m[0] ?? '', /src\/common is below every service/);
});

test('a service may import itself and common; server may import services', async () => {
  assert.deepEqual(await messages('src/baremetal/api/x.ts', "import { findNode } from '../node-store.js';\nimport { now } from '../../common/db.js';\nexport const f = [findNode, now];\n"), []);
  assert.deepEqual(await messages('src/server/x.ts', "import { Instances } from '../baremetal/instances.js';\nexport const i = Instances;\n"), []);
});

test('src/ code importing test/ or bench/ is refused; a test file beside the code may', async () => {
  const m = await messages('src/server/x.ts', "import { testEngine } from '../../test/support/orchestration/test-support.js';\nexport const t = testEngine;\n");
  assert.equal(m.length, 1);
  assert.match(m[0]!, /src\/ code may not import test\//);
  const b = await messages('src/baremetal/x.ts', "import { freePort } from '../../bench/support/http.js';\nexport const p = freePort;\n");
  assert.match(b[0] ?? '', /may not import bench\//);
  assert.deepEqual(await messages('src/baremetal/x.test.ts', "import { FixtureBmc } from '../../test/support/baremetal/redfish-fixture-bmc.js';\nexport const f = FixtureBmc;\n"), []);
});

test('an import cycle is refused with the cycle named; type-only imports do not count', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-cycles-'));
  mkdirSync(join(dir, 'a'));
  writeFileSync(join(dir, 'a', 'one.ts'), "import { two } from './two.js';\nexport const one = () => two;\n");
  writeFileSync(join(dir, 'a', 'two.ts'), "import type { Three } from './three.js';\nexport const two = 2 as unknown as Three;\n");
  writeFileSync(join(dir, 'a', 'three.ts'), "import { one } from './one.js';\nexport type Three = typeof one;\n");
  const clean = await run(process.execPath, ['--import', 'tsx', 'scripts/check-import-cycles.ts', dir]);
  assert.match(clean.stdout, /no import cycles among 3 modules/);
  writeFileSync(join(dir, 'a', 'two.ts'), "import { one } from './one.js';\nexport const two = one;\n");
  const cyclic = await run(process.execPath, ['--import', 'tsx', 'scripts/check-import-cycles.ts', dir], { allowFailure: true });
  assert.equal(cyclic.code, 1);
  assert.match(cyclic.stderr, /import cycle: .*a\/one\.ts -> .*a\/two\.ts -> .*a\/one\.ts/);
  rmSync(dir, { recursive: true, force: true });
});
