// Every subcommand module, in help order. Add one line per area.
import type { Command } from 'commander';
import { registerVersion } from './version.js';
import { registerLab } from './lab.js';
import { registerServe } from './serve.js';
import { registerImage } from './image.js';
import { registerNode } from './node.js';
import { registerDevtest } from './devtest.js';
import { registerPivot } from './pivot.js';

export const commandModules: Array<(program: Command) => void> = [
  registerVersion,
  registerLab,
  registerServe,
  registerImage,
  registerNode,
  registerPivot,
  registerDevtest,
];
