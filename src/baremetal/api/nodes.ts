// /v1/nodes: create, list (filters, fields, paging), show, JSON-patch update, delete, states,
// maintenance, traits, boot device, validate, history.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../common/errors.js';
import { fromJson, now, toJson } from '../../common/db.js';
import { isAdmin, type AuthContext } from '../../common/auth.js';
import type { NodeRow } from '../db.js';
import { PROVISION_VERBS, TRANSIENT_STATES, type ProvisionState } from '../states.js';
import { findNode, isUuid, lockedError, recordHistory } from '../node-store.js';
import { BOOT_DEVICES, INTERFACE_KINDS, POWER_TARGETS, type BootDevice, type CleanStep, type InterfaceKind, type PowerTarget } from '../drivers/interfaces.js';
import { FIXED_INTERFACES, OPTIONAL_KINDS, resolveOptional } from '../drivers/hardware-types.js';
import { NotAcceptableVersionError, apiVersion, patchedFields, requireFieldsAt } from './versions.js';
import { applyPatch, patchBool, patchSchema, type PatchOp } from './json-patch.js';
import { maskSecretText } from '../secrets.js';
import { checkTraits } from '../traits.js';
import { NODE_LIST_FIELDS, allocationView, historyView, nodeStatesView, nodeView, pick, portView } from './views.js';
import { nodeUpdateRules, permits, type BaremetalOp } from '../policy.js';
import { ownedOrLeasedBy } from '../ownership.js';
import { authorize, authorizeNode, canSeeNode, isLesseeOnly, nextLink, parseBool, parseFaultFilter, parseFields, parseLimit, parseMarker, parseProvisionStateFilter, parseSortDir, parseSortKey, type ApiDeps, type Query } from './context.js';

const NAME_RE = /^[A-Za-z0-9\-._~]+$/;

const interfaceProps = Object.fromEntries(
  [...INTERFACE_KINDS, ...Object.keys(FIXED_INTERFACES)].map((k) => [`${k}_interface`, { type: ['string', 'null'] }]),
);

const createSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['driver'],
  properties: {
    uuid: { type: 'string' },
    name: { type: ['string', 'null'] },
    driver: { type: 'string' },
    driver_info: { type: 'object' },
    properties: { type: 'object' },
    extra: { type: 'object' },
    instance_info: { type: 'object' },
    instance_uuid: { type: ['string', 'null'] },
    resource_class: { type: ['string', 'null'], maxLength: 80 },
    owner: { type: ['string', 'null'] },
    lessee: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    automated_clean: { type: ['boolean', 'null'] },
    network_data: { type: 'object' },
    conductor_group: { type: 'string' },
    chassis_uuid: { type: ['string', 'null'] },
    boot_mode: { type: ['string', 'null'], enum: ['uefi', 'bios', null] },
    ...interfaceProps,
  },
} as const;

/** Fields a JSON patch may change. */
const UPDATABLE = new Set([
  'name', 'driver', 'driver_info', 'properties', 'extra', 'instance_info', 'instance_uuid', 'resource_class', 'owner', 'lessee',
  'description', 'automated_clean', 'network_data', 'conductor_group', 'protected', 'protected_reason', 'retired', 'retired_reason',
  'maintenance', 'maintenance_reason', 'chassis_uuid',
  ...INTERFACE_KINDS.map((k) => `${k}_interface`),
  ...Object.keys(FIXED_INTERFACES).map((k) => `${k}_interface`),
]);

const JSON_FIELDS = ['driver_info', 'properties', 'extra', 'instance_info', 'network_data'] as const;

function checkName(name: unknown): void {
  if (name === null || name === undefined) return;
  if (typeof name !== 'string' || !NAME_RE.test(name) || isUuid(name) || name.length > 255) {
    throw new ValidationError(`"${String(name)}" is not a valid node name: use letters, digits and -._~, not a UUID`, { path: 'body.name' });
  }
}

function checkFixedInterfaces(body: Record<string, unknown>): void {
  for (const [kind, name] of Object.entries(FIXED_INTERFACES)) {
    if ((OPTIONAL_KINDS as readonly string[]).includes(kind)) continue; // stored per node (resolveOptional)
    const v = body[`${kind}_interface`];
    if (v !== undefined && v !== null && v !== name) {
      throw new ValidationError(`"${String(v)}" is not available; the only ${kind} interface is "${name}"`, { path: `body.${kind}_interface` });
    }
  }
}

const SORT_KEYS = new Set(['created_at', 'updated_at', 'uuid', 'name', 'provision_state', 'power_state', 'resource_class', 'driver']);

export function nodeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.db;
  const registry = deps.conductor.registry;

  /** The node and the caller, allowed `ops` on it: 404 when the caller may not see it, then 403 (policy.ts). */
  const nodeFor = (request: FastifyRequest, ident: string, ...ops: BaremetalOp[]) => authorizeNode(db, request, ident, ...ops);
  const visibleNode = async (request: FastifyRequest, ident: string, ...ops: BaremetalOp[]) => (await nodeFor(request, ident, ...ops)).row;

  /** A node as this caller may see it (a lessee gets the owner's details redacted). */
  const viewFor = (request: FastifyRequest, auth: AuthContext, row: NodeRow) =>
    nodeView(row, deps.base(), deps.conductor.options.host, { lessee: isLesseeOnly(auth, row), version: apiVersion(request) });

  app.post('/v1/nodes', { schema: { body: createSchema } }, async (request, reply) => {
    const auth = authorize(request, 'baremetal:node:create');
    const body = request.body as Record<string, unknown>;
    requireFieldsAt('node', Object.keys(body), apiVersion(request));
    checkName(body.name);
    checkFixedInterfaces(body);
    const driver = String(body.driver);
    const ifaces = registry.resolveInterfaces(
      driver,
      Object.fromEntries(INTERFACE_KINDS.map((k) => [k, body[`${k}_interface`] as string | null | undefined])) as Partial<Record<InterfaceKind, string>>,
    );
    const uuid = body.uuid === undefined ? randomUUID() : String(body.uuid).toLowerCase();
    if (!isUuid(uuid)) throw new ValidationError(`"${uuid}" is not a UUID`, { path: 'body.uuid' });
    const chassisUuid = await existingChassis(db, body.chassis_uuid);
    const stamp = now();
    const row: NodeRow = {
      uuid,
      name: (body.name as string | null | undefined) ?? null,
      driver,
      driver_info: toJson(body.driver_info ?? {}),
      driver_internal_info: toJson({}),
      extra: toJson(body.extra ?? {}),
      instance_info: toJson(body.instance_info ?? {}),
      instance_uuid: (body.instance_uuid as string | null | undefined) ?? null,
      properties: toJson(body.properties ?? {}),
      traits: toJson([]),
      conductor_group: (body.conductor_group as string | undefined) ?? '',
      last_error: null,
      maintenance: 0,
      maintenance_reason: null,
      fault: null,
      power_state: null,
      target_power_state: null,
      // Before 1.11 new nodes were immediately available; from 1.11 they start in enroll.
      provision_state: apiVersion(request) >= 11 ? 'enroll' : 'available',
      target_provision_state: null,
      provision_updated_at: null,
      reservation: null,
      operation: null,
      resource_class: (body.resource_class as string | null | undefined) ?? null,
      owner: (body.owner as string | null | undefined) ?? (isAdmin(auth) ? null : auth.projectId),
      lessee: (body.lessee as string | null | undefined) ?? null,
      protected: 0,
      protected_reason: null,
      retired: 0,
      retired_reason: null,
      boot_interface: ifaces.boot,
      deploy_interface: ifaces.deploy,
      inspect_interface: ifaces.inspect,
      management_interface: ifaces.management,
      power_interface: ifaces.power,
      ...Object.fromEntries(OPTIONAL_KINDS.map((k) => [`${k}_interface`, resolveOptional(driver, k, body[`${k}_interface`])])),
      automated_clean: body.automated_clean === undefined || body.automated_clean === null ? null : body.automated_clean ? 1 : 0,
      description: (body.description as string | null | undefined) ?? null,
      allocation_uuid: null,
      boot_mode: (body.boot_mode as string | null | undefined) ?? null,
      clean_step: toJson({}),
      deploy_step: toJson({}),
      network_data: toJson(body.network_data ?? {}),
      inspection_started_at: null,
      inspection_finished_at: null,
      chassis_uuid: chassisUuid,
      created_at: stamp,
      updated_at: null,
    };
    await insertUnique(db, row);
    await recordHistory(db, uuid, `node created in "${row.provision_state}"`, 'provisioning', 'INFO', auth.userName, null);
    reply.status(201).header('location', `${deps.base()}/v1/nodes/${uuid}`);
    return nodeView(row, deps.base(), deps.conductor.options.host, { version: apiVersion(request) });
  });

  /** GET /nodes, /nodes/detail and (fromChassis) /chassis/{uuid}/nodes[/detail]: the chassis is then the path's. */
  const list = (detailPath: boolean, fromChassis = false) => async (request: FastifyRequest) => {
    const auth = authorize(request, 'baremetal:node:list');
    const q = request.query as Query;
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    if (detailPath && q.fields) throw new BadRequestError('Can not specify ?fields with /nodes/detail');
    const version = apiVersion(request);
    // A field or a filter newer than the request's version is a 406, as in Ironic.
    requireFieldsAt('node', [...Object.keys(q), ...(q.fields ? q.fields.split(',').map((f) => f.trim()) : [])], version);
    const allFields = Object.keys(nodeView(sampleRow, '', null, { version }));
    const fields = parseFields(q.fields, allFields);
    const limit = parseLimit(q.limit);
    const sortKey = parseSortKey(q.sort_key, SORT_KEYS, 'created_at');
    const dir = parseSortDir(q.sort_dir);
    const marker = parseMarker(q.marker);
    const provisionState = parseProvisionStateFilter(q.provision_state);
    const fault = parseFaultFilter(q.fault);
    let query = db.selectFrom('baremetal_nodes').selectAll();
    if (provisionState) query = query.where('provision_state', '=', provisionState);
    if (q.driver) query = query.where('driver', '=', q.driver);
    if (q.resource_class) query = query.where('resource_class', '=', q.resource_class);
    if (q.owner) query = query.where('owner', '=', q.owner);
    if (q.lessee) query = query.where('lessee', '=', q.lessee);
    if (q.conductor_group) query = query.where('conductor_group', '=', q.conductor_group.toLowerCase());
    if (fault) query = query.where('fault', '=', fault);
    if (q.instance_uuid) query = query.where('instance_uuid', '=', q.instance_uuid);
    const chassisFilter = fromChassis ? (request.params as { chassis_uuid: string }).chassis_uuid : q.chassis_uuid;
    if (chassisFilter) {
      // As Ironic: a chassis that does not exist is a 404, not an empty list.
      const chassis = await db.selectFrom('baremetal_chassis').select('uuid').where('uuid', '=', chassisFilter.toLowerCase()).executeTakeFirst();
      if (!chassis) throw new NotFoundError('Chassis', chassisFilter);
      query = query.where('chassis_uuid', '=', chassis.uuid);
    }
    const maint = parseBool(q.maintenance, 'maintenance');
    if (maint !== undefined) query = query.where('maintenance', '=', maint ? 1 : 0);
    const assoc = parseBool(q.associated, 'associated');
    if (assoc !== undefined) query = query.where('instance_uuid', assoc ? 'is not' : 'is', null);
    const retired = parseBool(q.retired, 'retired');
    if (retired !== undefined) query = query.where('retired', '=', retired ? 1 : 0);
    if (q.description_contains) query = query.where('description', 'like', `%${q.description_contains}%`);
    if (!isAdmin(auth)) query = query.where(ownedOrLeasedBy(auth.projectId));
    const col = sql.ref(sortKey);
    const keyExpr = sql<string>`coalesce(${col}, '')`;
    if (marker) {
      // A marker naming a node the caller may not see is answered as a missing one.
      const m = await findNode(db, marker).catch(() => undefined);
      if (!m || !canSeeNode(auth, m)) throw new NotFoundError('Marker', marker);
      const mk = String((m as unknown as Record<string, unknown>)[sortKey] ?? '');
      const cmp = dir === 'asc' ? sql`>` : sql`<`;
      query = query.where(sql<boolean>`(${keyExpr} ${cmp} ${mk} or (${keyExpr} = ${mk} and uuid ${cmp} ${m.uuid}))`);
    }
    const rows = await query.orderBy(keyExpr, dir).orderBy('uuid', dir).limit(limit).execute();
    const base = deps.base();
    const nodes = rows.map((r) => {
      const v = viewFor(request, auth, r);
      return fields ? pick(v, fields) : detail ? v : pick(v, NODE_LIST_FIELDS);
    });
    const out: Record<string, unknown> = { nodes };
    const path = fromChassis ? `chassis/${(request.params as { chassis_uuid: string }).chassis_uuid}/nodes` : 'nodes';
    if (rows.length === limit && limit > 0) out.next = nextLink(base, detailPath ? `${path}/detail` : path, q, limit, rows.at(-1)!.uuid);
    return out;
  };
  // python-ironicclient asks for /v1/nodes/?... (trailing slash) for filtered lists.
  app.get('/v1/nodes', list(false));
  app.get('/v1/nodes/', list(false));
  app.get('/v1/nodes/detail', list(true));
  // A chassis's nodes: the node list with the chassis as its filter (Ironic's NodesController under /chassis).
  app.get('/v1/chassis/:chassis_uuid/nodes', list(false, true));
  app.get('/v1/chassis/:chassis_uuid/nodes/detail', list(true, true));

  app.get('/v1/nodes/:ident', async (request) => {
    const { ident } = request.params as { ident: string };
    const { row, auth } = await nodeFor(request, ident, 'baremetal:node:get');
    const q = request.query as Query;
    if (q.fields) requireFieldsAt('node', q.fields.split(',').map((f) => f.trim()), apiVersion(request));
    const v = viewFor(request, auth, row);
    const fields = parseFields(q.fields, Object.keys(v));
    return fields ? pick(v, fields) : v;
  });

  app.patch('/v1/nodes/:ident', { schema: { body: patchSchema } }, async (request) => {
    const { ident } = request.params as { ident: string };
    const ops = request.body as PatchOp[];
    requireFieldsAt('node', patchedFields(ops), apiVersion(request));
    // As Ironic: each field the patch touches has its own rule (extra: the owner's or lessee's
    // member; driver_info: the owner's member; owner, driver: admin ...).
    const { row, auth } = await nodeFor(request, ident, ...nodeUpdateRules(ops));
    if (row.reservation) throw lockedError(row);
    const before = nodeView(row, '');
    // Patch the unmasked values, so a patch of one driver_info key keeps the others' secrets.
    before.driver_info = fromJson(row.driver_info, {});
    before.instance_info = fromJson(row.instance_info, {});
    const after = applyPatch(before, ops, UPDATABLE);
    for (const f of JSON_FIELDS) if (after[f] === null) after[f] = {};
    const changes = await nodeChanges(row, after, registry, resetInterfaces(request, String(after.driver) !== row.driver));
    changes.chassis_uuid = after.chassis_uuid === row.chassis_uuid ? row.chassis_uuid : await existingChassis(db, after.chassis_uuid);
    if (changes.maintenance === 1 && row.maintenance === 0 && !('maintenance_reason' in changes)) changes.maintenance_reason = null;
    const stamp = now();
    await db
      .updateTable('baremetal_nodes')
      .set({ ...changes, updated_at: stamp })
      .where('uuid', '=', row.uuid)
      .where('reservation', 'is', null)
      .execute()
      .catch((err: unknown) => rethrowUnique(err, changes));
    await recordHistory(db, row.uuid, `updated ${ops.map((o) => `${o.op} ${o.path}`).join(', ')}`, 'update', 'INFO', auth.userName, null);
    return viewFor(request, auth, await findNode(db, row.uuid));
  });

  app.delete('/v1/nodes/:ident', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    const { row } = await nodeFor(request, ident, 'baremetal:node:delete');
    if (row.reservation) throw lockedError(row);
    if (row.protected) throw new ForbiddenError(`Node ${row.uuid} is protected and cannot be deleted${row.protected_reason ? `: ${row.protected_reason}` : ''}`);
    const deletable: ProvisionState[] = ['enroll', 'manageable', 'available', 'inspect failed', 'clean failed', 'adopt failed', 'error'];
    if (!deletable.includes(row.provision_state as ProvisionState) && !row.maintenance) {
      throw new ConflictError(
        `Can not delete node ${row.uuid} while it is in provision state "${row.provision_state}". Valid provision states to start deletion are: ${deletable.map((s) => `"${s}"`).join(', ')}, or set maintenance.`,
      );
    }
    const ports = await db.selectFrom('baremetal_ports').select('address').where('node_uuid', '=', row.uuid).execute();
    await db.deleteFrom('baremetal_ports').where('node_uuid', '=', row.uuid).execute();
    await db.deleteFrom('baremetal_portgroups').where('node_uuid', '=', row.uuid).execute();
    await db.deleteFrom('baremetal_node_history').where('node_uuid', '=', row.uuid).execute();
    await db.updateTable('baremetal_allocations').set({ node_uuid: null, state: 'error', last_error: `node ${row.uuid} was deleted` }).where('node_uuid', '=', row.uuid).execute();
    await db.deleteFrom('baremetal_nodes').where('uuid', '=', row.uuid).where('reservation', 'is', null).execute();
    if (ports.length) await deps.portsChanged?.({ removed: ports.map((p) => p.address) });
    reply.status(204);
  });

  // ------------------------------------------------------------ states

  app.get('/v1/nodes/:ident/states', async (request) => {
    const { ident } = request.params as { ident: string };
    const { row, auth } = await nodeFor(request, ident, 'baremetal:node:get_states');
    return nodeStatesView(row, { lessee: isLesseeOnly(auth, row), version: apiVersion(request) });
  });

  app.put(
    '/v1/nodes/:ident/states/provision',
    {
      schema: {
        body: {
          type: 'object',
          required: ['target'],
          properties: {
            target: { type: 'string' },
            clean_steps: { type: 'array', items: { type: 'object', required: ['interface', 'step'] } },
            configdrive: { type: ['string', 'object'] },
            deploy_steps: { type: 'array' },
            disable_ramdisk: { type: 'boolean' },
            service_steps: { type: 'array' },
          },
        },
      },
    },
    async (request, reply) => {
      const { ident } = request.params as { ident: string };
      const { row, auth } = await nodeFor(request, ident, 'baremetal:node:set_provision_state');
      const body = request.body as { target: string; clean_steps?: CleanStep[]; configdrive?: unknown };
      const event = PROVISION_VERBS[body.target];
      if (!event) {
        throw new BadRequestError(`"${body.target}" is not a valid provision target; valid: ${Object.keys(PROVISION_VERBS).join(', ')}`);
      }
      // As Ironic: a protected node's instance may not be torn down or rebuilt (403, not a state conflict).
      if (row.protected && (event === 'deleted' || event === 'rebuild')) {
        throw new ForbiddenError(`Node ${row.uuid} is protected; unset protected before "${body.target}"${row.protected_reason ? ` (protected: ${row.protected_reason})` : ''}`);
      }
      if (body.configdrive !== undefined && event !== 'deploy' && event !== 'rebuild') {
        throw new BadRequestError('configdrive may only be given with "active" or "rebuild"');
      }
      // The conductor writes the config drive only once the move is accepted: a refused request writes nothing.
      await deps.conductor.provision(row.uuid, event, { cleanSteps: body.clean_steps, configdrive: body.configdrive, user: auth.userName });
      reply.status(202).header('location', `${deps.base()}/v1/nodes/${row.uuid}/states`);
    },
  );

  app.put(
    '/v1/nodes/:ident/states/power',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['target'],
          properties: { target: { type: 'string', enum: [...POWER_TARGETS] }, timeout: { type: 'integer', minimum: 1 } },
        },
      },
    },
    async (request, reply) => {
      const { ident } = request.params as { ident: string };
      const { row, auth } = await nodeFor(request, ident, 'baremetal:node:set_power_state');
      const { target } = request.body as { target: PowerTarget };
      if (row.reservation) throw lockedError(row);
      if (TRANSIENT_STATES.includes(row.provision_state as ProvisionState)) {
        throw new ConflictError(`Node ${row.uuid} is "${row.provision_state}"; power actions are not allowed until it finishes.`);
      }
      await deps.conductor.power(row.uuid, target, auth.userName);
      reply.status(202).header('location', `${deps.base()}/v1/nodes/${row.uuid}/states`);
    },
  );

  // ------------------------------------------------------------ console, RAID

  /** 400 when the node's console interface is the no-op one (Ironic: unsupported driver extension). */
  const consoleInterface = (row: NodeRow): string => {
    const iface = row.console_interface ?? FIXED_INTERFACES.console!;
    if (iface === FIXED_INTERFACES.console) throw new BadRequestError(`Node ${row.uuid}'s console interface is "${iface}": it has no console`);
    return iface;
  };

  const showConsole = async (request: FastifyRequest) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:node:get_console');
    const iface = consoleInterface(row);
    // The fake console only records on/off: there is nothing to connect to.
    return { console_enabled: row.console_enabled === 1, console_info: row.console_enabled === 1 ? { type: iface, url: null } : null };
  };
  app.get('/v1/nodes/:ident/states/console', showConsole);
  // Ironic's controller tree also answers the node last (its nodes controller has a "states"
  // child); Tempest's get_console asks that way.
  app.get('/v1/nodes/states/console/:ident', showConsole);

  app.put(
    '/v1/nodes/:ident/states/console',
    { schema: { body: { type: 'object', additionalProperties: false, required: ['enabled'], properties: { enabled: { type: 'boolean' } } } } },
    async (request, reply) => {
      const { ident } = request.params as { ident: string };
      const row = await visibleNode(request, ident, 'baremetal:node:set_console_state');
      const { enabled } = request.body as { enabled: boolean };
      if (row.reservation) throw lockedError(row);
      consoleInterface(row);
      await db.updateTable('baremetal_nodes').set({ console_enabled: enabled ? 1 : 0, updated_at: now() }).where('uuid', '=', row.uuid).execute();
      reply.status(202).header('location', `${deps.base()}/v1/nodes/${row.uuid}/states/console`);
    },
  );

  app.put('/v1/nodes/:ident/states/raid', { schema: { body: { type: 'object' } } }, async (request, reply) => {
    const { ident } = request.params as { ident: string };
    if (apiVersion(request) < 12) throw new NotFoundError('Route', 'PUT /v1/nodes/{node}/states/raid (API 1.12 and later)');
    const row = await visibleNode(request, ident, 'baremetal:node:set_raid_state');
    const iface = row.raid_interface ?? FIXED_INTERFACES.raid!;
    if (iface === FIXED_INTERFACES.raid) throw new BadRequestError(`Node ${row.uuid}'s RAID interface is "${iface}": it cannot configure RAID`);
    const config = request.body as Record<string, unknown>;
    // An empty object clears the target, as Ironic.
    const stored = Object.keys(config).length === 0 ? null : toJson(checkRaidConfig(config));
    await db.updateTable('baremetal_nodes').set({ target_raid_config: stored, updated_at: now() }).where('uuid', '=', row.uuid).execute();
    reply.status(204);
  });

  // ------------------------------------------------------------ maintenance

  app.put('/v1/nodes/:ident/maintenance', { schema: { body: { type: ['object', 'null'], properties: { reason: { type: ['string', 'null'] } } } } }, async (request, reply) => {
    const { ident } = request.params as { ident: string };
    const { row, auth } = await nodeFor(request, ident, 'baremetal:node:set_maintenance');
    const reason = (request.body as { reason?: string | null } | null)?.reason ?? null;
    await db.updateTable('baremetal_nodes').set({ maintenance: 1, maintenance_reason: reason, updated_at: now() }).where('uuid', '=', row.uuid).execute();
    await recordHistory(db, row.uuid, `maintenance set${reason ? `: ${reason}` : ''}`, 'maintenance', 'INFO', auth.userName, null);
    reply.status(202);
  });

  app.delete('/v1/nodes/:ident/maintenance', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    const { row, auth } = await nodeFor(request, ident, 'baremetal:node:clear_maintenance');
    await db.updateTable('baremetal_nodes').set({ maintenance: 0, maintenance_reason: null, fault: null, updated_at: now() }).where('uuid', '=', row.uuid).execute();
    await recordHistory(db, row.uuid, 'maintenance unset', 'maintenance', 'INFO', auth.userName, null);
    reply.status(202);
  });

  // ------------------------------------------------------------ traits

  app.get('/v1/nodes/:ident/traits', async (request) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:node:traits:list');
    return { traits: fromJson(row.traits, []) };
  });

  async function setTraits(ident: string, request: FastifyRequest, op: BaremetalOp, edit: (t: string[]) => string[]): Promise<void> {
    const row = await visibleNode(request, ident, op);
    if (row.reservation) throw lockedError(row);
    const traits = edit(fromJson<string[]>(row.traits, []));
    checkTraits(traits, 'traits');
    if (traits.length > 50) throw new BadRequestError('A node may have at most 50 traits');
    await db.updateTable('baremetal_nodes').set({ traits: toJson([...new Set(traits)]), updated_at: now() }).where('uuid', '=', row.uuid).execute();
  }

  app.put('/v1/nodes/:ident/traits', { schema: { body: { type: 'object', required: ['traits'], additionalProperties: false, properties: { traits: { type: 'array', items: { type: 'string' } } } } } }, async (request, reply) => {
    const { ident } = request.params as { ident: string };
    await setTraits(ident, request, 'baremetal:node:traits:set', () => (request.body as { traits: string[] }).traits);
    reply.status(204);
  });
  // A trait may be 255 characters, longer than a path parameter may be (100): a wildcard twin of
  // each route takes the longer ones (as Glance's tag routes, src/images/routes.ts).
  const traitOf = (request: FastifyRequest): { ident: string; trait: string } => {
    const p = request.params as { ident: string; trait?: string; '*'?: string };
    const trait = p.trait ?? p['*'] ?? '';
    if (p.trait === undefined && trait.includes('/')) throw new NotFoundError('Trait', trait);
    return { ident: p.ident, trait };
  };
  for (const url of ['/v1/nodes/:ident/traits/:trait', '/v1/nodes/:ident/traits/*']) {
    app.put(url, async (request, reply) => {
      const { ident, trait } = traitOf(request);
      await setTraits(ident, request, 'baremetal:node:traits:set', (t) => [...t, trait]);
      reply.status(204);
    });
  }
  app.delete('/v1/nodes/:ident/traits', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    await setTraits(ident, request, 'baremetal:node:traits:delete', () => []);
    reply.status(204);
  });
  for (const url of ['/v1/nodes/:ident/traits/:trait', '/v1/nodes/:ident/traits/*']) {
    app.delete(url, async (request, reply) => {
      const { ident, trait } = traitOf(request);
      await setTraits(ident, request, 'baremetal:node:traits:delete', (t) => {
        if (!t.includes(trait)) throw new NotFoundError('Trait', trait);
        return t.filter((x) => x !== trait);
      });
      reply.status(204);
    });
  }

  // ------------------------------------------------------------ management

  app.put(
    '/v1/nodes/:ident/management/boot_device',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['boot_device'],
          properties: { boot_device: { type: 'string', enum: [...BOOT_DEVICES] }, persistent: { type: 'boolean' } },
        },
      },
    },
    async (request, reply) => {
      const { ident } = request.params as { ident: string };
      const row = await visibleNode(request, ident, 'baremetal:node:set_boot_device');
      const body = request.body as { boot_device: BootDevice; persistent?: boolean };
      await deps.conductor.setBootDevice(row.uuid, body.boot_device, body.persistent ?? false);
      reply.status(204);
    },
  );
  app.get('/v1/nodes/:ident/management/boot_device', async (request) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:node:get_boot_device');
    return deps.conductor.getBootDevice(row.uuid);
  });
  app.get('/v1/nodes/:ident/management/boot_device/supported', async (request) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:node:get_boot_device');
    return { supported_boot_devices: await deps.conductor.supportedBootDevices(row.uuid) };
  });

  app.get('/v1/nodes/:ident/validate', async (request) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:node:validate');
    // Reasons may quote driver_info (an invalid BMC URL): masked like the fields themselves.
    const results = await deps.conductor.validate(row.uuid);
    for (const r of Object.values(results)) if (r.reason) r.reason = maskSecretText(r.reason);
    return results;
  });

  // ------------------------------------------------------------ ports of a node, history

  app.get('/v1/nodes/:ident/ports', async (request) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:port:list');
    const rows = await db.selectFrom('baremetal_ports').selectAll().where('node_uuid', '=', row.uuid).orderBy('created_at').execute();
    const detail = parseBool((request.query as Query).detail, 'detail');
    return { ports: rows.map((p) => (detail ? portView(p, deps.base(), apiVersion(request)) : pick(portView(p, deps.base()), ['uuid', 'address']))) };
  });
  app.get('/v1/nodes/:ident/ports/detail', async (request) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:port:list');
    const rows = await db.selectFrom('baremetal_ports').selectAll().where('node_uuid', '=', row.uuid).orderBy('created_at').execute();
    return { ports: rows.map((p) => portView(p, deps.base(), apiVersion(request))) };
  });

  /** As in Ironic (baremetal:node:history:get), a node's history is its owner's to read, not its lessee's. */
  const ownerHistory = (request: FastifyRequest, ident: string) => visibleNode(request, ident, 'baremetal:node:history:get');

  const listHistory = async (request: FastifyRequest, detail: boolean) => {
    const { ident } = request.params as { ident: string };
    const row = await ownerHistory(request, ident);
    const q = request.query as Query;
    const rows = await db
      .selectFrom('baremetal_node_history')
      .selectAll()
      .where('node_uuid', '=', row.uuid)
      .orderBy('created_at')
      .orderBy('uuid')
      .limit(parseLimit(q.limit))
      .execute();
    return { history: rows.map((h) => historyView(h, deps.base(), detail)) };
  };
  app.get('/v1/nodes/:ident/history', async (request) => listHistory(request, parseBool((request.query as Query).detail, 'detail') === true));
  // ironicclient's `node history list --long` asks for .../history/detail (not ?detail=true).
  app.get('/v1/nodes/:ident/history/detail', async (request) => listHistory(request, true));
  app.get('/v1/nodes/:ident/history/:event', async (request) => {
    const { ident, event } = request.params as { ident: string; event: string };
    const row = await ownerHistory(request, ident);
    const h = await db.selectFrom('baremetal_node_history').selectAll().where('node_uuid', '=', row.uuid).where('uuid', '=', event).executeTakeFirst();
    if (!h) throw new NotFoundError('Node history event', event);
    return historyView(h, deps.base(), true);
  });

  app.get('/v1/nodes/:ident/allocation', async (request) => {
    const { ident } = request.params as { ident: string };
    const { row, auth } = await nodeFor(request, ident, 'baremetal:node:get');
    const a = row.allocation_uuid ? await db.selectFrom('baremetal_allocations').selectAll().where('uuid', '=', row.allocation_uuid).executeTakeFirst() : undefined;
    // Another project's allocation (the owner's, on a node this project leases) is answered as none.
    if (!a || !permits('baremetal:allocation:get', auth, { allocation: a })) throw new NotFoundError('Allocation for node', row.uuid);
    return allocationView(a, deps.base());
  });

}

const RAID_LEVELS = ['0', '1', '2', '5', '6', '1+0', '5+0', '6+0'];

/** Ironic's target_raid_config rules: a non-empty logical_disks list, each with size_gb and raid_level, one root volume at most. */
export function checkRaidConfig(config: Record<string, unknown>): Record<string, unknown> {
  const disks = config.logical_disks;
  if (!Array.isArray(disks) || disks.length === 0) throw new ValidationError('must be a non-empty list of logical disks', { path: 'body.logical_disks' });
  let roots = 0;
  disks.forEach((d: unknown, i) => {
    const at = (f: string) => ({ path: `body.logical_disks[${i}]${f ? `.${f}` : ''}` });
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new ValidationError('must be an object', at(''));
    const disk = d as Record<string, unknown>;
    const size = disk.size_gb;
    if (size !== 'MAX' && !(Number.isInteger(size) && (size as number) >= 0)) throw new ValidationError('must be "MAX" or a whole number of GiB', at('size_gb'));
    if (typeof disk.raid_level !== 'string' || !RAID_LEVELS.includes(disk.raid_level)) {
      throw new ValidationError(`must be one of ${RAID_LEVELS.join(', ')}`, at('raid_level'));
    }
    for (const f of ['is_root_volume', 'share_physical_disks']) {
      if (disk[f] !== undefined && typeof disk[f] !== 'boolean') throw new ValidationError('must be true or false', at(f));
    }
    if (disk.is_root_volume === true) roots++;
  });
  if (roots > 1) throw new ValidationError('at most one logical disk may be the root volume', { path: 'body.logical_disks' });
  return config;
}

/** Where a node may be protected (Ironic: a deployed instance, or one being rescued). */
const PROTECTABLE_STATES: readonly string[] = ['active', 'rescue', 'rescuing', 'rescue wait', 'rescue failed', 'unrescuing', 'unrescue failed'];

/** Turns a patched view back into column changes, validating as on create. */
/**
 * Whether a driver change resets the interfaces the patch does not set. From 1.45 as Ironic: only
 * with ?reset_interfaces=true (otherwise they are kept, and must suit the new driver). Before 1.45
 * they are reset (a departure: Ironic keeps them there too, and old clients had no way to ask).
 */
export function resetInterfaces(request: FastifyRequest, driverChanged: boolean): boolean {
  const asked = parseBool((request.query as Query).reset_interfaces, 'reset_interfaces');
  if (apiVersion(request) < 45) {
    if (asked !== undefined) throw new NotAcceptableVersionError('reset_interfaces needs API version 1.45 or later.');
    return true;
  }
  if (asked === true && !driverChanged) throw new BadRequestError('reset_interfaces can only be used when the patch changes the node\'s driver');
  return asked === true;
}

async function nodeChanges(row: NodeRow, after: Record<string, unknown>, registry: ApiDeps['conductor']['registry'], reset: boolean): Promise<Partial<NodeRow>> {
  const c: Partial<NodeRow> = {};
  const str = (k: string) => (after[k] === undefined || after[k] === null ? null : String(after[k]));
  const bool = (k: string) => (patchBool(after[k], k) ? 1 : 0);
  checkName(after.name);
  checkFixedInterfaces(after);
  c.name = str('name');
  for (const f of JSON_FIELDS) {
    if (typeof after[f] !== 'object' || Array.isArray(after[f])) throw new ValidationError('must be an object', { path: f });
    c[f] = toJson(after[f]);
  }
  c.instance_uuid = str('instance_uuid');
  c.resource_class = str('resource_class');
  // The create schema's limit (Ironic's column is 80 characters), for a patch too.
  if (c.resource_class !== null && c.resource_class.length > 80) {
    throw new ValidationError(`is ${c.resource_class.length} characters long; at most 80`, { path: 'resource_class' });
  }
  c.owner = str('owner');
  c.lessee = str('lessee');
  c.description = str('description');
  c.conductor_group = (str('conductor_group') ?? '').toLowerCase();
  c.automated_clean = after.automated_clean === null || after.automated_clean === undefined ? null : bool('automated_clean');
  c.protected = bool('protected');
  // Unsetting protected drops its reason; giving a reason to an unprotected node is a 400.
  if (!c.protected && str('protected_reason') !== null && str('protected_reason') !== row.protected_reason) {
    throw new BadRequestError('protected_reason can only be set when protected is True');
  }
  c.protected_reason = c.protected ? str('protected_reason') : null;
  c.retired = bool('retired');
  c.retired_reason = c.retired ? str('retired_reason') : null;
  c.maintenance = bool('maintenance');
  c.maintenance_reason = c.maintenance ? str('maintenance_reason') : null;
  const driver = String(after.driver);
  if (driver !== row.driver || INTERFACE_KINDS.some((k) => after[`${k}_interface`] !== row[`${k}_interface` as keyof NodeRow])) {
    const reqIfaces: Partial<Record<InterfaceKind, string | null>> = {};
    for (const k of INTERFACE_KINDS) {
      const v = after[`${k}_interface`];
      // On a driver change with `reset`, interfaces the client did not set fall back to the new driver's defaults.
      reqIfaces[k] = reset && driver !== row.driver && v === row[`${k}_interface` as keyof NodeRow] ? null : (v as string | null);
    }
    const ifaces = registry.resolveInterfaces(driver, reqIfaces);
    c.driver = driver;
    c.boot_interface = ifaces.boot;
    c.deploy_interface = ifaces.deploy;
    c.inspect_interface = ifaces.inspect;
    c.management_interface = ifaces.management;
    c.power_interface = ifaces.power;
  }
  for (const k of OPTIONAL_KINDS) {
    const v = after[`${k}_interface`];
    // As the interfaces above: on a driver change, an unchanged one falls back to the new default.
    const shown = row[`${k}_interface`] ?? FIXED_INTERFACES[k];
    c[`${k}_interface`] = resolveOptional(driver, k, reset && driver !== row.driver && v === shown ? null : v);
  }
  if (c.protected && !row.protected && !PROTECTABLE_STATES.includes(row.provision_state)) {
    throw new ConflictError(`Node ${row.uuid} can only be protected in the active state, not "${row.provision_state}"`);
  }
  return c;
}

/**
 * The chassis a node create or patch names (null: none). One that does not exist is a 400, as
 * Ironic answers (a 404 would say the node is missing).
 */
async function existingChassis(db: ApiDeps['db'], value: unknown): Promise<string | null> {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || !isUuid(value)) throw new ValidationError(`"${String(value)}" is not a UUID`, { path: 'body.chassis_uuid' });
  const found = await db.selectFrom('baremetal_chassis').select('uuid').where('uuid', '=', value.toLowerCase()).executeTakeFirst();
  if (!found) throw new BadRequestError(`Chassis ${value} could not be found.`);
  return found.uuid;
}

async function insertUnique(db: ApiDeps['db'], row: NodeRow): Promise<void> {
  try {
    await db.insertInto('baremetal_nodes').values(row).execute();
  } catch (err) {
    rethrowUnique(err, row);
  }
}

function rethrowUnique(err: unknown, row: Partial<NodeRow>): never {
  const msg = String((err as Error).message);
  if (/unique|duplicate/i.test(msg)) {
    if (/name/.test(msg)) throw new ConflictError(`A node with name ${row.name} already exists.`);
    if (/instance_uuid/.test(msg)) throw new ConflictError(`Instance ${row.instance_uuid} is already associated with a node.`);
    throw new ConflictError(`A node with UUID ${row.uuid} already exists.`);
  }
  throw err;
}

/** A row to derive the list of valid ?fields names from. */
const sampleRow: NodeRow = {
  uuid: '', name: null, driver: '', driver_info: '{}', driver_internal_info: '{}', extra: '{}', instance_info: '{}', instance_uuid: null,
  properties: '{}', traits: '[]', conductor_group: '', last_error: null, maintenance: 0, maintenance_reason: null, fault: null,
  power_state: null, target_power_state: null, provision_state: 'enroll', target_provision_state: null, provision_updated_at: null,
  reservation: null, operation: null, resource_class: null, owner: null, lessee: null, protected: 0, protected_reason: null, retired: 0,
  retired_reason: null, boot_interface: '', deploy_interface: '', inspect_interface: '', management_interface: '', power_interface: '',
  automated_clean: null, description: null, allocation_uuid: null, boot_mode: null, clean_step: '{}', deploy_step: '{}', network_data: '{}',
  inspection_started_at: null, inspection_finished_at: null, chassis_uuid: null, created_at: '', updated_at: null,
};
