#!/usr/bin/env node
// Entry point bundled into the deploy ramdisk.
import { runMain } from '../common/io.js';
import { main } from './cli.js';

runMain(main);
