// Generated templates (fixed seed): sections and inverted sections nested three deep over every
// kind of value, dotted and missing names, the implicit iterator, triple mustaches, comments,
// delimiter changes, partials, and every mix of spaces, tabs, LF and CRLF around tags; each must
// render exactly as Debian's os-apply-config renders it (same bytes, same exit code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../common/child-process.js';
import { mapLimit } from '../../../test/support/agents/oracle.js';
import { main } from './cli.js';

const KEYS = ['a', 'b', 'l', 'm', 'e', 'z', 's', 'n', 'a.b', 'm.x', 'm.y.z', '.', 'nope', 'l.0', ' s '];
const METADATA = JSON.stringify({ a: { b: 'ab' }, b: [1, 2.5, null], l: ['x', { a: 'in' }, []], m: { x: 0, y: { z: 'deep' } }, e: {}, z: '', s: 'str', n: 0 });

function generator(seed: number) {
  let state = seed;
  const rnd = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)] as T;
  const ws = () => pick(['', ' ', '  ', '\t', '\n', '\r\n', ' \n', '\n  ']);
  const tpl = (depth: number): string => {
    let out = '';
    const n = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.3) out += pick(['text', 'x=', '<&>', '"q"', 'é', '{', '}', '{{!c}}', '{ {', '}}']) + ws();
      else if (r < 0.55) {
        const k = pick(KEYS);
        out += ws() + pick([`{{${k}}}`, `{{{${k}}}}`, `{{&${k}}}`, `{{ ${k} }}`]) + ws();
      } else if (r < 0.85 && depth < 3) {
        const k = pick(KEYS.filter((x) => x.trim() === x));
        out += `${ws()}{{${pick(['#', '^'])}${k}}}${pick(['', '\n', '\r\n'])}${tpl(depth + 1)}${pick(['', '\n', '  '])}{{/${k}}}${ws()}`;
      } else out += pick(['{{=<% %>=}}<%a%><%={{ }}=%>', '\n', '  \n', '{{>p}}', '  {{! standalone }}\n']);
    }
    return out;
  };
  return () => tpl(0);
}

test('generated templates render as the original renders them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'oac-fuzz-'));
  const next = generator(20261121);
  const cases = Array.from({ length: 150 }, (_, i) => ({ i, text: next() }));
  try {
    writeFileSync(join(root, 'm.json'), METADATA);
    // A partial for {{>p}}: pystache reads p.mustache from the working directory, indenting it.
    writeFileSync(join(root, 'p.mustache'), 'partial {{s}}\n{{#l}}[{{.}}]{{/l}}\n\nend');
    for (const c of cases) {
      mkdirSync(join(root, `t${c.i}`));
      writeFileSync(join(root, `t${c.i}`, 'f'), c.text);
    }
    const args = (i: number, side: string) => ['-t', join(root, `t${i}`), '-o', join(root, `${side}${i}`), '-m', join(root, 'm.json')];
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const py = await mapLimit(cases, 4, (c) => run('/usr/bin/os-apply-config', args(c.i, 'py'), { allowFailure: true, env, cwd: root }));
    const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : null);
    const mismatches: string[] = [];
    let rendered = 0;
    for (const c of cases) {
      const code = await main(args(c.i, 'ts'), { env, cwd: root, stdout: () => undefined, stderr: () => undefined });
      const theirs = read(join(root, `py${c.i}`, 'f'));
      const ours = read(join(root, `ts${c.i}`, 'f'));
      if (code === 0) rendered++;
      if (code !== py[c.i]?.code || ours !== theirs) mismatches.push(JSON.stringify({ template: c.text, python: theirs, ours, code, pyCode: py[c.i]?.code }));
    }
    assert.deepEqual(mismatches, []);
    assert.ok(rendered > 120, `${rendered} of ${cases.length} rendered`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
