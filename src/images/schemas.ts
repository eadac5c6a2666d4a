// Request schemas for images. Glance lets any extra property through as a string (custom
// metadata); everything else is typed, and a wrong type is refused naming the field.
import { CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES } from './states.js';

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** Attributes the server owns: a client may not set them (Glance answers 403). */
export const READ_ONLY = [
  'status', 'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'created_at', 'updated_at',
  'self', 'file', 'schema', 'locations', 'direct_url', 'deleted', 'deleted_at',
] as const;

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
  propertyNames: { maxLength: 255 },
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
