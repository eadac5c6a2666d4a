// Refuses import cycles between modules under src/ (value imports only: `import type` is erased
// at build time and cannot cycle at run time). Uses TypeScript's parser for the imports and the
// project's own toposort, whose error names the cycle.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { toposort } from '../src/common/toposort.js';
import { CycleError } from '../src/common/errors.js';

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Relative value imports of a file, resolved to .ts paths. */
function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const stmt of source.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(stmt)) {
      if (stmt.importClause?.isTypeOnly) continue;
      const named = stmt.importClause?.namedBindings;
      // `import { type A, type B } from` is erased too.
      if (named && ts.isNamedImports(named) && !stmt.importClause?.name && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)) continue;
      spec = stmt.moduleSpecifier;
    } else if (ts.isExportDeclaration(stmt) && stmt.moduleSpecifier && !stmt.isTypeOnly) {
      spec = stmt.moduleSpecifier;
    }
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
    const target = resolve(dirname(file), spec.text.replace(/\.js$/, '.ts'));
    if (existsSync(target)) out.push(target);
  }
  return out;
}

// The folder to check: src/ by default (a test points it at a tree of its own).
const root = resolve(process.argv[2] ?? 'src');
const files = walk(root);
const inside = (t: string) => !relative(root, t).startsWith('..');
const graph = new Map(files.map((f) => [relative('.', f), valueImports(f).filter(inside).map((t) => relative('.', t))]));
try {
  toposort(graph);
  process.stdout.write(`no import cycles among ${files.length} modules\n`);
} catch (err) {
  if (err instanceof CycleError) {
    process.stderr.write(`import cycle: ${err.cycle.join(' -> ')}\n`);
    process.exit(1);
  }
  throw err;
}
