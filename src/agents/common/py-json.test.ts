// py-json against Debian's Python itself: json.dumps (compact and indent=1), repr of floats and
// str() of parsed values, for a spread of numbers, strings and structures parsed by both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../common/child-process.js';
import { parse, dumps, dumpsIndent, pyStr, pyEquals, JsonSyntaxError } from './py-json.js';

const PY = `
import json, sys
docs = json.loads(sys.stdin.read())
out = []
for text in docs:
    v = json.loads(text)
    out.append([json.dumps(v), json.dumps(v, indent=1), str(v)])
print(json.dumps(out))
`;

function samples(): string[] {
  const nums = ['0', '-0.0', '1.0', '0.1', '1e21', '1e-7', '123456789012345678901234', '1.5e300', '-2.50', '1e16', '1e15', '0.0001', '0.00001', '3.141592653589793', '2e-5', '1E+2', '-1e-320'];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 150; i++) {
    const x = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20);
    nums.push(String(x));
  }
  const strings = ['"plain"', '"tab\\there"', '"caf\\u00e9 \\u2603 \\ud83d\\ude00"', '"quote \\" backslash \\\\ slash \\/"', '"ctl \\u0001 \\u007f"'];
  const structures = ['{}', '[]', '{"a": [1, {"b": null, "c": true}], "d": {}}', '[[], [[]], {"x": [false]}]', '{"k": "it\'s"}'];
  return [...nums, ...strings, ...structures];
}

test('dumps, indented dumps and str() match Python', async () => {
  const docs = samples();
  const r = await run('/usr/bin/python3', ['-c', PY], { input: JSON.stringify(docs), timeoutMs: 30_000 });
  const expected = JSON.parse(r.stdout) as [string, string, string][];
  const mismatches: string[] = [];
  docs.forEach((text, i) => {
    const v = parse(text);
    const [d, di, s] = expected[i] as [string, string, string];
    if (dumps(v) !== d) mismatches.push(`dumps(${text}): ${dumps(v)} != ${d}`);
    if (dumpsIndent(v, 1) !== di) mismatches.push(`indent(${text}): ${dumpsIndent(v, 1)} != ${di}`);
    if (pyStr(v) !== s) mismatches.push(`str(${text}): ${pyStr(v)} != ${s}`);
  });
  assert.deepEqual(mismatches, []);
});

test('parse errors carry line and column; Python equality', () => {
  assert.throws(() => parse('{\n "a": [1,\n  2,, 3]}', 'f.json'), (e: unknown) => e instanceof JsonSyntaxError && /^f\.json:3:5: /.test(e.message));
  assert.throws(() => parse('{"a": 1} x'), /Extra data/);
  assert.ok(pyEquals(parse('{"a": 1, "b": [true]}'), parse('{"b": [1.0], "a": 1}')));
  assert.ok(!pyEquals(parse('{"a": "1"}'), parse('{"a": 1}')));
});
