// Bare-metal service at scale. Phase 1 runs `bootstack serve` as its own process (default
// configuration, SQLite) and drives it over HTTP: enrol N fake-hardware nodes, node list
// (detail, limit 1000) latency, fake deploy of D nodes at once until all are active, and the
// server's RSS with N nodes. Phase 2 times one power-sync pass of the conductor over S fake
// nodes in-process (the pass has no API).
// Args: --nodes N (10000) --deploy D (1000) --lists L (50) --sync S (1000) --concurrency C (32)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSeed, adminToken } from '../test/support/serve-process.js';
import { startBaremetal } from '../test/baremetal-helpers.js';
import type { FakePower } from '../src/baremetal/drivers/fake-power.js';
import { arg, pool } from './support/args.js';
import { baremetalClient, enrol, latency, transition } from './support/baremetal-workload.js';

export default async function (args: string[]) {
  const nodes = arg(args, 'nodes', 10_000);
  const deploys = Math.min(arg(args, 'deploy', 1000), nodes);
  const lists = arg(args, 'lists', 50);
  const syncNodes = arg(args, 'sync', 1000);
  const concurrency = arg(args, 'concurrency', 32);

  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-bench-bm-'));
  const seed = await spawnSeed(stateDir);
  let phase1;
  try {
    const token = await adminToken(seed.url, stateDir);
    const call = baremetalClient(`${seed.url}/baremetal/v1`, { 'x-auth-token': token });
    const idleRss = seed.rssMiB();

    // Enrol. The first D nodes are created at API 1.9, which puts them straight into
    // "available" (Ironic before 1.11), ready to deploy; the rest start in "enroll".
    const { ids, seconds: enrolSeconds } = await enrol(call, nodes, concurrency, (i) => (i < deploys ? '1.9' : '1.78'));

    const list = await latency(call, lists, () => '/nodes/detail?limit=1000', (r) => r.status === 200 && r.body.nodes.length === Math.min(1000, nodes));

    const deploy = await transition(call, ids.slice(0, deploys), 'active', 'active', 3600);
    phase1 = {
      enrol: { nodes, seconds: enrolSeconds, per_second: Math.round(nodes / enrolSeconds), client_concurrency: concurrency },
      node_list_detail_1000: list,
      fake_deploy: { nodes: deploys, all_requests_accepted_seconds: deploy.all_accepted_seconds, until_all_active_seconds: deploy.until_all_done_seconds },
      server_rss_mib: { idle_before: Math.round(idleRss), with_nodes: Math.round(seed.rssMiB()), peak: Math.round(seed.peakRssMiB()) },
    };
  } finally {
    await seed.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  // Phase 2: one power-sync pass, in-process. Half the machines were switched behind the
  // conductor's back, so the pass also records S/2 out-of-band changes.
  const h = await startBaremetal({ config: { conductor: { sync_power_state_interval: 0 } } });
  try {
    const ids: string[] = [];
    await pool(
      Array.from({ length: syncNodes }, (_, i) => i),
      concurrency,
      async (i) => {
        const r = await h.call('POST', '/baremetal/v1/nodes', { name: `sync-${i}`, driver: 'fake-hardware' }, { 'x-openstack-ironic-api-version': '1.9' });
        ids.push(r.body.uuid);
      },
    );
    await h.service.conductor.syncPowerStates(); // first read: None -> power off
    const fake = h.service.registry.get('power', 'fake') as FakePower;
    ids.slice(0, Math.floor(syncNodes / 2)).forEach((id) => fake.machines.set(id, 'power on'));
    const t = performance.now();
    const stats = await h.service.conductor.syncPowerStates();
    const seconds = (performance.now() - t) / 1000;
    return {
      ...phase1,
      power_sync_pass: { nodes_checked: stats.checked, out_of_band_changes_recorded: stats.changed, seconds: +seconds.toFixed(2), workers: 8 },
      machine_note: 'server and load generator on the same 2-core machine; server is `bootstack serve` with default config (all services, SQLite, info-level access log)',
    };
  } finally {
    await h.stop();
  }
}
