// Cold start of `bootstack serve` to its first answered request, and its idle RSS.
//   npm run bench -- serve [runs=5]
// Each run is a new process; the first uses an empty state directory (migrations + bootstrap),
// the rest restart on the same one (the usual restart of a seed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSeed } from '../test/support/serve-process.js';

export default async function serve(args: string[]) {
  const runs = Number(args[0] ?? 5);
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-bench-serve-'));
  const starts: Array<{ fresh: boolean; listeningMs: number; firstAnswerMs: number; idleRssMiB: number }> = [];
  try {
    for (let i = 0; i < runs; i++) {
      const seed = await spawnSeed(stateDir);
      // First answered request: a token-free version document.
      const res = await fetch(`${seed.url}/identity/v3`);
      if (res.status !== 200) throw new Error(`GET /identity/v3: ${res.status}`);
      await res.arrayBuffer();
      const firstAnswerMs = performance.now() - seed.startedAt;
      await new Promise((r) => setTimeout(r, 2000));
      starts.push({ fresh: i === 0, listeningMs: Math.round(seed.listeningMs), firstAnswerMs: Math.round(firstAnswerMs), idleRssMiB: Math.round(seed.rssMiB()) });
      await seed.stop();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  const restarts = starts.filter((s) => !s.fresh);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  return {
    runs: starts,
    freshStartFirstAnswerMs: starts[0]?.firstAnswerMs,
    restartFirstAnswerMsMedian: median(restarts.map((s) => s.firstAnswerMs)),
    idleRssMiBMedian: median(starts.map((s) => s.idleRssMiB)),
    note: 'process spawn (node + tsx transpiling the TypeScript sources) to the first 200 from GET /identity/v3',
  };
}
