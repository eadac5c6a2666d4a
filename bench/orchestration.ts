// ResourceGroup of OS::Heat::TestResource: create, +10% scale update, no-op update, delete, with
// and without the 0.3 s / 0.5 s delays of Heat's rally jobs, on the real engine over SQLite.
// `npm run bench -- orchestration [sizes=40,1000] [delays=0,1]`
// Nested scale (issue 17): `npm run bench -- orchestration nested [stacks=1000] [per=20] [list=1000] [calls=50]`
import { MAX_RESOURCES_PER_STACK } from '../src/orchestration/limits.js';
import { eventList, resourceList, stackShow } from '../src/orchestration/listing.js';
import { testEngine } from '../test/support/orchestration/test-support.js';
import type { JsonMap } from '../src/orchestration/yaml-source.js';

interface Run {
  size: number;
  delays: boolean;
  createS: number;
  scaleUpdateS: number;
  noopUpdateS: number;
  deleteS: number;
  status: string;
}

function template(count: number, delays: boolean): JsonMap {
  const props: JsonMap = { value: 'v' };
  // Heat's rally scenario waits 0.3 s on create and 0.5 s on update/delete per resource.
  if (delays) props.action_wait_secs = { create: 0.3, update: 0.5, delete: 0.5 };
  return {
    heat_template_version: '2015-04-30',
    parameters: { count: { type: 'number', default: count } },
    resources: { group: { type: 'OS::Heat::ResourceGroup', properties: { count: { get_param: 'count' }, resource_def: { type: 'OS::Heat::TestResource', properties: props } } } },
  } as JsonMap;
}

export default async function bench(args: string[]) {
  if (args[0] === 'nested') return nestedScale(args.slice(1).map(Number));
  const sizes = (args[0] ?? '40,1000').split(',').map(Number);
  const delayModes = (args[1] ?? '0,1').split(',').map((x) => x === '1');
  const runs: Run[] = [];
  let peakRss = process.memoryUsage().rss;
  const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  for (const delays of delayModes) {
    for (const size of sizes) {
      const t = await testEngine();
      const time = async (fn: () => Promise<void>) => {
        const start = performance.now();
        await fn();
        return (performance.now() - start) / 1000;
      };
      const name = `bench-${size}-${delays ? 'd' : 'n'}`;
      let id = '';
      const createS = await time(async () => {
        id = (await t.engine.create('p', { stack_name: name, template: template(size, delays) })).id;
        await t.settle(id);
      });
      const grown = Math.ceil(size * 1.1);
      const scaleUpdateS = await time(async () => {
        await t.engine.update((await t.engine.getStack(id))!, { template: template(grown, delays) });
        await t.settle(id);
      });
      const noopUpdateS = await time(async () => {
        await t.engine.update((await t.engine.getStack(id))!, { template: template(grown, delays) });
        await t.settle(id);
      });
      const deleteS = await time(async () => {
        await t.engine.delete((await t.engine.getStack(id))!);
        await t.settle(id);
      });
      const row = (await t.engine.getStack(id))!;
      runs.push({ size, delays, createS: +createS.toFixed(2), scaleUpdateS: +scaleUpdateS.toFixed(2), noopUpdateS: +noopUpdateS.toFixed(2), deleteS: +deleteS.toFixed(2), status: `${row.action}_${row.status}` });
      await t.close();
    }
  }
  clearInterval(sample);
  return { node: process.version, runs, peakRssMiB: Math.round(peakRss / 1048576) };
}

/** The member of the nested-scale groups: a nested stack of `per` TestResources. */
function memberTemplate(per: number): string {
  const lines = ['heat_template_version: 2015-04-30', 'parameters:', '  index: {type: string}', 'resources:'];
  for (let i = 0; i < per; i++) lines.push(`  r${i}:`, '    type: OS::Heat::TestResource', '    properties: {value: {get_param: index}}');
  lines.push('outputs:', '  first: {value: {get_attr: [r0, output]}}');
  return lines.join('\n') + '\n';
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** p50/p99 in ms of `calls` calls of fn. */
async function timeCalls(calls: number, fn: () => Promise<unknown>): Promise<{ p50Ms: number; p99Ms: number; items: number }> {
  const ms: number[] = [];
  let items = 0;
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    const r = await fn();
    ms.push(performance.now() - start);
    items = Array.isArray(r) ? r.length : 1;
  }
  ms.sort((a, b) => a - b);
  return { p50Ms: +percentile(ms, 50).toFixed(1), p99Ms: +percentile(ms, 99).toFixed(1), items };
}

/**
 * `stacks` nested stacks of `per` TestResources each, as members of ResourceGroups whose member
 * type is a template file. max_resources_per_stack (5,000, counting every nested stack of a
 * top-level stack) refuses 20,000 in one tree, so the members are spread over the fewest
 * top-level stacks that fit, created at the same time. Then a stack with a group of `list`
 * TestResources: resource list / event list / stack show of the group's nested stack through
 * the functions the API routes call (src/orchestration/listing.ts; no HTTP, auth or JSON
 * serialisation), `calls` times each.
 */
async function nestedScale([stacks = 1000, per = 20, list = 1000, calls = 50]: number[]) {
  const perTree = Math.floor((MAX_RESOURCES_PER_STACK - 1) / (per + 1));
  const parents = Math.ceil(stacks / perTree);
  let peakRss = process.memoryUsage().rss;
  const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const t = await testEngine();
  const time = async (fn: () => Promise<void>) => {
    const start = performance.now();
    await fn();
    return +((performance.now() - start) / 1000).toFixed(2);
  };
  const files = { 'member.yaml': memberTemplate(per) };
  const ids: string[] = [];
  const createS = await time(async () => {
    for (let i = 0; i < parents; i++) {
      const count = Math.floor(stacks / parents) + (i < stacks % parents ? 1 : 0);
      const template = { heat_template_version: '2015-04-30', resources: { group: { type: 'OS::Heat::ResourceGroup', properties: { count, resource_def: { type: 'member.yaml', properties: { index: '%index%' } } } } } };
      ids.push((await t.engine.create('p', { stack_name: `nested-${i}`, template, files })).id);
    }
    await t.engine.idle();
  });
  const statuses = await Promise.all(ids.map(async (id) => { const s = (await t.engine.getStack(id))!; return `${s.action}_${s.status}${s.status === 'FAILED' ? `: ${s.status_reason}` : ''}`; }));
  const count = async (table: 'orchestration_stacks' | 'orchestration_resources') => Number((await t.engine.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const rows = { stacks: await count('orchestration_stacks'), resources: await count('orchestration_resources') };
  const createRssMiB = Math.round(peakRss / 1048576);

  // The 1,000-resource stack: a group's nested stack.
  const big = await t.engine.create('p', { stack_name: 'list', template: template(list, false) });
  const bigCreateS = await time(async () => void (await t.settle(big.id)));
  const child = (await t.engine.getStack((await t.engine.resourceRow(big.id, 'group')).physical_id!))!;
  const base = 'http://127.0.0.1/orchestration/v1/p';
  const resourceListMs = await timeCalls(calls, () => resourceList(t.engine, child, 0, base));
  const resourceListTopDepth1Ms = await timeCalls(calls, () => resourceList(t.engine, big, 1, base));
  const eventListMs = await timeCalls(calls, () => eventList(t.engine, child, undefined, {}, base));
  const stackShowMs = await timeCalls(calls, () => stackShow(t.engine, child, base));
  const nestedShowMs = await timeCalls(calls, async () => stackShow(t.engine, (await t.engine.getStack((await t.engine.resourceRow(ids[0]!, 'group')).physical_id!))!, base));

  const deleteS = await time(async () => {
    for (const id of [...ids, big.id]) await t.engine.delete((await t.engine.getStack(id))!);
    await t.engine.idle();
  });
  const left = await count('orchestration_resources');
  clearInterval(sample);
  await t.close();
  return {
    node: process.version,
    nested: { stacks, per, parents, createS, statuses: [...new Set(statuses)], rows, createPeakRssMiB: createRssMiB, deleteS, resourcesLeft: left },
    list: { resources: list, createS: bigCreateS, calls, resourceListMs, resourceListTopDepth1Ms, eventListMs, stackShowMs, nestedGroupStackShowMs: nestedShowMs },
    peakRssMiB: Math.round(peakRss / 1048576),
  };
}
