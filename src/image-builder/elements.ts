// The element model of diskimage-builder: an element is a directory found on ELEMENTS_PATH; its
// `element-deps` and `element-provides` files (one name per line, blanks ignored) drive expansion.
// Expansion follows diskimage-builder's element_dependencies: breadth-first from the requested
// elements, provided (virtual) names are never looked up, a name provided twice is an error, an
// element the user asked for must not also be provided by another, an `operating-system` must be
// provided, and provided names are removed from the result.
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ValidationError } from '../common/errors.js';
import { isDir } from './fs-checks.js';

export interface Element {
  name: string;
  /** Real path of the element directory. */
  path: string;
  depends: Set<string>;
  provides: Set<string>;
}

export class ElementResolutionError extends ValidationError {
  constructor(
    message: string,
    readonly reason: 'missing' | 'already-provided' | 'missing-os' | 'bad-path',
    fields: Record<string, unknown> = {},
  ) {
    super(message, {}, { fields: { reason, ...fields } });
  }
}

function readSet(file: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw err;
  }
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l),
  );
}

export function loadElement(name: string, path: string): Element {
  return {
    name,
    path,
    depends: readSet(join(path, 'element-deps')),
    provides: readSet(join(path, 'element-provides')),
  };
}

/** Splits an ELEMENTS_PATH value (colon-separated; empty entries ignored). */
export function splitElementsPath(value: string): string[] {
  return value.split(':').filter((p) => p);
}

/**
 * Every element on the path, by name. Earlier path entries win over later ones, as with
 * diskimage-builder (it reads the path back to front and lets later reads override).
 */
export function findAllElements(paths: readonly string[]): Map<string, Element> {
  const all = new Map<string, Element>();
  for (const dir of [...paths].reverse()) {
    if (!isDir(dir)) {
      throw new ElementResolutionError(`ELEMENTS_PATH entry '${dir}' is not a directory`, 'bad-path', { dir });
    }
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (!isDir(full)) continue;
      const real = realpathSync(full);
      const name = basename(real);
      all.set(name, loadElement(name, real));
    }
  }
  return all;
}

/** Expands the requested elements with their dependencies (diskimage-builder's rules; see above). */
export function expandElements(requested: readonly string[], all: ReadonlyMap<string, Element>): Element[] {
  const finalSet = new Set(requested);
  const queue = [...requested];
  const provided = new Set<string>();
  const providedBy = new Map<string, string[]>();
  while (queue.length) {
    const name = queue.shift()!;
    if (provided.has(name)) continue;
    const el = all.get(name);
    if (!el) throw new ElementResolutionError(`Element '${name}' not found`, 'missing', { element: name });
    for (const p of el.provides) {
      if (provided.has(p)) {
        throw new ElementResolutionError(
          `${p}: already provided by ${(providedBy.get(p) ?? []).join(', ')} (and by ${name})`,
          'already-provided',
          { element: p, providers: [...(providedBy.get(p) ?? []), name] },
        );
      }
      providedBy.set(p, [...(providedBy.get(p) ?? []), name]);
      provided.add(p);
    }
    for (const d of el.depends) {
      if (!finalSet.has(d) && !provided.has(d)) queue.push(d);
      finalSet.add(d);
    }
  }
  const conflicts = requested.filter((r) => provided.has(r));
  if (conflicts.length) {
    throw new ElementResolutionError(
      `The following elements are already provided by another element: ${conflicts
        .map((c) => `${c} (by ${(providedBy.get(c) ?? []).join(', ')})`)
        .join(', ')}`,
      'already-provided',
      { elements: conflicts },
    );
  }
  if (!provided.has('operating-system')) {
    throw new ElementResolutionError('Please include an operating system element', 'missing-os');
  }
  // A stable order (by name) so that logs and IMAGE_ELEMENT are reproducible; diskimage-builder's
  // order is a Python set's and carries no meaning.
  return [...finalSet]
    .filter((n) => !provided.has(n))
    .sort()
    .map((n) => all.get(n)!);
}

export function resolveElements(requested: readonly string[], paths: readonly string[]): Element[] {
  return expandElements(requested, findAllElements(paths));
}
