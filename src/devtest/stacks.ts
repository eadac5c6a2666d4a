// A stack made through the openstack CLI and waited for, re-usable by a re-run: an existing stack
// that completed is kept (its outputs are read again), one still in progress is waited for, and a
// failed one is deleted and made again. A failure says the stack's reason and where to look.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { BootstackError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';
import type { CloudName, Clients } from './clients.js';

export interface StackSpec {
  cloud: CloudName;
  name: string;
  template: string;
  environments?: readonly string[];
  parameters?: Record<string, string | number>;
  /** Heat's stack timeout, minutes (the CLI waits a little longer). */
  timeoutMinutes: number;
}

export interface StackResult {
  id: string;
  status: string;
  /** output_key → output_value */
  outputs: Record<string, unknown>;
  /** Whether this call created it (false: an earlier run's stack was kept). */
  created: boolean;
}

interface StackShow {
  id: string;
  stack_status: string;
  stack_status_reason?: string;
  outputs?: Array<{ output_key: string; output_value: unknown }>;
}

export class StackError extends BootstackError {
  constructor(message: string, fields: Record<string, unknown>) {
    super(500, 'stack_failed', message, { fields });
  }
}

/** The names of the parameters a HOT template declares (to pass only the ones it takes). */
export function templateParameters(path: string): string[] {
  const doc = parse(readFileSync(path, 'utf8')) as { parameters?: Record<string, unknown> } | null;
  return Object.keys(doc?.parameters ?? {});
}

async function showStack(clients: Clients, cloud: CloudName, name: string, signal: AbortSignal): Promise<StackShow | undefined> {
  const r = await clients.openstack(cloud, ['stack', 'show', name, '-f', 'json'], { allowFailure: true, signal, timeoutMs: 120_000 });
  if (r.code !== 0) {
    if (/not found|could not be found/i.test(r.stderr)) return undefined;
    throw new StackError(`openstack stack show ${name} (cloud ${cloud}) failed: ${r.stderr.trim().slice(-1000)}`, { stack: name });
  }
  return JSON.parse(r.stdout) as StackShow;
}

const lookHint = (cloud: CloudName, name: string) =>
  `look with: openstack --os-cloud ${cloud} stack event list ${name}; openstack --os-cloud ${cloud} stack resource list -n 5 ${name}`;

const result = (s: StackShow, created: boolean): StackResult => ({
  id: s.id,
  status: s.stack_status,
  outputs: Object.fromEntries((s.outputs ?? []).map((x) => [x.output_key, x.output_value])),
  created,
});

export async function ensureStack(clients: Clients, spec: StackSpec, o: { progress: (m: string) => void; signal: AbortSignal }): Promise<StackResult> {
  const show = () => showStack(clients, spec.cloud, spec.name, o.signal);
  const hint = lookHint(spec.cloud, spec.name);

  let existing = await show();
  const end = Date.now() + (spec.timeoutMinutes + 5) * 60_000;
  while (existing && existing.stack_status.endsWith('_IN_PROGRESS')) {
    if (Date.now() > end) throw new StackError(`stack ${spec.name} is still ${existing.stack_status} after ${spec.timeoutMinutes + 5} minutes; ${hint}`, { stack: spec.name });
    o.progress(`stack ${spec.name} is ${existing.stack_status} (from an earlier run): waiting`);
    await sleep(10_000, o.signal);
    existing = await show();
  }
  if (existing && /^(CREATE|UPDATE|RESUME|CHECK)_COMPLETE$/.test(existing.stack_status)) {
    o.progress(`stack ${spec.name} exists (${existing.stack_status}): keeping it (delete it to have it made again)`);
    return result(existing, false);
  }
  if (existing) {
    o.progress(`stack ${spec.name} is ${existing.stack_status} (${existing.stack_status_reason ?? ''}): deleting it to make it again`);
    await clients.openstack(spec.cloud, ['stack', 'delete', '--yes', '--wait', spec.name], { progress: o.progress, signal: o.signal, timeoutMs: 30 * 60_000 });
  }

  const args = ['stack', 'create', '-t', spec.template];
  for (const e of spec.environments ?? []) args.push('-e', e);
  for (const [k, v] of Object.entries(spec.parameters ?? {})) args.push('--parameter', `${k}=${v}`);
  args.push('--wait', '--timeout', String(spec.timeoutMinutes), spec.name);
  o.progress(`openstack --os-cloud ${spec.cloud} ${args.join(' ')}`);
  const created = await clients.openstack(spec.cloud, args, { allowFailure: true, progress: o.progress, signal: o.signal, timeoutMs: (spec.timeoutMinutes + 5) * 60_000 });
  const after = await show();
  if (!after) throw new StackError(`openstack stack create ${spec.name} made no stack: ${created.stderr.trim().slice(-1500)}`, { stack: spec.name });
  if (after.stack_status !== 'CREATE_COMPLETE') {
    throw new StackError(`stack ${spec.name} is ${after.stack_status}: ${after.stack_status_reason ?? ''}${created.stderr.trim() ? `\n${created.stderr.trim().slice(-1500)}` : ''}\n${hint}`, {
      stack: spec.name,
      status: after.stack_status,
    });
  }
  return result(after, true);
}

/** The outputs `names` of a stack as strings; a missing or empty one is an error naming the stack's outputs. */
export function requireOutputs<K extends string>(stack: string, outputs: Record<string, unknown>, names: readonly K[]): Record<K, string> {
  const out = {} as Record<K, string>;
  const missing = names.filter((n) => typeof outputs[n] !== 'string' || outputs[n] === '');
  if (missing.length) {
    throw new StackError(`stack ${stack} has no ${missing.join(', ')} output${missing.length > 1 ? 's' : ''} (its outputs: ${Object.keys(outputs).join(', ') || 'none'})`, { stack, missing });
  }
  for (const n of names) out[n] = outputs[n] as string;
  return out;
}

export interface StackUpdate {
  cloud: CloudName;
  name: string;
  /** Parameters to change; the rest (template, environments, other parameters) are kept (--existing). */
  parameters?: Record<string, string | number>;
  timeoutMinutes: number;
  /** Polling interval, ms (default 10 s). */
  intervalMs?: number;
}

/**
 * `openstack stack update --existing` and waited for by polling — not with the CLI's --wait: the
 * stack's own server may restart during the update (the undercloud updating itself), and a
 * refused connection is then waited out rather than fatal. The stack's new events are progress.
 */
export async function updateStack(clients: Clients, spec: StackUpdate, o: { progress: (m: string) => void; signal: AbortSignal }): Promise<StackResult> {
  const args = ['stack', 'update', '--existing'];
  for (const [k, v] of Object.entries(spec.parameters ?? {})) args.push('--parameter', `${k}=${v}`);
  args.push('--timeout', String(spec.timeoutMinutes), spec.name);
  const seen = new Set<string>();
  let seeded = false;
  const events = async () => {
    const r = await clients.openstack(spec.cloud, ['stack', 'event', 'list', spec.name, '-f', 'json'], { allowFailure: true, signal: o.signal, timeoutMs: 60_000 });
    if (r.code !== 0) return;
    for (const e of JSON.parse(r.stdout) as Array<Record<string, unknown>>) {
      const key = String(e.id ?? e.ID ?? JSON.stringify(e));
      if (seen.has(key)) continue;
      seen.add(key);
      if (seeded) o.progress(`${String(e.event_time ?? '')} [${String(e.resource_name ?? '')}]: ${String(e.resource_status ?? '')}  ${String(e.resource_status_reason ?? '')}`);
    }
  };
  await events(); // the events before this update are not news
  seeded = true;
  o.progress(`openstack --os-cloud ${spec.cloud} ${args.join(' ')}`);
  await clients.openstack(spec.cloud, args, { signal: o.signal, timeoutMs: 120_000 });
  const end = Date.now() + (spec.timeoutMinutes + 5) * 60_000;
  let unreachable = '';
  for (;;) {
    await sleep(spec.intervalMs ?? 10_000, o.signal);
    let s: StackShow | undefined;
    try {
      s = await showStack(clients, spec.cloud, spec.name, o.signal);
      if (unreachable) o.progress(`the ${spec.cloud} answers again`);
      unreachable = '';
    } catch (err) {
      if (o.signal.aborted) throw err;
      const why = (err as Error).message.split('\n').at(-1) ?? '';
      if (!unreachable) o.progress(`the ${spec.cloud} does not answer (${why.slice(-200)}): waiting (it may be restarting)`);
      unreachable = why;
    }
    if (s) {
      await events();
      if (!s.stack_status.endsWith('_IN_PROGRESS')) {
        if (s.stack_status !== 'UPDATE_COMPLETE') {
          throw new StackError(`stack ${spec.name} is ${s.stack_status}: ${s.stack_status_reason ?? ''}\n${lookHint(spec.cloud, spec.name)}`, { stack: spec.name, status: s.stack_status });
        }
        return result(s, false);
      }
    } else if (!unreachable) {
      throw new StackError(`stack ${spec.name} went away during its update`, { stack: spec.name });
    }
    if (Date.now() > end) throw new StackError(`stack ${spec.name} is still updating after ${spec.timeoutMinutes + 5} minutes (${unreachable || s?.stack_status}); ${lookHint(spec.cloud, spec.name)}`, { stack: spec.name });
  }
}
