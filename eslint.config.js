// Lint rules, including the architecture's import boundaries (DESIGN.md §2):
// - a service folder under src/ imports only itself and src/common;
// - src/agents (code that runs on deployed machines) imports only itself and src/common;
// - src/common imports no service;
// - src/server and src/cli are composition roots and may import any service;
// - nothing under src/ but its *.test.ts files imports test/ or bench/ (test support lives in
//   test/support, so the server and the agents' bundles never carry it).
// Import cycles are checked by scripts/check-import-cycles.ts (run by `npm run lint`).
import tseslint from 'typescript-eslint';
import { dirname, relative, resolve, sep } from 'node:path';

const SRC = resolve('src');
const TEST_ONLY = [resolve('test'), resolve('bench')];
const ROOTS = new Set(['server', 'cli']);

/** The top-level folder under src/ that a path is in, or undefined outside src/. */
function area(path) {
  const rel = relative(SRC, path);
  if (rel.startsWith('..') || rel === '') return undefined;
  return rel.split(sep)[0];
}

const boundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'services import only themselves and src/common; common imports no service' },
    schema: [],
  },
  create(context) {
    const from = area(context.filename);
    if (!from) return {};
    const isTest = context.filename.endsWith('.test.ts');
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = resolve(dirname(context.filename), source);
      const outside = TEST_ONLY.find((dir) => !relative(dir, target).startsWith('..'));
      if (outside && !isTest) {
        const message = `src/ code may not import ${relative(resolve('.'), outside)}/ (only *.test.ts files may): move what both need into src/.`;
        context.report({ node, message });
        return;
      }
      if (ROOTS.has(from)) return;
      const to = area(target);
      if (!to || to === from) return;
      if (to === 'common' && from !== 'common') return;
      const message =
        from === 'common'
          ? `src/common is below every service and imports none of them (imports src/${to}).`
          : `src/${from} may import only itself and src/common, not src/${to}; declare the interface you need in src/${from} and let src/server inject it.`;
      context.report({ node, message });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'elements/**', 'templates/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    plugins: { bootstack: { rules: { boundaries } } },
    rules: {
      'bootstack/boundaries': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
);
