#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test through tsx.
// Arguments narrow the set: `node scripts/run-tests.mjs src/common` runs only the files under that path.
// BOOTSTACK_TEST_CONCURRENCY sets how many test files run at once (default 2: the CI machine has 2 cores).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

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
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
