// Heat v1 subset. Routes are registered twice: under /v1/{tenant_id} (Heat's own paths and what
// the catalog advertises) and at the service root with the project taken from the token (what
// heatclient uses when a catalog lists the bare /orchestration prefix).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { requireAuth } from '../common/service.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../common/errors.js';
import { fromJson } from '../common/db.js';
import type { Engine, StackRequest } from './engine.js';
import { requestEnvironment } from './engine.js';
import type { ResourceRegistry } from './registry.js';
import type { DbSoftwareStore } from './software-store.js';
import type { ComputeProvider } from './compute-provider.js';
import type { ProjectScope } from './resources/software.js';
import { loadTemplate } from './template.js';
import { validateStack } from './validate.js';
import { givenValues, nestedParameters, userEnvironment } from './validate-report.js';
import { eventView, resourceView, stackView, validationView } from './views.js';
import { eventList, filterResources, requiredByMap, resourceList, stackDescription, stackShow } from './listing.js';
import type { Json, JsonMap } from './yaml-source.js';
import type { ResourceTable, StackTable } from './migrations.js';
import { maskDeploymentInputs } from './resources/software.js';
import { resourceTypeTemplate, templateFunctions, templateVersions } from './template-catalog.js';
import { previewStack } from './preview.js';
import { etagOf, longPoll, type LongPollDocumentVersion } from '../common/long-poll.js';
import type { AuthContext } from '../common/auth.js';

export interface ApiDeps {
  engine: Engine;
  registry: ResourceRegistry;
  software: DbSoftwareStore;
  /** Asked whether a deployment's server is the caller's project's. */
  compute: ComputeProvider;
  policy: Policy;
  publicUrl: () => string;
  /** This cloud's URLs in stored metadata → where they are served now (ServiceContext.movedUrls). */
  movedUrls: (text: string) => string;
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: JsonMap }>;

/** Constant-time comparison of URL tokens. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Serves a resource's metadata with the long-poll protocol (docs/agents.md): the ETag is a hash
 * of the stored metadata, a held request is woken by the engine's notifier the moment the
 * resource's metadata is written, and released when the client goes away.
 */
async function sendLongPolled(
  engine: Engine,
  req: FastifyRequest,
  reply: FastifyReply,
  resourceId: string,
  read: () => Promise<LongPollDocumentVersion>,
): Promise<FastifyReply | undefined> {
  const closed = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableEnded) closed.abort();
  };
  reply.raw.on('close', onClose);
  try {
    const answer = await longPoll(
      { method: req.method, prefer: req.headers.prefer, ifNoneMatch: req.headers['if-none-match'], closed: closed.signal },
      read,
      (ms, signal) => engine.notifier.subscribe(resourceId, ms, signal),
    );
    // The client went away: the answer goes nowhere, but the request's lifecycle ends normally.
    if (!answer) return reply.status(304).send();
    reply.headers(answer.headers);
    if (answer.status === 304) return reply.status(304).send();
    return reply.status(200).type('application/json').send(answer.body);
  } finally {
    reply.raw.off('close', onClose);
  }
}

const templateBody = {
  type: 'object',
  properties: {
    stack_name: { type: 'string', maxLength: 255 },
    template: { type: ['object', 'string', 'null'] },
    template_url: { type: ['string', 'null'] },
    // null is "none" for these three (heatclient sends "environment_files": null), as in Heat.
    files: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    environment: { type: ['object', 'string', 'null'] },
    environment_files: { type: ['array', 'null'], items: { type: 'string' } },
    parameters: { type: 'object' },
    disable_rollback: { type: 'boolean' },
    timeout_mins: { type: ['integer', 'null'], minimum: 1 },
    tags: { type: ['string', 'array', 'null'] },
    existing: { type: 'boolean' },
    clear_parameters: { type: 'array' },
    files_container: { type: ['string', 'null'] },
    show_nested: { type: 'boolean' },
    ignore_errors: { type: ['string', 'null'] },
    rollback: { type: 'boolean' },
  },
};

/** Heat accepts the environment as a map or as YAML text (parsed with its lines by the engine). */
function parseEnvField(v: unknown): JsonMap | string | undefined {
  if (typeof v === 'string') return v.trim() ? v : {};
  return v === null ? undefined : (v as JsonMap | undefined);
}

/** A boolean query parameter as Heat reads one (true/false, yes/no, 1/0, on/off; any case). */
function queryBool(v: string | undefined, name: string): boolean {
  if (v === undefined) return false;
  const s = v.trim().toLowerCase();
  if (['true', 't', 'yes', 'y', 'on', '1'].includes(s)) return true;
  if (['false', 'f', 'no', 'n', 'off', '0'].includes(s)) return false;
  throw new BadRequestError(`Unrecognized value "${v}" for "${name}", acceptable values are: true, false`);
}

/** A body field that may be null, meaning absent (files, environment_files). */
function absent<T>(v: unknown): T | undefined {
  return v === null ? undefined : (v as T | undefined);
}

export function registerOrchestrationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { engine } = deps;
  // Heat's JSON is `application/json` without a charset, and its API tests compare the header
  // exactly (heat-tempest-plugin's gabbi files); Fastify adds `; charset=utf-8`.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (reply.getHeader('content-type') === 'application/json; charset=utf-8') reply.header('content-type', 'application/json');
    return payload;
  });
  const register = (base: string) => {
    const link = (req: Req) => `${deps.publicUrl()}/orchestration/v1/${project(req)}`;
    const project = (req: Req): string => {
      const auth = requireAuth(req);
      const tenant = req.params.tenant_id ?? auth.projectId;
      if (!tenant) throw new ForbiddenError('A project-scoped token is required.');
      if (auth.projectId !== tenant && !isAdmin(auth)) throw new ForbiddenError(`The token's project does not match ${tenant}.`);
      return tenant;
    };
    const allow = (req: Req, op: string) => {
      const p = project(req);
      deps.policy.enforce(`orchestration:${op}`, requireAuth(req), { projectId: p });
      return p;
    };
    /** Software configs and deployments are read as the caller's project's own (admins read any). */
    const readScope = (req: Req, p: string): ProjectScope => (isAdmin(requireAuth(req)) ? null : p);
    const stackFor = async (req: Req, op: string): Promise<StackTable> => {
      const p = allow(req, op);
      const row = await engine.findStack(p, req.params.stack_id ?? req.params.stack_name!);
      if (req.params.stack_id && row.name !== req.params.stack_name && row.id !== req.params.stack_name) throw new NotFoundError('Stack', req.params.stack_name!);
      return row;
    };
    /**
     * A route a stack user may call for its own resources: callers the normal rule allows go on
     * as usual; a heat_stack_user token of the stack's project passes only if `own` says the
     * resource is its own; anything else gets the normal rule's refusal.
     */
    const stackForResource = async (req: Req, op: string, stackUserOp: string, own: (stack: StackTable, r: ResourceTable, auth: AuthContext) => Promise<boolean>) => {
      const p = project(req);
      const auth = requireAuth(req);
      if (deps.policy.allows(`orchestration:${op}`, auth, { projectId: p })) return stackFor(req, op);
      const refuse = () => deps.policy.enforce(`orchestration:${op}`, auth, { projectId: p });
      if (!deps.policy.allows(`orchestration:${stackUserOp}`, auth, { projectId: p })) refuse();
      // A stack user learns nothing about other stacks or resources: every miss is the same 403.
      const row = await engine.findStack(p, req.params.stack_id ?? req.params.stack_name!).catch(() => undefined);
      if (!row || (req.params.stack_id && row.name !== req.params.stack_name && row.id !== req.params.stack_name)) return refuse() as never;
      const r = await engine.resourceRow(row.id, req.params.res!).catch(() => undefined);
      if (!r || !(await own(row, r, auth))) return refuse() as never;
      return row;
    };
    const userOf = (r: ResourceTable): unknown => fromJson<JsonMap>(r.data, {}).stack_user_id;
    /** The server's own stack user reads the server's metadata. */
    const ownMetadata = async (_s: StackTable, r: ResourceTable, auth: AuthContext) => userOf(r) === auth.userId;
    /**
     * Signals: the resource's own stack user (a HEAT_SIGNAL deployment's), or the stack user of
     * the server a deployment targets (its machine).
     */
    const ownSignal = async (s: StackTable, r: ResourceTable, auth: AuthContext) => {
      if (userOf(r) === auth.userId) return true;
      const server = fromJson<JsonMap>(r.properties, {}).server;
      if (!/Deployment$/.test(r.type) || typeof server !== 'string' || !server) return false;
      const rows = await engine.db
        .selectFrom('orchestration_resources')
        .innerJoin('orchestration_stacks', 'orchestration_stacks.id', 'orchestration_resources.stack_id')
        .select(['orchestration_resources.data as data', 'orchestration_resources.type as type'])
        .where('orchestration_resources.physical_id', '=', server)
        .where('orchestration_stacks.project_id', '=', s.project_id)
        .execute();
      return rows.some((x) => x.type === 'OS::Nova::Server' && fromJson<JsonMap>(x.data, {}).stack_user_id === auth.userId);
    };
    const description = (row: StackTable) => stackDescription(engine, row);
    const stackRequest = (body: JsonMap): StackRequest => {
      if (body.template === undefined || body.template === null) {
        if (body.template_url) throw new BadRequestError('template_url is not supported: send the template itself (heatclient does this for local files).');
        throw new BadRequestError('Need more arguments: a template is required.');
      }
      return {
        stack_name: String(body.stack_name ?? ''),
        template: body.template as JsonMap | string,
        files: (body.files ?? {}) as Record<string, string>,
        environment: parseEnvField(body.environment),
        environment_files: absent<string[]>(body.environment_files),
        parameters: (body.parameters ?? {}) as JsonMap,
        disable_rollback: body.disable_rollback as boolean | undefined,
        timeout_mins: body.timeout_mins as number | null | undefined,
        tags: body.tags as string | string[] | null | undefined,
      };
    };

    app.get(`${base}/stacks`, async (req: Req) => {
      const p = allow(req, 'stacks:list');
      let q = engine.db.selectFrom('orchestration_stacks').selectAll().where('project_id', '=', p).where('deleted_at', 'is', null);
      if (req.query.show_nested !== 'True' && req.query.show_nested !== 'true') q = q.where('owner_id', 'is', null);
      if (req.query.stack_name) q = q.where('name', '=', req.query.stack_name);
      const rows = await q.orderBy('created_at', 'desc').execute();
      return { stacks: rows.map((r) => stackView(r, link(req), description(r))) };
    });

    app.post(`${base}/stacks`, { schema: { body: { ...templateBody, required: ['stack_name'] } } }, async (req: Req, reply) => {
      const p = allow(req, 'stacks:create');
      const row = await engine.create(p, stackRequest(req.body), undefined, requireAuth(req).userId);
      // Heat's Location is the new stack's URL, the same as its self link.
      const href = `${link(req)}/stacks/${row.name}/${row.id}`;
      reply.header('location', href);
      return reply.status(201).send({ stack: { id: row.id, links: [{ href, rel: 'self' }] } });
    });

    app.post(`${base}/stacks/preview`, { schema: { body: templateBody } }, async (req: Req) => {
      allow(req, 'stacks:preview');
      const sr = stackRequest(req.body);
      const env = requestEnvironment(sr);
      const tmpl = loadTemplate(sr.template, 'template');
      validateStack(tmpl, { registry: deps.registry, env, files: sr.files ?? {}, params: { ...env.parameters, ...sr.parameters } });
      const preview = previewStack({ tmpl, env, files: sr.files ?? {}, given: { ...env.parameters, ...sr.parameters }, registry: deps.registry, stackName: sr.stack_name, projectId: project(req) });
      return {
        stack: {
          id: 'None',
          parent: null,
          stack_name: sr.stack_name,
          description: tmpl.description,
          template_description: tmpl.description || 'No description',
          // As the stack would be created: rollback disabled unless asked for (the engine's default).
          disable_rollback: sr.disable_rollback !== false,
          timeout_mins: sr.timeout_mins ?? null,
          capabilities: [],
          notification_topics: [],
          parameters: preview.parameters,
          resources: preview.resources,
        },
      };
    });

    const validate = async (req: Req) => {
      allow(req, 'validate');
      const b = req.body ?? {};
      if (b.template === undefined || b.template === null) throw new BadRequestError('No template specified');
      const env = requestEnvironment({ environment: parseEnvField(b.environment), environment_files: absent<string[]>(b.environment_files), files: absent<Record<string, string>>(b.files) });
      const tmpl = loadTemplate(b.template as JsonMap | string, 'template');
      const showNested = queryBool(req.query.show_nested, 'show_nested');
      // As Heat does, the request's parameters join the environment's (and show in Environment).
      const params = { ...env.parameters, ...((b.parameters ?? {}) as JsonMap) };
      const files = (b.files ?? {}) as Record<string, string>;
      // Stricter than Heat's validate on purpose (issue 13: fail early where Heat fails at create):
      // a property a nested template has no parameter for is refused here, naming it.
      validateStack(tmpl, { registry: deps.registry, env, files, params });
      const out = validationView(tmpl, givenValues(tmpl, params), env.parameter_defaults);
      if (showNested) {
        const nested = nestedParameters(tmpl, { registry: deps.registry, env, files }, params);
        if (nested) out.NestedParameters = nested;
      }
      out.Environment = userEnvironment({ ...env, parameters: params }, tmpl);
      return out;
    };
    app.post(`${base}/validate`, { schema: { body: templateBody } }, validate);

    app.get(`${base}/resource_types`, async (req: Req) => {
      allow(req, 'resource_types');
      const names = deps.registry.names().filter((n) => !n.endsWith('*'));
      return { resource_types: req.query.with_description ? names.map((n) => ({ resource_type: n, description: deps.registry.get(n)?.description ?? '' })) : names };
    });
    app.get(`${base}/resource_types/:type`, async (req: Req) => {
      allow(req, 'resource_types');
      const t = deps.registry.get(req.params.type!);
      if (!t || t.name.endsWith('*')) throw new NotFoundError('Resource type', req.params.type!);
      const properties: JsonMap = {};
      for (const [k, s] of Object.entries(t.properties ?? {})) {
        properties[k] = { type: s.type, required: s.required ?? false, update_allowed: s.updateAllowed ?? false, ...(s.default !== undefined ? { default: s.default } : {}), ...(s.allowed ? { constraints: [{ allowed_values: [...s.allowed] }] } : {}) };
      }
      const attributes: JsonMap = {};
      for (const a of t.attributes ?? []) attributes[a] = { description: a };
      return { resource_type: t.name, properties, attributes, support_status: { status: t.plugin ? 'SUPPORTED' : 'UNSUPPORTED', message: t.unsupported ?? null } };
    });
    app.get(`${base}/resource_types/:type/template`, async (req: Req) => {
      allow(req, 'resource_types');
      const t = deps.registry.get(req.params.type!);
      if (!t || t.name.endsWith('*')) throw new NotFoundError('Resource type', req.params.type!);
      return resourceTypeTemplate(t, req.query.template_type);
    });

    app.get(`${base}/template_versions`, async (req: Req) => {
      allow(req, 'template_versions');
      return { template_versions: templateVersions() };
    });
    app.get(`${base}/template_versions/:version/functions`, async (req: Req) => {
      allow(req, 'template_versions');
      const conditions = /^(true|1|yes|on|y|t)$/i.test(req.query.with_condition_func ?? '');
      return { template_functions: templateFunctions(req.params.version!, conditions) };
    });

    // Heat answers a lookup by name with a redirect to /stacks/<name>/<id>; heatclient relies on
    // the Location header to resolve names.
    app.get(`${base}/stacks/:stack_name`, async (req: Req, reply) => {
      const row = await stackFor(req, 'stacks:show');
      return reply.redirect(`${link(req)}/stacks/${row.name}/${row.id}`, 302);
    });
    for (const sb of [`${base}/stacks/:stack_name`, `${base}/stacks/:stack_name/:stack_id`]) {
      if (sb.endsWith(':stack_id')) app.get(sb, async (req: Req) => ({ stack: await stackShow(engine, await stackFor(req, 'stacks:show'), link(req)) }));
      const update = (existing: boolean) => async (req: Req, reply: FastifyReply) => {
        const row = await stackFor(req, 'stacks:update');
        const b = req.body ?? {};
        await engine.update(row, {
          existing,
          template: (b.template ?? undefined) as JsonMap | string | undefined,
          files: absent<Record<string, string>>(b.files),
          environment: parseEnvField(b.environment),
          environment_files: absent<string[]>(b.environment_files),
          parameters: b.parameters as JsonMap | undefined,
          timeout_mins: b.timeout_mins as number | undefined,
          rollback: b.disable_rollback === undefined ? undefined : b.disable_rollback === false,
          tags: b.tags as string | string[] | null | undefined,
        });
        return reply.status(202).send({});
      };
      app.put(sb, { schema: { body: templateBody } }, update(false));
      app.patch(sb, { schema: { body: templateBody } }, update(true));
      app.delete(sb, async (req: Req, reply) => {
        const row = await stackFor(req, 'stacks:delete');
        await engine.delete(row);
        return reply.status(204).send();
      });
      app.post(`${sb}/actions`, async (req: Req) => {
        const b = (req.body ?? {}) as JsonMap;
        // Heat's rules: a check only reads the stack (reader); cancelling changes it (member).
        const row = await stackFor(req, 'check' in b ? 'actions:check' : 'stacks:update');
        if ('cancel_update' in b || 'cancel_without_rollback' in b) await engine.cancelUpdate(row);
        else if ('check' in b) await engine.check(row);
        else throw new BadRequestError(`Unsupported action: ${Object.keys(b).join(', ') || '(none)'}; supported: cancel_update, check`);
        return {};
      });
      app.get(`${sb}/template`, async (req: Req) => {
        const row = await stackFor(req, 'stacks:show');
        const t = fromJson<Json>(row.template, {});
        return typeof t === 'string' ? loadTemplate(t, row.template_file).doc.data : t;
      });
      app.get(`${sb}/environment`, async (req: Req) => fromJson<Json>((await stackFor(req, 'stacks:show')).environment, {}));
      app.get(`${sb}/files`, async (req: Req) => fromJson<Json>((await stackFor(req, 'stacks:show')).files, {}));
      app.get(`${sb}/outputs`, async (req: Req) => {
        const row = await stackFor(req, 'stacks:show');
        return { outputs: (await engine.outputs(row)).map((o) => ({ output_key: o.output_key, description: o.description })) };
      });
      app.get(`${sb}/outputs/:key`, async (req: Req) => {
        const row = await stackFor(req, 'stacks:show');
        const o = (await engine.outputs(row)).find((x) => x.output_key === req.params.key);
        if (!o) throw new NotFoundError('Output', req.params.key!);
        return { output: o };
      });
      app.get(`${sb}/resources`, async (req: Req) => {
        const row = await stackFor(req, 'stacks:show');
        return { resources: filterResources(await resourceList(engine, row, Number(req.query.nested_depth ?? 0), link(req)), req.query) };
      });
      app.get(`${sb}/resources/:res`, async (req: Req) => {
        const row = await stackFor(req, 'stacks:show');
        const r = await engine.resourceRow(row.id, req.params.res!);
        const requiredBy = requiredByMap(await engine.resources(row.id)).get(r.name) ?? [];
        return {
          resource: {
            ...resourceView(r, row, link(req), requiredBy, r.physical_id ? (await engine.childStackNames(row.id)).get(r.physical_id) : undefined),
            attributes: await engine.resourceAttributes(row, r).catch(() => ({})),
            description: '',
            metadata: fromJson<Json>(r.metadata, {}),
          },
        };
      });
      // What os-collect-config's heat collector reads (long-polled): the project's readers, and
      // the server's own stack user.
      app.get(`${sb}/resources/:res/metadata`, async (req: Req, reply) => {
        const row = await stackForResource(req, 'stacks:show', 'stack_user:metadata', ownMetadata);
        const first = await engine.resourceRow(row.id, req.params.res!);
        return sendLongPolled(engine, req, reply, first.id, async () => {
          const r = await engine.resourceById(first.id);
          if (!r) throw new NotFoundError('Resource', req.params.res!);
          const metadata = deps.movedUrls(r.metadata);
          return { body: `{"metadata": ${metadata}}`, etag: etagOf(metadata) };
        });
      });
      app.post(`${sb}/resources/:res/signal`, async (req: Req) => {
        const row = await stackForResource(req, 'resource:signal', 'stack_user:signal', ownSignal);
        await engine.signalResource(row, req.params.res!, (req.body ?? null) as Json);
        return {};
      });
      app.patch(`${sb}/resources/:res`, async (req: Req) => {
        const row = await stackFor(req, 'stacks:update');
        const b = (req.body ?? {}) as JsonMap;
        if (typeof b.mark_unhealthy !== 'boolean') throw new BadRequestError('body.mark_unhealthy: must be true or false');
        await engine.markUnhealthy(row.id, req.params.res!, b.mark_unhealthy, String(b.resource_status_reason ?? ''));
        return {};
      });
      const events = async (req: Req) => {
        const row = await stackFor(req, 'stacks:show');
        return { events: await eventList(engine, row, req.params.res, req.query, link(req)) };
      };
      app.get(`${sb}/events`, events);
      app.get(`${sb}/resources/:res/events`, events);
      app.get(`${sb}/resources/:res/events/:event`, async (req: Req) => {
        const row = await stackFor(req, 'stacks:show');
        const e = (await engine.events(row.id, req.params.res)).find((x) => x.id === req.params.event);
        if (!e) throw new NotFoundError('Event', req.params.event!);
        return { event: { ...eventView(e, row, link(req)), resource_properties: {} } };
      });
    }

    // ---- software configs and deployments (os-collect-config and the hooks use these) ----
    const configView = (c: NonNullable<Awaited<ReturnType<DbSoftwareStore['getConfig']>>>) => ({
      id: c.id,
      name: c.name,
      group: c.group,
      config: c.config,
      inputs: c.inputs,
      outputs: c.outputs,
      options: c.options,
    });
    app.post(`${base}/software_configs`, async (req: Req) => {
      const p = allow(req, 'software:write');
      const b = req.body ?? {};
      const id = await deps.software.createConfig(p, {
        name: String(b.name ?? ''),
        group: String(b.group ?? 'Heat::Ungrouped'),
        config: (b.config ?? '') as Json,
        inputs: (b.inputs ?? []) as Json[],
        outputs: (b.outputs ?? []) as Json[],
        options: (b.options ?? {}) as JsonMap,
      });
      return { software_config: configView((await deps.software.getConfig(id, p))!) };
    });
    app.get(`${base}/software_configs`, async (req: Req) => {
      const p = allow(req, 'software:read');
      const rows = await engine.db.selectFrom('orchestration_software_configs').selectAll().where('project_id', '=', p).orderBy('created_at').execute();
      return { software_configs: rows.map((r) => ({ id: r.id, name: r.name, group: r.group_name, creation_time: r.created_at })) };
    });
    app.get(`${base}/software_configs/:id`, async (req: Req) => {
      const p = allow(req, 'software:read');
      const c = await deps.software.getConfig(req.params.id!, readScope(req, p));
      if (!c) throw new NotFoundError('Software config', req.params.id!);
      return { software_config: { ...configView(c), creation_time: c.createdAt } };
    });
    app.delete(`${base}/software_configs/:id`, async (req: Req, reply) => {
      const p = allow(req, 'software:write');
      const c = await deps.software.getConfig(req.params.id!, readScope(req, p));
      if (!c) throw new NotFoundError('Software config', req.params.id!);
      await deps.software.deleteConfig(c.id);
      return reply.status(204).send();
    });
    const deploymentView = (d: NonNullable<Awaited<ReturnType<DbSoftwareStore['getDeployment']>>>) => ({
      id: d.id,
      config_id: d.configId,
      server_id: d.serverId,
      action: d.action,
      status: d.status,
      status_reason: d.statusReason,
      // The stack user's password (HEAT_SIGNAL) is for the machine: it reads it in its server's
      // metadata; the API shows it masked.
      input_values: maskDeploymentInputs(d.inputValues),
      output_values: d.outputValues,
      creation_time: d.createdAt,
      updated_time: d.updatedAt,
    });
    /**
     * A deployment joins a config and a server of ONE project, the one in the URL (an admin
     * acts for it through /v1/{project}): another project's config or server is "not found".
     */
    const ownConfig = async (p: string, configId: string) => {
      if (!(await deps.software.getConfig(configId, p))) throw new NotFoundError('Software config', configId);
    };
    const ownServer = async (p: string, serverId: string) => {
      if ((await deps.compute.status(serverId, p)).status === 'DELETED') throw new NotFoundError('Server', serverId);
    };
    app.get(`${base}/software_deployments`, async (req: Req) => {
      const p = allow(req, 'software:read');
      const list = await deps.software.listDeployments(p, { serverId: req.query.server_id });
      return { software_deployments: list.map(deploymentView) };
    });
    app.get(`${base}/software_deployments/metadata/:server_id`, async (req: Req) => {
      const p = allow(req, 'software:read');
      // The project's own deployments of that server: what its machine would receive.
      return { metadata: await deps.software.serverMetadata(req.params.server_id!, p) };
    });
    app.post(`${base}/software_deployments`, async (req: Req) => {
      const p = allow(req, 'software:write');
      const b = req.body ?? {};
      if (typeof b.config_id !== 'string' || typeof b.server_id !== 'string') throw new BadRequestError('body.config_id and body.server_id are required');
      await ownConfig(p, b.config_id);
      await ownServer(p, b.server_id);
      const id = await deps.software.createDeployment({
        projectId: p,
        configId: b.config_id,
        serverId: b.server_id,
        action: String(b.action ?? 'INIT'),
        status: (String(b.status ?? 'COMPLETE') as 'COMPLETE'),
        statusReason: String(b.status_reason ?? ''),
        inputValues: (b.input_values ?? {}) as JsonMap,
        outputValues: {},
      });
      return { software_deployment: deploymentView((await deps.software.getDeployment(id, p))!) };
    });
    app.get(`${base}/software_deployments/:id`, async (req: Req) => {
      const p = allow(req, 'software:read');
      const d = await deps.software.getDeployment(req.params.id!, readScope(req, p));
      if (!d) throw new NotFoundError('Software deployment', req.params.id!);
      return { software_deployment: deploymentView(d) };
    });
    app.put(`${base}/software_deployments/:id`, async (req: Req) => {
      const p = allow(req, 'software:write');
      const d = await deps.software.getDeployment(req.params.id!, readScope(req, p));
      if (!d) throw new NotFoundError('Software deployment', req.params.id!);
      const b = req.body ?? {};
      if (typeof b.config_id === 'string') await ownConfig(d.projectId, b.config_id);
      const status = b.status === undefined ? undefined : (String(b.status) as 'COMPLETE' | 'FAILED' | 'IN_PROGRESS');
      await deps.software.updateDeployment(d.id, {
        status,
        statusReason: b.status_reason === undefined ? undefined : String(b.status_reason),
        outputValues: b.output_values as JsonMap | undefined,
        configId: b.config_id as string | undefined,
        action: b.action as string | undefined,
        inputValues: b.input_values as JsonMap | undefined,
      });
      return { software_deployment: deploymentView((await deps.software.getDeployment(d.id, d.projectId))!) };
    });
    app.delete(`${base}/software_deployments/:id`, async (req: Req, reply) => {
      const p = allow(req, 'software:write');
      const d = await deps.software.getDeployment(req.params.id!, readScope(req, p));
      if (!d) throw new NotFoundError('Software deployment', req.params.id!);
      await deps.software.deleteDeployment(d.id);
      return reply.status(204).send();
    });
  };
  register('/v1/:tenant_id');
  register('');

  // Version document and token-in-URL signals (plain curl from machines; the token is the secret).
  app.get('/', { config: { public: true } }, async () => ({
    versions: [{ id: 'v1.0', status: 'CURRENT', links: [{ href: `${deps.publicUrl()}/orchestration/v1/`, rel: 'self' }] }],
  }));
  const signal = async (req: Req) => {
    await engine.signalByToken(req.params.id!, req.params.token!, (req.body ?? {}) as Json);
    return {};
  };
  app.post('/signal/wait/:id/:token', { config: { public: true } }, signal);
  app.post('/signal/deployments/:id/:token', { config: { public: true } }, signal);
  // TEMP_URL_SIGNAL: heat-config PUTs to the URL as it would to a Swift temp URL.
  app.put('/signal/deployments/:id/:token', { config: { public: true } }, signal);

  // POLL_TEMP_URL / POLL_SERVER_CFN: the server's metadata at a signed URL (the token is the
  // credential), the same document as .../resources/<server>/metadata, long-polled.
  app.get('/metadata/:id/:token', { config: { public: true } }, async (req: Req, reply) => {
    const id = req.params.id!;
    const read = async () => {
      const r = await engine.resourceById(id);
      const expected = r ? fromJson<JsonMap>(r.data, {}).metadata_token : undefined;
      if (!r || typeof expected !== 'string' || !sameSecret(expected, req.params.token!)) throw new NotFoundError('Metadata URL', id);
      const metadata = deps.movedUrls(r.metadata);
      return { body: metadata, etag: etagOf(metadata) };
    };
    await read();
    return sendLongPolled(engine, req, reply, id, read);
  });
}
