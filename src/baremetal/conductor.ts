// The conductor: runs every long operation on a node asynchronously while the node holds its
// reservation, records progress and outcome on the node row and in its history, times out
// wait states, syncs power state periodically, and on start recovers what a killed server left
// behind (resumes what is safe to repeat, fails the rest with a reason in last_error).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BadRequestError, BootstackError, ConflictError, asBootstackError } from '../common/errors.js';
import { fromJson, now, toJson } from '../common/db.js';
import type { BaremetalKysely, NodeRow } from './db.js';
import { FAILURE_STATE, TRANSIENT_STATES, WAITING_STATES, provisionMachine, targetFor, type ProvisionEvent, type ProvisionState } from './states.js';
import { driverNode, findNode, lockedError, recordHistory, reserve, type Severity } from './node-store.js';
import type { DriverRegistry } from './drivers/registry.js';
import type { BootDevice, CleanStep, DriverContext, InterfaceKind, PowerState, PowerTarget } from './drivers/interfaces.js';
import { INTERFACE_KINDS } from './drivers/interfaces.js';
import { sleep } from '../common/sleep.js';
import { Semaphore } from './semaphore.js';
import type { BootTimeline } from './timeline.js';
import { armFirstContact } from './first-contact.js';
import type { PortChange } from './provisioning.js';

export interface ConductorOptions {
  /** This conductor's name: written into node.reservation and history. */
  host: string;
  /** Operations running at once; more wait in a queue (their nodes stay reserved). */
  workers: number;
  /** 0 disables the periodic power sync. */
  syncPowerIntervalMs: number;
  syncPowerWorkers: number;
  /** Consecutive failed power reads before the node goes to maintenance with fault "power failure". */
  powerFailureLimit: number;
  /** How often wait-state timeouts are checked. */
  checkIntervalMs: number;
  waitTimeoutsMs: Record<'wait call-back' | 'clean wait' | 'inspect wait', number>;
  /** Default for nodes whose automated_clean is unset. */
  automatedClean: boolean;
}

/** The in-flight operation, stored on the node so a restart knows what was interrupted. */
export interface Operation {
  kind: string;
  started_at: string;
  target?: string;
  event?: string;
  user?: string | null;
  /** For verbs that need arguments (clean steps). */
  clean_steps?: CleanStep[];
  /** The agent finished its part: the transient state's work is the completion (boot disk, power). */
  resumed?: boolean;
  /** What in-band inspection found (kept between "inspect wait" and the resumed "inspecting"). */
  inspected?: { properties?: Record<string, unknown>; macs?: string[] };
}

type Outcome = { event: ProvisionEvent; changes?: Partial<NodeRow>; message?: string };

/** Retrying the reservation when the agent finished while the node was locked: 50 ms doubling to 2 s, about a minute in all. */
const RESUME_RETRY_FIRST_MS = 50;
const RESUME_RETRY_MAX_MS = 2000;
const RESUME_RETRY_ATTEMPTS = 36;

/** States in which the node may have a ramdisk network boot prepared (boot secret, agent session, image grant). */
const RAMDISK_STATES: ReadonlySet<ProvisionState> = new Set(['deploying', 'wait call-back', 'cleaning', 'clean wait', 'inspecting', 'inspect wait', 'deleting']);

export class Conductor {
  private readonly sem: Semaphore;
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly powerFailures = new Map<string, number>();
  /** Agent watchers of nodes in wait states, aborted when the node leaves the state. */
  private readonly watchers = new Map<string, AbortController>();
  private readonly watching = new Set<Promise<void>>();
  /** When this conductor started: time the seed was down must not count against a waiting node. */
  private readonly startedAt = Date.now();
  /** Boot events of each node (set by the service when the boot service is attached). */
  timeline?: BootTimeline;
  /**
   * True when the agent's side of a deploy (boot secret, session, commands) is in the database,
   * so a node found waiting at start can go on waiting for its agent instead of failing.
   */
  agentStateDurable?: () => boolean;
  /** When the node's agent last showed activity (lookup, command, busy heartbeat); undefined before lookup. */
  agentActivity?: (nodeUuid: string) => Date | undefined;
  /** Wait-state nodes recover() kept for resumeWaits(). */
  private toResume: Array<{ uuid: string; state: ProvisionState; op: Operation }> = [];
  /** Called after inspection creates ports, so DHCP answers them. */
  portsChanged?: (change: PortChange) => Promise<void>;

  constructor(
    private readonly db: BaremetalKysely,
    readonly registry: DriverRegistry,
    private readonly log: Logger,
    readonly options: ConductorOptions,
  ) {
    this.sem = new Semaphore(options.workers);
  }

  private ctx(): DriverContext {
    return { log: this.log, signal: this.abort.signal };
  }

  /** The context for a node's provisioning work: its other interfaces and its timeline. */
  private nodeCtx(row: NodeRow, signal: AbortSignal = this.abort.signal): DriverContext {
    const r = this.registry;
    return {
      log: this.log,
      signal,
      driver: { power: r.get('power', row.power_interface), management: r.get('management', row.management_interface), boot: r.get('boot', row.boot_interface) },
      record: (event) => recordHistory(this.db, row.uuid, event, 'deploy', 'INFO', null, this.options.host),
    };
  }

  // ---------------------------------------------------------------- provision

  /**
   * PUT /nodes/{id}/states/provision: validates the move, takes the lock, starts the work.
   * `configdrive` (deploy, rebuild) is written to instance_info only once the move is accepted.
   */
  async provision(ident: string, event: ProvisionEvent, args: { cleanSteps?: CleanStep[]; configdrive?: unknown; user: string | null }): Promise<void> {
    const row = await findNode(this.db, ident);
    const from = row.provision_state as ProvisionState;
    if (row.reservation) throw lockedError(row);
    const to = provisionMachine.next(from, event);
    if (event === 'clean' && !args.cleanSteps) throw new BadRequestError('"clean_steps" is required when setting the target provision state to "clean"');
    if ((event === 'deploy' || event === 'rebuild' || event === 'provide' || event === 'clean') && row.maintenance) {
      throw new BadRequestError(`Node ${row.uuid} is in maintenance mode; "${event}" is not allowed until maintenance is unset.`);
    }
    if (event === 'abort') return this.abortWait(row, from, to, args.user);
    if (!provisionMachine.isTransient(to)) {
      // No work between the two states (available -> manageable): move at once.
      await reserve(this.db, row, this.options.host, {});
      await this.finish(row.uuid, { provision_state: to, target_provision_state: null, last_error: null }, `${from} -> ${to} (${event})`, 'INFO', args.user);
      return;
    }
    const op: Operation = { kind: event, event, started_at: now(), user: args.user, clean_steps: args.cleanSteps };
    const stamp = now();
    await reserve(this.db, row, this.options.host, {
      provision_state: to,
      target_provision_state: targetFor(to, event, from),
      provision_updated_at: stamp,
      last_error: null,
      operation: toJson(op),
      ...(event === 'inspect' ? { inspection_started_at: stamp, inspection_finished_at: null } : {}),
      ...(event === 'clean' ? { clean_step: toJson({}) } : {}),
    });
    if (args.configdrive !== undefined) {
      // Under our reservation nobody else writes the node, so instance_info read now is current.
      const info = { ...fromJson<Record<string, unknown>>((await findNode(this.db, row.uuid)).instance_info, {}), configdrive: args.configdrive };
      await this.db.updateTable('baremetal_nodes').set({ instance_info: toJson(info) }).where('uuid', '=', row.uuid).where('reservation', '=', this.options.host).execute();
    }
    await recordHistory(this.db, row.uuid, `${from} -> ${to} (${event})`, 'provisioning', 'INFO', args.user, this.options.host);
    this.timeline?.begin(row.uuid);
    this.spawn(row.uuid, () => this.runProvision(row.uuid, to, op));
  }

  private async abortWait(row: NodeRow, from: ProvisionState, to: ProvisionState, user: string | null): Promise<void> {
    const message = `${from} aborted by request`;
    this.watchers.get(row.uuid)?.abort();
    await reserve(this.db, row, this.options.host, {});
    await this.finish(row.uuid, { provision_state: to, target_provision_state: null, last_error: message }, message, 'WARNING', user);
  }

  /** Runs the work of a transient state and follows the machine until a stable or wait state. */
  private async runProvision(uuid: string, state: ProvisionState, op: Operation): Promise<void> {
    let current = state;
    for (;;) {
      const row = await findNode(this.db, uuid);
      let outcome: Outcome;
      try {
        outcome = await this.work(row, current, op);
      } catch (err) {
        if (this.abort.signal.aborted) return; // stopping: leave it to recovery at the next start
        const e = asBootstackError(err);
        const failed = provisionMachine.next(current, 'fail');
        const message = failureMessage(current, row, e);
        this.log.warn({ node: uuid, state: current, err: e.message }, 'operation failed');
        await this.finish(uuid, { provision_state: failed, target_provision_state: null, last_error: message }, message, 'ERROR', op.user ?? null);
        return;
      }
      const next = provisionMachine.next(current, outcome.event);
      const from = current;
      current = next;
      if (provisionMachine.isTransient(next)) {
        // Still working (deleting → cleaning): keep the reservation and go on.
        await this.db
          .updateTable('baremetal_nodes')
          .set({ ...outcome.changes, provision_state: next, target_provision_state: targetFor(next, outcome.event, from), provision_updated_at: now(), updated_at: now() })
          .where('uuid', '=', uuid)
          .execute();
        await recordHistory(this.db, uuid, `${from} -> ${next} (${outcome.event})`, 'provisioning', 'INFO', op.user ?? null, this.options.host);
        continue;
      }
      const waiting = provisionMachine.isWaiting(next);
      await this.finish(
        uuid,
        {
          ...outcome.changes,
          provision_state: next,
          target_provision_state: waiting ? targetFor(next, outcome.event, from) : null,
        },
        outcome.message ?? `${from} -> ${next} (${outcome.event})`,
        'INFO',
        op.user ?? null,
      );
      if (waiting) this.watchAgent(uuid, next, op);
      return;
    }
  }

  /** The driver work of one transient state; returns the event that ends it. */
  private async work(row: NodeRow, state: ProvisionState, op: Operation): Promise<Outcome> {
    const node = driverNode(row);
    const ctx = state === 'deploying' || state === 'cleaning' || state === 'deleting' || state === 'inspecting' ? this.nodeCtx(row) : this.ctx();
    const r = this.registry;
    switch (state) {
      case 'verifying': {
        const power = r.get('power', row.power_interface);
        power.validate(node);
        r.get('management', row.management_interface).validate(node);
        const ps = await power.getPowerState(node, ctx);
        return { event: 'done', changes: { power_state: ps } };
      }
      case 'adopting': {
        const power = r.get('power', row.power_interface);
        power.validate(node);
        r.get('deploy', row.deploy_interface).validate(node);
        const ps = await power.getPowerState(node, ctx);
        return { event: 'done', changes: { power_state: ps } };
      }
      case 'inspecting': {
        const inspect = r.get('inspect', row.inspect_interface);
        if (op.resumed) await inspect.complete?.(node, ctx);
        const res = op.resumed ? { result: 'done' as const, ...op.inspected } : await inspect.inspect(node, ctx);
        if (res.result === 'wait') return { event: 'wait', changes: await this.powerNow(row) };
        const props = { ...fromJson<Record<string, unknown>>(row.properties, {}), ...res.properties };
        await this.addInspectedPorts(row, res.macs ?? []);
        return { event: 'done', changes: { properties: toJson(props), inspection_finished_at: now(), ...(op.resumed ? await this.powerNow(row) : {}) } };
      }
      case 'cleaning': {
        const manual = op.kind === 'clean';
        const automated = row.automated_clean === null ? this.options.automatedClean : row.automated_clean === 1;
        if (!manual && !automated) return { event: 'done' };
        if (op.resumed) {
          await r.get('deploy', row.deploy_interface).complete?.(node, 'clean', ctx);
          return { event: manual ? 'manage' : 'done', changes: { clean_step: toJson({}), ...(await this.powerNow(row)) } };
        }
        const res = await r.get('deploy', row.deploy_interface).clean(node, manual ? (op.clean_steps ?? []) : null, ctx);
        if (res === 'wait') return { event: 'wait', changes: await this.powerNow(row) };
        return { event: manual ? 'manage' : 'done', changes: { clean_step: toJson({}) } };
      }
      case 'deploying': {
        const deploy = r.get('deploy', row.deploy_interface);
        const boot = r.get('boot', row.boot_interface);
        if (op.resumed) {
          await deploy.complete?.(node, 'deploy', ctx);
          // The machine reboots into its image: its first DHCP goes on the timeline (first-contact.ts).
          return { event: 'done', changes: { deploy_step: toJson({}), driver_internal_info: armFirstContact(row.driver_internal_info), ...(await this.powerNow(row)) } };
        }
        deploy.validate(node);
        boot.validate(node);
        const res = await deploy.deploy(node, ctx);
        return { event: res === 'wait' ? 'wait' : 'done', changes: { deploy_step: toJson({}), ...(res === 'wait' ? await this.powerNow(row) : {}) } };
      }
      case 'deleting': {
        await r.get('deploy', row.deploy_interface).tearDown(node, ctx);
        await r.get('boot', row.boot_interface).cleanUpInstance(node, ctx);
        return { event: 'clean', changes: { instance_info: toJson({}), instance_uuid: null } };
      }
      default:
        throw new BootstackError(500, 'no_work', `no work is defined for state "${state}"`);
    }
  }

  /** The power state after boot/deploy work changed it (a failed read leaves the stored one). */
  private async powerNow(row: NodeRow): Promise<Partial<NodeRow>> {
    try {
      return { power_state: await this.registry.get('power', row.power_interface).getPowerState(driverNode(row), this.ctx()) };
    } catch {
      return {};
    }
  }

  /** Creates a port for every MAC inspection found that no node has yet (as Ironic does). */
  private async addInspectedPorts(row: NodeRow, macs: string[]): Promise<void> {
    const created: string[] = [];
    for (const mac of macs) {
      const existing = await this.db.selectFrom('baremetal_ports').select(['node_uuid']).where('address', '=', mac).executeTakeFirst();
      if (existing) {
        if (existing.node_uuid !== row.uuid) {
          await recordHistory(this.db, row.uuid, `inspection found MAC ${mac}, which belongs to node ${existing.node_uuid}; no port created`, 'inspection', 'WARNING', null, this.options.host);
        }
        continue;
      }
      await this.db
        .insertInto('baremetal_ports')
        .values({ uuid: randomUUID(), address: mac, node_uuid: row.uuid, extra: '{}', local_link_connection: '{}', pxe_enabled: 1, physical_network: null, internal_info: '{}', is_smartnic: 0, created_at: now(), updated_at: null })
        .execute();
      created.push(mac);
      await recordHistory(this.db, row.uuid, `inspection created port ${mac}`, 'inspection', 'INFO', null, this.options.host);
    }
    if (created.length) await this.portsChanged?.({ added: created });
  }

  /** Sets the final fields, releases the reservation, clears the operation, records history. */
  private async finish(uuid: string, changes: Partial<NodeRow>, event: string, severity: Severity, user: string | null): Promise<void> {
    const stamp = now();
    await this.db
      .updateTable('baremetal_nodes')
      .set({ ...changes, provision_updated_at: changes.provision_state ? stamp : undefined, reservation: null, operation: null, updated_at: stamp })
      .where('uuid', '=', uuid)
      .execute();
    await recordHistory(this.db, uuid, event, changes.provision_state ? 'provisioning' : 'power', severity, user, this.options.host);
  }

  /**
   * For the agent call-back path (boot/deploy work): a node waiting in a wait state resumes,
   * finishes or fails. Not reachable with the fake interfaces, which never wait.
   */
  async continueFromWait(ident: string, outcome: 'done' | 'fail', message?: string): Promise<void> {
    const row = await findNode(this.db, ident);
    const from = row.provision_state as ProvisionState;
    if (!provisionMachine.isWaiting(from)) throw new ConflictError(`Node ${row.uuid} is in "${from}", not in a wait state`);
    const to = provisionMachine.next(from, outcome);
    await reserve(this.db, row, this.options.host, {});
    this.watchers.get(row.uuid)?.abort();
    await this.finish(row.uuid, { provision_state: to, target_provision_state: null, last_error: outcome === 'fail' ? (message ?? null) : null }, message ?? `${from} -> ${to}`, outcome === 'fail' ? 'ERROR' : 'INFO', null);
  }

  /**
   * A node entered a wait state with an agent-driven deploy interface: run the agent's part
   * (lookup, commands) without the node's lock, then resume the transient state to complete it
   * (boot to disk, power) or fail the node with the step that failed. Leaving the wait state
   * otherwise (timeout, abort) aborts the watcher.
   */
  private watchAgent(uuid: string, state: ProvisionState, op: Operation): void {
    const phase = state === 'wait call-back' ? 'deploy' : state === 'clean wait' ? 'clean' : state === 'inspect wait' ? 'inspect' : undefined;
    if (!phase) return;
    this.watchers.get(uuid)?.abort();
    const ac = new AbortController();
    this.watchers.set(uuid, ac);
    const signal = AbortSignal.any([ac.signal, this.abort.signal]);
    const p = (async () => {
      const row = await findNode(this.db, uuid);
      const deploy = this.registry.get('deploy', row.deploy_interface);
      const inspect = this.registry.get('inspect', row.inspect_interface);
      if (phase === 'inspect' ? !inspect.awaitAgent : !deploy.awaitAgent) return;
      const node = driverNode(row);
      const ctx = this.nodeCtx(row, signal);
      let next = op;
      try {
        if (phase === 'inspect') {
          const found = await inspect.awaitAgent!(node, ctx);
          next = { ...op, inspected: { properties: found.properties, macs: found.macs } };
        } else {
          await deploy.awaitAgent!(node, phase, ctx);
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        await ctx.driver?.boot.cleanUpRamdisk(node, ctx).catch(() => undefined);
        if (ac.signal.aborted) return; // the node left the wait state; that change recorded why
        const message = failureMessage(phase === 'deploy' ? 'deploying' : phase === 'clean' ? 'cleaning' : 'inspecting', row, asBootstackError(err));
        this.log.warn({ node: uuid, state, err: message }, 'agent step failed');
        await this.continueFromWait(uuid, 'fail', message).catch((e: unknown) => this.log.warn({ err: e, node: uuid }, 'could not fail the node'));
        return;
      }
      if (signal.aborted) return;
      await this.resumeAfterWait(uuid, state, next, signal);
    })()
      .catch((err: unknown) => this.log.error({ err, node: uuid }, 'agent watcher crashed'))
      .finally(() => {
        if (this.watchers.get(uuid) === ac) this.watchers.delete(uuid);
        this.watching.delete(p);
      });
    this.watching.add(p);
  }

  /**
   * wait call-back → deploying (clean wait → cleaning) with the lock, to complete the work. The
   * agent may finish while a short request (a PATCH, a boot device change) holds the node's
   * lock: the reservation is retried with backoff, bounded; if the lock never frees, the boot is
   * revoked (the agent stops) and the wait state's timeout fails the node.
   */
  private async resumeAfterWait(uuid: string, state: ProvisionState, op: Operation, signal: AbortSignal): Promise<void> {
    const to = provisionMachine.next(state, 'resume');
    const resumed: Operation = { ...op, resumed: true };
    let delay = RESUME_RETRY_FIRST_MS;
    let holder = '';
    for (let attempt = 1; attempt <= RESUME_RETRY_ATTEMPTS; attempt++) {
      const row = await findNode(this.db, uuid);
      if (row.provision_state !== state || signal.aborted) return;
      try {
        await reserve(this.db, row, this.options.host, { provision_state: to, provision_updated_at: now(), operation: toJson(resumed) });
      } catch (err) {
        if ((err as BootstackError).status !== 409) throw err;
        holder = (err as Error).message;
        if (attempt === 1) this.log.info({ node: uuid }, 'the agent finished while the node was locked; retrying');
        await sleep(delay, signal).catch(() => undefined);
        delay = Math.min(delay * 2, RESUME_RETRY_MAX_MS);
        continue;
      }
      await recordHistory(this.db, uuid, `${state} -> ${to} (resume: the agent finished${attempt > 1 ? `; the node was locked, took ${attempt} attempts` : ''})`, 'provisioning', 'INFO', null, this.options.host);
      this.spawn(uuid, () => this.runProvision(uuid, to, resumed));
      return;
    }
    const message = `the agent finished but the node's lock could not be taken after ${RESUME_RETRY_ATTEMPTS} attempts (${holder}); the boot is revoked and the wait will time out`;
    this.log.warn({ node: uuid }, message);
    await recordHistory(this.db, uuid, message, 'provisioning', 'ERROR', null, this.options.host);
    const row = await findNode(this.db, uuid);
    await this.registry.get('boot', row.boot_interface).cleanUpRamdisk(driverNode(row), this.ctx()).catch(() => undefined);
  }

  // ---------------------------------------------------------------- power and management

  async power(ident: string, target: PowerTarget, user: string | null): Promise<void> {
    const row = await findNode(this.db, ident);
    if (row.reservation) throw lockedError(row);
    const power = this.registry.get('power', row.power_interface);
    power.validate(driverNode(row));
    const final: PowerState = target === 'power off' || target === 'soft power off' ? 'power off' : 'power on';
    const op: Operation = { kind: 'power', target, started_at: now(), user };
    await reserve(this.db, row, this.options.host, { target_power_state: final, last_error: null, operation: toJson(op) });
    this.spawn(row.uuid, () => this.runPower(row.uuid, target, op));
  }

  private async runPower(uuid: string, target: PowerTarget, op: Operation): Promise<void> {
    const row = await findNode(this.db, uuid);
    const power = this.registry.get('power', row.power_interface);
    try {
      await power.setPowerState(driverNode(row), target, this.ctx());
      const ps = await power.getPowerState(driverNode(row), this.ctx());
      await this.finish(uuid, { power_state: ps, target_power_state: null }, `power ${row.power_state ?? 'None'} -> ${ps} (${target})`, 'INFO', op.user ?? null);
    } catch (err) {
      if (this.abort.signal.aborted) return;
      const e = asBootstackError(err);
      const message = `Failed to change power state to "${target}" for node ${row.uuid}: ${e.message}`;
      // The power state stays what it was: we do not know that anything changed.
      await this.finish(uuid, { target_power_state: null, last_error: message }, message, 'ERROR', op.user ?? null);
    }
  }

  /** Boot device changes are quick and synchronous (as in Ironic), but still take the lock. */
  async setBootDevice(ident: string, device: BootDevice, persistent: boolean): Promise<void> {
    const row = await findNode(this.db, ident);
    if (row.reservation) throw lockedError(row);
    const mgmt = this.registry.get('management', row.management_interface);
    mgmt.validate(driverNode(row));
    await reserve(this.db, row, this.options.host, {});
    try {
      await mgmt.setBootDevice(driverNode(row), device, persistent, this.ctx());
    } finally {
      await this.db.updateTable('baremetal_nodes').set({ reservation: null }).where('uuid', '=', row.uuid).execute();
    }
  }

  async getBootDevice(ident: string): Promise<{ boot_device: BootDevice | null; persistent: boolean | null }> {
    const row = await findNode(this.db, ident);
    return this.registry.get('management', row.management_interface).getBootDevice(driverNode(row), this.ctx());
  }

  async supportedBootDevices(ident: string): Promise<BootDevice[]> {
    const row = await findNode(this.db, ident);
    return this.registry.get('management', row.management_interface).getSupportedBootDevices(driverNode(row), this.ctx());
  }

  /** GET /nodes/{id}/validate: each interface's validate(). */
  async validate(ident: string): Promise<Record<string, { result: boolean | null; reason: string | null }>> {
    const row = await findNode(this.db, ident);
    const node = driverNode(row);
    const out: Record<string, { result: boolean | null; reason: string | null }> = {};
    for (const kind of INTERFACE_KINDS) {
      const name = row[`${kind}_interface` as `${InterfaceKind}_interface`];
      try {
        this.registry.get(kind, name).validate(node);
        out[kind] = { result: true, reason: null };
      } catch (err) {
        out[kind] = { result: false, reason: (err as Error).message };
      }
    }
    for (const kind of ['bios', 'console', 'network', 'raid', 'rescue', 'storage']) {
      out[kind] = { result: kind === 'network' || kind === 'storage' ? true : null, reason: kind === 'network' || kind === 'storage' ? null : 'not supported' };
    }
    return out;
  }

  // ---------------------------------------------------------------- background work

  private spawn(uuid: string, job: () => Promise<void>): void {
    const p = this.sem
      .run(job)
      .catch(async (err: unknown) => {
        // A bug must not leave the node locked forever: release it with the reason.
        this.log.error({ err, node: uuid }, 'conductor job crashed');
        if (this.abort.signal.aborted) return;
        const message = `Internal error in the conductor: ${(err as Error).message}`;
        // A transient state (deploying, cleaning, deleting...) has nobody left to finish it: move
        // it to its failed state, as recover() would after a restart.
        const state = await this.db
          .selectFrom('baremetal_nodes')
          .select('provision_state')
          .where('uuid', '=', uuid)
          .executeTakeFirst()
          .then((r) => r?.provision_state as ProvisionState | undefined)
          .catch(() => undefined);
        const failed = state && provisionMachine.isTransient(state) ? FAILURE_STATE[state] : undefined;
        const stamp = now();
        await this.db
          .updateTable('baremetal_nodes')
          .set({
            reservation: null,
            operation: null,
            target_power_state: null,
            last_error: message,
            updated_at: stamp,
            ...(failed ? { provision_state: failed, target_provision_state: null, provision_updated_at: stamp } : {}),
          })
          .where('uuid', '=', uuid)
          .execute()
          .catch(() => undefined);
        if (failed) {
          await recordHistory(this.db, uuid, `${state} -> ${failed} (${message})`, 'provisioning', 'ERROR', null, this.options.host).catch(() => undefined);
        }
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Resolves when every operation started so far has finished (tests, benchmarks, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  /**
   * After a restart: every node this conductor had reserved was interrupted. Verifying and power
   * operations are safe to repeat and are resumed; the others move to their failed state with
   * a last_error saying what was interrupted. No node stays in an -ing state.
   */
  async recover(): Promise<{ resumed: string[]; failed: string[] }> {
    const resumed: string[] = [];
    const failed: string[] = [];
    const rows = await this.db
      .selectFrom('baremetal_nodes')
      .selectAll()
      .where((eb) => eb.or([eb('reservation', '=', this.options.host), eb('provision_state', 'in', [...TRANSIENT_STATES, ...WAITING_STATES])]))
      .execute();
    for (const row of rows) {
      if (row.reservation && row.reservation !== this.options.host) continue; // another live conductor's
      const op = fromJson<Operation | null>(row.operation, null);
      const state = row.provision_state as ProvisionState;
      if (op?.kind === 'power' && op.target && !provisionMachine.isTransient(state)) {
        resumed.push(row.uuid);
        await recordHistory(this.db, row.uuid, `resuming "${op.target}" interrupted by a restart of conductor ${this.options.host}`, 'power', 'WARNING', null, this.options.host);
        this.spawn(row.uuid, () => this.runPower(row.uuid, op.target as PowerTarget, op));
        continue;
      }
      if (state === 'verifying' && op) {
        resumed.push(row.uuid);
        await recordHistory(this.db, row.uuid, `resuming verifying interrupted by a restart of conductor ${this.options.host}`, 'provisioning', 'WARNING', null, this.options.host);
        this.spawn(row.uuid, () => this.runProvision(row.uuid, state, op));
        continue;
      }
      if (provisionMachine.isWaiting(state) && !row.reservation && this.agentStateDurable?.() && this.agentDriven(row, state)) {
        // The boot secret, the agent's session and its commands are in the database: the machine
        // (in firmware, iPXE or the ramdisk) carries on; the watcher starts again in resumeWaits().
        resumed.push(row.uuid);
        // The operation is not kept on the row while waiting: what completes the wait follows from
        // the state and its target (a manual clean returns to manageable, automated to available).
        const kind = state === 'wait call-back' ? 'deploy' : state === 'inspect wait' ? 'inspect' : row.target_provision_state === 'manageable' ? 'clean' : 'provide';
        this.toResume.push({ uuid: row.uuid, state, op: op ?? { kind, event: kind, started_at: row.provision_updated_at ?? now() } });
        await recordHistory(this.db, row.uuid, `conductor ${this.options.host} restarted while the node was "${state}"; waiting for its agent again`, 'provisioning', 'WARNING', null, this.options.host);
        continue;
      }
      const to = FAILURE_STATE[state];
      const started = op ? ` (operation "${op.kind}" started at ${op.started_at})` : '';
      const message = provisionMachine.isWaiting(state)
        ? `Conductor ${this.options.host} restarted while the node was "${state}" (since ${row.provision_updated_at ?? '?'}); the deploy agent's session and boot secret lived in the old process, so the machine cannot report back. Retry it.`
        : `Conductor ${this.options.host} restarted while the node was "${state}"${started}; the operation was interrupted. Retry it.`;
      failed.push(row.uuid);
      await this.finish(
        row.uuid,
        to ? { provision_state: to, target_provision_state: null, last_error: message, target_power_state: null } : { target_power_state: null, last_error: message },
        message,
        'ERROR',
        null,
      );
      // The boot service keeps pending boots, agent sessions and image grants in the database:
      // a node failed here must not keep a live boot secret, agent token or download grant.
      if (RAMDISK_STATES.has(state)) {
        await Promise.resolve()
          .then(() => this.registry.get('boot', row.boot_interface).cleanUpRamdisk(driverNode(row), this.ctx()))
          .catch((err: unknown) => this.log.warn({ err, node: row.uuid }, 'could not clean up the network boot of a node failed at restart'));
      }
    }
    if (resumed.length || failed.length) this.log.warn({ resumed: resumed.length, failed: failed.length }, 'recovered interrupted operations');
    return { resumed, failed };
  }

  /** Whether an agent runs this wait state's work (the watcher has something to do). */
  private agentDriven(row: NodeRow, state: ProvisionState): boolean {
    try {
      if (state === 'inspect wait') return Boolean(this.registry.get('inspect', row.inspect_interface).awaitAgent);
      return Boolean(this.registry.get('deploy', row.deploy_interface).awaitAgent);
    } catch {
      return false;
    }
  }

  /**
   * Starts the agent watchers of the nodes recover() found waiting (after every service's init,
   * so the boot service has loaded its state). The last boot step recorded before the restart
   * is what a timeout will name.
   */
  async resumeWaits(): Promise<void> {
    const list = this.toResume.splice(0);
    for (const { uuid, state, op } of list) {
      const row = await this.db.selectFrom('baremetal_nodes').select(['provision_state', 'provision_updated_at']).where('uuid', '=', uuid).executeTakeFirst();
      if (row?.provision_state !== state) continue;
      const last = await this.db
        .selectFrom('baremetal_node_history')
        .select(['event', 'created_at'])
        .where('node_uuid', '=', uuid)
        .where('event_type', '=', 'boot')
        .where('created_at', '>=', row.provision_updated_at ?? '')
        .orderBy('created_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (last) this.timeline?.restoreLastStep(uuid, last.event, new Date(last.created_at));
      this.watchAgent(uuid, state, op);
    }
  }

  /** Fails nodes that waited longer than their wait state's timeout. */
  async checkTimeouts(): Promise<string[]> {
    const timedOut: string[] = [];
    for (const state of WAITING_STATES) {
      const limit = this.options.waitTimeoutsMs[state as keyof ConductorOptions['waitTimeoutsMs']];
      if (!limit) continue;
      // Nothing times out before the conductor has itself run for the limit: a node that waited
      // through a seed restart gets the whole limit again (its agent may be retrying a report).
      if (Date.now() - this.startedAt < limit) continue;
      const before = new Date(Date.now() - limit).toISOString();
      const rows = await this.db
        .selectFrom('baremetal_nodes')
        .select(['uuid', 'provision_updated_at', 'reservation', 'provision_state'])
        .where('provision_state', '=', state)
        .where('reservation', 'is', null)
        .where('provision_updated_at', '<', before)
        .execute();
      for (const row of rows) {
        // Until the agent looks up, the limit counts from entering the wait state; from then on
        // from its last activity (a write longer than the limit is fine while it reports progress).
        const activity = this.agentActivity?.(row.uuid);
        if (activity && activity.toISOString() >= before) continue;
        const to = provisionMachine.next(state, 'fail');
        const macs = this.timeline ? (await this.db.selectFrom('baremetal_ports').select('address').where('node_uuid', '=', row.uuid).execute()).map((p) => p.address) : [];
        const hint = this.timeline ? ` ${this.timeline.timeoutHint(row.uuid, macs, limit / 1000)}.` : '';
        const since = activity ? `no agent activity since ${activity.toISOString()}, waiting since ${row.provision_updated_at}` : `waiting since ${row.provision_updated_at}`;
        const message = `Timeout reached while waiting in "${state}" for node ${row.uuid} (limit ${limit / 1000} s, ${since}).${hint}`;
        const res = await this.db
          .updateTable('baremetal_nodes')
          .set({ provision_state: to, target_provision_state: null, last_error: message, provision_updated_at: now(), updated_at: now() })
          .where('uuid', '=', row.uuid)
          .where('provision_state', '=', state)
          .where('reservation', 'is', null)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 1) {
          timedOut.push(row.uuid);
          this.watchers.get(row.uuid)?.abort();
          await recordHistory(this.db, row.uuid, message, 'provisioning', 'ERROR', null, this.options.host);
        }
      }
    }
    return timedOut;
  }

  /**
   * One pass of power-state sync over unreserved nodes outside maintenance: a state that
   * changed behind our back is recorded in the node's history and stored. Repeated read
   * failures put the node in maintenance with fault "power failure" (and a later good read
   * takes it out again), as Ironic does.
   */
  async syncPowerStates(): Promise<{ checked: number; changed: number; failed: number }> {
    const stats = { checked: 0, changed: 0, failed: 0 };
    const rows = await this.db
      .selectFrom('baremetal_nodes')
      .selectAll()
      .where('reservation', 'is', null)
      .where((eb) => eb.or([eb('maintenance', '=', 0), eb('fault', '=', 'power failure')]))
      .where('provision_state', 'not in', ['enroll', ...TRANSIENT_STATES])
      .execute();
    const sem = new Semaphore(this.options.syncPowerWorkers);
    await Promise.all(
      rows.map((row) =>
        sem.run(async () => {
          if (this.abort.signal.aborted) return;
          stats.checked++;
          try {
            const ps = await this.registry.get('power', row.power_interface).getPowerState(driverNode(row), this.ctx());
            this.powerFailures.delete(row.uuid);
            const recovering = row.maintenance === 1 && row.fault === 'power failure';
            if (ps === row.power_state && !recovering) return;
            const res = await this.db
              .updateTable('baremetal_nodes')
              .set({ power_state: ps, updated_at: now(), ...(recovering ? { maintenance: 0, fault: null, maintenance_reason: null } : {}) })
              .where('uuid', '=', row.uuid)
              .where('reservation', 'is', null)
              .executeTakeFirst();
            if (Number(res.numUpdatedRows) !== 1) return;
            if (ps !== row.power_state && row.power_state !== null) {
              stats.changed++;
              await recordHistory(this.db, row.uuid, `Power state changed out of band: "${row.power_state}" -> "${ps}"`, 'power', 'WARNING', null, this.options.host);
            }
            if (recovering) await recordHistory(this.db, row.uuid, 'Power state readable again; maintenance (power failure) cleared', 'power', 'INFO', null, this.options.host);
          } catch (err) {
            if (this.abort.signal.aborted) return;
            stats.failed++;
            const n = (this.powerFailures.get(row.uuid) ?? 0) + 1;
            this.powerFailures.set(row.uuid, n);
            const message = `Power state sync failed (${n}/${this.options.powerFailureLimit}): ${(err as Error).message}`;
            await recordHistory(this.db, row.uuid, message, 'power', 'ERROR', null, this.options.host);
            if (n >= this.options.powerFailureLimit && row.maintenance === 0) {
              await this.db
                .updateTable('baremetal_nodes')
                .set({ maintenance: 1, fault: 'power failure', maintenance_reason: message, last_error: message, updated_at: now() })
                .where('uuid', '=', row.uuid)
                .where('reservation', 'is', null)
                .execute();
            }
          }
        }),
      ),
    );
    return stats;
  }

  /** Background loops until the signal aborts; then waits for running operations to stop. */
  async run(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.abort.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const loops: Promise<void>[] = [this.loop(signal, this.options.checkIntervalMs, () => this.checkTimeouts())];
    if (this.options.syncPowerIntervalMs > 0) loops.push(this.loop(signal, this.options.syncPowerIntervalMs, () => this.syncPowerStates()));
    await Promise.all(loops);
    await this.idle();
    await Promise.allSettled([...this.watching]);
  }

  private async loop(signal: AbortSignal, everyMs: number, body: () => Promise<unknown>): Promise<void> {
    while (!signal.aborted) {
      await sleep(everyMs, signal).catch(() => undefined);
      if (signal.aborted) return;
      try {
        await body();
      } catch (err) {
        if (!signal.aborted) this.log.error({ err }, 'conductor periodic task failed');
      }
    }
  }

  /** Stops background work now (for tests without a server signal). */
  stop(): void {
    this.abort.abort();
  }
}

/** last_error in the operator's words: what was being done, to which node, and why it failed. */
function failureMessage(state: ProvisionState, row: NodeRow, e: BootstackError): string {
  const what: Partial<Record<ProvisionState, string>> = {
    verifying: 'Failed to get power state for node',
    deploying: 'Deploy failed for node',
    cleaning: 'Cleaning failed for node',
    inspecting: 'Inspection failed for node',
    deleting: 'Tear down failed for node',
    adopting: 'Adoption failed for node',
  };
  return `${what[state] ?? `${state} failed for node`} ${row.uuid}: ${e.message}`;
}
