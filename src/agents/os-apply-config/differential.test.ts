// Differential tests: every case runs through Debian's os-apply-config (/usr/bin/os-apply-config)
// and through ours, in separate output directories; the files written (paths, bytes, modes,
// owners), stdout and the exit code must be the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { run } from '../../common/child-process.js';
import { snapshotTree, readable, mapLimit } from '../../../test/support/agents/oracle.js';
import { main } from './cli.js';

const ORACLE = '/usr/bin/os-apply-config';

interface Case {
  name: string;
  templates?: Record<string, string>;
  /** Templates written executable (0755). */
  exec?: Record<string, string>;
  oac?: Record<string, string>;
  metadata?: string[];
  /** Replaces the default `-t $T -o $O -m $M...`; $T, $O, $D and $M0.. are substituted. */
  args?: string[];
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Files in the output directory before the run: path → [content, mode]. */
  pre?: Record<string, [string, number]>;
  /** Extra files under the case directory (e.g. an os_config_files.json). */
  files?: Record<string, string>;
}

const LIST_META = JSON.stringify({ l: ['a', 'b'], d: { x: 1, y: { z: 'deep' } }, s: 'str', n: 0, e: [], m: {}, f: false, t: true });

const CASES: Case[] = [
  { name: 'plain variable', templates: { 'etc/a.conf': 'name={{name}}\n' }, metadata: ['{"name": "bob"}'] },
  { name: 'dotted names', templates: { 'etc/a': '{{d.y.z}} {{d.x}}\n' }, metadata: [LIST_META] },
  { name: 'missing key renders empty', templates: { 'a': '[{{nope}}] [{{d.nope}}] [{{nope.x}}]\n' }, metadata: [LIST_META] },
  { name: 'section over list of strings', templates: { 'a': '{{#l}}<{{.}}>{{/l}}\n' }, metadata: [LIST_META] },
  {
    name: 'section over list of maps',
    templates: { 'a': '{{#servers}}\nserver {{host}}:{{port}}\n{{/servers}}\n' },
    metadata: ['{"servers": [{"host": "a", "port": 1}, {"host": "b", "port": 2}]}'],
  },
  { name: 'section over a map pushes it', templates: { 'a': '{{#d}}x={{x}} z={{y.z}} s={{s}}{{/d}}\n' }, metadata: [LIST_META] },
  {
    name: 'nested sections reach outer scope',
    templates: { 'a': '{{#outer}}{{#inner}}{{name}}-{{top}}-{{v}};{{/inner}}{{/outer}}\n' },
    metadata: ['{"top": "T", "outer": [{"name": "o1", "inner": [{"v": 1}, {"v": 2, "name": "shadow"}]}]}'],
  },
  { name: 'inverted on missing, empty list and empty map', templates: { 'a': '{{^nope}}1{{/nope}}{{^e}}2{{/e}}{{^m}}3{{/m}}{{^l}}4{{/l}}\n' }, metadata: [LIST_META] },
  { name: 'falsy 0, false and empty string sections', templates: { 'a': '{{#n}}0{{/n}}{{#f}}f{{/f}}{{#t}}t{{/t}}{{#z}}z{{/z}}{{^n}}not0{{/n}}\n' }, metadata: ['{"n": 0, "f": false, "t": true, "z": ""}'] },
  {
    name: 'scalars are written as JSON',
    templates: { 'a': 'i={{i}} f={{f}} g={{g}} b={{b}} n={{n}} big={{big}} e={{e}} small={{small}} neg={{neg}}\n' },
    metadata: ['{"i": 42, "f": 1.0, "g": 0.1, "b": true, "n": null, "big": 123456789012345678901234, "e": 1e100, "small": 1e-7, "neg": -2.50}'],
  },
  {
    name: 'lists and maps as JSON with ASCII escapes',
    templates: { 'a': '{{l}}\n{{d}}\n{{u}}\n' },
    metadata: ['{"l": [1, "two", null, [3.5]], "d": {"k": "v\\"q", "\\u00e9": {"t": true}}, "u": ["caf\\u00e9", "\\ud83d\\ude00", "tab\\t"]}'],
  },
  { name: 'no HTML escaping', templates: { 'a': '{{s}} {{{s}}} {{&s}}\n' }, metadata: ['{"s": "<a href=\\"x\\">&amp;\'</a>"}'] },
  { name: 'comments and standalone comment lines', templates: { 'a': 'a{{! inline }}b\n  {{! standalone }}\nc\n' }, metadata: ['{}'] },
  { name: 'set delimiters', templates: { 'a': '{{=<% %>=}}\n<% x %> {{x}}\n<%={{ }}=%>\n{{x}}\n' }, metadata: ['{"x": "X"}'] },
  {
    name: 'standalone section lines with indentation',
    templates: { 'a': 'begin\n  {{#l}}\n  - {{.}}\n  {{/l}}\n\t{{^l}}\nnone\n\t{{/l}}\nend' },
    metadata: [LIST_META],
  },
  { name: 'CRLF template', templates: { 'a': 'x={{x}}\r\n{{#l}}\r\n{{.}}\r\n{{/l}}\r\nend\r\n' }, metadata: ['{"x": 1, "l": ["p"]}'] },
  { name: 'tags not alone on their line', templates: { 'a': 'a  {{#l}}x{{/l}}  b\n  {{x}}\n {{#l}} {{.}} {{/l}} \n' }, metadata: ['{"x": "v", "l": [1, 2]}'] },
  { name: 'whitespace inside tags', templates: { 'a': '{{ x }} {{# l }}{{ . }}{{/ l }} {{{ x }}} {{& x }}\n' }, metadata: ['{"x": "v", "l": [1]}'] },
  { name: 'unicode content', templates: { 'a': 'héllo {{name}} ✓\n' }, metadata: ['{"name": "wörld \\u2603"}'] },
  { name: 'section over a string', templates: { 'a': '{{#s}}[{{.}}]{{/s}}{{#n}}[{{.}}]{{/n}}\n' }, metadata: ['{"s": "abc", "n": 7}'] },
  { name: 'dotted name into a list index is missing', templates: { 'a': '[{{l.0}}]\n' }, metadata: [LIST_META] },
  { name: 'section end mismatch fails', templates: { 'good': 'ok\n', 'bad': '{{#a}}x{{/b}}\n' }, metadata: ['{"a": 1}'] },
  { name: 'unclosed section keeps only its body', templates: { 'a': 'before {{#x}}inside {{y}}\n' }, metadata: ['{"x": true, "y": "Y"}'] },
  { name: 'partial that does not exist', templates: { 'a': 'a{{>nothing}}b\n' }, metadata: ['{}'] },
  {
    name: 'several metadata files deep-merge in order',
    templates: { 'a': '{{a.b}} {{a.c}} {{a.d}} {{x}} {{y}}\n' },
    metadata: ['{"a": {"b": 1, "c": 2}, "x": "first"}', '{"a": {"c": 3, "d": {"e": 4}}, "y": "second"}', '{"x": "third"}'],
  },
  {
    name: 'merge: scalar replaces map, map replaces scalar',
    templates: { 'a': '{{a}} {{b.c}}\n' },
    metadata: ['{"a": {"x": 1}, "b": 5}', '{"a": "flat", "b": {"c": "map"}}'],
  },
  { name: 'repeated -m keeps the last list', templates: { 'a': '{{x}}\n' }, metadata: ['{"x": 1}', '{"x": 2}'], args: ['-t', '$T', '-o', '$O', '-m', '$M0', '-m', '$M1'] },
  { name: 'missing metadata file is skipped', templates: { 'a': '{{x}}\n' }, metadata: ['{"x": 1}'], extraArgs: ['$D/does-not-exist.json'] },
  { name: 'malformed metadata fails', templates: { 'a': '{{x}}\n' }, metadata: ['{"x": 1}', '{"x": 2,,}'] },
  { name: 'non-object metadata is ignored', templates: { 'a': '{{x}}\n' }, metadata: ['{"x": 1}', '[1, 2]', '"str"', '{}'] },
  { name: 'subhash', templates: { 'a': '{{z}} {{x}}\n' }, metadata: [LIST_META], extraArgs: ['-s', 'd.y'] },
  { name: 'subhash that is not a map fails', templates: { 'a': '{{z}}\n' }, metadata: [LIST_META], extraArgs: ['--subhash', 'd.x'] },
  { name: 'oac mode 0600', templates: { 'etc/secret': 'pw={{pw}}\n' }, oac: { 'etc/secret': 'mode: 0600\n' }, metadata: ['{"pw": "s3"}'] },
  {
    name: 'oac mode, owner and group by name',
    templates: { 'bin/tool': '#!/bin/sh\necho {{x}}\n' },
    oac: { 'bin/tool': 'mode: 0755\nowner: nobody\ngroup: daemon\n' },
    metadata: ['{"x": 1}'],
  },
  { name: 'oac owner and group by number', templates: { 'a': 'x\n' }, oac: { 'a': 'owner: 1\ngroup: 65534\n' }, metadata: ['{}'] },
  {
    name: 'oac allow_empty false: no file, existing deleted',
    templates: { 'gone': '{{#nothing}}x{{/nothing}}', 'never': '', 'kept': '' },
    oac: { 'gone': 'allow_empty: false\n', 'never': 'allow_empty: false\n' },
    pre: { 'gone': ['old\n', 0o644] },
    metadata: ['{}'],
  },
  { name: 'oac unknown key fails', templates: { 'a': 'x\n' }, oac: { 'a': 'colour: blue\n' }, metadata: ['{}'] },
  { name: 'oac mode out of range fails', templates: { 'a': 'x\n' }, oac: { 'a': 'mode: 01777\n' }, metadata: ['{}'] },
  { name: 'oac unknown owner fails', templates: { 'a': 'x\n' }, oac: { 'a': 'owner: no-such-user-here\n' }, metadata: ['{}'] },
  { name: 'oac allow_empty must be boolean', templates: { 'a': 'x\n' }, oac: { 'a': 'allow_empty: maybe\n' }, metadata: ['{}'] },
  {
    name: 'executable template gets the metadata on stdin',
    exec: { 'etc/gen': '#!/bin/sh\nread -r line\necho "got: $line"\n' },
    metadata: ['{"a": [1, 2.5, "\\u00e9"], "b": {"c": null}}'],
  },
  { name: 'failing executable template fails', exec: { 'etc/gen': '#!/bin/sh\necho oops >&2\nexit 3\n' }, metadata: ['{}'] },
  { name: 'existing file keeps its mode', templates: { 'etc/a': 'new {{x}}\n' }, pre: { 'etc/a': ['old\n', 0o640] }, metadata: ['{"x": 1}'] },
  { name: '--validate writes nothing', templates: { 'a': '{{x}}\n' }, metadata: ['{"x": 1}'], extraArgs: ['--validate'] },
  { name: '--validate still fails on a bad template', templates: { 'a': '{{/x}}\n' }, metadata: ['{"x": 1}'], extraArgs: ['-v'] },
  { name: 'OS_CONFIG_FILES environment', templates: { 'a': '{{x}} {{y}}\n' }, metadata: ['{"x": 1}', '{"y": 2}'], args: ['-t', '$T', '-o', '$O'], env: { OS_CONFIG_FILES: '$M0:$M1' } },
  {
    name: '--os-config-files list',
    templates: { 'a': '{{x}} {{y}}\n' },
    metadata: ['{"x": 1}', '{"y": 2, "x": 3}'],
    files: { 'ocf.json': '["$M0", "$M1"]' },
    args: ['-t', '$T', '-o', '$O', '--os-config-files', '$D/ocf.json'],
  },
  { name: '--fallback-metadata is read first', templates: { 'a': '{{x}} {{y}}\n' }, metadata: ['{"x": "main"}', '{"x": "fb", "y": "fb"}'], args: ['-t', '$T', '-o', '$O', '-m', '$M0', '--fallback-metadata', '$M1'] },
  { name: 'nested directories', templates: { 'etc/a/b/c.conf': '{{x}}\n', 'var/lib/d': 'd\n', 'top': 't\n' }, metadata: ['{"x": 1}'] },
  { name: 'abbreviated long options', templates: { 'a': '{{x}}\n' }, metadata: ['{"x": 1}'], args: ['--temp', '$T', '--out=$O', '--meta', '$M0'] },
  { name: 'unknown option exits 2', templates: { 'a': '{{x}}\n' }, metadata: ['{"x": 1}'], extraArgs: ['--frobnicate'] },
  { name: '--print-templates', args: ['--print-templates', '-t', '$T'] },
  { name: '--key int', metadata: ['{"a": {"b": "42"}}'], args: ['-m', '$M0', '--key', 'a.b', '--type', 'int'] },
  { name: '--key int rejects text', metadata: ['{"a": {"b": "4x"}}'], args: ['-m', '$M0', '--key', 'a.b', '--type', 'int'] },
  { name: '--key default type rejects dots', metadata: ['{"h": "a.b"}'], args: ['-m', '$M0', '--key', 'h'] },
  { name: '--key netaddress and netdevice', metadata: ['{"ip": "10.0.0.1/24", "dev": "eth0.100"}'], args: ['-m', '$M0', '--key', 'ip', '--type', 'netaddress'] },
  { name: '--key netdevice', metadata: ['{"dev": "br-ex:1"}'], args: ['-m', '$M0', '--key', 'dev', '--type', 'netdevice'] },
  { name: '--key dsn', metadata: ['{"db": "mysql://user:pw@host/nova?charset=utf8"}'], args: ['-m', '$M0', '--key', 'db', '--type', 'dsn'] },
  { name: '--key dsn rejects', metadata: ['{"db": "not a dsn"}'], args: ['-m', '$M0', '--key', 'db', '--type', 'dsn'] },
  { name: '--key swiftdevices', metadata: ['{"d": "r1z1-192.0.2.1:%PORT%/d1,r1z2-192.0.2.2:%PORT%/d2"}'], args: ['-m', '$M0', '--key', 'd', '--type', 'swiftdevices'] },
  { name: '--key raw map prints JSON', metadata: [LIST_META], args: ['-m', '$M0', '--key', 'd', '--type', 'raw'] },
  { name: '--key map without raw fails', metadata: [LIST_META], args: ['-m', '$M0', '--key', 'd'] },
  { name: '--key list index and bool', metadata: ['{"l": [{"v": true}]}'], args: ['-m', '$M0', '--key', 'l.0.v'] },
  { name: '--key float and negative index', metadata: ['{"l": [1, 2.50]}'], args: ['-m', '$M0', '--key', 'l.-1', '--type', 'raw'] },
  { name: '--key missing with default', metadata: ['{}'], args: ['-m', '$M0', '--key', 'x.y', '--key-default', 'fallback value'] },
  { name: '--key missing fails', metadata: ['{"x": null}'], args: ['-m', '$M0', '--key', 'x'] },
  { name: '--key unknown type fails', metadata: ['{"x": "1"}'], args: ['-m', '$M0', '--key', 'x', '--type', 'colour'] },
  { name: '--boolean-key true', metadata: ['{"a": {"b": true}}'], args: ['-m', '$M0', '--boolean-key', 'a.b'] },
  { name: '--boolean-key false', metadata: ['{"a": {"b": false}}'], args: ['-m', '$M0', '--boolean-key', 'a.b'] },
  { name: '--boolean-key not a boolean', metadata: ['{"a": {"b": "true"}}'], args: ['-m', '$M0', '--boolean-key', 'a.b'] },
];

function setupCase(c: Case, dir: string): { args: string[]; env: Record<string, string>; out: string } {
  const t = join(dir, 'templates');
  const out = join(dir, 'out');
  mkdirSync(t, { recursive: true });
  mkdirSync(out, { recursive: true });
  const metaPaths = (c.metadata ?? []).map((_, i) => join(dir, `m${i}.json`));
  const sub = (s: string) =>
    s
      .replace(/\$M(\d+)/g, (_, i: string) => metaPaths[Number(i)] as string)
      .replace(/\$T/g, t)
      .replace(/\$O/g, out)
      .replace(/\$D/g, dir);
  const write = (path: string, content: string, mode = 0o644) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    chmodSync(path, mode);
  };
  (c.metadata ?? []).forEach((m, i) => write(metaPaths[i] as string, m));
  for (const [p, body] of Object.entries(c.templates ?? {})) write(join(t, p), body);
  for (const [p, body] of Object.entries(c.exec ?? {})) write(join(t, p), body, 0o755);
  for (const [p, body] of Object.entries(c.oac ?? {})) write(join(t, `${p}.oac`), body);
  for (const [p, [body, mode]] of Object.entries(c.pre ?? {})) write(join(out, p), body, mode);
  for (const [p, body] of Object.entries(c.files ?? {})) write(join(dir, p), sub(body));
  const base = c.args ?? ['-t', '$T', '-o', '$O', '-m', ...metaPaths.map((_, i) => `$M${i}`)];
  const args = [...base, ...(c.extraArgs ?? [])].map(sub);
  const env = Object.fromEntries(Object.entries(c.env ?? {}).map(([k, v]) => [k, sub(v)]));
  return { args, env, out };
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('OS_CONFIG')) env[k] = v;
  return env;
}

async function runOurs(args: string[], env: Record<string, string>) {
  let stdout = '';
  const code = await main(args, { env: { ...baseEnv(), ...env }, stdout: (s) => (stdout += s), stderr: () => undefined });
  return { code: ((code % 256) + 256) % 256, stdout };
}

test(`os-apply-config matches Debian's on ${CASES.length} cases`, async () => {
  assert.ok(CASES.length >= 40);
  const root = mkdtempSync(join(tmpdir(), 'oac-diff-'));
  try {
    // Python first, all at once (each case has its own directory), then ours.
    const prepared = CASES.map((c, i) => {
      const py = setupCase(c, join(root, `${i}-py`));
      const ts = setupCase(c, join(root, `${i}-ts`));
      return { c, py, ts };
    });
    const pyResults = await mapLimit(prepared, 4, ({ py }) =>
      run(ORACLE, py.args, { env: { ...baseEnv(), ...py.env }, allowFailure: true, timeoutMs: 60_000 }),
    );
    const failures: string[] = [];
    for (const [i, { c, py, ts }] of prepared.entries()) {
      const ours = await runOurs(ts.args, ts.env);
      const theirs = pyResults[i] as { code: number | null; stdout: string; stderr: string };
      const fix = (s: string) => s.split(join(root, `${i}-py`)).join('<dir>').split(join(root, `${i}-ts`)).join('<dir>');
      try {
        assert.equal(ours.code, theirs.code, `exit code (python stderr: ${theirs.stderr.slice(-300)})`);
        assert.equal(fix(ours.stdout), fix(theirs.stdout), 'stdout');
        assert.deepEqual(readable(snapshotTree(ts.out)), readable(snapshotTree(py.out)), 'files');
      } catch (err) {
        failures.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('rewriting unchanged output leaves the file untouched (same inode, same mtime)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'oac-idem-'));
  try {
    const c: Case = { name: 'idem', templates: { 'etc/a': '{{x}}\n' }, oac: { 'etc/a': 'mode: 0640\n' }, metadata: ['{"x": 1}'] };
    const { args, env, out } = setupCase(c, root);
    assert.equal((await runOurs(args, env)).code, 0);
    const { statSync } = await import('node:fs');
    const before = statSync(join(out, 'etc/a'));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await runOurs(args, env)).code, 0);
    const after = statSync(join(out, 'etc/a'));
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('malformed metadata names the file, line and column', async () => {
  const root = mkdtempSync(join(tmpdir(), 'oac-bad-'));
  try {
    const c: Case = { name: 'bad', templates: { a: '{{x}}\n' }, metadata: ['{\n  "x": 1,\n  "y": tru\n}'] };
    const { args, env } = setupCase(c, root);
    let stderr = '';
    const code = await main(args, { env: { ...baseEnv(), ...env }, stdout: () => undefined, stderr: (s) => (stderr += s) });
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`${join(root, 'm0.json').replace(/[.]/g, '\\.')}:3:8`));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
