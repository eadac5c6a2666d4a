// Request schemas for images. Glance lets any extra property through as a string (custom
// metadata); everything else is typed, and a wrong type is refused naming the field.
import { BadRequestError, BootstackError, ForbiddenError } from '../common/errors.js';
import { CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES } from './states.js';

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** Attributes the server owns: a client may not set them (Glance answers 403 "... is read-only."). */
export const READ_ONLY = [
  'status', 'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'created_at', 'updated_at',
  'self', 'file', 'schema', 'locations', 'direct_url', 'stores',
] as const;

/**
 * Names no custom property may have (403 "... is reserved."): Glance's reserved attributes and
 * its os_glance namespace, plus the names through which a JavaScript object reaches its
 * prototype, so that no record built from property names can be made to inherit from the user.
 */
const RESERVED = new Set(['location', 'deleted', 'deleted_at', '__proto__', 'constructor', 'prototype']);
const RESERVED_PREFIX = 'os_glance';

/** Glance's image_property_quota default: custom properties per image. */
export const MAX_PROPERTIES = 128;

/** Refuses a custom property name as Glance does; `path` names it in the error. */
export function checkPropertyName(key: string, path: string): void {
  if (key.trim() === '') throw new BadRequestError('Custom property names cannot be empty.', { fields: { path } });
  if (key.length > 255) throw new BadRequestError('Custom property should not be greater than 255 characters.', { fields: { path } });
  if (RESERVED.has(key) || key.startsWith(RESERVED_PREFIX)) throw new ForbiddenError(`Attribute '${key}' is reserved.`, { fields: { path } });
}

/** 413 when an image would carry more than MAX_PROPERTIES custom properties (Glance's wording). */
export function checkPropertyCount(count: number): void {
  if (count > MAX_PROPERTIES) {
    throw new BootstackError(413, 'limit_exceeded', `The limit has been exceeded on the number of allowed image properties. Attempted: ${count}, Maximum: ${MAX_PROPERTIES}`);
  }
}

/** Typed attributes with their schemas (also used to check JSON-patch values). */
export const IMAGE_PROPERTIES = {
  id: { type: 'string', pattern: UUID_PATTERN },
  name: { type: ['string', 'null'], maxLength: 255 },
  visibility: { type: 'string', enum: VISIBILITIES },
  protected: { type: 'boolean' },
  os_hidden: { type: 'boolean' },
  owner: { type: ['string', 'null'], maxLength: 255 },
  disk_format: { type: ['string', 'null'], enum: [...DISK_FORMATS, null] },
  container_format: { type: ['string', 'null'], enum: [...CONTAINER_FORMATS, null] },
  min_disk: { type: 'integer', minimum: 0, maximum: 2147483647 },
  min_ram: { type: 'integer', minimum: 0, maximum: 2147483647 },
  tags: { type: 'array', maxItems: 128, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

export const CUSTOM_PROPERTY = { type: 'string', maxLength: 65535 } as const;

export const imageCreateSchema = {
  type: 'object',
  properties: IMAGE_PROPERTIES,
  // Names of custom properties are checked by checkPropertyName, with Glance's answers.
  additionalProperties: CUSTOM_PROPERTY,
} as const;

export const patchSchema = {
  type: 'array',
  maxItems: 256,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['op', 'path'],
    properties: {
      op: { type: 'string', enum: ['add', 'replace', 'remove'] },
      path: { type: 'string', pattern: '^/' , maxLength: 300 },
      value: {},
    },
  },
} as const;
