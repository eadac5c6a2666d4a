// The one way request bodies become values. Every service's JSON (and Glance's JSON-patch) goes
// through parseJsonBody, so the rules are the same everywhere:
// - an empty body is "no body" (python clients send Content-Type: application/json with none on
//   PUT and DELETE; Keystone, Glance, Ironic and Heat all accept that);
// - nesting is bounded BEFORE parsing: the parse itself copes with deep input, but everything
//   after it (validation, serialisation into the database, intrinsic functions) recurses, and
//   5,000 levels overflowed the stack (a 500). The scan is linear in the text and allocates nothing;
// - "__proto__" and "constructor.prototype" keys are refused (secure-json-parse), so no object
//   built from a body can change what other objects inherit.
import sjson from 'secure-json-parse';
import { ValidationError } from './errors.js';

/** Deepest nesting of objects and arrays a request body may have (Heat templates use < 20). */
export const MAX_JSON_DEPTH = 64;

/** The depth of the deepest object/array in JSON text, without parsing it. */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return max;
}

/** The depth of a parsed value (for documents that arrive as YAML or JSON text inside a field). */
export function valueDepth(value: unknown, limit: number = MAX_JSON_DEPTH): number {
  // Iterative, so measuring a hostile value cannot itself overflow the stack; stops past limit.
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const here = d + 1;
    if (here > max) max = here;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, here]);
  }
  return max;
}

/** Parses a request body; throws a 400 naming what is wrong. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  if (jsonTextDepth(text) > MAX_JSON_DEPTH) {
    throw new ValidationError(`nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels`, { path: 'body' }, { fields: { limit: MAX_JSON_DEPTH } });
  }
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    throw new ValidationError(`is not valid JSON: ${(err as Error).message}`, { path: 'body' }, { cause: err });
  }
}
