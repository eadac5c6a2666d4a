// The documents behind GET /v2/schemas/{image,images,member,members}: JSON Schemas of the records
// this service returns, built from the same definitions that validate requests (schemas.ts,
// members.ts), so they describe what the code accepts and answers, field for field.
import { CUSTOM_PROPERTY, IMAGE_PROPERTIES, READ_ONLY } from './schemas.js';
import { MEMBER_STATUSES } from './states.js';

const timestamp = { type: 'string', format: 'date-time', readOnly: true } as const;
const nullableString = (description: string) => ({ type: ['string', 'null'], readOnly: true, description });

/** Fields the server sets: shown by GET, refused (403) in a create or a patch. */
const SERVER_FIELDS = {
  status: { type: 'string', enum: ['queued', 'saving', 'active', 'killed', 'deactivated'], readOnly: true, description: 'queued until data is uploaded, saving during the upload, active with data, killed after a failed upload, deactivated when an admin has withdrawn the data' },
  size: { type: ['integer', 'null'], readOnly: true, description: 'bytes of image data (null before upload)' },
  virtual_size: { type: ['integer', 'null'], readOnly: true, description: 'not computed by this service: always null' },
  checksum: nullableString('MD5 of the data, hex'),
  os_hash_algo: nullableString('the algorithm of os_hash_value: sha512'),
  os_hash_value: nullableString('SHA-512 of the data, hex'),
  created_at: timestamp,
  updated_at: timestamp,
  self: { type: 'string', readOnly: true },
  file: { type: 'string', readOnly: true },
  schema: { type: 'string', readOnly: true },
} as const;

const DESCRIPTIONS: Partial<Record<keyof typeof IMAGE_PROPERTIES, string>> = {
  id: 'UUID; chosen by the server unless given at creation',
  visibility: 'public (admin only), community, shared (the default; visible to accepted members) or private',
  protected: 'a protected image cannot be deleted',
  os_hidden: 'hidden from lists unless os_hidden=true is asked for',
  owner: 'the owning project',
  min_disk: 'GiB of disk a server booted from the image needs',
  min_ram: 'MiB of RAM a server booted from the image needs',
};

export function imageSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(IMAGE_PROPERTIES)) {
    const description = DESCRIPTIONS[name as keyof typeof IMAGE_PROPERTIES];
    properties[name] = description ? { ...schema, description } : schema;
  }
  Object.assign(properties, SERVER_FIELDS);
  return {
    name: 'image',
    type: 'object',
    properties,
    // Anything else is a custom property: a string, at top level of the image.
    additionalProperties: CUSTOM_PROPERTY,
    readOnlyProperties: [...READ_ONLY],
    links: [
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

export function imagesSchema(): Record<string, unknown> {
  return {
    name: 'images',
    type: 'object',
    properties: {
      images: { type: 'array', items: imageSchema() },
      first: { type: 'string' },
      next: { type: 'string', description: 'present when there is a further page (marker/limit)' },
      schema: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

export function memberSchema(): Record<string, unknown> {
  return {
    name: 'member',
    type: 'object',
    properties: {
      image_id: { type: 'string', readOnly: true, description: 'the shared image' },
      member_id: { type: 'string', maxLength: 255, readOnly: true, description: 'the project the image is shared with' },
      status: { type: 'string', enum: [...MEMBER_STATUSES], description: 'the member project\'s answer; only that project may change it' },
      created_at: timestamp,
      updated_at: timestamp,
      schema: { type: 'string', readOnly: true },
    },
  };
}

export function membersSchema(): Record<string, unknown> {
  return {
    name: 'members',
    type: 'object',
    properties: {
      members: { type: 'array', items: memberSchema() },
      schema: { type: 'string' },
    },
    links: [{ rel: 'describedby', href: '{schema}' }],
  };
}
