// A user's (or group's) "extra" attributes: Keystone keeps any attribute of a user or group it
// does not know (Tempest sends project_id, for one) and returns it merged into the record. Here they are one JSON object in
// identity_users.extra, bounded so that a user record cannot grow without limit, and never able
// to stand in for an attribute of the user itself.
import { BadRequestError } from '../common/errors.js';

/** Attributes of the user itself: the request schema's properties (never an extra). */
export const USER_FIELDS = ['name', 'domain_id', 'password', 'enabled', 'default_project_id', 'description', 'email', 'options'] as const;

/**
 * Names the server sets or shows itself, or that name a credential: refused as extras, so that
 * an extra can neither pose as the user's id nor make `password` (or a hash) appear in a view.
 */
const RESERVED = new Set([
  'id', 'links', 'password_expires_at', 'extra', 'original_password', 'password_hash', 'created_at',
  'ignore_lockout_failure_attempts', '__proto__',
]);

export const EXTRA_LIMITS = { maxKeys: 64, maxKeyLength: 64, maxBytes: 16 * 1024 } as const;

/** Whose extras: the record kind named in errors and the attributes that are its own. */
export interface ExtrasOwner { kind: 'user' | 'group'; fields: ReadonlySet<string> }
export const USER_EXTRAS: ExtrasOwner = { kind: 'user', fields: new Set<string>(USER_FIELDS) };
/** A group's own attributes (the request schema's properties). */
export const GROUP_EXTRAS: ExtrasOwner = { kind: 'group', fields: new Set<string>(['name', 'domain_id', 'description']) };

/** A key as it may appear in an error message: user input, so cut short. */
function shown(key: string): string {
  return key.length > EXTRA_LIMITS.maxKeyLength ? `${key.slice(0, EXTRA_LIMITS.maxKeyLength)}…` : key;
}

/**
 * The unknown attributes of a user body (create or update), checked one by one. On update,
 * `userId` is the user's: an `id` equal to it is let through and ignored (a client sending back
 * what it read), as Keystone does; any other `id` is refused.
 */
export function extrasOf(user: Record<string, unknown>, userId?: string, owner: ExtrasOwner = USER_EXTRAS): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(user)) {
    if (owner.fields.has(key) || (key === 'id' && userId !== undefined && value === userId)) continue;
    const path = `body.${owner.kind}.${shown(key)}`;
    if (RESERVED.has(key)) throw new BadRequestError(`${path}: cannot be set`, { fields: { path } });
    if (key.length === 0 || key.length > EXTRA_LIMITS.maxKeyLength) {
      throw new BadRequestError(`${path}: an extra attribute's name must be 1 to ${EXTRA_LIMITS.maxKeyLength} characters long`, { fields: { path } });
    }
    out[key] = value;
  }
  return out;
}

/**
 * `base` with `patch` laid over it (Keystone's update: the keys given replace, the others stay),
 * checked against the limits as a whole. The error names the first attribute past a limit.
 */
export function mergeExtras(base: Record<string, unknown>, patch: Record<string, unknown>, owner: ExtrasOwner = USER_EXTRAS): Record<string, unknown> {
  const merged = { ...base, ...patch };
  let count = 0;
  let bytes = 2; // the braces
  for (const [key, value] of Object.entries(merged)) {
    count++;
    bytes += Buffer.byteLength(JSON.stringify(key)) + 1 + Buffer.byteLength(JSON.stringify(value) ?? 'null') + (count > 1 ? 1 : 0);
    const path = `body.${owner.kind}.${shown(key)}`;
    if (count > EXTRA_LIMITS.maxKeys) throw new BadRequestError(`${path}: a ${owner.kind} has at most ${EXTRA_LIMITS.maxKeys} extra attributes`, { fields: { path } });
    if (bytes > EXTRA_LIMITS.maxBytes) throw new BadRequestError(`${path}: a ${owner.kind}'s extra attributes take at most ${EXTRA_LIMITS.maxBytes} bytes of JSON`, { fields: { path } });
  }
  return merged;
}

/** The stored extras, without any key that is not an extra (a defence against old or bad rows). */
export function storedExtras(json: string | null | undefined, owner: ExtrasOwner = USER_EXTRAS): Record<string, unknown> {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) if (!owner.fields.has(k) && !RESERVED.has(k)) out[k] = v;
  return out;
}
