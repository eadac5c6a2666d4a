// Request body schemas (strict: unknown fields are refused and named).
const name = { type: 'string', minLength: 1, maxLength: 255 } as const;
const optText = { type: ['string', 'null'], maxLength: 255 } as const;
const tags = { type: 'array', maxItems: 80, items: { type: 'string', minLength: 1, maxLength: 255 } } as const;

export const projectCreateSchema = {
  type: 'object', additionalProperties: false, required: ['project'],
  properties: {
    project: {
      type: 'object', additionalProperties: false, required: ['name'],
      properties: {
        name, domain_id: optText, description: { type: ['string', 'null'], maxLength: 65535 }, enabled: { type: 'boolean' },
        parent_id: optText, is_domain: { type: 'boolean', enum: [false] }, tags, options: { type: 'object' },
      },
    },
  },
} as const;

export const projectUpdateSchema = {
  type: 'object', additionalProperties: false, required: ['project'],
  properties: {
    project: {
      type: 'object', additionalProperties: false,
      properties: { name, description: { type: ['string', 'null'], maxLength: 65535 }, enabled: { type: 'boolean' }, tags, options: { type: 'object' } },
    },
  },
} as const;

const userProps = {
  name, domain_id: optText, password: { type: ['string', 'null'], maxLength: 4096 }, enabled: { type: 'boolean' },
  default_project_id: optText, description: { type: ['string', 'null'], maxLength: 65535 }, email: optText, options: { type: 'object' },
} as const;

export const userCreateSchema = {
  type: 'object', additionalProperties: false, required: ['user'],
  properties: { user: { type: 'object', additionalProperties: false, required: ['name'], properties: userProps } },
} as const;

export const userUpdateSchema = {
  type: 'object', additionalProperties: false, required: ['user'],
  properties: { user: { type: 'object', additionalProperties: false, properties: userProps } },
} as const;

export const roleCreateSchema = {
  type: 'object', additionalProperties: false, required: ['role'],
  properties: {
    role: {
      type: 'object', additionalProperties: false, required: ['name'],
      properties: { name, description: { type: ['string', 'null'], maxLength: 255 }, domain_id: { type: 'null' }, options: { type: 'object' } },
    },
  },
} as const;

export const domainCreateSchema = {
  type: 'object', additionalProperties: false, required: ['domain'],
  properties: {
    domain: {
      type: 'object', additionalProperties: false, required: ['name'],
      properties: { name, description: { type: ['string', 'null'], maxLength: 65535 }, enabled: { type: 'boolean' }, tags, options: { type: 'object' } },
    },
  },
} as const;
