import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'bootstack-atomic-'));
  dirs.push(d);
  return d;
};

test('writes the whole file with the requested mode and leaves no temporary file', async () => {
  const dir = tempDir();
  const path = join(dir, 'sub', 'clouds.yaml');
  await writeFileAtomic(path, 'old');
  await writeFileAtomic(path, 'secret: yes\n', { mode: 0o600 });
  assert.equal(readFileSync(path, 'utf8'), 'secret: yes\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['clouds.yaml']);
});

test('a failed write leaves the previous content in place', async () => {
  const dir = tempDir();
  const path = join(dir, 'file');
  await writeFileAtomic(path, 'before');
  // A directory where the temporary file's rename target is a non-empty directory makes rename fail.
  await assert.rejects(writeFileAtomic(dir, 'x', { mkdirs: false }));
  assert.equal(readFileSync(path, 'utf8'), 'before');
  assert.deepEqual(readdirSync(dir), ['file']);
});
