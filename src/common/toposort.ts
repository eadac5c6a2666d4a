// Dependency ordering for resources, elements and anything else that forms a graph.
// Ordering is stable (ties keep insertion order) so that results are reproducible, and a cycle
// is reported as the actual cycle path, not just "there is a cycle".
import { CycleError } from './errors.js';

/** `deps.get(n)` lists what n depends on (must come before n). Unknown dependencies are errors. */
export type DependencyGraph = ReadonlyMap<string, readonly string[]>;

function checkKnown(graph: DependencyGraph): void {
  for (const [node, deps] of graph) {
    for (const d of deps) {
      if (!graph.has(d)) throw new Error(`"${node}" depends on unknown "${d}"`);
    }
  }
}

/** All nodes, dependencies first. Throws CycleError naming the cycle. */
export function toposort(graph: DependencyGraph): string[] {
  return toposortLevels(graph).flat();
}

/**
 * Nodes grouped in levels: every node of a level depends only on nodes of earlier levels, so a
 * level's members can be worked on in parallel.
 */
export function toposortLevels(graph: DependencyGraph): string[][] {
  checkKnown(graph);
  const remaining = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [node, deps] of graph) {
    remaining.set(node, new Set(deps).size);
    for (const d of new Set(deps)) {
      const list = dependents.get(d) ?? [];
      list.push(node);
      dependents.set(d, list);
    }
  }
  const levels: string[][] = [];
  // Insertion order, to keep each level stable; built once (per level it made a chain quadratic).
  const order = new Map([...graph.keys()].map((k, i) => [k, i]));
  let current = [...graph.keys()].filter((n) => remaining.get(n) === 0);
  let placed = 0;
  while (current.length) {
    levels.push(current);
    placed += current.length;
    const next: string[] = [];
    for (const n of current) {
      for (const dep of dependents.get(n) ?? []) {
        const left = remaining.get(dep)! - 1;
        remaining.set(dep, left);
        if (left === 0) next.push(dep);
      }
    }
    current = next.sort((a, b) => order.get(a)! - order.get(b)!);
  }
  if (placed !== graph.size) throw new CycleError(findCycle(graph, remaining));
  return levels;
}

/** Finds one cycle among the nodes that could not be placed, as a path ending where it began. */
function findCycle(graph: DependencyGraph, remaining: Map<string, number>): string[] {
  const stuck = new Set([...remaining].filter(([, n]) => n > 0).map(([k]) => k));
  const onPath = new Map<string, number>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    onPath.set(node, path.length);
    path.push(node);
    for (const d of graph.get(node) ?? []) {
      if (!stuck.has(d)) continue;
      const at = onPath.get(d);
      if (at !== undefined) return [...path.slice(at), d];
      const found = visit(d);
      if (found) return found;
    }
    onPath.delete(node);
    path.pop();
    stuck.delete(node);
    return undefined;
  };
  for (const start of [...stuck]) {
    if (!stuck.has(start)) continue;
    const found = visit(start);
    if (found) return found;
  }
  return [...stuck];
}
