// os-apply-config rendering 100 templates: Debian's Python original against our bundled
// single-file agent, side by side in one run (cold processes, alternating, same inputs).
//   npm run bench -- oac [runs=10]
// Templates: the real TripleO element templates (BOOTSTACK_CORPUS), cycled to 100, with metadata
// that fills every name they use.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/common/child-process.js';
import { templatePaths } from '../src/agents/os-apply-config/apply.js';
import { parse, type MustacheNode } from '../src/agents/os-apply-config/mustache.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function names(nodes: MustacheNode[], out: Set<string>): void {
  for (const n of nodes) {
    if (typeof n === 'string' || n.kind === 'partial') continue;
    out.add(n.key);
    if (n.kind !== 'var') names(n.children, out);
  }
}

function metadataFor(keys: Set<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const k of [...keys].sort()) {
    if (k === '.') continue;
    let cur = root;
    const parts = k.split('.');
    parts.forEach((p, i) => {
      if (i === parts.length - 1) {
        if (!(p in cur)) cur[p] = `${k}-value`;
      } else {
        if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
        cur = cur[p] as Record<string, unknown>;
      }
    });
  }
  return root;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;

export default async function bench(args: string[]) {
  const runs = Number(args[0] ?? 10);
  const corpus = resolve(process.env.BOOTSTACK_CORPUS ?? join(repo, '..', 'shared', 'corpus'), 'tripleo-image-elements', 'elements');
  const dir = mkdtempSync(join(tmpdir(), 'bench-oac-'));
  try {
    const sources = readdirSync(corpus)
      .filter((e) => existsSync(join(corpus, e, 'os-apply-config')))
      .flatMap((e) => templatePaths(join(corpus, e, 'os-apply-config')).map(([p]) => p));
    const keys = new Set<string>();
    const tdir = join(dir, 'templates');
    for (let i = 0; i < 100; i++) {
      const src = sources[i % sources.length] as string;
      const text = readFileSync(src, 'utf8');
      names(parse(text), keys);
      mkdirSync(join(tdir, `t${i}`), { recursive: true });
      writeFileSync(join(tdir, `t${i}`, src.split('/').pop() as string), text);
    }
    writeFileSync(join(dir, 'md.json'), JSON.stringify(metadataFor(keys)));
    const bin = join(dir, 'bin');
    await run(process.execPath, [join(repo, 'scripts/bundle-agents.mjs'), '--outdir', bin]);
    // /usr/bin/time gives CPU time too: wall time alone swings with the machine's load.
    const once = async (cmd: string, out: string) => {
      const r = await run('/usr/bin/time', ['-f', '%e %U %S', cmd, '-t', tdir, '-o', join(dir, out), '-m', join(dir, 'md.json')]);
      const [wall, user, sys] = (r.stderr.trim().split('\n').pop() as string).split(' ').map(Number) as [number, number, number];
      return { wall: wall * 1000, cpu: (user + sys) * 1000 };
    };
    const py = '/usr/bin/os-apply-config';
    const ts = join(bin, 'os-apply-config');
    await once(py, 'py-steady');
    await once(ts, 'ts-steady');
    const m: Record<string, { wall: number; cpu: number }[]> = { pyFresh: [], tsFresh: [], pySteady: [], tsSteady: [] };
    for (let i = 0; i < runs; i++) {
      m.pyFresh?.push(await once(py, `py${i}`));
      m.tsFresh?.push(await once(ts, `ts${i}`));
      m.pySteady?.push(await once(py, 'py-steady'));
      m.tsSteady?.push(await once(ts, 'ts-steady'));
    }
    const same = (await run('diff', ['-r', join(dir, 'py0'), join(dir, 'ts0')], { allowFailure: true })).code === 0;
    const summary = (xs: { wall: number; cpu: number }[]) => ({
      wall_p50_ms: pct(xs.map((x) => x.wall), 50),
      cpu_p50_ms: pct(xs.map((x) => x.cpu), 50),
    });
    const s = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, summary(v)]));
    const ratio = (a: string, b: string, f: 'wall_p50_ms' | 'cpu_p50_ms') =>
      Number(((s[a]?.[f] ?? 0) / Math.max(1, s[b]?.[f] ?? 0)).toFixed(2));
    return {
      templates: 100,
      runs,
      identicalOutput: same,
      fresh: { python: s.pyFresh, bootstack: s.tsFresh, python_over_bootstack_wall: ratio('pyFresh', 'tsFresh', 'wall_p50_ms') },
      unchanged: { python: s.pySteady, bootstack: s.tsSteady, python_over_bootstack_wall: ratio('pySteady', 'tsSteady', 'wall_p50_ms') },
      loadavg: (await import('node:os')).loadavg(),
      node: process.version,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
