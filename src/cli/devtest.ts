// `bootstack devtest [clean|status]`: TripleO's devtest on one host, stage by stage (src/devtest,
// docs/devtest.md). This file wires what the stages consume — the lab, the image builds, the
// pivot — into src/devtest, and prints the run's summary.
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { BootstackError } from '../common/errors.js';
import { BUNDLED, INSTALL_ROOT, SERVER_DIR, TEMPLATES_DIR } from '../common/paths.js';
import {
  Clients,
  DEFAULT_UNDERCLOUD_ELEMENTS,
  DevtestLayout,
  ROOT_STAGES,
  STAGES,
  STAGE_NAMES,
  UNDERCLOUD_IMAGE_NAME,
  UsageError,
  cachedBuild,
  cleanDevtest,
  defaultDevtestDir,
  defaultReporter,
  devtestStages,
  formatSeconds,
  lineSplitter,
  machinesNeeded,
  readState,
  runDevtest,
  seedProcess,
  selectStages,
  smokeTest,
  type DevtestSummary,
  type ImagesApi,
  type LabApi,
  type PivotFn,
  type StageSummary,
} from '../devtest/index.js';
import { labDown, labUp } from '../lab/index.js';
import { runPivot } from '../pivot/run.js';
import { ensureDemoImages } from '../image-builder/demo-images.js';
import { cacheDir } from '../image-builder/base.js';
import { BUILTIN_ELEMENTS, buildImage } from '../image-builder/build.js';
import { bundleAgents } from '../image-builder/deploy-ramdisk.js';
import { acquireDirLock } from '../image-builder/dir-lock.js';
import { resolveElements } from '../image-builder/elements.js';
import { digestBuilderCode, digestTree } from '../image-builder/inputs-digest.js';
import { formatList, parseFormat, type OutputFormat } from './output.js';


const lab: LabApi = {
  async up(req, o) {
    const r = await labUp(
      { nodes: req.nodes, memoryMiB: req.memoryMiB, diskGiB: req.diskGiB, cpus: req.cpus, firmware: req.firmware, accel: req.accel, bmcPort: 0, bmcHost: 'seed' },
      { dir: o.dir, onProgress: o.onProgress },
    );
    const n = r.lab.network;
    return {
      dir: o.dir,
      instackenv: r.instackenv,
      seedInterface: n.seedInterface,
      seedAddress: n.seedAddress,
      prefixLength: n.prefixLength,
      cidr: n.cidr,
      namespace: n.namespace,
      bridge: n.bridge,
      accel: r.lab.accel,
      machines: r.lab.machines.map((m) => ({ name: m.name, mac: m.mac })),
    };
  },
  async down(o) {
    return (await labDown({ dir: o.dir, onProgress: o.onProgress })).removed;
  },
};

function dibEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('DIB_') && v !== undefined)) as Record<string, string>;
}

/**
 * The server build the bootstack-server element installs (DIB_BOOTSTACK_SERVER_DIR, else this
 * installation's build): from a checkout, `scripts/build-server.mjs` first, which does nothing when
 * the build is newer than every source.
 */
async function serverBuild(log: (line: string) => void, signal: AbortSignal): Promise<string> {
  const given = process.env.DIB_BOOTSTACK_SERVER_DIR;
  if (given) return given;
  if (!BUNDLED) {
    log('the server build for the undercloud (scripts/build-server.mjs; nothing to do when it is up to date)');
    const out = lineSplitter(log);
    const err = lineSplitter(log);
    try {
      await run(process.execPath, [join(INSTALL_ROOT, 'scripts', 'build-server.mjs')], { signal, timeoutMs: 1_800_000, onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
    } finally {
      out.flush();
      err.flush();
    }
  }
  return SERVER_DIR;
}

/** What the server build is, from its build.json (its content hash and the Node it was made for). */
function serverBuildId(dir: string): string {
  let info: { inputs?: string; node?: string };
  try {
    info = JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8')) as typeof info;
  } catch (err) {
    throw new BootstackError(500, 'no_server_build', `the server build in ${dir} has no readable build.json (run \`npm run build\`): ${(err as Error).message}`);
  }
  if (!info.inputs) throw new BootstackError(500, 'no_server_build', `${join(dir, 'build.json')} names no inputs hash`);
  return `${info.inputs} ${info.node ?? ''}`;
}

/**
 * What decides the undercloud image: its elements and their files, the builder's code, the DIB_*
 * variables, the agent bundle and — the undercloud runs Bootstack — the server build it installs
 * (its build.json's content hash). Any change rebuilds it.
 */
function undercloudKey(elements: readonly string[], env: Record<string, string>, agentsDir: string, serverDir: string): string {
  const h = createHash('sha256');
  h.update(`elements ${elements.join(' ')}\ntypes qcow2\n`);
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1))) if (k !== 'DIB_BOOTSTACK_AGENTS_DIR' && k !== 'DIB_BOOTSTACK_SERVER_DIR') h.update(`env ${k}=${v}\n`);
  for (const e of resolveElements(elements, [BUILTIN_ELEMENTS])) {
    h.update(`element ${e.name}\n`);
    digestTree(h, e.path);
  }
  digestBuilderCode(h);
  h.update('agents\n');
  digestTree(h, agentsDir);
  h.update(`server ${serverBuildId(serverDir)}\n`);
  return h.digest('hex');
}

const images: ImagesApi = {
  async demoImages(o) {
    const r = await ensureDemoImages({ log: o.log, signal: o.signal });
    return { kernel: r.kernel, initramfs: r.initramfs, sample: r.qcow2, built: r.built };
  },
  async undercloudImage(o) {
    const dir = join(cacheDir(), 'images', UNDERCLOUD_IMAGE_NAME);
    mkdirSync(dir, { recursive: true });
    const env = dibEnv();
    const server = await serverBuild(o.log, o.signal);
    const agents = mkdtempSync(join(dir, '.agents-'));
    try {
      await bundleAgents(agents);
      const r = await cachedBuild({
        dir,
        name: UNDERCLOUD_IMAGE_NAME,
        key: () => undercloudKey(o.elements, env, agents, server),
        build: async (prefix) =>
          (
            await buildImage({
              elements: [...o.elements],
              output: prefix,
              types: ['qcow2'],
              env: { ...env, DIB_BOOTSTACK_AGENTS_DIR: agents, DIB_BOOTSTACK_SERVER_DIR: server },
              log: o.log,
              signal: o.signal,
            })
          ).outputs.map((x) => ({
            path: x.path,
            bytes: x.bytes,
          })),
        lock: (path) => acquireDirLock(path, { signal: o.signal, onWait: () => o.log(`waiting for another build of the ${UNDERCLOUD_IMAGE_NAME} image in ${dir}`) }),
        log: o.log,
      });
      return { qcow2: `${r.prefix}.qcow2`, cached: r.cached };
    } finally {
      rmSync(agents, { recursive: true, force: true });
    }
  },
};

/**
 * The pivot stage's dependency: src/pivot/run.ts's runPivot, which logs in to the seed with a
 * clouds.yaml-style auth and keeps its state on the two servers (so devtest's stateDir is not
 * passed on, and an interrupted pivot is finished by running it again).
 */
const pivot: PivotFn = (o) =>
  runPivot({
    from: {
      auth_url: `${o.from.url.replace(/\/+$/, '')}/identity`,
      username: o.from.username,
      password: o.from.password,
      project_name: o.from.projectName ?? 'admin',
      user_domain_name: 'Default',
      project_domain_name: 'Default',
    },
    to: o.to,
    onProgress: o.onProgress,
  });

function intOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}; got "${value}"`);
  return n;
}

function choice(name: string, value: string | undefined, fallback: string, allowed: readonly string[]): string {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new UsageError(`${name} must be one of ${allowed.join(', ')}; got "${value}"`);
  return value;
}

function stageRows(stages: StageSummary[]): Array<Record<string, unknown>> {
  return stages.map((s) => ({
    stage: s.name,
    status: s.status,
    ran: s.ran ? 'now' : s.status === 'done' ? 'earlier' : '',
    time: s.seconds === null ? '' : formatSeconds(s.seconds),
    error: s.error ? (s.error.length > 160 ? `${s.error.slice(0, 160)}…` : s.error) : '',
  }));
}

function printSummary(summary: DevtestSummary, format: OutputFormat): void {
  if (format === 'json') {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  const rows = stageRows(summary.teardown ? [...summary.stages, summary.teardown] : summary.stages);
  process.stdout.write(formatList(rows, ['stage', 'status', 'ran', 'time', 'error'], format) + '\n');
  if (format !== 'table') return;
  const verdict = summary.result === 'ok' ? 'done' : summary.result === 'failed' ? `FAILED at ${summary.failed?.stage}` : 'nothing to do';
  process.stdout.write(`devtest ${verdict} in ${formatSeconds(summary.seconds)} (${summary.dir}); ${summary.end === 'kept' ? 'everything is left running' : summary.end}\n`);
  if (summary.failed) process.stdout.write(`\n${summary.failed.stage}: ${summary.failed.error}\n`);
  if (summary.next.length) process.stdout.write(`\n${summary.next.join('\n')}\n`);
}

const STAGE_HELP = `
Stages, in order (each records its completion in <dir>/devtest-state.json; a re-run resumes at the
first stage that is not done):
${STAGES.map((s) => `  ${s.name.padEnd(18)} ${s.description}`).join('\n')}

Runs as root (network namespaces, QEMU, image builds). Without --keep, a run that finishes the
last stage tears everything down again (the image cache stays); a failed run leaves everything for
a look and for the re-run. docs/devtest.md says what each stage needs and how long it takes.

Examples:
  bootstack devtest --keep                  everything, left running; <dir>/clouds.yaml has seed, undercloud, overcloud
  bootstack devtest                         after a failure: resume at the failed stage
  bootstack devtest --from undercloud       run undercloud and every stage after it again
  bootstack devtest --only smoke            one stage (it needs the outputs of the stages before it)
  bootstack devtest status                  what is done
  bootstack devtest clean                   stop the seed, remove the lab and the directory`;

interface RunFlags {
  dir?: string;
  from?: string;
  only?: string;
  keep?: boolean;
  nodes?: string;
  webCount?: string;
  memory?: string;
  disk?: string;
  cpus?: string;
  firmware?: string;
  accel?: string;
  seedPort?: string;
  stackTimeout?: string;
  undercloudElements?: string;
  format: string;
}

export function registerDevtest(program: Command): void {
  const devtest = program
    .command('devtest')
    .description('TripleO\'s devtest on this host: a lab, a seed that deploys the undercloud, the pivot, the overcloud demo, a smoke test')
    .option('--dir <path>', 'devtest directory (default: $BOOTSTACK_DEVTEST_DIR or ./.devtest)')
    .option('--from <stage>', 'run this stage and every stage after it (again)')
    .option('--only <stage>', 'run this stage alone')
    .option('--keep', 'leave everything running at the end and write <dir>/clouds.yaml (seed, undercloud, overcloud)')
    .option('--web-count <n>', 'web machines of the overcloud demo (default 2)')
    .option('--nodes <n>', 'lab machines (default: the undercloud, the database, the web machines and a spare for the replace stage: 3 + web count)')
    .option('--memory <MiB>', 'memory per lab machine in MiB (default 2048)')
    .option('--disk <GiB>', 'disk per lab machine in GiB (default 10)')
    .option('--cpus <n>', 'vCPUs per lab machine (default 1)')
    .option('--firmware <bios|uefi>', 'lab firmware (default bios)')
    .option('--accel <auto|kvm|tcg>', 'lab accelerator (default auto)')
    .option('--seed-port <port>', "the seed's API port on the lab address (default 6385)")
    .option('--stack-timeout <minutes>', 'timeout of the undercloud and overcloud stacks (default 90)')
    .option('--undercloud-elements <list>', `elements of the undercloud image, comma-separated (default ${DEFAULT_UNDERCLOUD_ELEMENTS.join(',')})`)
    .option('-f, --format <format>', 'summary format: table, json, yaml, value', 'table')
    .addHelpText('after', STAGE_HELP)
    .action(async (f: RunFlags) => {
      const format = parseFormat(f.format);
      const layout = new DevtestLayout(f.dir ?? defaultDevtestDir());
      const webCount = intOption('--web-count', f.webCount, 2, 1, 20);
      const nodes = intOption('--nodes', f.nodes, machinesNeeded(webCount), 1, 64);
      if (nodes < machinesNeeded(webCount)) throw new UsageError(`--nodes ${nodes}: devtest needs ${machinesNeeded(webCount)} machines (the undercloud, the database, ${webCount} web machines and a spare for the replace stage)`);
      const selected = selectStages(STAGE_NAMES, await readState(layout.state), { from: f.from, only: f.only });
      if (selected.some((s) => ROOT_STAGES.has(s as never)) && process.getuid?.() !== 0) {
        throw new BootstackError(403, 'needs_root', `devtest stages ${selected.filter((s) => ROOT_STAGES.has(s as never)).join(', ')} need root (network namespaces, QEMU, image builds, dnsmasq): run it as root`);
      }
      const clients = new Clients(run, layout.clouds);
      const seed = seedProcess();
      const stages = devtestStages(
        {
          layout,
          templatesDir: TEMPLATES_DIR,
          nodes,
          memoryMiB: intOption('--memory', f.memory, 2048, 256, 65536),
          diskGiB: intOption('--disk', f.disk, 10, 1, 1024),
          cpus: intOption('--cpus', f.cpus, 1, 1, 64),
          firmware: choice('--firmware', f.firmware, 'bios', ['bios', 'uefi']),
          accel: choice('--accel', f.accel, 'auto', ['auto', 'kvm', 'tcg']),
          seedPort: intOption('--seed-port', f.seedPort, 6385, 1, 65535),
          webCount,
          stackTimeoutMinutes: intOption('--stack-timeout', f.stackTimeout, 90, 1, 24 * 60),
          undercloudElements: f.undercloudElements ? f.undercloudElements.split(',').map((e) => e.trim()).filter(Boolean) : DEFAULT_UNDERCLOUD_ELEMENTS,
        },
        { lab, images, clients, seed, pivot, smoke: smokeTest },
      );
      const ac = new AbortController();
      const stop = (signal: string) => ac.abort(new Error(`${signal} received`));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const summary = await runDevtest(layout, stages, { lab, seed }, { from: f.from, only: f.only, keep: f.keep, reporter: defaultReporter(), signal: ac.signal });
        printSummary(summary, format);
        if (summary.result === 'failed') process.exitCode = 1;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });

  devtest
    .command('status')
    .description("each stage's state from <dir>/devtest-state.json")
    .option('--dir <path>', 'devtest directory (default: $BOOTSTACK_DEVTEST_DIR or ./.devtest)')
    .option('-f, --format <format>', 'output format: table, json, yaml, value', 'table')
    .action(async (o: { dir?: string; format: string }) => {
      const format = parseFormat(o.format);
      const layout = new DevtestLayout(o.dir ?? defaultDevtestDir());
      const state = await readState(layout.state);
      const rows = STAGE_NAMES.map((name) => {
        const r = state.stages[name];
        return { stage: name, status: r?.status ?? 'pending', time: r?.seconds === undefined ? '' : formatSeconds(r.seconds), finished_at: r?.finished_at ?? '', error: r?.error ?? '' };
      });
      process.stdout.write(formatList(rows, ['stage', 'status', 'time', 'finished_at', 'error'], format) + '\n');
    });

  devtest
    .command('clean')
    .description('stop the seed devtest started, take the lab down, remove the devtest directory (the image cache stays)')
    .option('--dir <path>', 'devtest directory (default: $BOOTSTACK_DEVTEST_DIR or ./.devtest)')
    .action(async (o: { dir?: string }) => {
      const layout = new DevtestLayout(o.dir ?? defaultDevtestDir());
      const r = await cleanDevtest(layout, { lab, seed: seedProcess() }, (m) => process.stderr.write(`devtest clean: ${m}\n`));
      process.stdout.write(
        `${layout.dir}: seed ${r.seed}, lab ${r.lab}, ${r.dirRemoved ? 'directory removed' : `directory kept (it holds files devtest did not make: ${r.kept.join(', ')})`}\n`,
      );
    });
}
