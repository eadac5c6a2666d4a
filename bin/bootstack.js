#!/usr/bin/env node
// The `bootstack` command from a checkout: the production build (dist/server, `npm run build`)
// when it is up to date with the sources, else the TypeScript sources through tsx (bin/launch.js).
import { launch } from './launch.js';
await launch(process.argv.slice(2));
