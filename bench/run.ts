// `npm run bench -- <name> [args]`: runs bench/<name>.ts, whose default export is an async
// function returning a JSON-able result, and prints that result as JSON on stdout.
import { readdirSync } from 'node:fs';

const [name, ...args] = process.argv.slice(2);
const available = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name> [args]\navailable: ${available.join(', ')}\n`);
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { default: (args: string[]) => Promise<unknown> };
const result = await mod.default(args);
process.stdout.write(JSON.stringify({ bench: name, at: new Date().toISOString(), ...(result as object) }, null, 2) + '\n');
process.exit(0);
