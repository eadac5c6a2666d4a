#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test through tsx, after bringing the
// production build (dist/server, scripts/build-server.mjs) up to date.
// Arguments narrow the set: `node scripts/run-tests.mjs src/common` runs only the files under that path.
// BOOTSTACK_TEST_CONCURRENCY sets how many test files run at once (default 2: the CI machine has 2 cores);
// the files in SOLO run afterwards, one at a time, with nothing beside them.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2);
const all = [...walk('src', []), ...walk('test', [])].sort();
const files = roots.length ? all.filter((f) => roots.some((r) => f.startsWith(r))) : all;
if (files.length === 0) {
  console.error(`no test files match ${roots.join(' ')}`);
  process.exit(1);
}
const concurrency = process.env.BOOTSTACK_TEST_CONCURRENCY ?? '2';

// The tests that run bin/bootstack.js run the production build (dist/server) when it is up to
// date: bring it up to date first (a no-op when nothing changed, a few seconds otherwise).
// BOOTSTACK_TEST_NO_BUILD=1 skips this; bin/bootstack.js then runs the sources if the build is stale.
if (process.env.BOOTSTACK_TEST_NO_BUILD !== '1') {
  const built = spawnSync(process.execPath, ['scripts/build-server.mjs'], { stdio: 'inherit' });
  if (built.status !== 0) {
    console.error('run-tests: scripts/build-server.mjs failed');
    process.exit(1);
  }
}
// Files whose assertions are about latency (the event-loop watchdog) run alone after the rest:
// beside another test file (a QEMU guest under TCG takes a whole core) they would measure the
// neighbour, not the server.
// test/metadata-network.test.ts takes 169.254.169.254:80 on this host, which the lab test of the
// configuration loop (test/config-loop-lab.test.ts) also needs for its seed: one at a time.
// test/devtest-lab.test.ts runs five lab machines under TCG for half an hour: alone, and last —
// run right after it (its lab just torn down), the watchdog once saw a 260 ms stall against its
// 200 ms limit.
// They run in this order, each in its own `node --test`.
// test/conformance-ratchet.test.ts runs Tempest with 2 workers against its own seed for a few
// minutes: beside other files its tests' timeouts would measure them.
const SOLO_ORDER = ['test/security-watchdog.test.ts', 'test/metadata-network.test.ts', 'test/conformance-ratchet.test.ts', 'test/devtest-lab.test.ts'];
const SOLO = new Set(SOLO_ORDER);

function runNodeTest(list, parallel) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${parallel}`, ...list], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const shared = files.filter((f) => !SOLO.has(f));
const alone = SOLO_ORDER.filter((f) => files.includes(f));
let code = shared.length ? await runNodeTest(shared, concurrency) : 0;
for (const f of alone) code = (await runNodeTest([f], '1')) || code;
process.exit(code);
