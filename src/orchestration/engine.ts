// The stack engine: create, update (by diff), delete, rollback, cancel, timeouts, nested stacks,
// resume after restart. Every state change of a stack or resource is written to the database
// with an event before the engine moves on, so a restarted server knows where it was.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { fromJson, now, toJson } from '../common/db.js';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../common/errors.js';
import { dependencies, resolve, walk, type Call, type FnContext, type Node } from './functions.js';
import { checkEnvironment, mergeEnvironments, type Environment } from './environment.js';
import type { ComputeProvider } from './compute-provider.js';
import type { EventTable, OrchestrationDB, ResourceTable, StackTable } from './migrations.js';
import { STACK_EVENT_TYPE, type EngineServices, type NestedSpec, type PropSchema, type ResourcePlugin, type ResourceRegistry, type ResourceType, type RuntimeResource } from './registry.js';
import { NoNetworkProvider, type NetworkProvider } from './network-provider.js';
import { templateResourcePlugin } from './resources/nested.js';
import type { DbSoftwareStore } from './software-store.js';
import { runGraph } from './scheduler.js';
import { MAX_RESOURCES_PER_STACK } from './limits.js';
import { breathe, StepGate } from './pace.js';
import { cachedTemplate } from './template-cache.js';
import { conditionHolds, loadTemplate, lookupFile, makeContext, parameterValues, type ParsedTemplate, type ResourceDefn } from './template.js';
import { resolveResourceType, validateStack, keyFor } from './validate.js';
import { isMapping, parseSource, type Json, type JsonMap } from './yaml-source.js';
import { ChangeNotifier } from '../common/long-poll.js';
import { childRegistryResources, hooksFor, HookWaits, isHookType, HOOK_TYPES, type HookType } from './hooks.js';
import { sleep } from '../common/sleep.js';
import { NO_STACK_USERS, type StackUsers } from './stack-users.js';

export type Action = 'CREATE' | 'UPDATE' | 'DELETE' | 'ROLLBACK' | 'CHECK' | 'INIT';
export type Status = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

export interface StackRequest {
  stack_name: string;
  template: JsonMap | string;
  template_file?: string;
  files?: Record<string, string>;
  /** A map, or YAML text (errors then carry its lines). */
  environment?: JsonMap | string;
  environment_files?: string[];
  parameters?: JsonMap;
  disable_rollback?: boolean;
  timeout_mins?: number | null;
  tags?: string | string[] | null;
}

export interface EngineOptions {
  db: Kysely<OrchestrationDB>;
  registry: ResourceRegistry;
  compute: ComputeProvider;
  /** Backs the network resources (absent: creating one fails saying networking is not available). */
  network?: NetworkProvider;
  software: DbSoftwareStore;
  log: Logger;
  publicUrl: () => string;
  /** Keystone users for machines (POLL_SERVER_HEAT servers, HEAT_SIGNAL deployments). */
  stackUsers?: StackUsers;
  /** Woken with a resource's id whenever its metadata is written (long-polled metadata). */
  notifier?: ChangeNotifier;
}

/**
 * Metadata keys the engine and plugins maintain on a resource (a server's deployments and its
 * os-collect-config section); a template's own metadata never erases them.
 */
const OWNED_METADATA = ['deployments', 'os-collect-config'];

/** JSON with object keys sorted, for comparing documents. */
function stableJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isMapping(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k]!)}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function withOwnedMetadata(fromTemplate: Json, stored: string): Json {
  const old = fromJson<JsonMap>(stored, {});
  if (!isMapping(old) || !OWNED_METADATA.some((k) => k in old)) return fromTemplate;
  const out: JsonMap = isMapping(fromTemplate) ? { ...fromTemplate } : {};
  for (const k of OWNED_METADATA) if (k in old && !(k in out)) out[k] = old[k]!;
  return out;
}

interface Prepared {
  tmpl: ParsedTemplate;
  env: Environment;
  files: Record<string, string>;
  params: Map<string, Json>;
  defs: Map<string, ResourceDefn>;
  deps: Map<string, string[]>;
}

class Cancelled extends Error {}

/** One transition's transaction, and the resources whose metadata it changed (woken after the commit). */
interface Transition {
  db: Kysely<OrchestrationDB>;
  changed: string[];
}

/** The notifier's key for "this resource was signalled" (its metadata uses the bare resource id). */
function signalKey(physicalId: string): string {
  return `signal:${physicalId}`;
}

/** Constant-time comparison of signal tokens. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Environment as the API receives it, merged with environment_files from `files` as Heat does. */
export function requestEnvironment(req: Pick<StackRequest, 'environment' | 'environment_files' | 'files'>): Environment {
  const envs: Environment[] = [];
  for (const f of req.environment_files ?? []) {
    const text = req.files?.[f];
    if (text === undefined) throw new ValidationError(`environment file "${f}" is not in "files"`, { path: 'environment_files' });
    envs.push(checkEnvironment(parseSource(text, f)));
  }
  const e = req.environment;
  envs.push(checkEnvironment(typeof e === 'string' ? parseSource(e, 'environment') : { file: 'environment', data: (e ?? {}) as Json, lines: new Map() }));
  return mergeEnvironments(envs);
}

export class Engine {
  readonly db: Kysely<OrchestrationDB>;
  private readonly controllers = new Map<string, AbortController>();
  private readonly tasks = new Set<Promise<void>>();
  /** The background operation of each top-level stack. */
  private readonly running = new Map<string, Promise<void>>();
  /** Stacks being deleted: their interrupted operation must not roll back. */
  private readonly deleting = new Set<string>();
  private seq = 0;
  private stopping = false;
  /** Resource bookkeeping (rows, events) a few at a time: see pace.ts. Never held across a plugin call. */
  private readonly steps = new StepGate();
  /** Hooks (breakpoints) the engine is paused on, cleared by an `unset_hook` signal. */
  private readonly hookWaits = new HookWaits();
  /** What create() prepared, for the runCreate that follows (a large template is parsed once, not twice). */
  private readonly justPrepared = new Map<string, Prepared>();

  /** Wakes long-polls of a resource's metadata (keyed by the resource's id). */
  readonly notifier: ChangeNotifier;

  constructor(private readonly opts: EngineOptions) {
    this.db = opts.db;
    this.notifier = opts.notifier ?? new ChangeNotifier();
    this.network = opts.network ?? new NoNetworkProvider();
  }

  /** A resource row by its id (the resource's uuid), or undefined. */
  async resourceById(id: string): Promise<ResourceTable | undefined> {
    return this.db.selectFrom('orchestration_resources').selectAll().where('id', '=', id).executeTakeFirst();
  }

  // ---------- queries ----------

  async getStack(id: string): Promise<StackTable | undefined> {
    return this.db.selectFrom('orchestration_stacks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findStack(projectId: string | null, nameOrId: string): Promise<StackTable> {
    let q = this.db.selectFrom('orchestration_stacks').selectAll().where((eb) => eb.or([eb('id', '=', nameOrId), eb('name', '=', nameOrId)]));
    if (projectId) q = q.where('project_id', '=', projectId);
    const rows = await q.orderBy('created_at', 'desc').execute();
    const row = rows.find((r) => r.id === nameOrId) ?? rows.find((r) => r.deleted_at === null) ?? rows[0];
    if (!row) throw new NotFoundError('Stack', nameOrId, { fields: { heatType: 'EntityNotFound' } });
    return row;
  }

  /** The stack's nested stacks: id → name (the resource views link to them by name/id). */
  async childStackNames(stackId: string): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('orchestration_stacks').select(['id', 'name']).where('owner_id', '=', stackId).execute();
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  async resources(stackId: string): Promise<ResourceTable[]> {
    return this.db.selectFrom('orchestration_resources').selectAll().where('stack_id', '=', stackId).orderBy('created_at').execute();
  }

  async events(stackId: string, resourceName?: string) {
    let q = this.db.selectFrom('orchestration_events').selectAll().where('stack_id', '=', stackId);
    if (resourceName) q = q.where('resource_name', '=', resourceName);
    return q.orderBy('seq').execute();
  }

  // ---------- preparation ----------

  private templateText(row: StackTable): JsonMap | string {
    const t = fromJson<Json>(row.template, {});
    return typeof t === 'string' ? t : (t as JsonMap);
  }

  prepare(row: Pick<StackTable, 'template' | 'template_file' | 'files' | 'environment' | 'params' | 'owner_id' | 'id' | 'name' | 'project_id'>, requireValues = true): Prepared {
    // A template stored as a map (a group's members, heatclient's JSON) is cached by its stored
    // text, read only when not cached; stored YAML text is cached by loadTemplate.
    const tmpl = row.template.startsWith('"')
      ? loadTemplate(this.templateText(row as StackTable), row.template_file)
      : cachedTemplate('json', row.template_file, row.template, () => loadTemplate(this.templateText(row as StackTable), row.template_file));
    const env = fromJson<Environment>(row.environment, { parameters: {}, parameter_defaults: {}, resource_registry: {} });
    const files = fromJson<Record<string, string>>(row.files, {});
    const given = { ...env.parameters, ...fromJson<JsonMap>(row.params, {}) };
    const params = parameterValues(tmpl, env, given, { requireValues, nested: row.owner_id !== null });
    const ctx = makeContext({
      tmpl,
      params,
      files,
      stack: { id: row.id, name: row.name, projectId: row.project_id },
      validating: false,
      resources: { has: (n) => tmpl.resources.has(n), attributeNames: () => undefined, ref: () => null, attr: () => null },
    });
    const defs = new Map<string, ResourceDefn>();
    for (const d of tmpl.resources.values()) if (conditionHolds(d.condition, ctx, `${d.path}.condition`)) defs.set(d.name, d);
    const deps = new Map<string, string[]>();
    for (const d of defs.values()) {
      const all = [...new Set([...d.dependsOn, ...dependencies(d.properties), ...dependencies(d.metadata)])];
      deps.set(d.name, all.filter((n) => defs.has(n) && n !== d.name));
    }
    return { tmpl, env, files, params, defs, deps };
  }

  // ---------- stack operations (API) ----------

  async create(projectId: string, req: StackRequest, owner?: { id: string; resource: string }, userId: string | null = null): Promise<StackTable> {
    if (!owner && !/^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$/.test(req.stack_name ?? '')) {
      throw new BadRequestError(`Invalid stack name ${JSON.stringify(req.stack_name)}: must start with a letter and contain only letters, digits, _ - .`);
    }
    if (!owner) {
      const existing = await this.db.selectFrom('orchestration_stacks').select('id').where('project_id', '=', projectId).where('name', '=', req.stack_name).where('deleted_at', 'is', null).where('owner_id', 'is', null).executeTakeFirst();
      if (existing) throw new ConflictError(`The Stack (${req.stack_name}) already exists.`);
    }
    const env = owner ? ((req.environment ?? {}) as unknown as Environment) : requestEnvironment(req);
    const files = req.files ?? {};
    const file = req.template_file ?? 'template';
    // Nested stacks were validated with their parent; their template is parsed by prepare() below.
    if (!owner) {
      validateStack(loadTemplate(req.template, file), { registry: this.opts.registry, env, files, params: { ...env.parameters, ...(req.parameters ?? {}) } });
    }
    const id = randomUUID();
    const row: StackTable = {
      id,
      name: req.stack_name,
      project_id: projectId,
      owner_id: owner?.id ?? null,
      owner_resource: owner?.resource ?? null,
      user_id: userId,
      action: 'CREATE',
      status: 'IN_PROGRESS',
      status_reason: 'Stack CREATE started',
      template: toJson(req.template),
      template_file: file,
      files: toJson(files),
      environment: toJson(env),
      params: toJson(req.parameters ?? {}),
      prev: null,
      disable_rollback: req.disable_rollback === false ? 0 : 1,
      timeout_mins: req.timeout_mins ?? null,
      tags: stackTags(req.tags),
      batch: null,
      created_at: now(),
      updated_at: null,
      deleted_at: null,
    };
    // Parameters must all have values before anything is stored; runCreate reuses the result.
    const prepared = this.prepare(row);
    await this.db.insertInto('orchestration_stacks').values(row).execute();
    this.justPrepared.set(id, prepared);
    await this.stackEvent(row, 'CREATE', 'IN_PROGRESS', 'Stack CREATE started');
    if (!owner) this.background(id, () => this.runCreate(id));
    return row;
  }

  async update(stack: StackTable, req: Partial<StackRequest> & { existing?: boolean; rollback?: boolean }): Promise<void> {
    if (stack.status === 'IN_PROGRESS') throw new ConflictError(`Stack ${stack.name} is ${stack.action}_IN_PROGRESS; wait or cancel it first.`);
    if (stack.action === 'DELETE' && stack.status === 'COMPLETE') throw new NotFoundError('Stack', stack.name);
    const oldEnv = fromJson<Environment>(stack.environment, { parameters: {}, parameter_defaults: {}, resource_registry: {} });
    let env: Environment;
    let files = fromJson<Record<string, string>>(stack.files, {});
    let template: JsonMap | string = this.templateText(stack);
    let params = fromJson<JsonMap>(stack.params, {});
    if (req.existing) {
      // PATCH: keep what was there, apply what is given.
      env = mergeEnvironments([oldEnv, requestEnvironment({ environment: req.environment, environment_files: req.environment_files, files: { ...files, ...(req.files ?? {}) } })]);
      files = { ...files, ...(req.files ?? {}) };
      if (req.template !== undefined && req.template !== null && req.template !== '') template = req.template;
      params = { ...params, ...(req.parameters ?? {}) };
    } else {
      if (req.template === undefined) throw new BadRequestError('A template is required for a stack update (use PATCH to reuse the existing one).');
      env = requestEnvironment(req);
      files = req.files ?? {};
      template = req.template;
      params = req.parameters ?? {};
    }
    const file = req.template_file ?? stack.template_file;
    const tmpl = loadTemplate(template, file);
    validateStack(tmpl, { registry: this.opts.registry, env, files, params: { ...env.parameters, ...params } });
    const prev = toJson({ template: fromJson(stack.template, {}), template_file: stack.template_file, files: fromJson(stack.files, {}), environment: oldEnv, params: fromJson(stack.params, {}) });
    const next = { ...stack, template: toJson(template), template_file: file, files: toJson(files), environment: toJson(env), params: toJson(params) };
    this.prepare(next);
    const disableRollback = req.rollback === undefined ? stack.disable_rollback : req.rollback ? 0 : 1;
    await this.db
      .updateTable('orchestration_stacks')
      .set({
        template: next.template,
        template_file: file,
        files: next.files,
        environment: next.environment,
        params: next.params,
        prev,
        action: 'UPDATE',
        status: 'IN_PROGRESS',
        status_reason: 'Stack UPDATE started',
        disable_rollback: disableRollback,
        timeout_mins: req.timeout_mins ?? stack.timeout_mins,
        // As Heat: a full update (PUT) sets the tags it is given, none if none; a PATCH keeps
        // the stack's unless it gives new ones.
        tags: req.tags !== undefined ? stackTags(req.tags) : req.existing ? stack.tags : stackTags(null),
        updated_at: now(),
      })
      .where('id', '=', stack.id)
      .execute();
    await this.stackEvent(stack, 'UPDATE', 'IN_PROGRESS', 'Stack UPDATE started');
    this.background(stack.id, () => this.runUpdate(stack.id));
  }

  async delete(stack: StackTable): Promise<void> {
    if (stack.action === 'DELETE' && stack.status === 'COMPLETE') throw new NotFoundError('Stack', stack.name);
    // A delete may interrupt anything: cancel what runs (without its rollback), wait for it to
    // stop, then delete.
    this.deleting.add(stack.id);
    this.controllers.get(stack.id)?.abort(new Cancelled('Stack DELETE requested'));
    await this.running.get(stack.id)?.catch(() => undefined);
    await this.setStack(stack.id, 'DELETE', 'IN_PROGRESS', 'Stack DELETE started');
    this.background(stack.id, () => this.runDelete(stack.id).finally(() => this.deleting.delete(stack.id)));
  }

  async cancelUpdate(stack: StackTable): Promise<void> {
    if (!(stack.action === 'UPDATE' && stack.status === 'IN_PROGRESS')) {
      throw new ConflictError(`Cancelling update when stack is ${stack.action}_${stack.status} is not supported.`);
    }
    const c = this.controllers.get(stack.id);
    if (!c) throw new ConflictError('The update is not running in this server.');
    c.abort(new Cancelled('Stack UPDATE cancelled'));
  }

  async check(stack: StackTable): Promise<void> {
    if (stack.status === 'IN_PROGRESS') throw new ConflictError(`Stack ${stack.name} is ${stack.action}_IN_PROGRESS`);
    await this.setStack(stack.id, 'CHECK', 'IN_PROGRESS', 'Stack CHECK started');
    this.background(stack.id, async () => {
      try {
        const rows = await this.resources(stack.id);
        const bad = rows.filter((r) => r.status === 'FAILED');
        for (const r of rows) {
          await breathe();
          await this.event(stack.id, r, 'CHECK', bad.includes(r) ? 'FAILED' : 'COMPLETE', bad.includes(r) ? r.status_reason : 'state changed');
        }
        await this.setStack(stack.id, 'CHECK', bad.length ? 'FAILED' : 'COMPLETE', bad.length ? `Resource CHECK failed: ${bad.map((r) => r.name).join(', ')}` : 'Stack CHECK completed successfully');
      } catch (err) {
        await this.setStack(stack.id, 'CHECK', 'FAILED', `Stack CHECK failed: ${(err as Error)?.message ?? String(err)}`);
      }
    });
  }

  async markUnhealthy(stackId: string, name: string, unhealthy: boolean, reason: string): Promise<void> {
    const row = await this.resourceRow(stackId, name);
    if (unhealthy) {
      await this.saveResource(row, { action: 'CHECK', status: 'FAILED', status_reason: reason || 'Marked unhealthy' });
      await this.event(stackId, row, 'CHECK', 'FAILED', reason || 'Marked unhealthy');
    } else if (row.action === 'CHECK' && row.status === 'FAILED') {
      await this.saveResource(row, { action: 'CHECK', status: 'COMPLETE', status_reason: reason || 'Marked healthy' });
      await this.event(stackId, row, 'CHECK', 'COMPLETE', reason || 'Marked healthy');
    }
  }

  // ---------- background, resume, stop ----------

  private background(stackId: string, fn: () => Promise<void>): void {
    const p = fn()
      .catch((err: unknown) => this.opts.log.error({ err, stackId }, 'stack operation crashed'))
      .finally(() => {
        this.tasks.delete(p);
        if (this.running.get(stackId) === p) this.running.delete(stackId);
      });
    this.tasks.add(p);
    this.running.set(stackId, p);
  }

  /** For tests and the benchmark: resolves when every background operation has ended. */
  async idle(): Promise<void> {
    while (this.tasks.size) await Promise.allSettled([...this.tasks]);
  }

  /** Stops without recording failures: what was in progress stays so and resumes on restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of this.controllers.values()) c.abort(new Cancelled('server stopping'));
    await Promise.allSettled([...this.tasks]);
  }

  /** After a restart: resume top-level stacks that were in progress; nothing stays IN_PROGRESS. */
  async resumeAll(): Promise<void> {
    const rows = await this.db.selectFrom('orchestration_stacks').selectAll().where('status', '=', 'IN_PROGRESS').execute();
    for (const row of rows) {
      if (row.owner_id) {
        const parent = await this.getStack(row.owner_id);
        // Nested stacks resume through their parent; an orphan is failed with the reason.
        if (parent?.status !== 'IN_PROGRESS') await this.setStack(row.id, row.action, 'FAILED', `${row.action} interrupted by a server restart while the parent stack was not in progress`);
        continue;
      }
      await this.stackEvent(row, row.action, 'IN_PROGRESS', `Resuming ${row.action} after a server restart`);
      const run =
        row.action === 'CREATE'
          ? () => this.runCreate(row.id)
          : row.action === 'UPDATE'
            ? () => this.runUpdate(row.id)
            : row.action === 'DELETE'
              ? () => this.runDelete(row.id)
              : row.action === 'ROLLBACK'
                ? () => this.runRollback(row.id, row.prev ? 'UPDATE' : 'CREATE')
                : async () => this.setStack(row.id, row.action, 'FAILED', `${row.action} interrupted by a server restart`);
      this.background(row.id, run);
    }
  }

  private controllerFor(stack: StackTable, parent?: AbortSignal): AbortController {
    const c = new AbortController();
    // Every resource in flight listens on this signal (a 1,000-member group: 1,000 listeners).
    setMaxListeners(0, c.signal);
    this.controllers.set(stack.id, c);
    if (parent) {
      if (parent.aborted) c.abort(parent.reason);
      else parent.addEventListener('abort', () => c.abort(parent.reason), { once: true });
    }
    if (stack.timeout_mins) {
      const started = Date.parse(stack.updated_at ?? stack.created_at);
      const left = Math.max(0, started + stack.timeout_mins * 60_000 - Date.now());
      const t = setTimeout(() => c.abort(new Error(`${stack.action} timed out`)), left);
      c.signal.addEventListener('abort', () => clearTimeout(t), { once: true });
      // Don't keep the process alive just for a timer.
      t.unref();
    }
    return c;
  }

  // ---------- runs ----------

  /** Creates (or resumes creating) every resource; on failure rolls back unless disabled. */
  async runCreate(stackId: string, parent?: AbortSignal): Promise<void> {
    const stack = (await this.getStack(stackId))!;
    const c = this.controllerFor(stack, parent);
    try {
      // Preparing a large group's member template is tens of milliseconds of synchronous work.
      await breathe();
      const p = this.justPrepared.get(stackId) ?? this.prepare(stack);
      this.justPrepared.delete(stackId);
      await this.ensureRows(stack, p);
      await runGraph(p.deps, (name) => this.createResource(stack, p, name, c.signal), this.batchOptions(stack, c.signal));
      await this.setStack(stackId, 'CREATE', 'COMPLETE', 'Stack CREATE completed successfully');
    } catch (err) {
      if (this.stopping) return;
      await this.setStack(stackId, 'CREATE', 'FAILED', this.reasonFor('CREATE', err));
      if (!stack.disable_rollback && !this.deleting.has(stackId)) await this.runRollback(stackId, 'CREATE', parent);
    } finally {
      if (this.controllers.get(stackId) === c) this.controllers.delete(stackId);
    }
  }

  async runUpdate(stackId: string, parent?: AbortSignal): Promise<void> {
    const stack = (await this.getStack(stackId))!;
    const c = this.controllerFor(stack, parent);
    try {
      await breathe();
      await this.converge(stack, this.prepare(stack), 'UPDATE', c.signal);
      await this.setStack(stackId, 'UPDATE', 'COMPLETE', 'Stack UPDATE completed successfully');
    } catch (err) {
      if (this.stopping) return;
      const cancelled = err instanceof Cancelled;
      await this.setStack(stackId, 'UPDATE', 'FAILED', cancelled ? 'Stack UPDATE cancelled' : this.reasonFor('UPDATE', err));
      if ((cancelled || !stack.disable_rollback) && stack.prev && !this.deleting.has(stackId)) await this.runRollback(stackId, 'UPDATE', parent);
    } finally {
      if (this.controllers.get(stackId) === c) this.controllers.delete(stackId);
    }
  }

  /** Rollback: after a failed create, delete everything; after a failed update, go back to the previous definition. */
  async runRollback(stackId: string, from: 'CREATE' | 'UPDATE', parent?: AbortSignal): Promise<void> {
    await this.setStack(stackId, 'ROLLBACK', 'IN_PROGRESS', `Stack ROLLBACK started`);
    const stack = (await this.getStack(stackId))!;
    const c = this.controllerFor({ ...stack, timeout_mins: null }, parent);
    try {
      if (from === 'CREATE' || !stack.prev) {
        await this.deleteAll(stack, 'ROLLBACK', c.signal);
      } else {
        const prev = fromJson<JsonMap>(stack.prev, {});
        await this.db
          .updateTable('orchestration_stacks')
          .set({ template: toJson(prev.template), template_file: String(prev.template_file), files: toJson(prev.files), environment: toJson(prev.environment), params: toJson(prev.params), prev: null })
          .where('id', '=', stackId)
          .execute();
        const back = (await this.getStack(stackId))!;
        await this.converge(back, this.prepare(back), 'ROLLBACK', c.signal);
      }
      await this.setStack(stackId, 'ROLLBACK', 'COMPLETE', 'Stack ROLLBACK completed successfully');
    } catch (err) {
      if (this.stopping) return;
      await this.setStack(stackId, 'ROLLBACK', 'FAILED', this.reasonFor('ROLLBACK', err));
    } finally {
      if (this.controllers.get(stackId) === c) this.controllers.delete(stackId);
    }
  }

  async runDelete(stackId: string, parent?: AbortSignal): Promise<void> {
    const stack = (await this.getStack(stackId))!;
    const c = this.controllerFor({ ...stack, timeout_mins: null }, parent);
    try {
      await this.deleteAll(stack, 'DELETE', c.signal);
      await this.setStack(stackId, 'DELETE', 'COMPLETE', 'Stack DELETE completed successfully');
      await this.db.updateTable('orchestration_stacks').set({ deleted_at: now() }).where('id', '=', stackId).execute();
    } catch (err) {
      if (this.stopping) return;
      await this.setStack(stackId, 'DELETE', 'FAILED', this.reasonFor('DELETE', err));
    } finally {
      if (this.controllers.get(stackId) === c) this.controllers.delete(stackId);
    }
  }

  private batchOptions(stack: StackTable, signal: AbortSignal) {
    const b = stack.batch ? fromJson<{ size: number; pauseMs: number }>(stack.batch, { size: 0, pauseMs: 0 }) : undefined;
    return { signal, maxParallel: b?.size || undefined, pauseMs: b?.pauseMs || undefined, sleep };
  }

  private reasonFor(action: string, err: unknown): string {
    const e = err as Error & { resourceName?: string };
    if (e instanceof Cancelled) return `Stack ${action} cancelled: ${e.message}`;
    if (e?.resourceName) return `Resource ${action} failed: ${e.message}`;
    return `${action} failed: ${e?.message ?? String(err)}`;
  }

  // ---------- resources ----------

  private async ensureRows(stack: StackTable, p: Prepared): Promise<Map<string, ResourceTable>> {
    const rows = new Map((await this.resources(stack.id)).map((r) => [r.name, r]));
    const fresh: ResourceTable[] = [];
    for (const d of p.defs.values()) {
      if (rows.has(d.name)) continue;
      const row: ResourceTable = {
        id: randomUUID(),
        stack_id: stack.id,
        name: d.name,
        type: d.type,
        action: 'INIT',
        status: 'COMPLETE',
        status_reason: '',
        physical_id: null,
        properties: '{}',
        data: '{}',
        metadata: '{}',
        requires: toJson(p.deps.get(d.name) ?? []),
        created_at: now(),
        updated_at: null,
      };
      fresh.push(row);
      rows.set(d.name, row);
    }
    if (fresh.length) await this.checkStackSize(stack, fresh.length);
    for (let i = 0; i < fresh.length; i += 200) {
      await breathe();
      await this.db.insertInto('orchestration_resources').values(fresh.slice(i, i + 200)).execute();
    }
    return rows;
  }

  /**
   * max_resources_per_stack when resources are about to be added: validation checked what it
   * could know, this catches the rest (a group count from get_attr, members' own nested stacks).
   * Counts the rows of the whole tree from the top-level stack, as Heat does.
   */
  private async checkStackSize(stack: StackTable, adding: number): Promise<void> {
    let root = stack;
    for (let i = 0; root.owner_id && i < 20; i++) root = (await this.getStack(root.owner_id)) ?? root;
    const { rows } = await sql<{ n: number | string }>`
      WITH RECURSIVE tree(id) AS (
        SELECT id FROM orchestration_stacks WHERE id = ${root.id}
        UNION ALL SELECT s.id FROM orchestration_stacks s JOIN tree ON s.owner_id = tree.id WHERE s.deleted_at IS NULL
      )
      SELECT count(*) AS n FROM orchestration_resources WHERE stack_id IN (SELECT id FROM tree)`.execute(this.db);
    const total = Number(rows[0]?.n ?? 0) + adding;
    if (total > MAX_RESOURCES_PER_STACK) {
      const where = stack.owner_resource ? `resources.${stack.owner_resource}: ` : '';
      throw new Error(`${where}the stack would have ${total} resources counting nested stacks and group members, more than ${MAX_RESOURCES_PER_STACK} (max_resources_per_stack)`);
    }
  }

  async resourceRow(stackId: string, name: string): Promise<ResourceTable> {
    const row = await this.db.selectFrom('orchestration_resources').selectAll().where('stack_id', '=', stackId).where('name', '=', name).executeTakeFirst();
    if (!row) throw new NotFoundError('Resource', name);
    return row;
  }

  private pluginFor(p: Prepared, defn: Pick<ResourceDefn, 'name' | 'type' | 'path'>): { plugin: ResourcePlugin; schema?: Record<string, PropSchema>; nested: boolean; type?: ResourceType } {
    const t = resolveResourceType(defn, p.tmpl, { registry: this.opts.registry, env: p.env, files: p.files });
    if (t.kind === 'template') {
      const content = lookupFile(p.files, t.key, p.tmpl.doc.file) ?? '';
      return { plugin: templateResourcePlugin(t.key, content), nested: true };
    }
    if (!t.type.plugin) throw new Error(`${t.type.name} ${t.type.unsupported ?? 'cannot be created'}`);
    return { plugin: t.type.plugin, schema: t.type.properties, nested: t.type.nested === true, type: t.type };
  }

  /** Resolves a snippet at run time: attributes are fetched first (they may be asynchronous). */
  async evaluate(stack: StackTable, p: Prepared, node: Node): Promise<Json> {
    // Load only the resources the snippet refers to: evaluating each of n resources must not read
    // all n rows (that made a 1,000-member group quadratic).
    const names = dependencies(node);
    let usesFacade = false;
    walk(node, (c: Call) => {
      if (c.name === 'resource_facade' || c.name === 'Fn::ResourceFacade') usesFacade = true;
    });
    const rows = new Map(
      names.length
        ? (await this.db.selectFrom('orchestration_resources').selectAll().where('stack_id', '=', stack.id).where('name', 'in', names).execute()).map((r) => [r.name, r])
        : [],
    );
    const cache = new Map<string, Json>();
    const ctx = this.context(stack, p, rows, cache, usesFacade ? await this.facade(stack) : undefined);
    const wanted: [string, string | null][] = [];
    walk(node, (c: Call) => {
      if (c.name !== 'get_attr' && c.name !== 'Fn::GetAtt') return;
      const a = c.args as Node[];
      if (!Array.isArray(a) || typeof a[0] !== 'string') return;
      const attr = a.length > 1 ? resolve(a[1]!, ctx) : null;
      wanted.push([a[0], attr === null ? null : String(attr)]);
    });
    for (const [res, attr] of wanted) {
      const key = `${res}\u0000${attr ?? ''}`;
      if (cache.has(key)) continue;
      cache.set(key, await this.attribute(stack, p, rows.get(res), attr));
    }
    return resolve(node, ctx);
  }

  /** What resource_facade returns in a nested stack: its owning resource's definition. */
  private async facade(stack: StackTable): Promise<JsonMap | undefined> {
    if (!stack.owner_id || !stack.owner_resource) return undefined;
    const row = await this.db.selectFrom('orchestration_resources').selectAll().where('stack_id', '=', stack.owner_id).where('name', '=', stack.owner_resource).executeTakeFirst();
    if (!row) return undefined;
    const data = fromJson<JsonMap>(row.data, {});
    return { metadata: fromJson<Json>(row.metadata, {}), deletion_policy: (data.deletion_policy ?? 'Delete') as Json, update_policy: (data.update_policy ?? {}) as Json };
  }

  private context(stack: StackTable, p: Prepared, rows: Map<string, ResourceTable>, cache: Map<string, Json>, facade?: JsonMap): FnContext {
    return makeContext({
      tmpl: p.tmpl,
      params: p.params,
      files: p.files,
      stack: { id: stack.id, name: stack.name, projectId: stack.project_id },
      validating: false,
      facade,
      resources: {
        has: (n) => p.defs.has(n) || p.tmpl.resources.has(n),
        attributeNames: () => undefined,
        ref: (n) => {
          const row = rows.get(n);
          if (!row) return null;
          const data = fromJson<JsonMap>(row.data, {});
          return (data.__ref ?? row.physical_id ?? null) as Json;
        },
        attr: (n, a) => cache.get(`${n}\u0000${a ?? ''}`) ?? null,
      },
    });
  }

  private async attribute(stack: StackTable, p: Prepared, row: ResourceTable | undefined, attr: string | null): Promise<Json> {
    if (!row || !row.physical_id && row.action === 'INIT') return null;
    const defn = p.defs.get(row.name) ?? p.tmpl.resources.get(row.name);
    if (!defn) return null;
    const { plugin } = this.pluginFor(p, defn);
    if (!plugin.attribute) return null;
    const rr = this.runtime(stack, row, new AbortController().signal);
    return (await plugin.attribute(rr, attr)) ?? null;
  }

  private runtime(stack: StackTable, row: ResourceTable, signal: AbortSignal): RuntimeResource {
    const savedMetadata = row.metadata;
    const rr: RuntimeResource = {
      id: row.id,
      name: row.name,
      type: row.type,
      stackId: stack.id,
      stackName: stack.name,
      projectId: stack.project_id,
      userId: stack.user_id,
      physicalId: row.physical_id,
      properties: fromJson<JsonMap>(row.properties, {}),
      metadata: fromJson<JsonMap>(row.metadata, {}),
      data: fromJson<JsonMap>(row.data, {}),
      signal,
      engine: this.services(),
      save: async () => {
        const md = toJson(rr.metadata);
        await this.saveResource(row, { physical_id: rr.physicalId, data: toJson(rr.data), ...(md !== savedMetadata && md !== row.metadata ? { metadata: md } : {}) });
      },
    };
    return rr;
  }

  private async saveResource(row: ResourceTable, set: Partial<ResourceTable>, tx?: Transition): Promise<void> {
    Object.assign(row, set, { updated_at: now() });
    await (tx?.db ?? this.db).updateTable('orchestration_resources').set({ ...set, updated_at: row.updated_at }).where('id', '=', row.id).execute();
    // Inside a transition the metadata's readers are woken after the commit, so they read the change.
    if (set.metadata !== undefined) {
      if (tx) tx.changed.push(row.id);
      else this.notifier.notify(row.id);
    }
  }

  private withDefaults(props: Json, schema?: Record<string, PropSchema>): JsonMap {
    const out: JsonMap = isMapping(props) ? { ...props } : {};
    for (const [k, s] of Object.entries(schema ?? {})) if (out[k] === undefined && s.default !== undefined) out[k] = s.default;
    for (const k of Object.keys(out)) if (out[k] === null) delete out[k];
    return out;
  }

  private async createResource(stack: StackTable, p: Prepared, name: string, signal: AbortSignal, replace?: ResourceTable): Promise<void> {
    const row = replace ?? (await this.steps.run(() => this.resourceRow(stack.id, name)));
    if ((row.action === 'CREATE' || row.action === 'UPDATE') && row.status === 'COMPLETE' && !replace) return;
    const resuming = row.action === 'CREATE' && row.status === 'IN_PROGRESS';
    const defn = p.defs.get(name)!;
    try {
      if (!resuming && !replace) await this.pauseAtHook(stack, p, row, 'CREATE', 'pre-create', signal);
      const { plugin, rr } = await this.steps.run(async () => {
        const { plugin, schema, type } = this.pluginFor(p, defn);
        const props = this.withDefaults(await this.evaluate(stack, p, defn.properties), schema);
        const metadata = await this.evaluate(stack, p, defn.metadata);
        const data = resuming ? fromJson<JsonMap>(row.data, {}) : {};
        if (type?.usesUpdatePolicy) data.update_policy = (await this.evaluate(stack, p, defn.updatePolicy)) as JsonMap;
        await this.transition(async (tx) => {
          await this.saveResource(row, {
            action: 'CREATE',
            status: 'IN_PROGRESS',
            status_reason: resuming ? 'Resuming after a server restart' : 'state changed',
            type: defn.type,
            properties: toJson(props),
            // A resumed create keeps what the plugin already put there (a server's os-collect-config).
            metadata: toJson(resuming ? withOwnedMetadata(metadata, row.metadata) : metadata),
            data: toJson(data),
            physical_id: resuming ? row.physical_id : null,
            requires: toJson(p.deps.get(name) ?? []),
          }, tx);
          await this.event(stack.id, row, 'CREATE', 'IN_PROGRESS', resuming ? 'Resuming after a server restart' : 'state changed', tx.db);
        });
        return { plugin, rr: this.runtime(stack, row, signal) };
      });
      if (resuming && plugin.resume) await plugin.resume(rr);
      else await plugin.create(rr);
      await this.steps.run(async () => {
        if (plugin.reference) rr.data.__ref = plugin.reference(rr);
        await this.transition(async (tx) => {
          await this.saveResource(row, { action: 'CREATE', status: 'COMPLETE', status_reason: 'state changed', physical_id: rr.physicalId, data: toJson(rr.data) }, tx);
          await this.event(stack.id, row, 'CREATE', 'COMPLETE', 'state changed', tx.db);
        });
      });
    } catch (err) {
      throw await this.resourceFailed(stack, row, 'CREATE', err);
    }
  }

  /**
   * Waits (outside the step gate) while the environment sets `hook` on the resource, with Heat's
   * events: "<ACTION> paused until Hook <hook> is cleared" and, from the signal, "Hook <hook> is
   * cleared", both carrying the resource's unchanged state (INIT_COMPLETE before a create).
   */
  private async pauseAtHook(stack: StackTable, p: Prepared, row: ResourceTable, action: string, hook: HookType, signal: AbortSignal): Promise<void> {
    if (!hooksFor(p.env.resource_registry, row.name).has(hook)) return;
    const waiting = this.hookWaits.wait(row.id, hook, signal, (reason) => (reason instanceof Error ? reason : new Cancelled(String(reason))));
    await this.event(stack.id, row, row.action, row.status, `${action} paused until Hook ${hook} is cleared`);
    try {
      await waiting;
    } catch (err) {
      if (!this.stopping) await this.event(stack.id, row, row.action, row.status, `Hook ${hook} abandoned: the ${action} was stopped while waiting`);
      throw err;
    }
  }

  private async resourceFailed(stack: StackTable, row: ResourceTable, action: string, err: unknown): Promise<Error> {
    const e = err as Error;
    if (this.stopping) return e;
    const inner = e instanceof Cancelled ? `${action} aborted (${e.message})` : `${e?.name ?? 'Error'}: resources.${row.name}: ${e?.message ?? String(err)}`;
    await this.saveResource(row, { action, status: 'FAILED', status_reason: inner });
    await this.event(stack.id, row, action, 'FAILED', inner);
    if (e instanceof Cancelled) return e;
    const out = new Error(inner) as Error & { resourceName?: string };
    out.resourceName = row.name;
    return out;
  }

  /**
   * Brings the stack's resources to the prepared definition (update and update-rollback): new
   * resources are created, changed ones updated in place when every changed property allows it
   * and replaced otherwise (the replacement is created before the old one is deleted, as Heat
   * does), and resources no longer defined are deleted last, in reverse dependency order.
   */
  private async converge(stack: StackTable, p: Prepared, action: 'UPDATE' | 'ROLLBACK', signal: AbortSignal): Promise<void> {
    const before = new Map((await this.resources(stack.id)).map((r) => [r.name, r]));
    await this.ensureRows(stack, p);
    const batch = stack.batch ? fromJson<{ size: number; pauseMs: number; minInService?: number; rolling?: boolean }>(stack.batch, { size: 0, pauseMs: 0 }) : undefined;
    if (batch?.rolling && action === 'UPDATE') await this.rollingUpdate(stack, p, before, batch, signal);
    else await runGraph(p.deps, (name) => this.convergeOne(stack, p, name, before.get(name), action, signal), this.batchOptions(stack, signal));
    const gone = [...before.values()].filter((r) => !p.defs.has(r.name));
    if (gone.length) await this.deleteRows(stack, gone, action === 'ROLLBACK' ? 'ROLLBACK' : 'DELETE', signal);
  }

  /**
   * A group's rolling update, batch by batch. A batch passes its health gate when every member
   * finished its update, which for members that carry software deployments means the machines
   * signalled success. Batches are small enough to keep min_in_service members untouched. On a
   * failure the batch's members go back to their previous definition and the update stops.
   */
  private async rollingUpdate(stack: StackTable, p: Prepared, before: Map<string, ResourceTable>, b: { size: number; pauseMs: number; minInService?: number }, signal: AbortSignal): Promise<void> {
    const names = [...p.defs.keys()];
    const size = Math.max(1, Math.min(b.size || 1, names.length - (b.minInService ?? 0)));
    const batches: string[][] = [];
    for (let i = 0; i < names.length; i += size) batches.push(names.slice(i, i + size));
    for (const [k, members] of batches.entries()) {
      const label = `batch ${k + 1}/${batches.length} (${members.join(', ')})`;
      try {
        await runGraph(new Map(members.map((n) => [n, []])), (name) => this.convergeOne(stack, p, name, before.get(name), 'UPDATE', signal), { signal });
      } catch (err) {
        const why = (err as Error).message;
        await this.stackEvent(stack, 'UPDATE', 'IN_PROGRESS', `Rolling update: health gate failed at ${label}: ${why}; rolling the batch back`);
        await this.revertMembers(stack, members, signal).catch((e: unknown) =>
          this.stackEvent(stack, 'UPDATE', 'IN_PROGRESS', `Rolling update: reverting ${label} failed: ${(e as Error).message}`),
        );
        throw err;
      }
      await this.stackEvent(stack, 'UPDATE', 'IN_PROGRESS', `Rolling update: ${label} passed the health gate`);
      if (b.pauseMs && k < batches.length - 1) await sleep(b.pauseMs, signal);
    }
  }

  /** Puts members back to the stack's previous definition (new members are deleted). */
  private async revertMembers(stack: StackTable, members: string[], signal: AbortSignal): Promise<void> {
    if (!stack.prev) return;
    const prev = fromJson<JsonMap>(stack.prev, {});
    const back = { ...stack, template: toJson(prev.template), template_file: String(prev.template_file), files: toJson(prev.files), environment: toJson(prev.environment), params: toJson(prev.params) };
    const pp = this.prepare(back);
    const rows = new Map((await this.resources(stack.id)).map((r) => [r.name, r]));
    for (const name of members) {
      const row = rows.get(name);
      if (!row) continue;
      if (pp.defs.has(name)) await this.convergeOne(back, pp, name, row, 'ROLLBACK', signal);
      else await this.deleteRows(stack, [row], 'ROLLBACK', signal);
    }
  }

  private async convergeOne(stack: StackTable, p: Prepared, name: string, old: ResourceTable | undefined, action: 'UPDATE' | 'ROLLBACK', signal: AbortSignal): Promise<void> {
    const row = await this.steps.run(() => this.resourceRow(stack.id, name));
    // A create interrupted by a restart resumes; one that never started (or left nothing) starts.
    if (row.action === 'CREATE' && row.status === 'IN_PROGRESS') return this.createResource(stack, p, name, signal);
    if (!old || old.action === 'INIT' || (old.action === 'CREATE' && old.status === 'FAILED' && !old.physical_id) || (old.action === 'DELETE' && old.status === 'COMPLETE')) {
      if (row.action !== 'INIT') await this.steps.run(() => this.saveResource(row, { action: 'INIT', status: 'COMPLETE' }));
      return this.createResource(stack, p, name, signal);
    }
    // Heat pauses before deciding whether anything changed: an unchanged resource pauses too.
    if (action === 'UPDATE') {
      try {
        await this.pauseAtHook(stack, p, row, 'UPDATE', 'pre-update', signal);
      } catch (err) {
        throw await this.resourceFailed(stack, row, 'UPDATE', err);
      }
    }
    const defn = p.defs.get(name)!;
    let plugin: ResourcePlugin;
    let schema: Record<string, PropSchema> | undefined;
    let nested = false;
    let type: ResourceType | undefined;
    let props: JsonMap;
    let metadata: Json;
    try {
      ({ plugin, schema, nested, type, props, metadata } = await this.steps.run(async () => {
        const t = this.pluginFor(p, defn);
        return { ...t, props: this.withDefaults(await this.evaluate(stack, p, defn.properties), t.schema), metadata: withOwnedMetadata(await this.evaluate(stack, p, defn.metadata), row.metadata) };
      }));
    } catch (err) {
      throw await this.resourceFailed(stack, row, action === 'ROLLBACK' ? 'ROLLBACK' : 'UPDATE', err);
    }
    const oldProps = fromJson<JsonMap>(row.properties, {});
    const changed = [...new Set([...Object.keys(props), ...Object.keys(oldProps)])].filter((k) => JSON.stringify(props[k]) !== JSON.stringify(oldProps[k]));
    const typeChanged = row.type !== defn.type;
    // Compared without key order: the owned keys merged back must not count as a change.
    const metaChanged = stableJson(metadata) !== stableJson(fromJson<Json>(row.metadata, {}));
    const failed = row.status === 'FAILED' || (row.action === 'UPDATE' && row.status === 'IN_PROGRESS');
    let updatePolicy: JsonMap | undefined;
    if (type?.usesUpdatePolicy) updatePolicy = (await this.evaluate(stack, p, defn.updatePolicy)) as JsonMap;
    // Nested stacks are always revisited: their own members may have changed (e.g. a registry entry).
    if (!typeChanged && !changed.length && !metaChanged && !failed && !nested) return;
    // The type may ask for a replacement whatever changed (TestResource's update_replace).
    const replaceAll = !typeChanged && type?.replaceOnUpdate?.(props) === true;
    const inPlace = !typeChanged && !!plugin.update && !replaceAll && (nested || changed.every((k) => schema?.[k]?.updateAllowed === true)) && !(row.status === 'FAILED' && (row.action === 'CREATE' || row.action === 'CHECK'));
    const act = action === 'ROLLBACK' ? 'ROLLBACK' : 'UPDATE';
    // Why a replacement: the type, properties that cannot change in place, or the resource's own
    // failure (e.g. marked unhealthy: CHECK_FAILED) with nothing changed.
    const why = typeChanged ? 'type changed' : changed.length ? `changed ${changed.join(', ')} (not updatable in place)` : `it was ${row.action}_${row.status}${row.status_reason ? ` (${row.status_reason})` : ''}`;
    await this.steps.run(async () => {
      await this.saveResource(row, { action: act, status: 'IN_PROGRESS', status_reason: inPlace ? 'state changed' : `replacing: ${why}` });
      await this.event(stack.id, row, act, 'IN_PROGRESS', inPlace ? 'state changed' : `UpdateReplace: ${why}`);
    });
    try {
      if (inPlace) {
        const rr = this.runtime(stack, row, signal);
        rr.properties = props;
        rr.metadata = metadata as JsonMap;
        if (updatePolicy) rr.data.update_policy = updatePolicy;
        await plugin.update!(rr, oldProps, changed);
        if (plugin.reference) rr.data.__ref = plugin.reference(rr);
        await this.steps.run(async () => {
          await this.saveResource(row, { action: act, status: 'COMPLETE', status_reason: 'state changed', properties: toJson(props), metadata: toJson(rr.metadata), physical_id: rr.physicalId, data: toJson(rr.data), requires: toJson(p.deps.get(name) ?? []) });
          await this.event(stack.id, row, act, 'COMPLETE', 'state changed');
        });
        return;
      }
      // Replacement: create the new one first, then delete the old one.
      const oldRow = { ...row };
      const newRr = this.runtime(stack, { ...row, physical_id: null, data: '{}' }, signal);
      newRr.properties = props;
      newRr.metadata = metadata as JsonMap;
      if (updatePolicy) newRr.data.update_policy = updatePolicy;
      try {
        await plugin.create(newRr);
        if (plugin.reference) newRr.data.__ref = plugin.reference(newRr);
      } catch (err) {
        // The create may have saved the new (broken) resource's id in the row: delete it and point
        // the row back at the original, which is still there.
        if (!this.stopping) {
          if (newRr.physicalId && newRr.physicalId !== oldRow.physical_id) {
            const cleanup = this.runtime(stack, { ...row, physical_id: newRr.physicalId, data: toJson(newRr.data) }, new AbortController().signal);
            cleanup.save = async () => undefined;
            await plugin.delete(cleanup).catch((e: unknown) => this.opts.log.warn({ err: e }, 'deleting the failed replacement failed'));
          }
          await this.saveResource(row, { physical_id: oldRow.physical_id, data: oldRow.data, ...(row.metadata !== oldRow.metadata ? { metadata: oldRow.metadata } : {}) });
        }
        throw err;
      }
      await this.saveResource(row, { type: defn.type, properties: toJson(props), metadata: toJson(newRr.metadata), physical_id: newRr.physicalId, data: toJson(newRr.data), requires: toJson(p.deps.get(name) ?? []) });
      if (oldRow.physical_id) {
        const oldPlugin = typeChanged ? this.pluginForRow(p, oldRow) : plugin;
        if (oldPlugin && oldRow.status !== 'FAILED') await oldPlugin.delete(this.runtime(stack, oldRow, signal)).catch((e: unknown) => this.opts.log.warn({ err: e }, 'deleting the replaced resource failed'));
      }
      // As Heat, an update's replacement is a created resource (CREATE_COMPLETE); rollback says ROLLBACK.
      const done = act === 'UPDATE' ? 'CREATE' : act;
      await this.saveResource(row, { action: done, status: 'COMPLETE', status_reason: 'replaced' });
      await this.event(stack.id, row, done, 'COMPLETE', `replaced (new id ${newRr.physicalId ?? ''})`);
    } catch (err) {
      throw await this.resourceFailed(stack, row, act, err);
    }
  }

  private pluginForRow(p: Prepared, row: ResourceTable): ResourcePlugin | undefined {
    try {
      return this.pluginFor(p, { name: row.name, type: row.type, path: `resources.${row.name}` }).plugin;
    } catch {
      return undefined;
    }
  }

  private async deleteAll(stack: StackTable, action: 'DELETE' | 'ROLLBACK', signal: AbortSignal): Promise<void> {
    await this.deleteRows(stack, await this.resources(stack.id), action, signal);
  }

  /** Deletes in reverse dependency order (a resource goes after everything that requires it). */
  private async deleteRows(stack: StackTable, rows: ResourceTable[], action: 'DELETE' | 'ROLLBACK', signal: AbortSignal): Promise<void> {
    const names = new Set(rows.map((r) => r.name));
    const reverse = new Map<string, string[]>(rows.map((r) => [r.name, []]));
    for (const r of rows) for (const d of fromJson<string[]>(r.requires, [])) if (names.has(d)) reverse.get(d)!.push(r.name);
    const byName = new Map(rows.map((r) => [r.name, r]));
    let p: Prepared | undefined;
    await breathe();
    try {
      p = this.prepare(stack, false);
    } catch {
      p = undefined;
    }
    await breathe();
    await runGraph(reverse, async (name) => {
      const row = byName.get(name)!;
      if (row.action === 'INIT' || (row.action === 'DELETE' && row.status === 'COMPLETE')) {
        await this.steps.run(() => this.db.deleteFrom('orchestration_resources').where('id', '=', row.id).execute());
        return;
      }
      const retain = p?.tmpl.resources.get(name)?.deletionPolicy === 'Retain';
      if (p && action === 'DELETE') {
        try {
          await this.pauseAtHook(stack, p, row, 'DELETE', 'pre-delete', signal);
        } catch (err) {
          throw await this.resourceFailed(stack, row, 'DELETE', err);
        }
      }
      await this.steps.run(() =>
        this.transition(async (tx) => {
          await this.saveResource(row, { action: 'DELETE', status: 'IN_PROGRESS', status_reason: 'state changed' }, tx);
          await this.event(stack.id, row, 'DELETE', 'IN_PROGRESS', retain ? 'deletion_policy Retain: the resource is kept' : 'state changed', tx.db);
        }),
      );
      try {
        if (!retain && row.physical_id) {
          const plugin = p ? this.pluginForRow(p, row) : undefined;
          if (plugin) await plugin.delete(this.runtime(stack, row, signal));
        }
      } catch (err) {
        throw await this.resourceFailed(stack, row, 'DELETE', err);
      }
      await this.steps.run(async () => {
        await this.transition(async (tx) => {
          await this.saveResource(row, { action: 'DELETE', status: 'COMPLETE', status_reason: retain ? 'Retained' : 'state changed' }, tx);
          await this.event(stack.id, row, 'DELETE', 'COMPLETE', retain ? 'Retained' : 'state changed', tx.db);
          await tx.db.deleteFrom('orchestration_resources').where('id', '=', row.id).execute();
        });
        this.notifier.notify(row.id);
      });
    }, { signal });
    void action;
  }

  // ---------- outputs ----------

  async outputs(stack: StackTable): Promise<{ output_key: string; output_value: Json; description: string; output_error?: string }[]> {
    let p: Prepared;
    try {
      p = this.prepare(stack, false);
    } catch (err) {
      return [{ output_key: '(template)', output_value: null, description: '', output_error: (err as Error).message }];
    }
    const ctx = this.context(stack, p, new Map(), new Map());
    const out = [];
    for (const o of p.tmpl.outputs.values()) {
      try {
        if (o.condition !== undefined && !conditionHolds(o.condition, ctx, `${o.path}.condition`)) {
          out.push({ output_key: o.name, output_value: null, description: o.description ?? 'No description given' });
          continue;
        }
        out.push({ output_key: o.name, output_value: await this.evaluate(stack, p, o.value), description: o.description ?? 'No description given' });
      } catch (err) {
        out.push({ output_key: o.name, output_value: null, description: o.description ?? 'No description given', output_error: (err as Error).message });
      }
    }
    return out;
  }

  async resourceAttributes(stack: StackTable, row: ResourceTable): Promise<JsonMap> {
    const p = this.prepare(stack, false);
    const defn = p.tmpl.resources.get(row.name);
    if (!defn) return {};
    const t = resolveResourceType(defn, p.tmpl, { registry: this.opts.registry, env: p.env, files: p.files });
    const names = t.kind === 'template' ? [...t.tmpl.outputs.keys()] : [...(t.type.attributes ?? [])];
    const out: JsonMap = {};
    for (const n of names.filter((x) => x !== 'show')) out[n] = await this.attribute(stack, p, row, n).catch(() => null);
    return out;
  }

  // ---------- signals ----------

  async signalResource(stack: StackTable, name: string, data: Json): Promise<void> {
    const row = await this.resourceRow(stack.id, name);
    if (isMapping(data) && data.unset_hook !== undefined) return this.clearHook(stack, row, data.unset_hook);
    const p = this.prepare(stack, false);
    const defn = p.tmpl.resources.get(name);
    if (!defn) throw new NotFoundError('Resource', name);
    const { plugin } = this.pluginFor(p, defn);
    if (!plugin.signal) throw new BadRequestError(`Signal resource during ${row.action} is not supported: ${row.type} does not accept signals`);
    const rr = this.runtime(stack, row, new AbortController().signal);
    await plugin.signal(rr, data);
    await this.saveResource(row, { data: toJson(rr.data) });
    await this.event(stack.id, row, 'SIGNAL', 'COMPLETE', `Signal: ${JSON.stringify(data).slice(0, 200)}`);
    if (row.physical_id) this.notifier.notify(signalKey(row.physical_id));
  }

  /** `{"unset_hook": "<hook>"}`: lets the paused action go on; a hook not pending is a 400. */
  private async clearHook(stack: StackTable, row: ResourceTable, hook: Json): Promise<void> {
    if (!isHookType(hook)) throw new BadRequestError(`unset_hook: invalid hook type ${JSON.stringify(hook)} for resource ${row.name}; valid hook types are ${HOOK_TYPES.join(', ')}`);
    if (!this.hookWaits.isPending(row.id, hook)) throw new BadRequestError(`unset_hook: the ${hook} hook is not pending on resource ${row.name} (nothing is paused on it)`);
    await this.event(stack.id, row, row.action, row.status, `Hook ${hook} is cleared`);
    this.hookWaits.clear(row.id, hook);
  }

  /** Token-authenticated signal to a wait condition handle or a deployment (plain curl). */
  async signalByToken(physicalId: string, token: string, data: Json): Promise<void> {
    const row = await this.db.selectFrom('orchestration_resources').selectAll().where('physical_id', '=', physicalId).executeTakeFirst();
    const d = row ? fromJson<JsonMap>(row.data, {}) : {};
    const expected = d.token ?? d.signal_token;
    if (!row || typeof expected !== 'string' || !sameSecret(expected, token)) throw new NotFoundError('Signal URL', physicalId);
    const stack = (await this.getStack(row.stack_id))!;
    await this.signalResource(stack, row.name, data);
  }

  // ---------- services for plugins ----------

  private readonly network: NetworkProvider;

  private services(): EngineServices {
    return {
      compute: this.opts.compute,
      network: this.network,
      software: this.opts.software,
      stackUsers: this.opts.stackUsers ?? NO_STACK_USERS,
      sleep,
      publicUrl: (path) => `${this.opts.publicUrl()}${path}`,
      applyNested: (r, spec) => this.applyNested(r, spec),
      deleteNested: async (r) => {
        if (!r.physicalId) return;
        const child = await this.getStack(r.physicalId);
        if (child && !(child.action === 'DELETE' && child.status === 'COMPLETE')) {
          await this.setStack(child.id, 'DELETE', 'IN_PROGRESS', 'Stack DELETE started');
          await this.runDelete(child.id, r.signal);
          const after = (await this.getStack(child.id))!;
          if (after.status === 'FAILED') throw new Error(after.status_reason);
        }
      },
      nestedOutputs: async (r) => {
        const child = r.physicalId ? await this.getStack(r.physicalId) : undefined;
        if (!child) return {};
        return Object.fromEntries((await this.outputs(child)).map((o) => [o.output_key, o.output_value]));
      },
      nestedResourceIds: async (r) => {
        const rows = r.physicalId ? await this.resources(r.physicalId) : [];
        return Object.fromEntries(rows.map((x) => [x.name, x.physical_id]));
      },
      nestedMemberAttr: async (r, attr) => {
        const child = r.physicalId ? await this.getStack(r.physicalId) : undefined;
        if (!child) return {};
        const p = this.prepare(child, false);
        const out: Record<string, Json> = {};
        for (const row of await this.resources(child.id)) {
          await breathe();
          out[row.name] = attr === null ? ((fromJson<JsonMap>(row.data, {}).__ref ?? row.physical_id) as Json) : await this.attribute(child, p, row, attr);
        }
        return out;
      },
      deploymentsChanged: async (serverId) => {
        // The server resource's metadata carries its deployments (what the heat collector polls),
        // those of the server's stack's project only.
        const rows = await this.db
          .selectFrom('orchestration_resources')
          .innerJoin('orchestration_stacks', 'orchestration_stacks.id', 'orchestration_resources.stack_id')
          .selectAll('orchestration_resources')
          .select('orchestration_stacks.project_id as project_id')
          .where('orchestration_resources.physical_id', '=', serverId)
          .execute();
        for (const { project_id, ...row } of rows) {
          const md = fromJson<JsonMap>(row.metadata, {});
          md.deployments = (await this.opts.software.serverMetadata(serverId, project_id)) as unknown as Json;
          await this.saveResource(row, { metadata: toJson(md) });
        }
      },
      nextSignal: (id, ms, signal) => this.notifier.subscribe(signalKey(id), ms, signal),
      handleSignals: async (id) => {
        const row = await this.db.selectFrom('orchestration_resources').select(['data']).where('physical_id', '=', id).executeTakeFirst();
        if (!row) return undefined;
        return (fromJson<JsonMap>(row.data, {}).signals ?? []) as JsonMap[];
      },
    };
  }

  private async applyNested(r: RuntimeResource, spec: NestedSpec): Promise<string> {
    const parent = (await this.getStack(r.stackId))!;
    const parentEnv = fromJson<Environment>(parent.environment, { parameters: {}, parameter_defaults: {}, resource_registry: {} });
    // As Heat: the child sees the per-resource entries nested under this resource's name (hooks
    // and type overrides for the child's own resources), not the parent's.
    const registry: JsonMap = { ...parentEnv.resource_registry };
    delete registry.resources;
    const childResources = childRegistryResources(parentEnv.resource_registry, r.name);
    const env: JsonMap = { parameters: {}, parameter_defaults: parentEnv.parameter_defaults, resource_registry: childResources ? { ...registry, resources: childResources } : registry };
    const params: JsonMap = {};
    for (const [k, v] of Object.entries(spec.params)) if (v !== null && v !== undefined) params[k] = v;
    const file = spec.file ?? `${parent.template_file}#${r.name}`;
    const existing = r.physicalId ? await this.getStack(r.physicalId) : undefined;
    const batch = spec.batch ? toJson(spec.batch) : null;
    if (!existing || (existing.action === 'DELETE' && existing.status === 'COMPLETE')) {
      await breathe();
      const child = await this.create(parent.project_id, { stack_name: `${parent.name}-${r.name}-${randomUUID().slice(0, 8)}`, template: spec.template, template_file: keyFor(file, parent.template_file, {}), files: fromJson(parent.files, {}), environment: env, parameters: params, disable_rollback: true }, { id: parent.id, resource: r.name }, parent.user_id);
      await this.db.updateTable('orchestration_stacks').set({ batch }).where('id', '=', child.id).execute();
      r.physicalId = child.id;
      await r.save();
      await this.runCreate(child.id, r.signal);
    } else if (existing.action === 'CREATE' && existing.status !== 'COMPLETE') {
      await this.runCreate(existing.id, r.signal);
    } else {
      const same = existing.template === toJson(spec.template) && existing.params === toJson(params) && existing.environment === toJson(env) && existing.status === 'COMPLETE' && existing.batch === batch;
      if (!same || existing.action === 'UPDATE') {
        const prev = toJson({ template: fromJson(existing.template, {}), template_file: existing.template_file, files: fromJson(existing.files, {}), environment: fromJson(existing.environment, {}), params: fromJson(existing.params, {}) });
        await this.db
          .updateTable('orchestration_stacks')
          .set({ template: toJson(spec.template), params: toJson(params), environment: toJson(env), files: parent.files, prev: existing.status === 'IN_PROGRESS' ? existing.prev : prev, action: 'UPDATE', status: 'IN_PROGRESS', status_reason: 'Stack UPDATE started', batch, updated_at: now() })
          .where('id', '=', existing.id)
          .execute();
        await this.stackEvent(existing, 'UPDATE', 'IN_PROGRESS', 'Stack UPDATE started');
        await this.runUpdate(existing.id, r.signal);
      }
    }
    const after = (await this.getStack(r.physicalId!))!;
    if (after.status !== 'COMPLETE' || (after.action !== 'CREATE' && after.action !== 'UPDATE')) {
      throw new Error(`nested stack ${after.name}: ${after.action}_${after.status}: ${after.status_reason}`);
    }
    return after.id;
  }

  // ---------- state and events ----------

  async setStack(id: string, action: string, status: string, reason: string): Promise<void> {
    await this.db.updateTable('orchestration_stacks').set({ action, status, status_reason: reason, updated_at: now() }).where('id', '=', id).execute();
    const row = await this.getStack(id);
    if (row) await this.stackEvent(row, action, status, reason);
  }

  private async stackEvent(stack: Pick<StackTable, 'id' | 'name'>, action: string, status: string, reason: string): Promise<void> {
    await this.insertEvent({ stack_id: stack.id, resource_name: stack.name, physical_id: stack.id, resource_type: STACK_EVENT_TYPE, action, status, reason });
  }

  private async event(stackId: string, row: ResourceTable, action: string, status: string, reason: string, db: Kysely<OrchestrationDB> = this.db): Promise<void> {
    await this.insertEvent({ stack_id: stackId, resource_name: row.name, physical_id: row.physical_id, resource_type: row.type, action, status, reason }, db);
  }

  /**
   * A resource's state change and its event in one transaction: one commit instead of two (each
   * commit writes its pages to the WAL; at 20,000 resources the commits were most of the time).
   * `fn` must write through the handle it is given only: the connection is the transaction's.
   */
  private async transition(fn: (tx: Transition) => Promise<void>): Promise<void> {
    const changed: string[] = [];
    await this.db.transaction().execute((db) => fn({ db, changed }));
    for (const id of changed) this.notifier.notify(id);
  }

  private async insertEvent(e: Omit<EventTable, 'id' | 'seq' | 'created_at'>, db: Kysely<OrchestrationDB> = this.db): Promise<void> {
    // Time-based and monotonic within this process, so events sort in the order they happened.
    const seq = Math.max(Date.now() * 1000, this.seq + 1);
    this.seq = seq;
    await db.insertInto('orchestration_events').values({ ...e, id: randomUUID(), seq, created_at: now() }).execute();
  }
}

/** Heat's stack tags: a comma-separated string or a list, stored as a JSON list. */
function stackTags(tags: string | string[] | null | undefined): string {
  return toJson(typeof tags === 'string' ? tags.split(',').filter(Boolean) : (tags ?? []));
}
