// Where Bootstack's own files are, the same question answered for the two ways it runs:
// - from the source tree (bin/bootstack.js through tsx): this file is <repo>/src/common/paths.ts,
//   the install root is the repository, the agent bundles are in <repo>/dist/agents;
// - from the production build (scripts/build-server.mjs → dist/server/, copied anywhere): every
//   module is inside <root>/bootstack.mjs, the data directories sit beside it, and the build
//   defines __BOOTSTACK_BUILD__ (esbuild `define`) with what it computed from the sources.
// Code that finds a file relative to itself asks here instead of using import.meta.url.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What scripts/build-server.mjs embeds in the bundle. */
export interface BuildInfo {
  /** The lines digestBuilderCode hashes from src/image-builder, computed at build time. */
  builderCode: string;
}

declare const __BOOTSTACK_BUILD__: BuildInfo | undefined;

/** The build's embedded facts; undefined when running from the source tree. */
export const BUILD: BuildInfo | undefined = typeof __BOOTSTACK_BUILD__ === 'undefined' ? undefined : __BOOTSTACK_BUILD__;

/** True when this code runs from the production build (dist/server), false from the sources. */
export const BUNDLED = BUILD !== undefined;

const here = dirname(fileURLToPath(import.meta.url));

/** The repository (from source) or the build directory (bundled). */
export const INSTALL_ROOT = BUNDLED ? here : resolve(here, '..', '..');

/** package.json with the version: the repository's, or the build's copy. */
export const PACKAGE_JSON = join(INSTALL_ROOT, 'package.json');

/** The built-in diskimage-builder elements. */
export const ELEMENTS_DIR = join(INSTALL_ROOT, 'elements');

/** Example and built-in HOT templates. */
export const TEMPLATES_DIR = join(INSTALL_ROOT, 'templates');

/** The single-file in-instance tools (scripts/bundle-agents.mjs). */
export const AGENTS_DIR = BUNDLED ? join(INSTALL_ROOT, 'agents') : join(INSTALL_ROOT, 'dist', 'agents');

/** The production build directory: this one when bundled, <repo>/dist/server from the sources. */
export const SERVER_DIR = BUNDLED ? INSTALL_ROOT : join(INSTALL_ROOT, 'dist', 'server');

/**
 * A second program of the build (`bmc-main` → <root>/bmc-main.mjs), for code that starts itself
 * as another process; undefined from the sources, where the caller runs its .ts file.
 */
export function bundledEntry(name: string): string | undefined {
  return BUNDLED ? join(INSTALL_ROOT, `${name}.mjs`) : undefined;
}
