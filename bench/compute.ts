// Compute at scale: `bootstack serve` as its own process (default configuration, SQLite),
// driven over HTTP. Enrols N fake-hardware nodes (straight to "available" at Ironic 1.9),
// creates N servers (32 requests in flight) with a bare-metal flavor, and measures the time
// from the first POST until all N are ACTIVE (each on its own node), then the latency of
// GET /servers/detail with N servers, and the server's RSS.
// Args: --servers N (1000) --lists L (50) --concurrency C (32)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSeed, adminToken } from '../test/support/serve-process.js';
import { arg, percentile, pool } from './support/args.js';
import { callJson } from './support/http.js';

export default async function (args: string[]) {
  const n = arg(args, 'servers', 1000);
  const lists = arg(args, 'lists', 50);
  const concurrency = arg(args, 'concurrency', 32);
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-bench-compute-'));
  const seed = await spawnSeed(stateDir);
  try {
    const token = await adminToken(seed.url, stateDir);
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      callJson(`${seed.url}${path}`, method, body, { 'x-auth-token': token, ...headers });
    const nova = { 'openstack-api-version': 'compute 2.73' };
    const idleRss = seed.rssMiB();

    const t0 = performance.now();
    await pool(Array.from({ length: n }, (_, i) => i), concurrency, async (i) => {
      const r = await call('POST', '/baremetal/v1/nodes', { name: `cb-${i}`, driver: 'fake-hardware', resource_class: 'bench', properties: { cpus: 8, memory_mb: 32768, local_gb: 400 } }, { 'x-openstack-ironic-api-version': '1.9' });
      if (r.status !== 201) throw new Error(`node create: ${r.status} ${JSON.stringify(r.body)}`);
    });
    const enrolSeconds = (performance.now() - t0) / 1000;

    const img = await call('POST', '/image/v2/images', { name: 'bench-image', disk_format: 'raw', container_format: 'bare', visibility: 'public' });
    const up = await fetch(`${seed.url}/image/v2/images/${img.body.id}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(4096, 1) });
    if (up.status !== 204) throw new Error(`image upload: ${up.status}`);
    const flavor = await call('POST', '/compute/v2.1/flavors', { flavor: { name: 'bench', ram: 32768, vcpus: 8, disk: 400 } }, nova);
    await call('POST', `/compute/v2.1/flavors/${flavor.body.flavor.id}/os-extra_specs`, { extra_specs: { 'resources:CUSTOM_BENCH': '1', 'resources:VCPU': '0', 'resources:MEMORY_MB': '0', 'resources:DISK_GB': '0' } }, nova);
    const project = (await call('GET', '/identity/v3/projects?name=admin')).body.projects[0].id as string;
    await call('PUT', `/compute/v2.1/os-quota-sets/${project}`, { quota_set: { instances: -1, cores: -1, ram: -1 } }, nova);

    // Create all, then wait until every server is ACTIVE.
    const t1 = performance.now();
    const postLat: number[] = [];
    await pool(Array.from({ length: n }, (_, i) => i), concurrency, async (i) => {
      const s = performance.now();
      const r = await call('POST', '/compute/v2.1/servers', { server: { name: `bench-${i}`, imageRef: img.body.id, flavorRef: flavor.body.flavor.id, networks: 'none' } }, nova);
      if (r.status !== 202) throw new Error(`server create: ${r.status} ${JSON.stringify(r.body)}`);
      postLat.push(performance.now() - s);
    });
    const postsSeconds = (performance.now() - t1) / 1000;
    let active = 0;
    let errors = 0;
    let hosts = new Set<string>();
    for (;;) {
      const all: { status: string; 'OS-EXT-SRV-ATTR:hypervisor_hostname': string | null; id: string }[] = [];
      let marker: string | undefined;
      do {
        const page = await call('GET', `/compute/v2.1/servers/detail?limit=1000${marker ? `&marker=${marker}` : ''}`, undefined, nova);
        all.push(...page.body.servers);
        marker = page.body.servers_links ? page.body.servers[page.body.servers.length - 1].id : undefined;
      } while (marker);
      active = all.filter((s) => s.status === 'ACTIVE').length;
      errors = all.filter((s) => s.status === 'ERROR').length;
      hosts = new Set(all.filter((s) => s.status === 'ACTIVE').map((s) => s['OS-EXT-SRV-ATTR:hypervisor_hostname']!));
      if (active + errors >= n) break;
      if ((performance.now() - t1) / 1000 > 600) throw new Error(`only ${active} active after 600 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const activeSeconds = (performance.now() - t1) / 1000;
    const rssActive = seed.rssMiB();

    const lat: number[] = [];
    for (let i = 0; i < lists; i++) {
      const s = performance.now();
      const r = await call('GET', '/compute/v2.1/servers/detail', undefined, nova);
      if (r.status !== 200 || r.body.servers.length !== Math.min(1000, n)) throw new Error(`list: ${r.status} ${r.body.servers?.length}`);
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    postLat.sort((a, b) => a - b);
    return {
      servers: n,
      enrol_seconds: +enrolSeconds.toFixed(2),
      create_posts_seconds: +postsSeconds.toFixed(2),
      create_post_p50_ms: +percentile(postLat, 50).toFixed(1),
      create_post_p99_ms: +percentile(postLat, 99).toFixed(1),
      create_to_all_active_seconds: +activeSeconds.toFixed(2),
      active,
      errors,
      distinct_nodes: hosts.size,
      list_detail_p50_ms: +percentile(lat, 50).toFixed(1),
      list_detail_p99_ms: +percentile(lat, 99).toFixed(1),
      rss_idle_mib: idleRss,
      rss_with_servers_mib: rssActive,
      rss_after_lists_mib: seed.rssMiB(),
    };
  } finally {
    await seed.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
