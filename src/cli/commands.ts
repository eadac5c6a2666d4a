// Every subcommand module, in help order. Add one line per area.
import type { Command } from 'commander';
import { registerVersion } from './version.js';
import { registerServe } from './serve.js';

export const commandModules: Array<(program: Command) => void> = [
  registerVersion,
  registerServe,
];
