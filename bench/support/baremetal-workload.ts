// The bare-metal HTTP workload, written once and run against Bootstack (bench/baremetal.ts,
// bench/anchors.ts) and against Debian's Ironic (bench/anchors.ts): enrol fake-hardware nodes,
// manage + provide them, deploy and undeploy them, time node list and show. Only the Ironic API
// is used, so the same calls go to both.
import { percentile, pool } from './args.js';
import { callJson, type JsonReply } from './http.js';

export type Reply = JsonReply;

/** Calls the bare-metal API at `base` (ending in /v1) with the given extra headers (token, if any). */
export function baremetalClient(base: string, headers: Record<string, string> = {}) {
  return (method: string, path: string, body?: unknown, version = '1.78'): Promise<Reply> =>
    callJson(`${base}${path}`, method, body, { ...headers, 'x-openstack-ironic-api-version': version });
}
export type Call = ReturnType<typeof baremetalClient>;

const seconds = (since: number) => +((performance.now() - since) / 1000).toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates n fake-hardware nodes; `version(i)` picks the API version of node i (1.9 creates "available" nodes). */
export async function enrol(call: Call, n: number, concurrency: number, version: (i: number) => string = () => '1.78', prefix = 'bench') {
  const ids: string[] = new Array(n);
  const t = performance.now();
  await pool(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      const res = await call('POST', '/nodes', { name: `${prefix}-${i}`, driver: 'fake-hardware', resource_class: 'bench', properties: { cpus: 8, memory_mb: 32768, local_gb: 400 } }, version(i));
      if (res.status !== 201) throw new Error(`node create failed: ${res.status} ${JSON.stringify(res.body)}`);
      ids[i] = res.body.uuid;
    },
  );
  return { ids, seconds: seconds(t) };
}

/** States of all nodes, or of those in `only` (paged by marker, 1000 at a time, as Ironic's max_limit allows). */
export async function provisionStates(call: Call, only?: string): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  let marker = '';
  for (;;) {
    const filter = only ? `&provision_state=${encodeURIComponent(only)}` : '';
    const res = await call('GET', `/nodes?fields=uuid,provision_state&limit=1000${filter}${marker ? `&marker=${marker}` : ''}`);
    if (res.status !== 200) throw new Error(`node list failed: ${res.status} ${JSON.stringify(res.body)}`);
    for (const n of res.body.nodes) states.set(n.uuid, n.provision_state);
    if (res.body.nodes.length < 1000) return states;
    marker = res.body.nodes.at(-1).uuid;
  }
}

/** Polls until every id is in `state`; fails with a count of the states seen after timeoutS. */
export async function waitFor(call: Call, ids: string[], state: string, timeoutS: number): Promise<void> {
  const until = performance.now() + timeoutS * 1000;
  for (;;) {
    // Only the nodes already there are listed while polling, so the poll stays cheap.
    const done = await provisionStates(call, state);
    if (ids.every((id) => done.has(id))) return;
    if (performance.now() > until) {
      const states = await provisionStates(call);
      const off = ids.filter((id) => states.get(id) !== state);
      const seen: Record<string, number> = {};
      for (const id of off) seen[states.get(id) ?? 'missing'] = (seen[states.get(id) ?? 'missing'] ?? 0) + 1;
      throw new Error(`${off.length} of ${ids.length} nodes not "${state}" after ${timeoutS} s: ${JSON.stringify(seen)}`);
    }
    await sleep(200);
  }
}

/**
 * Sends a provision-state change for every id at once (concurrent, as a burst of users would) and
 * waits until all reach `state`. Ironic answers 503 when its conductor's worker pool is full; that
 * request is sent again after 100 ms (as a client should) and counted in `retries`.
 */
export async function transition(call: Call, ids: string[], target: string, state: string, timeoutS: number, concurrency = ids.length) {
  const t = performance.now();
  let retries = 0;
  let refusedConnections = 0;
  await pool(ids, concurrency, async (id) => {
    for (;;) {
      let res: Reply;
      try {
        res = await call('PUT', `/nodes/${id}/states/provision`, { target });
      } catch (err) {
        // Connection not accepted in 10 s (Ironic's eventlet server with a burst of 1,000): sent
        // again, as a client would, and counted; any other failure stops the bench.
        if (!/fetch failed/.test(String(err)) || ++refusedConnections > 20 * ids.length) throw err;
        await sleep(100);
        continue;
      }
      if (res.status === 202) return;
      if (res.status === 503 || res.status === 409) {
        // 409: the node is still locked by the previous step's tail; 503: no free conductor worker.
        retries++;
        await sleep(100);
        continue;
      }
      throw new Error(`provision "${target}" refused for ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
  const acceptedSeconds = seconds(t);
  await waitFor(call, ids, state, timeoutS);
  return { nodes: ids.length, all_accepted_seconds: acceptedSeconds, until_all_done_seconds: seconds(t), retries_503_409: retries, connection_retries: refusedConnections };
}

/** Sequential GET latency: `count` requests of `path(i)`, each checked by `ok`. */
export async function latency(call: Call, count: number, path: (i: number) => string, ok: (r: Reply) => boolean) {
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    const res = await call('GET', path(i));
    if (!ok(res)) throw new Error(`GET ${path(i)}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    lat.push(performance.now() - s);
  }
  lat.sort((a, b) => a - b);
  return { requests: count, p50_ms: +percentile(lat, 50).toFixed(1), p99_ms: +percentile(lat, 99).toFixed(1), max_ms: +lat.at(-1)!.toFixed(1) };
}
