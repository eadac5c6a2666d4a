// Hooks (breakpoints): an environment's `resource_registry.resources.<name or glob>.hooks` makes
// the engine pause before creating, updating or deleting that resource until someone clears the
// hook by signalling the resource with `{"unset_hook": "<hook>"}`. Names are matched as
// shell-style globs (`*`, `?`, `[abc]`, `[!abc]`, case-sensitive), the way Heat matches them, and a
// nested stack sees the entries nested under its parent resource's name.
import { isMapping, type Json, type JsonMap } from './yaml-source.js';

export const HOOK_TYPES = ['pre-create', 'pre-update', 'pre-delete'] as const;
export type HookType = (typeof HOOK_TYPES)[number];

export function isHookType(v: unknown): v is HookType {
  return typeof v === 'string' && (HOOK_TYPES as readonly string[]).includes(v);
}

/** A shell-style glob as an anchored regular expression (no path semantics: `*` matches `/`). */
function globRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

export function globMatches(pattern: string, name: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === name;
  return globRegExp(pattern).test(name);
}

function hookList(v: Json | undefined): Json[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** The hooks set on a resource by its stack's `resource_registry.resources` entries. */
export function hooksFor(registry: JsonMap, resourceName: string): Set<HookType> {
  const out = new Set<HookType>();
  const resources = registry.resources;
  if (!isMapping(resources ?? null)) return out;
  for (const [pattern, entry] of Object.entries(resources as JsonMap)) {
    if (!isMapping(entry) || !globMatches(pattern, resourceName)) continue;
    for (const h of hookList(entry.hooks)) if (isHookType(h)) out.add(h);
  }
  return out;
}

/**
 * The `resources` section a nested stack made by `parentResource` sees: the entries under every
 * pattern matching the parent resource's name, merged (undefined when there are none).
 */
export function childRegistryResources(registry: JsonMap, parentResource: string): JsonMap | undefined {
  const resources = registry.resources;
  if (!isMapping(resources ?? null)) return undefined;
  const out: JsonMap = {};
  for (const [pattern, entry] of Object.entries(resources as JsonMap)) {
    if (!isMapping(entry) || !globMatches(pattern, parentResource)) continue;
    for (const [k, v] of Object.entries(entry)) if (k !== 'hooks') out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The first `hooks` value that is not a hook type or a list of them: its path and the problem. */
export function badHooks(resources: JsonMap, path = 'resource_registry.resources'): { path: string; message: string } | undefined {
  for (const [name, entry] of Object.entries(resources)) {
    if (!isMapping(entry)) continue;
    const here = `${path}.${name}`;
    for (const h of hookList(entry.hooks)) {
      if (!isHookType(h)) return { path: `${here}.hooks`, message: `invalid hook type ${JSON.stringify(h)}; valid hook types are ${HOOK_TYPES.join(', ')}` };
    }
    for (const [k, v] of Object.entries(entry)) {
      const bad = k !== 'hooks' && isMapping(v) ? badHooks({ [k]: v }, here) : undefined;
      if (bad) return bad;
    }
  }
  return undefined;
}

/**
 * Hooks the engine is waiting on, keyed by resource row id. In memory: a server restart forgets
 * them, and the resumed action pauses on the hook again (a new "paused" event).
 */
export class HookWaits {
  private readonly pending = new Map<string, { hook: HookType; done: () => void }>();

  /** Resolves when the hook is cleared; rejects with the signal's reason when the action is aborted. */
  wait(rowId: string, hook: HookType, signal: AbortSignal, onAbort: (reason: unknown) => Error): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(onAbort(signal.reason));
      const abort = () => {
        this.pending.delete(rowId);
        reject(onAbort(signal.reason));
      };
      signal.addEventListener('abort', abort, { once: true });
      this.pending.set(rowId, {
        hook,
        done: () => {
          signal.removeEventListener('abort', abort);
          resolve();
        },
      });
    });
  }

  isPending(rowId: string, hook: string): boolean {
    return this.pending.get(rowId)?.hook === hook;
  }

  /** Clears a pending hook; false when that hook is not pending on the resource. */
  clear(rowId: string, hook: string): boolean {
    const p = this.pending.get(rowId);
    if (!p || p.hook !== hook) return false;
    this.pending.delete(rowId);
    p.done();
    return true;
  }
}
