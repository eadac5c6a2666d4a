// Nova v2.1 routes under /compute (the catalog's endpoint is /compute/v2.1). Bodies are
// validated by JSON schema (fields named in the 400); handlers call the facades and render the
// views for the negotiated microversion.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireAuth } from '../common/service.js';
import type { AuthContext, Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { randomBytes } from 'node:crypto';
import { BadRequestError, ForbiddenError, NotFoundError } from '../common/errors.js';
import { fromJson } from '../common/db.js';
import { MAX_VERSION, MIN_VERSION, atLeast, installMicroversions } from './microversion.js';
import type { Flavors, FlavorCreate } from './flavors.js';
import type { Keypairs } from './keypairs.js';
import type { ServerGroups } from './groups.js';
import type { Quotas, QuotaSet } from './quotas.js';
import type { ListQuery, ServerCreate, Servers } from './servers.js';
import type { VirtDriver } from './virt-driver.js';
import { flavorView, groupView, hypervisorView, keypairView, serverView } from './views.js';
import { QUOTA_NAMES } from './config.js';

export interface RouteDeps {
  flavors: Flavors;
  keypairs: Keypairs;
  groups: ServerGroups;
  quotas: Quotas;
  servers: Servers;
  driver: VirtDriver;
  policy: Policy;
  /** The public /compute URL. */
  base: () => string;
  imageBase: () => string;
}

type Any = Record<string, unknown>;
type R = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: Any }>;

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const int0 = { type: 'integer', minimum: 0 } as const;

const flavorCreateSchema = {
  type: 'object',
  required: ['flavor'],
  properties: {
    flavor: {
      type: 'object',
      required: ['name', 'ram', 'vcpus', 'disk'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255 },
        id: { type: ['string', 'null'], maxLength: 255 },
        ram: { type: 'integer', minimum: 1 },
        vcpus: { type: 'integer', minimum: 1 },
        disk: int0,
        'OS-FLV-EXT-DATA:ephemeral': int0,
        swap: { type: ['integer', 'string'] },
        rxtx_factor: { type: 'number', exclusiveMinimum: 0 },
        'os-flavor-access:is_public': { type: 'boolean' },
        description: { type: ['string', 'null'], maxLength: 65535 },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

const networkItem = {
  type: 'object',
  properties: { uuid: str, port: str, fixed_ip: str, tag: str },
  additionalProperties: false,
};

const serverCreateSchema = {
  type: 'object',
  required: ['server'],
  properties: {
    server: {
      type: 'object',
      required: ['name', 'flavorRef'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255 },
        imageRef: str,
        flavorRef: { type: ['string', 'integer'] },
        key_name: nullableStr,
        user_data: nullableStr,
        config_drive: { type: ['boolean', 'string', 'null'] },
        metadata: { type: 'object', additionalProperties: { type: 'string' } },
        networks: { anyOf: [{ type: 'string', enum: ['auto', 'none'] }, { type: 'array', items: networkItem, maxItems: 16 }] },
        description: { type: ['string', 'null'], maxLength: 255 },
        min_count: { type: ['integer', 'string'] },
        max_count: { type: ['integer', 'string'] },
        availability_zone: nullableStr,
        adminPass: str,
        accessIPv4: str,
        accessIPv6: str,
        security_groups: { type: 'array' },
        'OS-DCF:diskConfig': str,
        block_device_mapping_v2: { type: 'array', maxItems: 0 },
        return_reservation_id: { type: ['boolean', 'string'] },
        hostname: str,
        tags: { type: 'array', maxItems: 0 },
      },
      additionalProperties: false,
    },
    'os:scheduler_hints': { type: 'object', properties: { group: str }, additionalProperties: true },
    'OS-SCH-HNT:scheduler_hints': { type: 'object', properties: { group: str }, additionalProperties: true },
  },
  additionalProperties: false,
};

export function registerComputeRoutes(app: FastifyInstance, d: RouteDeps): void {
  const pub = { config: { public: true } };
  const versionDoc = (status: string) => ({
    id: 'v2.1',
    status,
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${d.base()}/v2.1/` }],
    media_types: [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  });
  const versions = () => ({
    versions: [
      { id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z', links: [{ rel: 'self', href: `${d.base()}/v2/` }] },
      versionDoc('CURRENT'),
    ],
  });
  app.get('/', pub, async () => versions());
  app.get('/v2.1', pub, async () => ({ version: versionDoc('CURRENT') }));
  app.get('/v2.1/', pub, async () => ({ version: versionDoc('CURRENT') }));

  // Everything below is microversioned.
  app.register(async (v) => {
    installMicroversions(v);
    const ctx = (request: FastifyRequest) => ({ base: d.base(), auth: requireAuth(request), imageBase: d.imageBase() });

    // ---------------------------------------------------------------- flavors
    const flavorList = (detail: boolean) => async (request: R) => {
      const q = request.query;
      const flavors = await d.flavors.list(requireAuth(request), {
        ...(q.is_public !== undefined ? { is_public: q.is_public } : {}),
        ...(q.minRam !== undefined ? { minRam: intQuery(q.minRam, 'minRam') } : {}),
        ...(q.minDisk !== undefined ? { minDisk: intQuery(q.minDisk, 'minDisk') } : {}),
        ...(q.limit !== undefined ? { limit: intQuery(q.limit, 'limit') } : {}),
        ...(q.marker !== undefined ? { marker: q.marker } : {}),
      });
      return { flavors: flavors.map((f) => flavorView(request, d.base(), f, detail)) };
    };
    v.get('/flavors', flavorList(false));
    v.get('/flavors/detail', flavorList(true));
    v.get('/flavors/:id', async (request: R) => ({ flavor: flavorView(request, d.base(), await d.flavors.get(requireAuth(request), request.params.id!), true) }));
    v.post('/flavors', { schema: { body: flavorCreateSchema } }, async (request: R) => {
      const f = await d.flavors.create(requireAuth(request), request.body.flavor as FlavorCreate);
      return { flavor: flavorView(request, d.base(), f, true) };
    });
    v.delete('/flavors/:id', async (request: R, reply) => {
      await d.flavors.delete(requireAuth(request), request.params.id!);
      return reply.status(202).send();
    });
    v.get('/flavors/:id/os-extra_specs', async (request: R) => ({ extra_specs: await d.flavors.extraSpecs(requireAuth(request), request.params.id!) }));
    v.post('/flavors/:id/os-extra_specs', { schema: { body: { type: 'object', required: ['extra_specs'], properties: { extra_specs: { type: 'object', maxProperties: 128 } }, additionalProperties: false } } }, async (request: R) => ({
      extra_specs: await d.flavors.setExtraSpecs(requireAuth(request), request.params.id!, request.body.extra_specs as Any, 'create'),
    }));
    v.get('/flavors/:id/os-extra_specs/:key', async (request: R) => {
      const specs = await d.flavors.extraSpecs(requireAuth(request), request.params.id!);
      const key = request.params.key!;
      if (!(key in specs)) throw new NotFoundError(`Flavor ${request.params.id} has no extra specs with key`, key);
      return { [key]: specs[key] };
    });
    v.put('/flavors/:id/os-extra_specs/:key', { schema: { body: { type: 'object', minProperties: 1, maxProperties: 1 } } }, async (request: R) => {
      const key = request.params.key!;
      if (!(key in request.body)) throw new BadRequestError(`Request body and URI mismatch: the body must be {"${key}": <value>}`);
      return d.flavors.setExtraSpecs(requireAuth(request), request.params.id!, request.body, 'update');
    });
    v.delete('/flavors/:id/os-extra_specs/:key', async (request: R, reply) => {
      await d.flavors.deleteExtraSpec(requireAuth(request), request.params.id!, request.params.key!);
      return reply.status(200).send();
    });
    v.get('/flavors/:id/os-flavor-access', async (request: R) => ({ flavor_access: await d.flavors.accessList(requireAuth(request), request.params.id!) }));
    v.post('/flavors/:id/action', async (request: R) => {
      const body = request.body ?? {};
      const add = body.addTenantAccess as Any | undefined;
      const remove = body.removeTenantAccess as Any | undefined;
      const which = add ?? remove;
      if (!which || typeof which.tenant !== 'string') throw new BadRequestError('body: expected {"addTenantAccess": {"tenant": <project id>}} or {"removeTenantAccess": {...}}');
      return { flavor_access: await d.flavors.changeAccess(requireAuth(request), request.params.id!, which.tenant, !!add) };
    });

    // ---------------------------------------------------------------- keypairs
    v.post('/os-keypairs', {
      schema: {
        body: {
          type: 'object',
          required: ['keypair'],
          properties: {
            keypair: {
              type: 'object',
              required: ['name'],
              properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, public_key: { type: 'string', maxLength: 16384 }, type: { type: 'string', enum: ['ssh', 'x509'] }, user_id: str },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        },
      },
    }, async (request: R, reply) => {
      const body = request.body.keypair as { name: string; public_key?: string; type?: string; user_id?: string };
      if (body.user_id !== undefined && !atLeast(request, '2.10')) throw new BadRequestError('keypair.user_id: needs microversion 2.10');
      if (body.type !== undefined && !atLeast(request, '2.2')) throw new BadRequestError('keypair.type: needs microversion 2.2');
      const k = await d.keypairs.create(requireAuth(request), body);
      return reply.status(atLeast(request, '2.2') ? 201 : 200).send({ keypair: keypairView(request, k, 'create') });
    });
    v.get('/os-keypairs', async (request: R) => {
      const rows = await d.keypairs.list(requireAuth(request), atLeast(request, '2.10') ? request.query.user_id : undefined);
      return { keypairs: rows.map((k) => ({ keypair: keypairView(request, k, 'list') })) };
    });
    v.get('/os-keypairs/:name', async (request: R) => ({
      keypair: keypairView(request, await d.keypairs.get(requireAuth(request), request.params.name!, atLeast(request, '2.10') ? request.query.user_id : undefined), 'show'),
    }));
    v.delete('/os-keypairs/:name', async (request: R, reply) => {
      await d.keypairs.delete(requireAuth(request), request.params.name!, atLeast(request, '2.10') ? request.query.user_id : undefined);
      return reply.status(atLeast(request, '2.2') ? 204 : 202).send();
    });

    // ---------------------------------------------------------------- servers
    v.post('/servers', { schema: { body: serverCreateSchema } }, async (request: R, reply) => {
      const auth = requireAuth(request);
      const body = request.body.server as ServerCreate & { min_count?: number | string; max_count?: number | string; return_reservation_id?: unknown };
      const hints = (request.body['os:scheduler_hints'] ?? request.body['OS-SCH-HNT:scheduler_hints'] ?? {}) as { group?: string };
      if (body.imageRef === undefined || body.imageRef === '') throw new BadRequestError('server.imageRef: is required (boot from volume is not supported)');
      const count = (x: unknown, f: string) => (x === undefined ? undefined : intQuery(String(x), `server.${f}`));
      const rows = await d.servers.create(auth, { ...body, flavorRef: String(body.flavorRef), min_count: count(body.min_count, 'min_count'), max_count: count(body.max_count, 'max_count') } as ServerCreate, {
        requestId: request.id,
        ...(hints.group !== undefined ? { group: hints.group } : {}),
        networksRequired: atLeast(request, '2.37'),
      });
      const first = rows[0]!;
      if (body.return_reservation_id === true || body.return_reservation_id === 'True' || body.return_reservation_id === 'true') {
        return reply.status(202).send({ reservation_id: `r-${first.id.slice(0, 8)}` });
      }
      reply.header('location', `${d.base()}/v2.1/servers/${first.id}`);
      return reply.status(202).send({
        server: { id: first.id, links: serverView(request, ctx(request), first, false).links, 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }], adminPass: randomPass() },
      });
    });
    const serverList = (detail: boolean) => async (request: R) => {
      const q = request.query;
      const query: ListQuery = { ...q, ...(q.limit !== undefined ? { limit: intQuery(q.limit, 'limit') } : {}) } as ListQuery;
      const { rows, more } = await d.servers.list(requireAuth(request), query, detail);
      const c = ctx(request);
      const out: Any = { servers: rows.map((s) => serverView(request, c, s, detail)) };
      if (more && rows.length) {
        const params = new URLSearchParams({ ...q, marker: rows[rows.length - 1]!.id } as Record<string, string>);
        out.servers_links = [{ rel: 'next', href: `${d.base()}/v2.1/servers${detail ? '/detail' : ''}?${params}` }];
      }
      return out;
    };
    v.get('/servers', serverList(false));
    v.get('/servers/detail', serverList(true));
    v.get('/servers/:id', async (request: R) => {
      const auth = requireAuth(request);
      const row = await d.servers.addressesFor(await d.servers.get(auth, request.params.id!));
      return { server: serverView(request, ctx(request), row, true) };
    });
    v.put('/servers/:id', {
      schema: { body: { type: 'object', required: ['server'], properties: { server: { type: 'object', properties: { name: { type: 'string', maxLength: 255 }, description: { type: ['string', 'null'], maxLength: 255 }, accessIPv4: str, accessIPv6: str }, additionalProperties: false } }, additionalProperties: false } },
    }, async (request: R) => {
      const row = await d.servers.update(requireAuth(request), request.params.id!, request.body.server as { name?: string; description?: string | null });
      return { server: serverView(request, ctx(request), row, true) };
    });
    v.delete('/servers/:id', async (request: R, reply) => {
      await d.servers.delete(requireAuth(request), request.params.id!, request.id);
      return reply.status(204).send();
    });
    v.post('/servers/:id/action', async (request: R, reply: FastifyReply) => {
      const auth = requireAuth(request);
      const id = request.params.id!;
      const body = request.body ?? {};
      const keys = Object.keys(body);
      if (keys.length !== 1) throw new BadRequestError('body: exactly one action is expected (reboot, os-stop, os-start, rebuild, os-getConsoleOutput)');
      const action = keys[0]!;
      const arg = body[action];
      switch (action) {
        case 'reboot': {
          const type = (arg as Any | null)?.type;
          if (typeof type !== 'string') throw new BadRequestError('reboot.type: is required (SOFT or HARD)');
          await d.servers.reboot(auth, id, type, request.id);
          return reply.status(202).send();
        }
        case 'os-stop':
          await d.servers.stop(auth, id, request.id);
          return reply.status(202).send();
        case 'os-start':
          await d.servers.start(auth, id, request.id);
          return reply.status(202).send();
        case 'rebuild': {
          const r = (arg ?? {}) as Any;
          if (typeof r.imageRef !== 'string' || !r.imageRef) throw new BadRequestError('rebuild.imageRef: is required');
          for (const k of Object.keys(r)) {
            if (!['imageRef', 'name', 'metadata', 'user_data', 'adminPass', 'OS-DCF:diskConfig', 'preserve_ephemeral', 'description', 'key_name', 'accessIPv4', 'accessIPv6'].includes(k)) throw new BadRequestError(`rebuild.${k}: is not an allowed field`);
          }
          if (r.user_data !== undefined && !atLeast(request, '2.57')) throw new BadRequestError('rebuild.user_data: needs microversion 2.57');
          if (r.name !== undefined && (typeof r.name !== 'string' || !r.name.trim() || r.name.length > 255)) throw new BadRequestError('rebuild.name: must be 1-255 characters');
          if (r.metadata !== undefined && (typeof r.metadata !== 'object' || r.metadata === null || Object.values(r.metadata).some((x) => typeof x !== 'string'))) throw new BadRequestError('rebuild.metadata: must be an object of strings');
          const row = await d.servers.rebuild(auth, id, r as { imageRef: string }, request.id);
          return reply.status(202).send({ server: { ...serverView(request, ctx(request), row, true), adminPass: randomPass() } });
        }
        case 'os-getConsoleOutput': {
          const raw = (arg as Any | null)?.length;
          let length: number | null = null;
          if (raw !== undefined && raw !== null) {
            length = typeof raw === 'number' ? raw : Number(raw);
            if (!Number.isInteger(length) || length < -1) throw new BadRequestError('os-getConsoleOutput.length: must be an integer >= -1');
            if (length === -1) length = null;
          }
          return { output: await d.servers.consoleOutput(auth, id, length) };
        }
        default:
          throw new BadRequestError(`Action ${action} is not supported here (reboot, os-stop, os-start, rebuild, os-getConsoleOutput).`);
      }
    });
    v.get('/servers/:id/os-instance-actions', async (request: R) => {
      const rows = await d.servers.actions(requireAuth(request), request.params.id!);
      return { instanceActions: rows.map((a) => actionView(a)) };
    });
    v.get('/servers/:id/os-instance-actions/:requestId', async (request: R) => {
      const auth = requireAuth(request);
      const a = await d.servers.action(auth, request.params.id!, request.params.requestId!);
      const events = fromJson<Any[]>(a.events, []).map((e) => (isAdmin(auth) ? e : { ...e, traceback: undefined, host: undefined }));
      return { instanceAction: { ...actionView(a), events } };
    });

    // ---------------------------------------------------------------- server groups
    v.post('/os-server-groups', {
      schema: {
        body: {
          type: 'object',
          required: ['server_group'],
          properties: {
            server_group: {
              type: 'object',
              required: ['name'],
              properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, policies: { type: 'array', items: str, minItems: 1, maxItems: 1 }, policy: str, rules: { type: 'object' } },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        },
      },
    }, async (request: R) => {
      const g = request.body.server_group as { name: string; policies?: string[]; policy?: string; rules?: Any };
      let policy: string;
      if (atLeast(request, '2.64')) {
        if (g.policies !== undefined) throw new BadRequestError('server_group.policies: replaced by "policy" from microversion 2.64');
        if (!g.policy) throw new BadRequestError('server_group.policy: is required');
        policy = g.policy;
      } else {
        if (g.policy !== undefined || g.rules !== undefined) throw new BadRequestError('server_group.policy/rules: need microversion 2.64 (use "policies": [<policy>])');
        if (!g.policies) throw new BadRequestError('server_group.policies: is required');
        policy = g.policies[0]!;
      }
      const group = await d.groups.create(requireAuth(request), { name: g.name, policy, ...(g.rules ? { rules: g.rules } : {}) });
      return { server_group: groupView(request, group) };
    });
    v.get('/os-server-groups', async (request: R) => {
      const all = request.query.all_projects;
      const groups = await d.groups.list(requireAuth(request), all !== undefined && !['0', 'false', 'False'].includes(all));
      return { server_groups: groups.map((g) => groupView(request, g)) };
    });
    v.get('/os-server-groups/:id', async (request: R) => ({ server_group: groupView(request, await d.groups.get(requireAuth(request), request.params.id!)) }));
    v.delete('/os-server-groups/:id', async (request: R, reply) => {
      await d.groups.delete(requireAuth(request), request.params.id!);
      return reply.status(204).send();
    });

    // ---------------------------------------------------------------- hypervisors (admin)
    const hypervisors = async (request: FastifyRequest) => {
      d.policy.enforce('os_compute_api:os-hypervisors:list', requireAuth(request));
      return d.driver.hypervisors();
    };
    v.get('/os-hypervisors', async (request: R) => {
      let list = await hypervisors(request);
      const match = request.query.hypervisor_hostname_pattern;
      if (match !== undefined) list = list.filter((h) => h.hypervisorHostname.includes(match));
      return { hypervisors: list.map((h) => hypervisorView(request, h, false)) };
    });
    v.get('/os-hypervisors/detail', async (request: R) => ({ hypervisors: (await hypervisors(request)).map((h) => hypervisorView(request, h, true)) }));
    v.get('/os-hypervisors/:id', async (request: R) => {
      const h = (await hypervisors(request)).find((x) => x.id === request.params.id || x.hypervisorHostname === request.params.id);
      if (!h) throw new NotFoundError('Hypervisor', request.params.id!);
      const view = hypervisorView(request, h, true);
      if (atLeast(request, '2.53') && ['1', 'true', 'True'].includes(request.query.with_servers ?? '')) view.servers = h.servers.map((uuid) => ({ uuid, name: uuid }));
      return { hypervisor: view };
    });

    // ---------------------------------------------------------------- limits and quotas
    v.get('/limits', async (request: R) => {
      const auth = requireAuth(request);
      d.policy.enforce('os_compute_api:limits', auth);
      let project = auth.projectId ?? '';
      if (request.query.tenant_id !== undefined && request.query.tenant_id !== project) {
        if (!isAdmin(auth)) throw new ForbiddenError('Policy does not allow os_compute_api:limits:other_project to be performed.');
        project = request.query.tenant_id;
      }
      const [lim, used] = await Promise.all([d.quotas.limits(project), d.quotas.usage(project)]);
      const absolute: Any = {
        maxTotalInstances: lim.instances,
        maxTotalCores: lim.cores,
        maxTotalRAMSize: lim.ram,
        maxTotalKeypairs: lim.key_pairs,
        maxServerMeta: lim.metadata_items,
        maxServerGroups: lim.server_groups,
        maxServerGroupMembers: lim.server_group_members,
        totalInstancesUsed: used.instances,
        totalCoresUsed: used.cores,
        totalRAMUsed: used.ram,
        totalServerGroupsUsed: used.server_groups,
      };
      if (!atLeast(request, '2.39')) absolute.maxImageMeta = lim.metadata_items;
      if (!atLeast(request, '2.57')) Object.assign(absolute, { maxPersonality: 5, maxPersonalitySize: 10240 });
      if (!atLeast(request, '2.36')) Object.assign(absolute, { maxSecurityGroups: -1, maxSecurityGroupRules: -1, maxTotalFloatingIps: -1, totalSecurityGroupsUsed: 0, totalFloatingIpsUsed: 0 });
      return { limits: { rate: [], absolute } };
    });
    const quotaView = (request: FastifyRequest, project: string, set: QuotaSet) => {
      const out: Any = { id: project, ...set };
      if (!atLeast(request, '2.57')) Object.assign(out, { injected_files: 5, injected_file_content_bytes: 10240, injected_file_path_bytes: 255 });
      if (!atLeast(request, '2.36')) Object.assign(out, { fixed_ips: -1, floating_ips: -1, security_groups: -1, security_group_rules: -1 });
      return out;
    };
    const quotaTarget = (auth: AuthContext, project: string, op: string) => {
      d.policy.enforce(op, auth, { projectId: project });
      return project;
    };
    v.get('/os-quota-sets/:project', async (request: R) => {
      const project = quotaTarget(requireAuth(request), request.params.project!, 'os_compute_api:os-quota-sets:show');
      return { quota_set: quotaView(request, project, await d.quotas.limits(project)) };
    });
    v.get('/os-quota-sets/:project/detail', async (request: R) => {
      const project = quotaTarget(requireAuth(request), request.params.project!, 'os_compute_api:os-quota-sets:show');
      const [lim, used] = await Promise.all([d.quotas.limits(project), d.quotas.usage(project)]);
      const inUse: Record<string, number> = { instances: used.instances, cores: used.cores, ram: used.ram, server_groups: used.server_groups };
      const out: Any = { id: project };
      for (const k of QUOTA_NAMES) out[k] = { limit: lim[k], in_use: inUse[k] ?? 0, reserved: 0 };
      return { quota_set: out };
    });
    v.get('/os-quota-sets/:project/defaults', async (request: R) => {
      d.policy.enforce('os_compute_api:os-quota-sets:defaults', requireAuth(request));
      return { quota_set: quotaView(request, request.params.project!, d.quotas.defaultSet()) };
    });
    v.put('/os-quota-sets/:project', { schema: { body: { type: 'object', required: ['quota_set'], properties: { quota_set: { type: 'object', properties: Object.fromEntries([...QUOTA_NAMES.map((k) => [k, { type: ['integer', 'string'] }]), ['force', { type: ['boolean', 'string'] }]]), additionalProperties: false } }, additionalProperties: false } } }, async (request: R) => {
      const auth = requireAuth(request);
      const project = quotaTarget(auth, request.params.project!, 'os_compute_api:os-quota-sets:update');
      const changes: Partial<QuotaSet> = {};
      for (const [k, raw] of Object.entries(request.body.quota_set as Any)) {
        if (k === 'force') continue;
        const n = intQuery(String(raw), `quota_set.${k}`, -1);
        changes[k as keyof QuotaSet] = n;
      }
      return { quota_set: quotaView(request, project, await d.quotas.update(project, changes)) };
    });
    v.delete('/os-quota-sets/:project', async (request: R, reply) => {
      const project = quotaTarget(requireAuth(request), request.params.project!, 'os_compute_api:os-quota-sets:delete');
      await d.quotas.reset(project);
      return reply.status(202).send();
    });
  }, { prefix: '/v2.1' });
}

function actionView(a: { action: string; server_id: string; message: string | null; project_id: string; request_id: string; start_time: string; user_id: string | null }) {
  return { action: a.action, instance_uuid: a.server_id, message: a.message, project_id: a.project_id, request_id: a.request_id, start_time: a.start_time.replace(/\.\d+Z$/, ''), user_id: a.user_id };
}

function intQuery(raw: string, field: string, min = 0): number {
  if (!/^-?\d{1,10}$/.test(raw.trim()) || Number(raw) < min) throw new BadRequestError(`${field}: must be an integer >= ${min}, not "${raw}"`);
  return Number(raw);
}

/** Nova returns a generated admin password; bare metal does not set it, but clients expect the field. */
function randomPass(): string {
  return randomBytes(9).toString('base64url');
}

