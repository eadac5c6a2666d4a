// JSON patch (application/openstack-images-v2.1-json-patch) on an image: add, replace and remove
// of top-level attributes and custom properties. Values are checked against the same schemas as
// image creation, and errors name the operation and the field.
import { Ajv, type ValidateFunction } from 'ajv';
import { ConflictError, ForbiddenError, ValidationError } from '../common/errors.js';
import { CUSTOM_PROPERTY, IMAGE_PROPERTIES, READ_ONLY } from './schemas.js';
import type { Image } from './store.js';

export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

const ajv = new Ajv({ strict: false });
const validators = new Map<string, ValidateFunction>(Object.entries(IMAGE_PROPERTIES).map(([k, s]) => [k, ajv.compile(s)]));
const customValidator = ajv.compile(CUSTOM_PROPERTY);

/** Attributes with a fixed meaning that a patch may change. */
const MUTABLE = ['name', 'visibility', 'protected', 'os_hidden', 'owner', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'tags'] as const;
type Mutable = (typeof MUTABLE)[number];

function decodePointer(path: string, index: number): string {
  const parts = path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (parts.length !== 1 || !parts[0]) {
    throw new ValidationError('only top-level attributes can be patched', { path: `body[${index}].path` });
  }
  return parts[0];
}

/** Applies the operations to a copy of the image; the caller saves it and checks policy. */
export function applyPatch(image: Image, ops: readonly PatchOp[]): { image: Image; changed: Set<string> } {
  const next: Image = { ...image, tags: [...image.tags], properties: { ...image.properties } };
  const changed = new Set<string>();
  ops.forEach((op, index) => {
    const key = decodePointer(op.path, index);
    if ((READ_ONLY as readonly string[]).includes(key) || key === 'id') {
      throw new ForbiddenError(`Attribute '${key}' is read-only.`, { fields: { path: `body[${index}].path` } });
    }
    changed.add(key);
    if ((MUTABLE as readonly string[]).includes(key)) {
      const k = key as Mutable;
      if (op.op === 'remove') {
        throw new ForbiddenError(`Attribute '${key}' is a base attribute and cannot be removed.`, { fields: { path: `body[${index}].path` } });
      }
      if (!('value' in op)) throw new ValidationError('is required', { path: `body[${index}].value` });
      const validate = validators.get(k)!;
      if (!validate(op.value)) {
        throw new ValidationError(`${key} ${validate.errors?.[0]?.message ?? 'is invalid'}`, { path: `body[${index}].value` });
      }
      (next as unknown as Record<string, unknown>)[k] = op.value;
      return;
    }
    const exists = Object.hasOwn(next.properties, key);
    if (op.op === 'remove') {
      if (!exists) throw new ConflictError(`Property ${key} does not exist.`, { fields: { path: `body[${index}].path` } });
      delete next.properties[key];
      return;
    }
    if (op.op === 'replace' && !exists) {
      throw new ConflictError(`Property ${key} does not exist.`, { fields: { path: `body[${index}].path` } });
    }
    if (!('value' in op)) throw new ValidationError('is required', { path: `body[${index}].value` });
    if (!customValidator(op.value)) throw new ValidationError(`custom property ${key} must be a string of at most 65535 characters`, { path: `body[${index}].value` });
    if (key.length > 255) throw new ValidationError('property names are at most 255 characters', { path: `body[${index}].path` });
    next.properties[key] = op.value as string;
  });
  return { image: next, changed };
}
