// Lint rules, including the architecture's import boundaries (DESIGN.md §2):
// - a service folder under src/ imports only itself and src/common;
// - src/agents (code that runs on deployed machines) imports only itself and src/common;
// - src/server and src/cli are composition roots and may import any service;
// - no import cycles anywhere.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { readdirSync } from 'node:fs';

const roots = new Set(['server', 'cli', 'common']);
const services = readdirSync('src', { withFileTypes: true })
  .filter((d) => d.isDirectory() && !roots.has(d.name))
  .map((d) => d.name);

const zones = services.map((service) => ({
  target: `./src/${service}`,
  from: './src',
  except: [`./${service}`, './common'],
  message: `src/${service} may import only itself and src/common; declare the interface you need in src/${service} and let src/server inject it.`,
}));
zones.push({
  target: './src/common',
  from: './src',
  except: ['./common'],
  message: 'src/common is below every service and imports none of them.',
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'elements/**', 'templates/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
);
