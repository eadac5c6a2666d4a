// JSON patch (application/openstack-images-v2.1-json-patch) on an image: add, replace and remove
// of top-level attributes and custom properties. Pointers, names and values are checked as Glance
// checks them (same statuses and wording), and errors name the operation and the field.
import { Ajv, type ValidateFunction } from 'ajv';
import { BadRequestError, ConflictError, ForbiddenError, ValidationError } from '../common/errors.js';
import { CUSTOM_PROPERTY, IMAGE_PROPERTIES, READ_ONLY, checkPropertyCount, checkPropertyName } from './schemas.js';
import type { Image } from './store.js';

export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

// Compiled on first use, not at module load: every server start loads this module, few patch.
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();
function validatorFor(name: string, schema: object): ValidateFunction {
  let v = validators.get(name);
  if (!v) validators.set(name, (v = (ajv ??= new Ajv({ strict: false })).compile(schema)));
  return v;
}

/** Attributes with a fixed meaning that a patch may change. */
const MUTABLE = ['name', 'visibility', 'protected', 'os_hidden', 'owner', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'tags'] as const;
type Mutable = (typeof MUTABLE)[number];

/** The one attribute name a pointer designates; Glance's pointer rules and messages. */
function decodePointer(pointer: string, index: number): string {
  const bad = (message: string) => new BadRequestError(message, { fields: { path: `body[${index}].path` } });
  if (/\/\s*\//.test(pointer.slice(1))) throw bad(`Pointer \`${pointer}\` contains adjacent "/".`);
  if (pointer.length > 1 && pointer.endsWith('/')) throw bad(`Pointer \`${pointer}\` end with "/".`);
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) throw bad(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  const parts = pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  // Nested paths (Glance allows them only for locations, which this service does not have).
  if (parts.length !== 1) throw bad(`Invalid JSON pointer for this resource: '/${parts.join('/')}'`);
  return parts[0]!;
}

/** Applies the operations to a copy of the image; the caller saves it and checks policy. */
export function applyPatch(image: Image, ops: readonly PatchOp[]): { image: Image; changed: Set<string> } {
  const next: Image = { ...image, tags: [...image.tags], properties: { ...image.properties } };
  const changed = new Set<string>();
  ops.forEach((op, index) => {
    const key = decodePointer(op.path, index);
    const path = `body[${index}].path`;
    if ((READ_ONLY as readonly string[]).includes(key) || key === 'id') {
      throw new ForbiddenError(`Attribute '${key}' is read-only.`, { fields: { path } });
    }
    changed.add(key);
    if ((MUTABLE as readonly string[]).includes(key)) {
      const k = key as Mutable;
      if (op.op === 'remove') {
        throw new ForbiddenError(`Attribute '${key}' is a base attribute and cannot be removed.`, { fields: { path } });
      }
      if (!('value' in op)) throw new ValidationError('is required', { path: `body[${index}].value` });
      const validate = validatorFor(k, IMAGE_PROPERTIES[k]);
      if (!validate(op.value)) {
        throw new ValidationError(`${key} ${validate.errors?.[0]?.message ?? 'is invalid'}`, { path: `body[${index}].value` });
      }
      (next as unknown as Record<Mutable, unknown>)[k] = op.value;
      return;
    }
    checkPropertyName(key, path);
    // Custom properties are user-named: only own properties count, and records are rebuilt
    // (spread, computed keys) rather than assigned into, so no name reaches a prototype.
    const exists = Object.hasOwn(next.properties, key);
    if (op.op === 'remove') {
      if (!exists) throw new ConflictError(`Property ${key} does not exist.`, { fields: { path } });
      next.properties = Object.fromEntries(Object.entries(next.properties).filter(([k]) => k !== key));
      return;
    }
    if (op.op === 'replace' && !exists) throw new ConflictError(`Property ${key} does not exist.`, { fields: { path } });
    if (!('value' in op)) throw new ValidationError('is required', { path: `body[${index}].value` });
    if (!validatorFor('custom property', CUSTOM_PROPERTY)(op.value)) throw new ValidationError(`custom property ${key} must be a string of at most 65535 characters`, { path: `body[${index}].value` });
    next.properties = { ...next.properties, [key]: op.value as string };
  });
  // Only growth is refused: an image over the quota (a lowered quota) can still be trimmed.
  const count = Object.keys(next.properties).length;
  if (count > Object.keys(image.properties).length) checkPropertyCount(count);
  return { image: next, changed };
}
