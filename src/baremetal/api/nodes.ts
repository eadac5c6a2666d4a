// /v1/nodes: create, list (filters, fields, paging), show, JSON-patch update, delete, states,
// maintenance, traits, boot device, validate, history.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../../common/errors.js';
import { fromJson, now, toJson } from '../../common/db.js';
import { isAdmin, type AuthContext } from '../../common/auth.js';
import type { NodeRow } from '../db.js';
import { PROVISION_VERBS, TRANSIENT_STATES, type ProvisionState } from '../states.js';
import { findNode, isUuid, lockedError, recordHistory } from '../node-store.js';
import { BOOT_DEVICES, INTERFACE_KINDS, POWER_TARGETS, type BootDevice, type CleanStep, type InterfaceKind, type PowerTarget } from '../drivers/interfaces.js';
import { FIXED_INTERFACES } from '../drivers/hardware-types.js';
import { apiVersion } from './versions.js';
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
    chassis_uuid: { type: 'null' },
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
  const viewFor = (auth: AuthContext, row: NodeRow) => nodeView(row, deps.base(), deps.conductor.options.host, { lessee: isLesseeOnly(auth, row) });

  app.post('/v1/nodes', { schema: { body: createSchema } }, async (request, reply) => {
    const auth = authorize(request, 'baremetal:node:create');
    const body = request.body as Record<string, unknown>;
    checkName(body.name);
    checkFixedInterfaces(body);
    const driver = String(body.driver);
    const ifaces = registry.resolveInterfaces(
      driver,
      Object.fromEntries(INTERFACE_KINDS.map((k) => [k, body[`${k}_interface`] as string | null | undefined])) as Partial<Record<InterfaceKind, string>>,
    );
    const uuid = body.uuid === undefined ? randomUUID() : String(body.uuid).toLowerCase();
    if (!isUuid(uuid)) throw new ValidationError(`"${uuid}" is not a UUID`, { path: 'body.uuid' });
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
      automated_clean: body.automated_clean === undefined || body.automated_clean === null ? null : body.automated_clean ? 1 : 0,
      description: (body.description as string | null | undefined) ?? null,
      allocation_uuid: null,
      boot_mode: (body.boot_mode as string | null | undefined) ?? null,
      clean_step: toJson({}),
      deploy_step: toJson({}),
      network_data: toJson(body.network_data ?? {}),
      inspection_started_at: null,
      inspection_finished_at: null,
      created_at: stamp,
      updated_at: null,
    };
    await insertUnique(db, row);
    await recordHistory(db, uuid, `node created in "${row.provision_state}"`, 'provisioning', 'INFO', auth.userName, null);
    reply.status(201).header('location', `${deps.base()}/v1/nodes/${uuid}`);
    return nodeView(row, deps.base(), deps.conductor.options.host);
  });

  const list = (detailPath: boolean) => async (request: FastifyRequest) => {
    const auth = authorize(request, 'baremetal:node:list');
    const q = request.query as Query;
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    if (detailPath && q.fields) throw new BadRequestError('Can not specify ?fields with /nodes/detail');
    const allFields = Object.keys(nodeView(sampleRow, ''));
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
      const v = viewFor(auth, r);
      return fields ? pick(v, fields) : detail ? v : pick(v, NODE_LIST_FIELDS);
    });
    const out: Record<string, unknown> = { nodes };
    if (rows.length === limit && limit > 0) out.next = nextLink(base, detailPath ? 'nodes/detail' : 'nodes', q, limit, rows.at(-1)!.uuid);
    return out;
  };
  // python-ironicclient asks for /v1/nodes/?... (trailing slash) for filtered lists.
  app.get('/v1/nodes', list(false));
  app.get('/v1/nodes/', list(false));
  app.get('/v1/nodes/detail', list(true));

  app.get('/v1/nodes/:ident', async (request) => {
    const { ident } = request.params as { ident: string };
    const { row, auth } = await nodeFor(request, ident, 'baremetal:node:get');
    const q = request.query as Query;
    const v = viewFor(auth, row);
    const fields = parseFields(q.fields, Object.keys(v));
    return fields ? pick(v, fields) : v;
  });

  app.patch('/v1/nodes/:ident', { schema: { body: patchSchema } }, async (request) => {
    const { ident } = request.params as { ident: string };
    const ops = request.body as PatchOp[];
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
    const changes = await nodeChanges(row, after, registry);
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
    return viewFor(auth, await findNode(db, row.uuid));
  });

  app.delete('/v1/nodes/:ident', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    const { row } = await nodeFor(request, ident, 'baremetal:node:delete');
    if (row.reservation) throw lockedError(row);
    if (row.protected) throw new BadRequestError(`Node ${row.uuid} is protected and cannot be deleted${row.protected_reason ? `: ${row.protected_reason}` : ''}`);
    const deletable: ProvisionState[] = ['enroll', 'manageable', 'available', 'inspect failed', 'clean failed', 'adopt failed', 'error'];
    if (!deletable.includes(row.provision_state as ProvisionState) && !row.maintenance) {
      throw new ConflictError(
        `Can not delete node ${row.uuid} while it is in provision state "${row.provision_state}". Valid provision states to start deletion are: ${deletable.map((s) => `"${s}"`).join(', ')}, or set maintenance.`,
      );
    }
    const ports = await db.selectFrom('baremetal_ports').select('address').where('node_uuid', '=', row.uuid).execute();
    await db.deleteFrom('baremetal_ports').where('node_uuid', '=', row.uuid).execute();
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
    return nodeStatesView(row, { lessee: isLesseeOnly(auth, row) });
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
  app.put('/v1/nodes/:ident/traits/:trait', async (request, reply) => {
    const { ident, trait } = request.params as { ident: string; trait: string };
    await setTraits(ident, request, 'baremetal:node:traits:set', (t) => [...t, trait]);
    reply.status(204);
  });
  app.delete('/v1/nodes/:ident/traits', async (request, reply) => {
    const { ident } = request.params as { ident: string };
    await setTraits(ident, request, 'baremetal:node:traits:delete', () => []);
    reply.status(204);
  });
  app.delete('/v1/nodes/:ident/traits/:trait', async (request, reply) => {
    const { ident, trait } = request.params as { ident: string; trait: string };
    await setTraits(ident, request, 'baremetal:node:traits:delete', (t) => {
      if (!t.includes(trait)) throw new NotFoundError('Trait', trait);
      return t.filter((x) => x !== trait);
    });
    reply.status(204);
  });

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
    return { ports: rows.map((p) => (detail ? portView(p, deps.base()) : pick(portView(p, deps.base()), ['uuid', 'address']))) };
  });
  app.get('/v1/nodes/:ident/ports/detail', async (request) => {
    const { ident } = request.params as { ident: string };
    const row = await visibleNode(request, ident, 'baremetal:port:list');
    const rows = await db.selectFrom('baremetal_ports').selectAll().where('node_uuid', '=', row.uuid).orderBy('created_at').execute();
    return { ports: rows.map((p) => portView(p, deps.base())) };
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

/** Turns a patched view back into column changes, validating as on create. */
async function nodeChanges(row: NodeRow, after: Record<string, unknown>, registry: ApiDeps['conductor']['registry']): Promise<Partial<NodeRow>> {
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
  c.owner = str('owner');
  c.lessee = str('lessee');
  c.description = str('description');
  c.conductor_group = (str('conductor_group') ?? '').toLowerCase();
  c.automated_clean = after.automated_clean === null || after.automated_clean === undefined ? null : bool('automated_clean');
  c.protected = bool('protected');
  c.protected_reason = c.protected ? str('protected_reason') : null;
  if (str('protected_reason') && !c.protected) throw new BadRequestError('protected_reason can only be set when protected is True');
  c.retired = bool('retired');
  c.retired_reason = c.retired ? str('retired_reason') : null;
  c.maintenance = bool('maintenance');
  c.maintenance_reason = c.maintenance ? str('maintenance_reason') : null;
  const driver = String(after.driver);
  if (driver !== row.driver || INTERFACE_KINDS.some((k) => after[`${k}_interface`] !== row[`${k}_interface` as keyof NodeRow])) {
    const reqIfaces: Partial<Record<InterfaceKind, string | null>> = {};
    for (const k of INTERFACE_KINDS) {
      const v = after[`${k}_interface`];
      // On a driver change, interfaces the client did not set fall back to the new driver's defaults.
      reqIfaces[k] = driver !== row.driver && v === row[`${k}_interface` as keyof NodeRow] ? null : (v as string | null);
    }
    const ifaces = registry.resolveInterfaces(driver, reqIfaces);
    c.driver = driver;
    c.boot_interface = ifaces.boot;
    c.deploy_interface = ifaces.deploy;
    c.inspect_interface = ifaces.inspect;
    c.management_interface = ifaces.management;
    c.power_interface = ifaces.power;
  }
  if (c.protected && !['active'].includes(row.provision_state)) {
    throw new BadRequestError(`Node ${row.uuid} can only be protected in the active state, not "${row.provision_state}"`);
  }
  return c;
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
  inspection_started_at: null, inspection_finished_at: null, created_at: '', updated_at: null,
};
