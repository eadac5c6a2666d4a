// ResourceGroup of OS::Heat::TestResource: create, +10% scale update, no-op update, delete, with
// and without the 0.3 s / 0.5 s delays of Heat's rally jobs, on the real engine over SQLite.
// `npm run bench -- orchestration [sizes=40,1000] [delays=0,1]`
import { testEngine } from '../src/orchestration/test-support.js';
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
