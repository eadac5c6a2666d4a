// Shared by the compute tests (test/compute-*.test.ts): a seed with quick loops, fake-hardware
// nodes made available through the Ironic API, an image, and waits on servers.
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from './support/seed.js';

export const IRONIC = { 'x-openstack-ironic-api-version': '1.78' };
export const NOVA = (v = '2.73') => ({ 'openstack-api-version': `compute ${v}` });

/** A seed whose conductor and compute loops run fast (fake deploys finish at once). */
export function computeSeed(extra: Record<string, unknown> = {}): Promise<TestSeed> {
  return startSeed({
    log: { level: 'warn' },
    baremetal: { conductor: { sync_power_state_interval: 0, check_interval: 0.2, deploy_callback_timeout: 1 } },
    compute: { sync_interval_ms: 50 },
    ...extra,
  });
}

export async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!done(v)) {
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(v)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}

/**
 * Fake-hardware nodes of `resourceClass`, taken through manage and provide to "available".
 * `deploy: 'direct'` makes a node whose deploy waits for an agent that never comes, so it fails
 * when the (1 s) call-back timeout passes: a real failed deploy for the reschedule tests.
 */
export async function makeNodes(seed: TestSeed, admin: string, names: string[], opts: { resourceClass?: string; traits?: string[]; deploy?: 'fake' | 'direct'; owner?: string; properties?: Record<string, unknown> } = {}): Promise<string[]> {
  const uuids = await Promise.all(
    names.map(async (name) => {
      const made = await seed.call('POST', '/baremetal/v1/nodes', {
        token: admin,
        headers: IRONIC,
        body: {
          name,
          driver: 'fake-hardware',
          resource_class: opts.resourceClass ?? 'baremetal',
          properties: opts.properties ?? { cpus: 8, memory_mb: 16384, local_gb: 100 },
          ...(opts.deploy === 'direct' ? { deploy_interface: 'direct', automated_clean: false } : {}),
          ...(opts.owner ? { owner: opts.owner } : {}),
        },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      for (const t of opts.traits ?? []) {
        const r = await seed.call('PUT', `/baremetal/v1/nodes/${name}/traits/${t}`, { token: admin, headers: IRONIC });
        assert.equal(r.status, 204, JSON.stringify(r.body));
      }
      for (const [target, state] of [['manage', 'manageable'], ['provide', 'available']] as const) {
        const r = await seed.call('PUT', `/baremetal/v1/nodes/${name}/states/provision`, { token: admin, headers: IRONIC, body: { target } });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        await nodeIn(seed, admin, name, state);
      }
      return made.body.uuid as string;
    }),
  );
  return uuids;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function nodeIn(seed: TestSeed, admin: string, name: string, state: string): Promise<any> {
  return waitFor(`node ${name} in ${state}`, async () => (await seed.call('GET', `/baremetal/v1/nodes/${name}`, { token: admin, headers: IRONIC })).body, (n) => n.provision_state === state && !n.reservation);
}

/** An active image with a few bytes (public unless said otherwise). */
export async function makeImage(seed: TestSeed, token: string, name: string, visibility = 'public'): Promise<string> {
  const img = await seed.call('POST', '/image/v2/images', { token, body: { name, disk_format: 'raw', container_format: 'bare', visibility } });
  assert.equal(img.status, 201, JSON.stringify(img.body));
  const put = await fetch(`${seed.url}/image/v2/images/${img.body.id}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(4096, 7) });
  assert.equal(put.status, 204);
  return img.body.id as string;
}

/** The bare-metal flavor as an operator makes it for Nova on Ironic. */
export async function makeFlavor(seed: TestSeed, admin: string, name = 'baremetal', rc = 'CUSTOM_BAREMETAL', extra: Record<string, string> = {}): Promise<string> {
  const f = await seed.call('POST', '/compute/v2.1/flavors', { token: admin, headers: NOVA(), body: { flavor: { name, ram: 16384, vcpus: 8, disk: 100 } } });
  assert.equal(f.status, 200, JSON.stringify(f.body));
  const s = await seed.call('POST', `/compute/v2.1/flavors/${f.body.flavor.id}/os-extra_specs`, {
    token: admin,
    headers: NOVA(),
    body: { extra_specs: { [`resources:${rc}`]: '1', 'resources:VCPU': '0', 'resources:MEMORY_MB': '0', 'resources:DISK_GB': '0', ...extra } },
  });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  return f.body.flavor.id as string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function server(seed: TestSeed, token: string, id: string): Promise<any> {
  const r = await seed.call('GET', `/compute/v2.1/servers/${id}`, { token, headers: NOVA() });
  return r.status === 404 ? null : r.body.server;
}

export async function waitServer(seed: TestSeed, token: string, id: string, statuses: string[], ms = 20_000) {
  return waitFor(`server ${id} in ${statuses.join('|')}`, () => server(seed, token, id), (s) => s !== null && statuses.includes(s.status), ms);
}

export async function waitGone(seed: TestSeed, token: string, id: string, ms = 20_000) {
  await waitFor(`server ${id} deleted`, () => server(seed, token, id), (s) => s === null, ms);
}

/** Nodes holding an instance or an allocation, and allocations left. */
export async function claimed(seed: TestSeed, admin: string): Promise<{ nodes: string[]; allocations: number }> {
  const nodes = (await seed.call('GET', '/baremetal/v1/nodes?fields=uuid,instance_uuid,allocation_uuid', { token: admin, headers: IRONIC })).body.nodes as { uuid: string; instance_uuid: string | null; allocation_uuid: string | null }[];
  const allocs = (await seed.call('GET', '/baremetal/v1/allocations', { token: admin, headers: IRONIC })).body.allocations as unknown[];
  return { nodes: nodes.filter((n) => n.instance_uuid || n.allocation_uuid).map((n) => n.uuid), allocations: allocs.length };
}
