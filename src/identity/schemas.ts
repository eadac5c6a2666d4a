// Request body schemas (strict: unknown fields are refused and named). Lengths are Keystone's:
// user and role names 255, project and domain names 64, ids 64; a name needs a non-blank
// character (Keystone's pattern [\S]+).
const name = { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' } as const;
const shortName = { ...name, maxLength: 64 } as const;
const optId = { type: ['string', 'null'], maxLength: 64 } as const;
const optText = { type: ['string', 'null'], maxLength: 255 } as const;
const tags = { type: 'array', maxItems: 80, items: { type: 'string', minLength: 1, maxLength: 255 } } as const;

export const projectCreateSchema = {
  type: 'object', additionalProperties: false, required: ['project'],
  properties: {
    project: {
      type: 'object', additionalProperties: false, required: ['name'],
      properties: {
        name: shortName, domain_id: optId, description: { type: ['string', 'null'], maxLength: 65535 }, enabled: { type: 'boolean' },
        parent_id: optId, is_domain: { type: 'boolean' }, tags, options: { type: 'object' },
      },
    },
  },
} as const;

export const projectUpdateSchema = {
  type: 'object', additionalProperties: false, required: ['project'],
  properties: {
    project: {
      type: 'object', additionalProperties: false,
      properties: { name: shortName, description: { type: ['string', 'null'], maxLength: 65535 }, enabled: { type: 'boolean' }, tags, options: { type: 'object' } },
    },
  },
} as const;

// Keystone's user options (its registry's schema: every option nullable, others refused). Only
// ignore_lockout_failure_attempts is implemented; Keystone's other user options
// (ignore_change_password_upon_first_use, ignore_password_expiry, ignore_user_inactivity,
// lock_password, multi_factor_auth_enabled, multi_factor_auth_rules) are refused as unknown
// rather than accepted and not honoured.
const userOptions = {
  type: 'object', additionalProperties: false,
  properties: { ignore_lockout_failure_attempts: { type: ['boolean', 'null'] } },
} as const;

const userProps = {
  name, domain_id: optId, password: { type: ['string', 'null'], maxLength: 4096 }, enabled: { type: 'boolean' },
  default_project_id: optId, description: { type: ['string', 'null'], maxLength: 65535 }, email: optText, options: userOptions,
} as const;

// Other user attributes are Keystone's "extra" attributes: kept and shown back (bounded and
// checked in user-extras.ts), so the user object takes additional properties.
export const userCreateSchema = {
  type: 'object', additionalProperties: false, required: ['user'],
  properties: { user: { type: 'object', additionalProperties: true, required: ['name'], properties: userProps } },
} as const;

export const userUpdateSchema = {
  type: 'object', additionalProperties: false, required: ['user'],
  properties: { user: { type: 'object', additionalProperties: true, properties: userProps } },
} as const;

// A user changing their own password (POST /v3/users/{id}/password): Keystone's body. The new
// password has the same limit as on create, and may not be empty (on create an empty password
// means none; here it would lock the user out of their own account).
export const userPasswordSchema = {
  type: 'object', additionalProperties: false, required: ['user'],
  properties: {
    user: {
      type: 'object', additionalProperties: false, required: ['password', 'original_password'],
      properties: { password: { type: 'string', minLength: 1, maxLength: 4096 }, original_password: { type: 'string', maxLength: 4096 } },
    },
  },
} as const;

export const roleCreateSchema = {
  type: 'object', additionalProperties: false, required: ['role'],
  properties: {
    role: {
      type: 'object', additionalProperties: false, required: ['name'],
      properties: { name, description: { type: ['string', 'null'], maxLength: 255 }, domain_id: optId, options: { type: 'object' } },
    },
  },
} as const;

export const roleUpdateSchema = {
  type: 'object', additionalProperties: false, required: ['role'],
  properties: {
    role: {
      type: 'object', additionalProperties: false,
      properties: { name, description: { type: ['string', 'null'], maxLength: 255 }, options: { type: 'object' } },
    },
  },
} as const;

export const domainCreateSchema = {
  type: 'object', additionalProperties: false, required: ['domain'],
  properties: {
    domain: {
      type: 'object', additionalProperties: false, required: ['name'],
      properties: { name: shortName, description: { type: ['string', 'null'], maxLength: 65535 }, enabled: { type: 'boolean' }, tags, options: { type: 'object' } },
    },
  },
} as const;

// Other group attributes are kept as extras (user-extras.ts), as for users.
const groupProps = { name, description: { type: ['string', 'null'], maxLength: 65535 } } as const;

export const groupCreateSchema = {
  type: 'object', additionalProperties: false, required: ['group'],
  properties: { group: { type: 'object', additionalProperties: true, required: ['name'], properties: { ...groupProps, domain_id: optId } } },
} as const;

export const groupUpdateSchema = {
  type: 'object', additionalProperties: false, required: ['group'],
  properties: { group: { type: 'object', additionalProperties: true, properties: groupProps } },
} as const;
