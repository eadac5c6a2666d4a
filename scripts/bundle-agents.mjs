#!/usr/bin/env node
// Bundles each in-instance tool (src/agents/<tool>/main.ts) into one executable file,
// dist/agents/<tool>, with a node shebang, for Node >= 18 (Debian 12). The image builder's
// bootstack-agents element installs these files; they need nothing but node.
//   node scripts/bundle-agents.mjs [--outdir DIR]
import { build } from 'esbuild';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOOLS = ['os-apply-config', 'os-refresh-config', 'os-collect-config', 'os-net-config', 'heat-config', 'deploy-agent'];

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--outdir');
const outdir = i > 0 ? resolve(process.argv[i + 1]) : join(repo, 'dist', 'agents');
mkdirSync(outdir, { recursive: true });
// The bundles are CommonJS; say so, whatever package.json is above them.
writeFileSync(join(outdir, 'package.json'), '{"type": "commonjs"}\n');
for (const tool of TOOLS) {
  const outfile = join(outdir, tool);
  await build({
    entryPoints: [join(repo, 'src', 'agents', tool, 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    minify: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  process.stdout.write(`${outfile}\n`);
}
