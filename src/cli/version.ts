import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { PACKAGE_JSON } from '../common/paths.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
  return pkg.version;
}

export function registerVersion(program: Command): void {
  program.version(packageVersion(), '-V, --version');
  program
    .command('version')
    .description('print the Bootstack version')
    .action(() => {
      process.stdout.write(`bootstack ${packageVersion()}\n`);
    });
}
