// Importing N nodes with one pxe-enabled port each through the API while the seed runs dnsmasq
// (in a network namespace this bench creates): what each port create costs now that it writes
// only its own host file, instead of resyncing (and fsyncing) every file of the hosts directory.
// Args: --nodes N (1000) --concurrency C (8) --max-seconds S (300: stop early, report how far it got)
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/common/child-process.js';
import { startSeed } from '../test/support/seed.js';
import { arg } from './support/args.js';

export default async function (args: string[]) {
  const nodes = arg(args, 'nodes', 1000);
  const concurrency = arg(args, 'concurrency', 8);
  const maxSeconds = arg(args, 'max-seconds', 300);
  const id = randomBytes(3).toString('hex');
  const ns = `bs-bench-p-${id}`;
  const ifname = `bbp${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-bench-ports-'));
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}x`]);
  await run('ip', ['link', 'set', ifname, 'netns', ns]);
  await run('ip', ['-n', ns, 'addr', 'add', '10.251.0.1/24', 'dev', ifname]);
  await run('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  const seed = await startSeed(
    {
      log: { level: 'warn' },
      baremetal: { conductor: { sync_power_state_interval: 0 } },
      boot: { dnsmasq: { enabled: true, interface: ifname, netns: ns, range_start: '10.251.0.50', range_end: '10.251.0.99', ipv6_ra: false } },
    },
    { stateDir: join(dir, 'state') },
  );
  try {
    const token = await seed.token();
    const api = (method: string, path: string, body: unknown) =>
      seed.call(method, `/baremetal/v1${path}`, { token, body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
    const portMs: number[] = [];
    let done = 0;
    let next = 0;
    const t0 = performance.now();
    const deadline = t0 + maxSeconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < nodes && performance.now() < deadline) {
          const i = next++;
          const n = await api('POST', '/nodes', { name: `imp-${i}`, driver: 'fake-hardware' });
          if (n.status !== 201) throw new Error(`node create: ${n.status} ${JSON.stringify(n.body)}`);
          const s = performance.now();
          const mac = `52:54:00:8c:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
          const p = await api('POST', '/ports', { node_uuid: n.body.uuid, address: mac });
          if (p.status !== 201) throw new Error(`port create: ${p.status} ${JSON.stringify(p.body)}`);
          portMs.push(performance.now() - s);
          done++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const sorted = [...portMs].sort((a, b) => a - b);
    const pct = (p: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(1));
    const lastHundred = portMs.slice(-100);
    return {
      nodes_requested: nodes,
      nodes_imported: done,
      finished: done === nodes,
      concurrency,
      seconds: Number(seconds.toFixed(1)),
      nodes_per_s: Number((done / seconds).toFixed(1)),
      port_create_ms: { p50: pct(50), p95: pct(95), max: pct(100), mean_last_100: Number((lastHundred.reduce((a, b) => a + b, 0) / lastHundred.length).toFixed(1)) },
      host_files: readdirSync(join(dir, 'state', 'boot', 'hosts')).filter((f) => !f.startsWith('.')).length,
    };
  } finally {
    await seed.stop();
    await run('ip', ['netns', 'del', ns], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
