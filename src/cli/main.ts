// The `bootstack` command. Each area registers its subcommands from its own file in this folder
// (serve.ts, lab.ts, image.ts, node.ts ...); this file only assembles them.
import { Command } from 'commander';
import { commandModules } from './commands.js';
import { reportCliError } from './output.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('bootstack')
    .description('Bootstack: a small bare-metal cloud that deploys itself (TripleO in TypeScript)')
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const register of commandModules) register(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = reportCliError(err);
  }
}
