// The configuration loop's speed on a lab machine (TCG), through the whole real path: the stack of
// test/config-loop-lab.test.ts (one server from the managed sample image, a `script` deployment
// and an `os-apply-config` one) is created with the real `openstack` CLI, then:
//   - latency: N updates of the script's input; each is timed from `openstack stack update`
//     returning to the new value appearing in /etc/loop-message on the machine (a watcher on the
//     machine prints each change over one SSH session; the host stamps the line as it arrives);
//   - fan-out: a second stack with the same server plus `--deployments` trivial deployments, timed
//     from the server's CREATE_COMPLETE to the stack's CREATE_COMPLETE.
// `npm run bench -- config-loop-lab [--updates 20] [--deployments 50]`
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { labDown } from '../src/lab/index.js';
import { configLoopTemplate, startConfigLoopLab, type ConfigLoopLab } from '../test/support/config-loop.js';
import { option, percentile } from './support/args.js';

const pct = (xs: number[], p: number) => percentile([...xs].sort((a, b) => a - b), p);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stackStatus(l: ConfigLoopLab, name: string): Promise<string> {
  return String((await l.orchestration(`/stacks/${name}`)).stack.stack_status);
}

async function waitStack(l: ConfigLoopLab, name: string, done: string): Promise<void> {
  for (;;) {
    const s = await stackStatus(l, name);
    if (s === done) return;
    if (s.endsWith('FAILED')) throw new Error(`${name}: ${s}`);
    await sleep(100);
  }
}

export default async function bench(args: string[]) {
  const updates = Number(option(args, '--updates', '20'));
  const fanOut = Number(option(args, '--deployments', '50'));
  const dir = await mkdtemp(join(tmpdir(), 'bench-config-loop-'));
  const l = await startConfigLoopLab(dir);
  try {
    const template = join(dir, 'loop.yaml');
    await writeFile(template, configLoopTemplate(l.publicKey));
    const t0 = Date.now();
    await l.openstack(['stack', 'create', '-t', template, '--wait', '--timeout', '40', 'loop']);
    const createS = (Date.now() - t0) / 1000;
    const ip = await l.sshAddress('loop-0', 300_000);

    // One SSH session watching the file: each change is one line, stamped on arrival.
    const watcher = spawn('ssh', ['-i', l.keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${ip}`,
      'p=; while :; do c=$(cat /etc/loop-message 2>/dev/null); if [ "$c" != "$p" ]; then echo "$c"; p=$c; fi; sleep 0.02; done'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen = new Map<string, number>();
    createInterface({ input: watcher.stdout }).on('line', (line) => seen.set(line.trim(), Date.now()));
    const latencies: number[] = [];
    try {
      for (let i = 0; i < updates; i++) {
        const value = `v${i}-${Date.now()}`;
        // Random moments, so changes fall anywhere in whatever cycle the machine is in.
        await sleep(500 + Math.random() * 1500);
        await l.openstack(['stack', 'update', '--existing', '--parameter', `message=${value}`, 'loop']);
        const returned = Date.now();
        const end = returned + 120_000;
        while (!seen.has(value) && Date.now() < end) await sleep(10);
        if (!seen.has(value)) throw new Error(`update ${i} (${value}) did not reach the machine in 120 s`);
        latencies.push(seen.get(value)! - returned);
        await waitStack(l, 'loop', 'UPDATE_COMPLETE');
      }
    } finally {
      watcher.kill();
    }
    await l.openstack(['stack', 'delete', '--yes', '--wait', 'loop']);
    await l.nodes.waitNode(l.nodeId, (n) => n.provision_state === 'available', 600_000);

    // Fan-out: N deployments on one server, from the server being ACTIVE to the stack COMPLETE.
    await writeFile(template, configLoopTemplate(l.publicKey, { extra: fanOut }));
    await l.openstack(['stack', 'create', '-t', template, '--timeout', '60', 'fan']);
    let serverActiveAt = 0;
    for (;;) {
      const s = String((await l.orchestration('/stacks/fan/resources/server')).resource.resource_status);
      if (s === 'CREATE_COMPLETE') {
        serverActiveAt = Date.now();
        break;
      }
      if (s.endsWith('FAILED')) throw new Error(`fan server: ${s}`);
      await sleep(250);
    }
    await waitStack(l, 'fan', 'CREATE_COMPLETE');
    const fanS = (Date.now() - serverActiveAt) / 1000;
    return {
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 1024 ** 3), accel: 'tcg' },
      stack_create_s: createS,
      updates,
      update_to_file_ms: { p50: pct(latencies, 50), p95: pct(latencies, 95), max: Math.max(...latencies), all: latencies },
      fan_out: { deployments: fanOut + 2, server_active_to_complete_s: fanS },
    };
  } finally {
    await l.ls.seed.stop().catch(() => undefined);
    await labDown({ dir: join(dir, 'lab') }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
