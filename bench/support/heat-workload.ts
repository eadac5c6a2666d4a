// The orchestration HTTP workload of `npm run bench -- anchors`, the same requests to Bootstack's
// Heat API and to Debian's Heat: validate the corpus templates, create/update/delete a
// ResourceGroup of OS::Heat::TestResource, create/delete a stack of nested stacks.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { callJson } from './http.js';

export interface HeatPayload {
  path: string;
  absent: string[];
  body: unknown;
}

/**
 * Validate payloads of every HOT template in `corpus` with `envFile`, built by Debian's
 * python3-heatclient (bench/support/heat-payloads.py), so both servers get identical requests.
 */
export function corpusPayloads(corpus: string, envFile: string): HeatPayload[] {
  const script = join(import.meta.dirname, 'heat-payloads.py');
  // /usr/bin/python3: Debian's interpreter, where python3-heatclient is installed.
  const r = spawnSync('/usr/bin/python3', [script, resolve(corpus), resolve(envFile)], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`building validate payloads with heatclient failed (is python3-heatclient installed?):\n${r.stderr.slice(-2000)}`);
  const out: HeatPayload[] = [];
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const p = JSON.parse(line) as HeatPayload & { error?: string };
    if (p.error) throw new Error(`heatclient could not build the payload of ${p.path}: ${p.error}`);
    out.push(p);
  }
  return out;
}

type Http = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- Heat JSON

/** Calls a Heat v1 API rooted at `base` (…/v1/{project} for Heat, …/orchestration for Bootstack). */
export function heatClient(base: string, headers: Record<string, string>): Http {
  return (method, path, body) => callJson(`${base}${path}`, method, body, { ...headers, accept: 'application/json' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const since = (t: number) => +((performance.now() - t) / 1000).toFixed(2);

/** Validates each payload in turn; returns the total time and which templates were accepted. */
export async function validateAll(http: Http, payloads: HeatPayload[]) {
  const t = performance.now();
  const accepted: string[] = [];
  const refused: Record<string, string> = {};
  for (const p of payloads) {
    const r = await http('POST', '/validate', p.body);
    if (r.status === 200) accepted.push(p.path);
    else refused[p.path] = `${r.status} ${JSON.stringify(r.body?.error?.message ?? r.body?.explanation ?? r.body).slice(0, 200)}`;
  }
  return { templates: payloads.length, accepted: accepted.length, seconds: since(t), acceptedPaths: accepted, refused };
}

/** Waits until the stack's status leaves IN_PROGRESS; "DELETE_COMPLETE" also when it is gone (404). */
async function settle(http: Http, link: string, timeoutS: number): Promise<string> {
  const until = performance.now() + timeoutS * 1000;
  for (;;) {
    const r = await http('GET', link);
    if (r.status === 404) return 'DELETE_COMPLETE';
    if (r.status !== 200) throw new Error(`GET ${link}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    const status = String(r.body.stack.stack_status);
    if (!status.endsWith('IN_PROGRESS')) {
      if (!status.endsWith('COMPLETE')) throw new Error(`${link}: ${status}: ${r.body.stack.stack_status_reason}`);
      return status;
    }
    if (performance.now() > until) throw new Error(`${link}: still ${status} after ${timeoutS} s`);
    await sleep(250);
  }
}

const group = (count: number) => ({
  heat_template_version: '2015-04-30',
  resources: { group: { type: 'OS::Heat::ResourceGroup', properties: { count, resource_def: { type: 'OS::Heat::TestResource', properties: { value: 'v' } } } } },
});

/** Creates a ResourceGroup of `size` test resources, updates it to 110 %, deletes it: seconds of each. */
export async function resourceGroup(http: Http, size: number, name: string, timeoutS = 3600) {
  let t = performance.now();
  const c = await http('POST', '/stacks', { stack_name: name, template: group(size) });
  if (c.status !== 201) throw new Error(`stack create: ${c.status} ${JSON.stringify(c.body).slice(0, 300)}`);
  const link = `/stacks/${name}/${c.body.stack.id}`;
  await settle(http, link, timeoutS);
  const createS = since(t);
  t = performance.now();
  const grown = Math.ceil(size * 1.1);
  const u = await http('PUT', link, { template: group(grown) });
  if (u.status !== 202) throw new Error(`stack update: ${u.status} ${JSON.stringify(u.body).slice(0, 300)}`);
  await sleep(300); // the status turns UPDATE_IN_PROGRESS asynchronously on Heat
  await settle(http, link, timeoutS);
  const updateS = since(t);
  t = performance.now();
  const d = await http('DELETE', link);
  if (d.status !== 204) throw new Error(`stack delete: ${d.status} ${JSON.stringify(d.body).slice(0, 300)}`);
  await settle(http, link, timeoutS);
  return { size, create_s: createS, update_to: grown, update_s: updateS, delete_s: since(t) };
}

/** A stack of `count` template resources, each a nested stack of one test resource: create and delete seconds. */
export async function nestedStacks(http: Http, count: number, name: string, timeoutS = 600) {
  const nested = 'heat_template_version: 2015-04-30\nresources:\n  r:\n    type: OS::Heat::TestResource\n    properties:\n      value: nested\n';
  const resources = Object.fromEntries(Array.from({ length: count }, (_, i) => [`n${i}`, { type: 'nested.yaml' }]));
  let t = performance.now();
  const c = await http('POST', '/stacks', { stack_name: name, template: { heat_template_version: '2015-04-30', resources }, files: { 'nested.yaml': nested } });
  if (c.status !== 201) throw new Error(`nested stack create: ${c.status} ${JSON.stringify(c.body).slice(0, 300)}`);
  const link = `/stacks/${name}/${c.body.stack.id}`;
  await settle(http, link, timeoutS);
  const createS = since(t);
  t = performance.now();
  const d = await http('DELETE', link);
  if (d.status !== 204) throw new Error(`nested stack delete: ${d.status} ${JSON.stringify(d.body).slice(0, 300)}`);
  await settle(http, link, timeoutS);
  return { nested: count, create_s: createS, delete_s: since(t) };
}
