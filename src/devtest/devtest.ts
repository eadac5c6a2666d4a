// A whole `bootstack devtest` run: the stages (resumed, or as --from/--only select), then either
// everything left running with <dir>/clouds.yaml and directions (--keep), or, after a run that
// finished the last stage, everything torn down. A failed run leaves everything as it was, to look
// at and to resume.
import { mkdir, chmod } from 'node:fs/promises';
import { cleanDevtest } from './clean.js';
import type { DevtestLayout } from './layout.js';
import type { DevtestDeps } from './pipeline.js';
import type { Reporter } from './progress.js';
import { readState } from './state.js';
import { runStages, type RunSummary, type Selection, type Stage, type StageSummary } from './runner.js';
import type { OvercloudOutput } from './stage-overcloud.js';
import type { UndercloudOutput } from './stage-undercloud.js';
import type { LabOutput } from './stage-lab.js';
import type { SeedOutput } from './stage-seed.js';
import { writeAllClouds } from './stage-overcloud.js';

export interface DevtestRunOptions extends Selection {
  keep?: boolean;
  reporter: Reporter;
  signal?: AbortSignal;
}

export interface DevtestSummary extends RunSummary {
  dir: string;
  /** `kept`: left running (--keep); `torn down`; `left as it is` (failed, partial or nothing to do). */
  end: 'kept' | 'torn down' | 'left as it is';
  /** The teardown's time, when there was one. */
  teardown?: StageSummary;
  /** What to type next. */
  next: string[];
}

/** How to reach what a kept run left running, from the state's outputs. */
export function reachLines(layout: DevtestLayout, outputs: Record<string, unknown>): string[] {
  const lines = [`export OS_CLIENT_CONFIG_FILE=${layout.clouds}`];
  const uc = outputs.undercloud as UndercloudOutput | undefined;
  const oc = outputs.overcloud as OvercloudOutput | undefined;
  const lab = outputs.lab as LabOutput | undefined;
  if (outputs['seed-stop']) lines.push(`# the seed is stopped (stage seed-stop); its records are in ${layout.seedState}, its log ${layout.seedLog}`);
  else if (outputs.seed) lines.push(`openstack --os-cloud seed baremetal node list          # the seed (log: ${layout.seedLog})`);
  if (uc) lines.push(`openstack --os-cloud undercloud baremetal node list    # the undercloud at ${uc.api_url}`);
  if (oc) {
    lines.push(`openstack --os-cloud overcloud stack show overcloud     # the overcloud demo's stack (the undercloud's admin project)`);
    for (const u of oc.web_urls) lines.push(`curl ${u}`);
    if (oc.web_urls.length > 1) lines.push(`curl -X PUT --data hello ${oc.web_urls[0]}kv/greeting; curl ${oc.web_urls[1]}kv/greeting`);
    // After the replace stage the database is another machine.
    const db = (outputs.replace as { db_address?: string } | undefined)?.db_address || oc.db_address;
    lines.push(`ssh -i ${layout.key} root@${db}               # the database machine`);
  }
  if (lab) lines.push(`bootstack lab console --dir ${layout.lab} ${lab.machines[0]?.name ?? '<machine>'}    # a machine's serial console (${lab.machines.map((m) => m.name).join(', ')})`);
  lines.push(`bootstack devtest clean --dir ${layout.dir}               # stop everything and remove it (the image cache stays)`);
  return lines;
}

export async function runDevtest(layout: DevtestLayout, stages: readonly Stage[], deps: Pick<DevtestDeps, 'lab' | 'seed'>, o: DevtestRunOptions): Promise<DevtestSummary> {
  // 0700 when devtest makes it: the state file and clouds.yaml hold passwords (they are 0600 too).
  if ((await mkdir(layout.dir, { recursive: true })) !== undefined) await chmod(layout.dir, 0o700);
  const summary = await runStages(stages, { statePath: layout.state, from: o.from, only: o.only, reporter: o.reporter, signal: o.signal });
  const base = { ...summary, dir: layout.dir };
  if (summary.result === 'failed') {
    const f = summary.failed!;
    const resumesAt = summary.stages.find((s) => s.status !== 'done')?.name;
    const again = o.only !== undefined ? `bootstack devtest --dir ${layout.dir} --only ${f.stage}` : resumesAt === f.stage ? `bootstack devtest --dir ${layout.dir}` : `bootstack devtest --dir ${layout.dir} --from ${f.stage}`;
    return {
      ...base,
      end: 'left as it is',
      next: [
        `# stage ${f.stage} failed; everything is left as it was. After a fix, run it again:`,
        again,
        `bootstack devtest clean --dir ${layout.dir}               # or remove everything`,
      ],
    };
  }
  const state = await readState(layout.state);
  const outputs = Object.fromEntries(Object.entries(state.stages).filter(([, r]) => r.status === 'done').map(([k, r]) => [k, r.output]));
  const finishedLast = summary.stages.at(-1)?.ran === true && o.only === undefined;
  if (o.keep || !finishedLast) {
    if (outputs.undercloud && outputs.seed) await writeAllClouds(layout, outputs.seed as SeedOutput, outputs.undercloud as UndercloudOutput);
    const head = summary.result === 'nothing to do' ? [`# every stage is done; \`--from <stage>\` runs stages again`] : [];
    return { ...base, end: o.keep ? 'kept' : 'left as it is', next: [...head, ...reachLines(layout, outputs)] };
  }
  o.reporter.log(`devtest: tearing down (--keep leaves everything running)`);
  const t0 = performance.now();
  const cleaned = await cleanDevtest(layout, deps, (m) => o.reporter.log(`teardown: ${m}`));
  const teardown: StageSummary = { name: 'teardown', status: 'done', ran: true, seconds: Math.round(performance.now() - t0) / 1000, finished_at: new Date().toISOString() };
  return {
    ...base,
    end: 'torn down',
    teardown,
    next: cleaned.dirRemoved ? [] : [`# ${layout.dir} holds files devtest did not make (${cleaned.kept.join(', ')}); it was left in place`],
  };
}
