// Every os-apply-config template of the real 2014 TripleO elements renders byte-identically to
// Debian's os-apply-config. The metadata is generated from each element's own tags: every name
// gets a value (names that are also prefixes of other names become maps), sections over plain
// names become lists of two maps filled with the names used inside them; a second run with empty
// metadata takes every inverted section, a third gives every name a falsy or numeric value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, existsSync, readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../common/child-process.js';
import { snapshotTree, readable, mapLimit } from '../../../test/support/agents/oracle.js';
import { parse, type MustacheNode } from './mustache.js';
import { templatePaths } from './apply.js';
import { main } from './cli.js';

const CORPUS = resolve(process.env.BOOTSTACK_CORPUS ?? join(import.meta.dirname, '../../../../shared/corpus'));
const ELEMENTS = join(CORPUS, 'tripleo-image-elements', 'elements');

interface Req {
  children: Map<string, Req>;
  /** Sections over this name: the names used inside them. */
  sectionBodies: MustacheNode[][];
}

const newReq = (): Req => ({ children: new Map(), sectionBodies: [] });

function need(root: Req, key: string): Req {
  let cur = root;
  if (key === '.') return cur;
  for (const part of key.split('.')) {
    let next = cur.children.get(part);
    if (!next) cur.children.set(part, (next = newReq()));
    cur = next;
  }
  return cur;
}

function collect(nodes: MustacheNode[], root: Req): void {
  for (const n of nodes) {
    if (typeof n === 'string' || n.kind === 'partial') continue;
    const r = need(root, n.key);
    if (n.kind === 'section' || n.kind === 'inverted') {
      if (n.kind === 'section') r.sectionBodies.push(n.children);
      collect(n.children, root);
    }
  }
}

type Flavour = 'full' | 'falsy';

function materialize(r: Req, path: string, flavour: Flavour): unknown {
  if (r.children.size > 0) {
    return Object.fromEntries([...r.children].map(([k, c]) => [k, materialize(c, path ? `${path}.${k}` : k, flavour)]));
  }
  if (flavour === 'falsy') return path.length % 3 === 0 ? 0 : path.length % 3 === 1 ? false : 1234;
  if (r.sectionBodies.length > 0) {
    // A section over a plain name: a list of two maps with the names used inside it.
    return [1, 2].map((i) => {
      const inner = newReq();
      for (const body of r.sectionBodies) collect(body, inner);
      const item = materialize(inner, '', flavour) as Record<string, unknown> | string;
      return typeof item === 'object' && Object.keys(item).length ? item : `${path}-item${i}`;
    });
  }
  return `${path}=<v&"'>`;
}

function elementsWithTemplates(): string[] {
  return readdirSync(ELEMENTS)
    .filter((e) => existsSync(join(ELEMENTS, e, 'os-apply-config')))
    .sort();
}

test('every TripleO element template renders byte-identically to the original', async () => {
  const elements = elementsWithTemplates();
  assert.ok(elements.length >= 40, `expected the corpus at ${ELEMENTS}`);
  const root = mkdtempSync(join(tmpdir(), 'oac-corpus-'));
  let templates = 0;
  try {
    const jobs: { element: string; flavour: string; tdir: string; meta: string; pyOut: string; tsOut: string }[] = [];
    for (const element of elements) {
      const tdir = join(ELEMENTS, element, 'os-apply-config');
      const req = newReq();
      for (const [path] of templatePaths(tdir)) {
        templates++;
        collect(parse(readFileSync(path, 'utf8')), req);
      }
      for (const flavour of ['full', 'empty', 'falsy'] as const) {
        const dir = join(root, element, flavour);
        mkdirSync(dir, { recursive: true });
        const meta = join(dir, 'meta.json');
        writeFileSync(meta, JSON.stringify(flavour === 'empty' ? {} : materialize(req, '', flavour)));
        jobs.push({ element, flavour, tdir, meta, pyOut: join(dir, 'py'), tsOut: join(dir, 'ts') });
      }
    }
    const env = { ...process.env };
    delete env.OS_CONFIG_FILES;
    const py = await mapLimit(jobs, 4, (j) =>
      run('/usr/bin/os-apply-config', ['-t', j.tdir, '-o', j.pyOut, '-m', j.meta], { env, allowFailure: true, timeoutMs: 120_000 }),
    );
    const failures: string[] = [];
    let filled = 0;
    for (const [i, j] of jobs.entries()) {
      const code = await main(['-t', j.tdir, '-o', j.tsOut, '-m', j.meta], { env, stdout: () => undefined, stderr: () => undefined });
      const theirs = py[i] as { code: number | null; stderr: string };
      if (theirs.code !== 0) failures.push(`${j.element}/${j.flavour}: python failed: ${theirs.stderr.slice(-300)}`);
      try {
        assert.equal(code, theirs.code);
        const ours = readable(snapshotTree(j.tsOut));
        assert.deepEqual(ours, readable(snapshotTree(j.pyOut)));
        if (j.flavour === 'full') filled += ours.filter((e) => e.content.includes('=<v&')).length;
      } catch (err) {
        failures.push(`${j.element}/${j.flavour}: ${(err as Error).message.slice(0, 2000)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(templates >= 80, `rendered ${templates} templates`);
    // The generated metadata really reaches the templates: most rendered files carry its values.
    assert.ok(filled >= templates * 0.8, `${filled} of ${templates} files carry generated values`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
