// WaitConditionHandle + WaitCondition: a machine (or anyone) signals the handle with a plain
// `curl -X POST` to a URL that carries a secret token; the condition completes after `count`
// SUCCESS signals, fails on a FAILURE signal, and times out after `timeout` seconds.
import { randomUUID } from 'node:crypto';
import type { ResourceType, RuntimeResource } from '../registry.js';
import { isMapping, type Json, type JsonMap } from '../yaml-source.js';

function url(r: RuntimeResource): string {
  return r.engine.publicUrl(`/orchestration/signal/wait/${r.physicalId}/${String(r.data.token)}`);
}

export const waitConditionHandleType: ResourceType = {
  name: 'OS::Heat::WaitConditionHandle',
  properties: { signal_transport: { type: 'string', default: 'TOKEN_SIGNAL' } },
  attributes: ['token', 'endpoint', 'curl_cli', 'signal', 'show'],
  plugin: {
    async create(r) {
      r.physicalId = randomUUID();
      r.data.token = randomUUID().replace(/-/g, '');
      r.data.signals = [];
    },
    async delete() {},
    async signal(r, data) {
      const m = isMapping(data) ? data : {};
      const status = String(m.status ?? 'SUCCESS').toUpperCase();
      if (!['SUCCESS', 'FAILURE'].includes(status)) throw new Error(`invalid wait condition status "${status}"; expected SUCCESS or FAILURE`);
      const list = (r.data.signals ?? []) as JsonMap[];
      list.push({ status, reason: (m.reason ?? 'Signal received') as Json, data: (m.data ?? null) as Json, id: String(m.id ?? list.length + 1) });
      r.data.signals = list;
    },
    attribute(r, name) {
      if (name === 'token') return String(r.data.token ?? '');
      if (name === 'endpoint' || name === 'signal') return r.physicalId ? url(r) : null;
      if (name === 'curl_cli') return r.physicalId ? `curl -i -X POST -H 'Content-Type: application/json' ${url(r)}` : null;
      return null;
    },
  },
};

export const waitConditionType: ResourceType = {
  name: 'OS::Heat::WaitCondition',
  properties: {
    handle: { type: 'string', required: true },
    timeout: { type: 'number', required: true },
    count: { type: 'integer', default: 1, updateAllowed: true },
  },
  attributes: ['data', 'show'],
  plugin: {
    async create(r) {
      r.physicalId = randomUUID();
      r.data.deadline = Date.now() + Number(r.properties.timeout) * 1000;
      await r.save();
      await waitFor(r);
    },
    resume: (r) => waitFor(r),
    async update(r) {
      await waitFor(r);
    },
    async delete() {},
    attribute(r) {
      const out: JsonMap = {};
      for (const s of (r.data.signals ?? []) as JsonMap[]) out[String(s.id)] = s.data ?? null;
      return JSON.stringify(out);
    },
  },
};

/** Checks the handle whenever it is signalled (and every WAKE_MS, for the deadline), not in a polling loop. */
const WAKE_MS = 1000;

async function waitFor(r: RuntimeResource): Promise<void> {
  const handle = String(r.properties.handle ?? '');
  const count = Number(r.properties.count ?? 1);
  for (;;) {
    const next = r.engine.nextSignal(handle, Math.max(0, Math.min(WAKE_MS, Number(r.data.deadline ?? 0) - Date.now() + 1)), r.signal);
    try {
      const signals = await r.engine.handleSignals(handle);
      if (!signals) throw new Error(`wait condition handle ${handle} not found`);
      const failure = signals.find((s) => s.status === 'FAILURE');
      if (failure) throw new Error(`WaitCondition failed: ${String(failure.reason)}`);
      if (signals.filter((s) => s.status === 'SUCCESS').length >= count) {
        r.data.signals = signals;
        return;
      }
      if (Date.now() > Number(r.data.deadline ?? 0)) throw new Error(`WaitCondition timed out: ${signals.length} of ${count} signals received`);
      await next.changed;
      // Aborted (cancel, timeout, delete): fail as the engine's sleep does.
      if (r.signal.aborted) await r.engine.sleep(0, r.signal);
    } finally {
      next.cancel();
    }
  }
}
