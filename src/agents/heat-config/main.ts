#!/usr/bin/env node
import { runMain } from '../common/io.js';
import { main } from './cli.js';

runMain(main);
