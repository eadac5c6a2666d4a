// The conformance job's helpers (scripts/conformance/): summarize.py's counts and per-test file
// from a subunit v2 stream, causes.py's grouping, and conformance.sh's refusal of bad arguments
// before it installs or starts anything. Tempest itself is not run here (minutes, and Debian's
// packages): `npm run conformance` is the real run. Skipped where Debian's python3-subunit (a
// dependency of the tempest package) is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const py = '/usr/bin/python3';
const hasSubunit = spawnSync(py, ['-c', 'import subunit, testtools'], { stdio: 'ignore' }).status === 0;

/** A subunit v2 stream as stestr writes it: one (id, status, reason) per test. */
function stream(tests: [string, string, string?][]): Buffer {
  const script = `
import sys, json, subunit
from testtools.content import text_content
out = subunit.StreamResultToBytes(sys.stdout.buffer)
for tid, status, reason in json.loads(sys.argv[1]):
    out.status(test_id=tid, test_status='inprogress')
    if reason is not None:
        key = 'traceback' if status == 'fail' else 'reason'
        out.status(test_id=tid, file_name=key, file_bytes=reason.encode(), mime_type='text/plain; charset=utf8', eof=True)
    out.status(test_id=tid, test_status=status)
`;
  const r = spawnSync(py, ['-c', script, JSON.stringify(tests.map(([a, b, c]) => [a, b, c ?? null]))]);
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

test('summarize.py counts a suite and writes one line per test with the failure reason', { skip: !hasSubunit && 'python3-subunit not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'conformance-test-'));
  try {
    const input = stream([
      ['a.test_ok[id-1]', 'success'],
      ['a.test_bad[id-2]', 'fail', 'Traceback...\ntempest.lib.exceptions.NotFound: Object not found\nDetails: {"code": 404}'],
      ['setUpClass (a.Broken)', 'fail', 'Traceback...\nBadRequest: x\nDetails: {"code": 400}'],
      ['a.test_skip[id-3]', 'skip', 'Trusts aren\'t enabled'],
    ]);
    const results = join(dir, 'r.jsonl');
    const r = spawnSync(py, [join(repo, 'scripts/conformance/summarize.py'), 'identity', '12.34', results], { input });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.deepEqual(JSON.parse(r.stdout.toString()), { suite: 'identity', passed: 1, failed: 2, skipped: 1, other: 0, not_run: 0, class_errors: 0, seconds: 12.3 });
    const lines = readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; status: string; reason: string | null });
    assert.equal(lines.length, 4);
    const bad = lines.find((l) => l.id === 'a.test_bad[id-2]')!;
    assert.equal(bad.status, 'fail');
    assert.match(bad.reason!, /Details: \{"code": 404\}/);
    assert.equal(lines.find((l) => l.id === 'a.test_ok[id-1]')!.reason, null);

    // With the suite's test list, the tests of a class whose setUpClass failed count one by one,
    // with the class's reason; a listed test with no result at all is not_run.
    const list = join(dir, 'list');
    writeFileSync(list, ['a.test_ok[id-1]', 'a.test_bad[id-2]', 'a.Broken.test_one[id-4]', 'a.Broken.test_two[id-5,smoke]', 'a.Slow.test_hang[id-6]', 'a.test_skip[id-3]'].join('\n') + '\n');
    const expanded = join(dir, 'e.jsonl');
    const e = spawnSync(py, [join(repo, 'scripts/conformance/summarize.py'), 'identity', '1', expanded, list], { input });
    assert.equal(e.status, 0, e.stderr.toString());
    assert.deepEqual(JSON.parse(e.stdout.toString()), { suite: 'identity', passed: 1, failed: 3, skipped: 1, other: 0, not_run: 1, class_errors: 0, seconds: 1 });
    const two = readFileSync(expanded, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; status: string; reason: string | null; via?: string }).find((l) => l.id === 'a.Broken.test_two[id-5,smoke]')!;
    assert.deepEqual([two.status, two.via], ['fail', 'setUpClass (a.Broken)']);
    assert.match(two.reason!, /"code": 400/);

    // causes.py: the two 404s on different ids are one group; the 400 another; the skip by reason.
    const more = stream([
      ['b.test_x', 'fail', 'NotFound: Object not found\nDetails: {\'message\': \'No route for GET /v3/groups/0123456789abcdef0123456789abcdef\'}'],
      ['b.test_y', 'fail', 'NotFound: Object not found\nDetails: {\'message\': \'No route for GET /v3/groups/fedcba9876543210fedcba9876543210\'}'],
    ]);
    const results2 = join(dir, 'r2.jsonl');
    assert.equal(spawnSync(py, [join(repo, 'scripts/conformance/summarize.py'), 'identity', '1', results2], { input: more }).status, 0);
    const all = join(dir, 'all.jsonl');
    spawnSync('sh', ['-c', `cat "${results}" "${results2}" > "${all}"`]);
    const c = spawnSync(py, [join(repo, 'scripts/conformance/causes.py'), all], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /== failures: 4 in 3 groups/);
    assert.match(c.stdout, /\n {3}2 \[identity\] NotFound Details: .*No route for GET \/v3\/groups\/ID/);
    assert.match(c.stdout, /== skips: 1 in 1 groups/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conformance.sh refuses an unknown suite or a concurrency above 2 before doing anything', () => {
  const sh = join(repo, 'scripts/conformance.sh');
  const unknown = spawnSync('bash', [sh, '--suite', 'compute'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown suite 'compute'/);
  const wide = spawnSync('bash', [sh, '--concurrency', '4'], { encoding: 'utf8' });
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /--concurrency must be 1 or 2, not '4'/);
  const help = spawnSync('bash', [sh, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const s of ['identity', 'image', 'ironic', 'heat-api', 'heat-functional', 'keystone-plugin']) assert.match(help.stdout, new RegExp(`\\b${s}\\b`));
});
