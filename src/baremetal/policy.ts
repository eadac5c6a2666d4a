// Ironic's default policies (ironic/common/policy.py, "secure RBAC"), as data: for every
// operation, who besides the cloud admin may call it, named after Ironic's check strings.
//
// The admin role (on any project, or on the system with a system-scoped token) is the cloud
// admin and passes every rule (Ironic's SYSTEM_ADMIN, SYSTEM_MEMBER and SYSTEM_READER, and the
// service role). A system-scoped token without the admin role has no project and so matches no
// persona: Ironic's system reader and member are not distinguished yet (refused, never widened).
// Every other caller is a project-scoped user, and a rule lists the personas that may call:
// its role (admin, member, reader; implied roles count) in the project that owns or leases the
// node, or owns the allocation, or in any project (lists and creates of the caller's own records).
// Since any admin is the cloud admin, the "owner-admin" and "lessee-admin" personas only ever
// match callers that pass anyway: rules that ask for them are admin-only in Bootstack.
//
// How the routes apply the rules (context.ts), as Ironic's check_node_policy_and_retrieve does:
// first the record (404 when missing), then whether the caller may see it (baremetal:node:get,
// baremetal:allocation:get: 404 again, exactly as a missing one), and only then the operation's
// own rule (403). A persona that names a relation (owner, lessee, allocation owner) never holds
// without the record it relates to: a rule checked without its target fails closed.
import { ForbiddenError } from '../common/errors.js';
import { isAdmin, type AuthContext, type PolicyTable } from '../common/auth.js';
import type { NodeRow } from './db.js';
import type { PatchOp } from './api/json-patch.js';
import { INTERFACE_KINDS } from './drivers/interfaces.js';
import { FIXED_INTERFACES } from './drivers/hardware-types.js';

type Role = 'admin' | 'member' | 'reader';

/** A caller's standing towards the target: its relation to it, and its role in that project. */
export type Persona =
  | `owner-${Role}` // the node's owner project
  | `lessee-${Role}` // the node's lessee project
  | `allocation-owner-${Role}` // the allocation's owner project
  | `any-${Role}`; // any project (its own records: lists, allocation create)

// Ironic's composite check strings, without their system/service parts (the cloud admin).
/** SYSTEM_ADMIN, SYSTEM_MEMBER, SYSTEM_READER: nobody but the cloud admin. */
const SYSTEM: readonly Persona[] = [];
const API_READER: readonly Persona[] = ['any-reader'];
const SYSTEM_OR_PROJECT_READER: readonly Persona[] = ['owner-reader', 'lessee-reader'];
const SYSTEM_OR_OWNER_READER: readonly Persona[] = ['owner-reader'];
const SYSTEM_OR_PROJECT_MEMBER: readonly Persona[] = ['owner-member', 'lessee-member'];
const SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN: readonly Persona[] = ['owner-member', 'lessee-admin'];
const SYSTEM_MEMBER_OR_OWNER_MEMBER: readonly Persona[] = ['owner-member'];
const SYSTEM_MEMBER_OR_OWNER_ADMIN: readonly Persona[] = ['owner-admin'];
const SYSTEM_ADMIN_OR_OWNER_ADMIN: readonly Persona[] = ['owner-admin'];
const SYSTEM_MEMBER_OR_OWNER_LESSEE_ADMIN: readonly Persona[] = ['owner-admin', 'lessee-admin'];
/** baremetal:node:delete is SYSTEM_ADMIN, and baremetal:node:delete:self_owned_node PROJECT_ADMIN (the owner's admin). */
const SYSTEM_ADMIN_OR_PROJECT_ADMIN: readonly Persona[] = ['owner-admin'];
const ALLOCATION_READER: readonly Persona[] = ['allocation-owner-reader'];
const ALLOCATION_MEMBER: readonly Persona[] = ['allocation-owner-member'];
const ALLOCATION_CREATOR: readonly Persona[] = ['any-member'];

/** Operation → the personas that may call it (besides the cloud admin). Ironic's names and defaults. */
export const BAREMETAL_RULES = {
  'baremetal:node:create': SYSTEM,
  'baremetal:node:list': API_READER,
  'baremetal:node:get': SYSTEM_OR_PROJECT_READER,
  // Fields of a node its lessee sees redacted (views.ts).
  'baremetal:node:get:driver_info': SYSTEM_OR_OWNER_READER,
  'baremetal:node:get:driver_internal_info': SYSTEM_OR_OWNER_READER,
  'baremetal:node:get:last_error': SYSTEM_OR_OWNER_READER,
  'baremetal:node:get:reservation': SYSTEM_OR_OWNER_READER,
  'baremetal:node:get_states': SYSTEM_OR_PROJECT_READER,
  // PATCH /nodes/{id}: one rule per field the patch touches (nodeUpdateRules below).
  'baremetal:node:update': SYSTEM_OR_PROJECT_MEMBER,
  'baremetal:node:update_extra': SYSTEM_OR_PROJECT_MEMBER,
  // Two deliberate departures from Ironic, both admin-only here: instance_info names the image,
  // which the conductor resolves with the operator's rights (an owner could otherwise deploy
  // another project's private image onto its node and read it back); driver_info names where
  // the conductor connects and which CA files on the seed it reads (an owner could point it at
  // any address the seed reaches, or probe the seed's files).
  'baremetal:node:update_instance_info': SYSTEM,
  'baremetal:node:update:driver_info': SYSTEM,
  'baremetal:node:update:properties': SYSTEM_MEMBER_OR_OWNER_MEMBER,
  'baremetal:node:update:chassis_uuid': SYSTEM,
  'baremetal:node:update:instance_uuid': SYSTEM_MEMBER_OR_OWNER_MEMBER,
  // A third departure from Ironic (owner's member there): a lessee's servers are placed on the
  // nodes it leases (ownership.ts), so an owner who could set the lessee could draw another
  // project's servers onto its own machine and then rebuild them with its own config drive.
  'baremetal:node:update:lessee': SYSTEM,
  'baremetal:node:update:owner': SYSTEM,
  'baremetal:node:update:driver_interfaces': SYSTEM_MEMBER_OR_OWNER_ADMIN,
  'baremetal:node:update:network_data': SYSTEM_MEMBER_OR_OWNER_MEMBER,
  'baremetal:node:update:conductor_group': SYSTEM,
  'baremetal:node:update:name': SYSTEM_MEMBER_OR_OWNER_MEMBER,
  'baremetal:node:update:retired': SYSTEM_MEMBER_OR_OWNER_MEMBER,
  'baremetal:node:disable_cleaning': SYSTEM,
  'baremetal:node:delete': SYSTEM_ADMIN_OR_PROJECT_ADMIN,
  'baremetal:node:validate': SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN,
  'baremetal:node:set_maintenance': SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN,
  'baremetal:node:clear_maintenance': SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN,
  'baremetal:node:get_boot_device': SYSTEM_MEMBER_OR_OWNER_ADMIN,
  'baremetal:node:set_boot_device': SYSTEM_MEMBER_OR_OWNER_ADMIN,
  'baremetal:node:set_power_state': SYSTEM_OR_PROJECT_MEMBER,
  'baremetal:node:set_provision_state': SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN,
  'baremetal:node:get_console': SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN,
  'baremetal:node:set_console_state': SYSTEM_OR_OWNER_MEMBER_AND_LESSEE_ADMIN,
  'baremetal:node:set_raid_state': SYSTEM_MEMBER_OR_OWNER_MEMBER,
  'baremetal:node:traits:list': SYSTEM_OR_PROJECT_READER,
  'baremetal:node:traits:set': SYSTEM_MEMBER_OR_OWNER_ADMIN,
  'baremetal:node:traits:delete': SYSTEM_MEMBER_OR_OWNER_ADMIN,
  'baremetal:node:history:get': SYSTEM_OR_OWNER_READER,
  'baremetal:port:get': SYSTEM_OR_PROJECT_READER,
  'baremetal:port:list': API_READER,
  'baremetal:port:create': SYSTEM_ADMIN_OR_OWNER_ADMIN,
  'baremetal:port:update': SYSTEM_MEMBER_OR_OWNER_ADMIN,
  'baremetal:port:delete': SYSTEM_ADMIN_OR_OWNER_ADMIN,
  // Port groups: the same personas as the node's ports (Ironic's defaults).
  'baremetal:portgroup:get': SYSTEM_OR_PROJECT_READER,
  'baremetal:portgroup:list': API_READER,
  'baremetal:portgroup:create': SYSTEM_ADMIN_OR_OWNER_ADMIN,
  'baremetal:portgroup:update': SYSTEM_MEMBER_OR_OWNER_ADMIN,
  'baremetal:portgroup:delete': SYSTEM_ADMIN_OR_OWNER_ADMIN,
  // Deploy templates belong to no project: Ironic gives them to the system reader and admin only.
  'baremetal:deploy_template:get': SYSTEM,
  'baremetal:deploy_template:list': SYSTEM,
  'baremetal:deploy_template:create': SYSTEM,
  'baremetal:deploy_template:update': SYSTEM,
  'baremetal:deploy_template:delete': SYSTEM,
  'baremetal:allocation:get': ALLOCATION_READER,
  'baremetal:allocation:list': API_READER,
  'baremetal:allocation:create': ALLOCATION_CREATOR,
  /** An allocation for another project than the caller's. */
  'baremetal:allocation:create_restricted': SYSTEM,
  'baremetal:allocation:update': ALLOCATION_MEMBER,
  'baremetal:allocation:delete': ALLOCATION_MEMBER,
  'baremetal:driver:get': SYSTEM,
  'baremetal:driver:get_properties': SYSTEM,
  'baremetal:driver:get_raid_logical_disk_properties': SYSTEM,
  // Chassis and conductors are the operator's inventory: Ironic's SYSTEM_READER / SYSTEM_ADMIN.
  'baremetal:chassis:get': SYSTEM,
  'baremetal:chassis:create': SYSTEM,
  'baremetal:chassis:update': SYSTEM,
  'baremetal:chassis:delete': SYSTEM,
  'baremetal:conductor:get': SYSTEM,
  // Volume connectors and targets: rules about the node they belong to. create/update/delete are
  // Ironic's SYSTEM_MEMBER_OR_OWNER_LESSEE_ADMIN, admin-only here (owner-/lessee-admin is the cloud admin).
  'baremetal:volume:list_all': SYSTEM,
  'baremetal:volume:list': API_READER,
  'baremetal:volume:get': SYSTEM_OR_PROJECT_READER,
  'baremetal:volume:create': SYSTEM_MEMBER_OR_OWNER_LESSEE_ADMIN,
  'baremetal:volume:update': SYSTEM_MEMBER_OR_OWNER_LESSEE_ADMIN,
  'baremetal:volume:delete': SYSTEM_MEMBER_OR_OWNER_LESSEE_ADMIN,
  /** A target's properties (they may name storage credentials): the operator's only. */
  'baremetal:volume:view_target_properties': SYSTEM,
} as const satisfies Record<string, readonly Persona[]>;

export type BaremetalOp = keyof typeof BAREMETAL_RULES;

/** The record an operation acts on: the node (its owner and lessee), or the allocation (its owner). */
export interface PolicyTarget {
  node?: Pick<NodeRow, 'owner' | 'lessee'>;
  allocation?: { owner: string | null };
}

function holds(persona: Persona, auth: AuthContext, target: PolicyTarget): boolean {
  const dash = persona.lastIndexOf('-');
  const relation = persona.slice(0, dash);
  const role = persona.slice(dash + 1);
  const project = auth.projectId;
  // Every persona is a project-scoped one: a domain-scoped or unscoped token is none of them.
  if (project === null || !auth.roles.includes(role)) return false;
  switch (relation) {
    case 'owner':
      return target.node !== undefined && target.node.owner === project;
    case 'lessee':
      return target.node !== undefined && target.node.lessee === project;
    case 'allocation-owner':
      return target.allocation !== undefined && target.allocation.owner === project;
    case 'any':
      return true;
    default:
      return false;
  }
}

/** Whether the caller may perform the operation on the target. */
export function permits(op: BaremetalOp, auth: AuthContext, target: PolicyTarget = {}): boolean {
  if (isAdmin(auth)) return true;
  return BAREMETAL_RULES[op].some((p) => holds(p, auth, target));
}

/** Throws Ironic's 403 naming the operation when the caller may not perform it. */
export function enforce(op: BaremetalOp, auth: AuthContext, target: PolicyTarget = {}): void {
  if (!permits(op, auth, target)) {
    throw new ForbiddenError(`Policy does not allow ${op} to be performed.`, { fields: { operation: op, roles: auth.roles } });
  }
}

/** The node fields a lessee (not owner) sees redacted, as Ironic's baremetal:node:get:* rules say. */
export function ownerDetailsHidden(auth: AuthContext, node: Pick<NodeRow, 'owner' | 'lessee'>): boolean {
  return (['baremetal:node:get:driver_info', 'baremetal:node:get:driver_internal_info', 'baremetal:node:get:last_error', 'baremetal:node:get:reservation'] as const).some(
    (op) => !permits(op, auth, { node }),
  );
}

const INTERFACE_FIELDS = new Set([...INTERFACE_KINDS, ...Object.keys(FIXED_INTERFACES)].map((k) => `${k}_interface`));

/** The rule for changing one top-level node field (Ironic's NodesController._authorize_patch_and_get_node). */
function fieldRule(field: string, value: unknown): BaremetalOp {
  switch (field) {
    case 'instance_info':
      return 'baremetal:node:update_instance_info';
    case 'extra':
      return 'baremetal:node:update_extra';
    case 'driver_info':
    case 'properties':
    case 'chassis_uuid':
    case 'instance_uuid':
    case 'lessee':
    case 'owner':
    case 'network_data':
    case 'conductor_group':
    case 'name':
      return `baremetal:node:update:${field}`;
    case 'retired':
    case 'retired_reason':
      return 'baremetal:node:update:retired';
    case 'driver':
      return 'baremetal:node:update:driver_interfaces';
    // Bootstack's own choice: Ironic lets a PATCH of maintenance through baremetal:node:update;
    // here it takes the rule of PUT/DELETE /maintenance, so the two routes agree.
    case 'maintenance':
    case 'maintenance_reason':
      return 'baremetal:node:set_maintenance';
    case 'automated_clean':
      return value === false || (typeof value === 'string' && ['false', '0', 'no', 'off'].includes(value.toLowerCase()))
        ? 'baremetal:node:disable_cleaning'
        : 'baremetal:node:update';
    default:
      return INTERFACE_FIELDS.has(field) ? 'baremetal:node:update:driver_interfaces' : 'baremetal:node:update';
  }
}

/** Every rule a node patch needs, in the order of its operations (always at least one). */
export function nodeUpdateRules(ops: readonly PatchOp[]): BaremetalOp[] {
  const rules = new Set<BaremetalOp>();
  for (const op of ops) {
    const field = (op.path.startsWith('/') ? op.path.slice(1) : op.path).split('/')[0]!.replace(/~1/g, '/').replace(/~0/g, '~');
    rules.add(fieldRule(field, op.op === 'remove' ? undefined : op.value));
  }
  if (rules.size === 0) rules.add('baremetal:node:update');
  return [...rules];
}

/**
 * The rules as the server's policy table (operation → roles): what the role part of each rule
 * asks for. The routes decide with permits(), which also checks the relation (owner, lessee).
 */
export const baremetalPolicy: PolicyTable = Object.fromEntries(
  Object.entries(BAREMETAL_RULES).map(([op, personas]) => [
    op,
    { roles: [...new Set(['admin', ...personas.map((p: Persona) => p.slice(p.lastIndexOf('-') + 1))])] },
  ]),
);
