#!/usr/bin/env node
// `disk-image-create` compatible entry: the same as `bootstack disk-image-create ...`.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
await main([process.argv[0], process.argv[1], 'disk-image-create', ...process.argv.slice(2)]);
