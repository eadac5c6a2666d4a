// Bootstack against Debian's own OpenStack services ("anchors") on the same machine, in one run:
//   npm run bench -- anchors [--anchors ironic,heat] [--runs 2] [--nodes 1000] [--concurrency 32]
//     [--lists 20] [--shows 200] [--group 1000] [--nested 20] [--corpus DIR]
// Ironic 21 (Debian 12, `ironic` single process, SQLite, noauth, fake-hardware): enrol N nodes,
// manage + provide them, deploy all N at once and undeploy them (fake interfaces), node list
// (detail, limit 1000) and show latency. Heat 19 (`heat-all`, SQLite, fake:// transport, noauth,
// fake Keystone client; Keystone itself is not run): validate every HOT template of the
// tripleo-heat-templates corpus, a ResourceGroup of G test resources created/updated/deleted, a
// stack of 20 nested stacks. Every run starts fresh servers and takes Bootstack then the anchor,
// so a busy neighbour hits both alike. Per phase: wall seconds, server CPU (utime+stime of the
// process tree) and peak RSS of the tree (sampled every 100 ms). The summary gives the median of
// each metric over the runs for both and the ratio anchor / Bootstack (above 1: Bootstack is
// faster or smaller). Packages are installed with scripts/anchors-setup.sh when missing.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, option } from './support/args.js';
import { buildBundle, debVersion, ensureInstalled, startBootstack, startHeat, startIronic, type Server } from './support/anchor-servers.js';
import { baremetalClient, enrol, latency, transition } from './support/baremetal-workload.js';
import { corpusPayloads, heatClient, nestedStacks, resourceGroup, validateAll, type HeatPayload } from './support/heat-workload.js';
import { RssSampler, treeCpuMs, treeRssMiB } from './support/proc.js';

const REPO = resolve(import.meta.dirname, '..');
type Metrics = Record<string, number>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` as one phase: its result's numbers plus the server's CPU ms and peak RSS over it. */
async function phase<T extends object>(server: Server, sampler: RssSampler, out: Metrics, name: string, fn: () => Promise<T>): Promise<T> {
  sampler.reset();
  const cpu0 = treeCpuMs(server.pid);
  const r = await fn();
  out[`${name}.server_cpu_s`] = +((treeCpuMs(server.pid) - cpu0) / 1000).toFixed(2);
  out[`${name}.peak_rss_mib`] = Math.round(sampler.reset());
  for (const [k, v] of Object.entries(r)) if (typeof v === 'number') out[`${name}.${k}`] = v;
  // Progress on stderr, so the figures of a long run are not lost if it is stopped.
  process.stderr.write(`[anchors] ${server.name} ${JSON.stringify(Object.fromEntries(Object.entries(out).filter(([k]) => k.startsWith(`${name}.`))))}\n`);
  return r;
}

/** Starts a server, measures its idle RSS, runs the workload, stops it whatever happens. */
async function measure(start: (dir: string) => Promise<Server>, work: (s: Server, sampler: RssSampler, m: Metrics) => Promise<void>): Promise<Metrics> {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-bench-anchors-'));
  let server: Server | undefined;
  let sampler: RssSampler | undefined;
  try {
    server = await start(dir);
    await sleep(1000);
    const m: Metrics = { idle_rss_mib: Math.round(treeRssMiB(server.pid)), startup_cpu_s: +(treeCpuMs(server.pid) / 1000).toFixed(2) };
    sampler = new RssSampler(server.pid);
    const cpu0 = treeCpuMs(server.pid);
    await work(server, sampler, m);
    m.workload_server_cpu_s = +((treeCpuMs(server.pid) - cpu0) / 1000).toFixed(2);
    m.end_rss_mib = Math.round(treeRssMiB(server.pid));
    return m;
  } finally {
    sampler?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function baremetalWork(nodes: number, concurrency: number, lists: number, shows: number) {
  return async (s: Server, sampler: RssSampler, m: Metrics) => {
    const base = s.name === 'bootstack' ? `${s.url}/baremetal/v1` : s.url;
    const call = baremetalClient(base, s.headers);
    const { ids } = await phase(s, sampler, m, 'enrol', async () => {
      const r = await enrol(call, nodes, concurrency);
      return { ...r, nodes_per_s: Math.round(nodes / r.seconds) };
    });
    await phase(s, sampler, m, 'manage_provide', async () => {
      const t = performance.now();
      const a = await transition(call, ids, 'manage', 'manageable', 1800, concurrency);
      const b = await transition(call, ids, 'provide', 'available', 1800, concurrency);
      return { seconds: +((performance.now() - t) / 1000).toFixed(2), retries: a.retries_503_409 + b.retries_503_409 };
    });
    await phase(s, sampler, m, 'list_detail', () => latency(call, lists, () => '/nodes/detail?limit=1000', (r) => r.status === 200 && r.body.nodes.length === Math.min(1000, nodes)));
    await phase(s, sampler, m, 'show', () => latency(call, shows, (i) => `/nodes/${ids[i % ids.length]}`, (r) => r.status === 200));
    // All N deploys requested at once (issue 17 item 5: peak RSS during N concurrent fake deploys).
    await phase(s, sampler, m, 'deploy', async () => {
      const r = await transition(call, ids, 'active', 'active', 1800);
      return { seconds: r.until_all_done_seconds, accepted_s: r.all_accepted_seconds, retries: r.retries_503_409, connection_retries: r.connection_retries };
    });
    await phase(s, sampler, m, 'undeploy', async () => {
      const r = await transition(call, ids, 'deleted', 'available', 1800);
      return { seconds: r.until_all_done_seconds, accepted_s: r.all_accepted_seconds, retries: r.retries_503_409, connection_retries: r.connection_retries };
    });
  };
}

/** Where the two validators disagree, with the refusal message of the one that refused. */
function agreement(refused: Record<string, Record<string, string>>) {
  const ours = refused.bootstack ?? {};
  const theirs = refused.heat ?? {};
  const pick = (from: Record<string, string>, not: Record<string, string>) => Object.fromEntries(Object.entries(from).filter(([k]) => !(k in not)));
  return { refused_by_both: Object.keys(ours).filter((k) => k in theirs), refused_only_by_bootstack: pick(ours, theirs), refused_only_by_heat: pick(theirs, ours) };
}

function heatWork(payloads: HeatPayload[], groupSize: number, nested: number, validation: Record<string, Record<string, string>>) {
  return async (s: Server, sampler: RssSampler, m: Metrics) => {
    // Bootstack serves the Heat API at /orchestration with the project taken from the token.
    const http = heatClient(s.name === 'bootstack' ? `${s.url}/orchestration` : s.url, s.headers);
    await phase(s, sampler, m, 'validate_corpus', async () => {
      const r = await validateAll(http, payloads);
      validation[s.name] = r.refused;
      return { templates: r.templates, accepted: r.accepted, seconds: r.seconds };
    });
    await phase(s, sampler, m, 'resource_group', () => resourceGroup(http, groupSize, 'bench-group'));
    await phase(s, sampler, m, 'nested', () => nestedStacks(http, nested, 'bench-nested'));
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** metric → { bootstack, anchor, ratio } from the medians over runs. */
function compare(ours: Metrics[], theirs: Metrics[]) {
  const out: Record<string, { bootstack: number; anchor: number; ratio: number | null }> = {};
  for (const key of Object.keys(ours[0] ?? {})) {
    const b = median(ours.map((m) => m[key]!));
    const a = median(theirs.map((m) => m[key]!).filter((x) => x !== undefined));
    out[key] = { bootstack: +b.toFixed(2), anchor: +a.toFixed(2), ratio: b > 0 ? +(a / b).toFixed(2) : null };
  }
  return out;
}

export default async function anchors(args: string[]) {
  const which = option(args, '--anchors', 'ironic,heat').split(',');
  const runs = arg(args, 'runs', 2);
  const nodes = arg(args, 'nodes', 1000);
  const concurrency = arg(args, 'concurrency', 32);
  const lists = arg(args, 'lists', 20);
  const shows = arg(args, 'shows', 200);
  const groupSize = arg(args, 'group', 1000);
  const nested = arg(args, 'nested', 20);
  const corpus = resolve(option(args, '--corpus', process.env.BOOTSTACK_CORPUS ?? join(REPO, '..', 'shared', 'corpus')), 'tripleo-heat-templates');

  const bundle = buildBundle();
  const load = [loadavg()[0]!];
  const result: Record<string, unknown> = {
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, note: 'servers and load generator on the same machine, shared with other work' },
    bootstack: { server: 'node dist/server/bootstack.mjs serve, default config (SQLite, info access log)', bundle },
  };
  for (const anchor of which) {
    if (anchor !== 'ironic' && anchor !== 'heat') throw new Error(`unknown anchor "${anchor}" (ironic, heat)`);
    ensureInstalled(anchor);
    // Bootstack then the anchor, `runs` times: a busy neighbour hits both alike.
    const alternate = async (work: Parameters<typeof measure>[1], start: Parameters<typeof measure>[0]) => {
      const ours: Metrics[] = [];
      const theirs: Metrics[] = [];
      for (let i = 0; i < runs; i++) {
        ours.push(await measure(startBootstack, work));
        theirs.push(await measure(start, work));
        load.push(loadavg()[0]!);
      }
      return { ours, theirs };
    };
    if (anchor === 'ironic') {
      const { ours, theirs } = await alternate(baremetalWork(nodes, concurrency, lists, shows), startIronic);
      result.ironic = {
        anchor: `Debian ironic ${debVersion('python3-ironic')}: \`ironic\` single process (API + conductor, rpc_transport none), SQLite, noauth, fake-hardware`,
        workload: { nodes, concurrency, lists, shows, runs },
        compare: compare(ours, theirs),
        runs: { bootstack: ours, ironic: theirs },
      };
    } else {
      const payloads = corpusPayloads(corpus, join(corpus, 'overcloud-resource-registry-puppet.yaml'));
      const validation: Record<string, Record<string, string>> = {};
      const { ours, theirs } = await alternate(heatWork(payloads, groupSize, nested, validation), startHeat);
      result.heat = {
        anchor: `Debian heat ${debVersion('python3-heat')}: heat-all (api + engine), SQLite, transport fake://, paste flavor noauth, fake keystone client; Keystone not run`,
        workload: { corpus_templates: payloads.length, env: 'overcloud-resource-registry-puppet.yaml', payloads: 'built by python3-heatclient template_utils', group: groupSize, nested, runs },
        compare: compare(ours, theirs),
        validation_last_run: agreement(validation),
        runs: { bootstack: ours, heat: theirs },
      };
    }
  }
  result.load_average_1m = load.map((l) => +l.toFixed(2));
  return result;
}
