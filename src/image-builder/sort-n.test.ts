import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sortN } from './sort-n.js';

test('sortN orders hook names exactly as LANG=C sort -n does', () => {
  const names = [
    '99-last', '10-b', '10-a', '1-x', '01-x', 'no-number', 'Zeta', 'alpha', '_under', '-5-neg', '-0',
    '100-big', '20_x', '20-x', '2', '09-nine', '9', '50-block-daemons', '50-block-apt-translations',
    '1.5-frac', '1.10-frac', '00-zero', 'A-1', '3a', '3B',
  ];
  const expected = execFileSync('sort', ['-n'], { input: names.join('\n') + '\n', env: { ...process.env, LANG: 'C', LC_ALL: 'C' } })
    .toString()
    .trim()
    .split('\n');
  assert.deepEqual(sortN(names), expected);
});
