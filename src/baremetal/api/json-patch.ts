// RFC 6902 JSON patch as Ironic accepts it on nodes, ports and allocations: add, replace and
// remove on a top-level field or a key inside a JSON field (/driver_info/redfish_address), or an
// item of a list (/steps/1 of a deploy template).
import { BadRequestError } from '../../common/errors.js';

export interface PatchOp {
  op: string;
  path: string;
  value?: unknown;
}

export const patchSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['op', 'path'],
    properties: { op: { type: 'string', enum: ['add', 'replace', 'remove'] }, path: { type: 'string' }, value: {} },
  },
} as const;

function unescape(seg: string): string {
  return seg.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Applies `ops` to a plain copy of the resource. `updatable` names the top-level fields a
 * client may change; JSON fields (objects) accept nested paths.
 */
export function applyPatch(doc: Record<string, unknown>, ops: PatchOp[], updatable: ReadonlySet<string>): Record<string, unknown> {
  const out = structuredClone(doc);
  for (const op of ops) {
    if (!op.path.startsWith('/')) throw new BadRequestError(`Invalid patch path "${op.path}": it must start with "/"`);
    const segs = op.path.slice(1).split('/').map(unescape);
    const top = segs[0]!;
    if (!updatable.has(top)) {
      throw new BadRequestError(`'/${top}' is an internal attribute and can not be updated`);
    }
    if ((op.op === 'add' || op.op === 'replace') && !('value' in op)) {
      throw new BadRequestError(`Patch "${op.op} ${op.path}" needs a value`);
    }
    let parent: Record<string, unknown> = out;
    for (const seg of segs.slice(0, -1)) {
      let child = Array.isArray(parent) ? parent[arrayIndex(parent, seg, op.path, false)] : parent[seg];
      if (child === undefined || child === null) {
        if (op.op === 'remove') throw new BadRequestError(`Can't remove non-existent object '${segs.at(-1)}' at ${op.path}`);
        child = {};
        parent[seg] = child;
      }
      if (typeof child !== 'object') throw new BadRequestError(`Invalid patch path ${op.path}: ${seg} is not an object`);
      parent = child as Record<string, unknown>;
    }
    const last = segs.at(-1)!;
    if (Array.isArray(parent)) {
      patchArray(parent, last, op);
      continue;
    }
    if (op.op === 'remove') {
      if (segs.length > 1) {
        if (!(last in parent)) throw new BadRequestError(`Can't remove non-existent object '${last}'`);
        delete parent[last];
      } else {
        parent[last] = null;
      }
    } else if (op.op === 'replace' && segs.length > 1 && !(last in parent)) {
      throw new BadRequestError(`Can't replace non-existent object '${last}' at ${op.path}`);
    } else {
      parent[last] = op.value;
    }
  }
  return out;
}

/** An index into a list (RFC 6902: "-" is the end, for add only); out of range is a 400 naming the path. */
function arrayIndex(list: unknown[], seg: string, path: string, adding: boolean): number {
  if (adding && seg === '-') return list.length;
  const max = adding ? list.length : list.length - 1;
  if (!/^(0|[1-9][0-9]*)$/.test(seg) || Number(seg) > max) throw new BadRequestError(`Invalid patch path ${path}: no item ${seg} in a list of ${list.length}`);
  return Number(seg);
}

/** add inserts before the index (or appends with "-"), replace sets an existing item, remove deletes it. */
function patchArray(list: unknown[], seg: string, op: PatchOp): void {
  const i = arrayIndex(list, seg, op.path, op.op === 'add');
  if (op.op === 'add') list.splice(i, 0, op.value);
  else if (op.op === 'replace') list[i] = op.value;
  else list.splice(i, 1);
}

/** A boolean from a patch value; clients send true/false or their string forms ("False"). */
export function patchBool(value: unknown, field: string): boolean {
  if (value === true || value === false) return value;
  if (value === null || value === undefined) return false;
  const s = String(value).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new BadRequestError(`Invalid value ${JSON.stringify(value)} for ${field}: expected a boolean`);
}
