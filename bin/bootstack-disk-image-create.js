#!/usr/bin/env node
// `disk-image-create` compatible entry: the same as `bootstack disk-image-create ...`.
import { launch } from './launch.js';
await launch(['disk-image-create', ...process.argv.slice(2)]);
