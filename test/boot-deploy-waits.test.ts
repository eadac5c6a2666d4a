// The wait in "wait call-back", against the real seed in this process with a short
// deploy_callback_timeout (2 s) and an agent played over HTTP step by step:
//  - before the lookup the limit counts from entering the wait state; once the agent works, from
//    its last activity: a write_image that heartbeats for twice the limit is not failed, and when
//    the heartbeats stop the timeout names the last step reached and the agent's silence;
//  - the agent finishes while another request holds the node's lock: the conductor retries the
//    reservation and the deploy completes once the lock is free (it used to wait until timeout).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSeed, type TestSeed } from './support/seed.js';
import { findNode, reserve } from '../src/baremetal/node-store.js';
import { typed } from '../src/baremetal/db.js';
import { parseCmdline } from '../src/agents/deploy-agent/cli.js';

let seed: TestSeed;
let token = '';
let imageId = '';
const LIMIT_S = 2;

async function api(method: string, path: string, body?: unknown) {
  return seed.call(method, `/baremetal/v1${path}`, { token, body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
}

async function waitNode(id: string, until: (n: Record<string, any>) => boolean, ms = 30_000): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const end = Date.now() + ms;
  for (;;) {
    const n = (await api('GET', `/nodes/${id}`)).body;
    if (until(n)) return n;
    if (Date.now() > end) throw new Error(`node ${id} stuck in ${n.provision_state}: ${n.last_error}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitingNode(name: string, mac: string): Promise<string> {
  const c = await api('POST', '/nodes', { name, driver: 'fake-hardware', boot_interface: 'ipxe', deploy_interface: 'direct', automated_clean: false, instance_info: { image_source: imageId } });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const id = c.body.uuid as string;
  assert.equal((await api('POST', '/ports', { node_uuid: id, address: mac })).status, 201);
  for (const [verb, state] of [['manage', 'manageable'], ['provide', 'available'], ['active', 'wait call-back']] as const) {
    await api('PUT', `/nodes/${id}/states/provision`, { target: verb });
    await waitNode(id, (n) => n.provision_state === state && !n.reservation);
  }
  return id;
}

/** The agent's HTTP calls, made by hand so the test decides when each happens. */
async function lookedUpAgent(mac: string) {
  const script = await (await fetch(`${seed.url}/boot/${mac.replaceAll(':', '-')}.ipxe`)).text();
  const { apiUrl, bootSecret } = parseCmdline(script.split('\n').find((l) => l.startsWith('kernel '))!);
  const res = await fetch(`${apiUrl}/agent/lookup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ macs: [mac], boot_secret: bootSecret }) });
  assert.equal(res.status, 200);
  const { node_id, agent_token } = (await res.json()) as { node_id: string; agent_token: string };
  const headers = { 'x-agent-token': agent_token, 'content-type': 'application/json' };
  const base = `${apiUrl}/agent/nodes/${node_id}`;
  return {
    async next(): Promise<{ id: string; name: string }> {
      for (;;) {
        const r = (await (await fetch(`${base}/commands/next`, { headers })).json()) as { command: { id: string; name: string } | null };
        if (r.command) return r.command;
        await new Promise((s) => setTimeout(s, 50));
      }
    },
    heartbeat: (status: Record<string, unknown>) => fetch(`${base}/heartbeat`, { method: 'POST', headers, body: JSON.stringify({ status }) }).then((r) => r.status),
    report: (id: string, result: unknown) => fetch(`${base}/commands/${id}/result`, { method: 'POST', headers, body: JSON.stringify({ status: 'succeeded', result }) }).then((r) => r.status),
  };
}

before(async () => {
  seed = await startSeed({ baremetal: { conductor: { host: 'waits', check_interval: 0.1, sync_power_state_interval: 0, deploy_callback_timeout: LIMIT_S } } });
  token = await seed.token();
  const created = await seed.call('POST', '/image/v2/images', { token, body: { name: 'waits', disk_format: 'raw', container_format: 'bare' } });
  imageId = created.body.id;
  await seed.call('PUT', `/image/v2/images/${imageId}/file`, { token, raw: Buffer.alloc(4096, 7), headers: { 'content-type': 'application/octet-stream' } });
});

after(async () => {
  await seed?.stop();
});

test('a write_image that heartbeats past the limit is not failed; when the agent goes quiet the timeout names the last step', async () => {
  const mac = '52:54:00:3a:00:01';
  const id = await waitingNode('long-write', mac);
  const agent = await lookedUpAgent(mac);
  const cmd = await agent.next();
  assert.equal(cmd.name, 'write_image');
  // Twice the limit of a busy agent: heartbeats every 300 ms naming the running command.
  const end = Date.now() + 2 * LIMIT_S * 1000;
  while (Date.now() < end) {
    assert.equal(await agent.heartbeat({ command: 'write_image', progress: { bytes: 1 } }), 200);
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal((await api('GET', `/nodes/${id}`)).body.provision_state, 'wait call-back', 'a busy agent is not timed out');
  const quietSince = Date.now();
  const failed = await waitNode(id, (n) => n.provision_state === 'deploy failed');
  const waited = (Date.now() - quietSince) / 1000;
  assert.ok(waited >= LIMIT_S - 0.5 && waited < LIMIT_S + 3, `timed out ${waited} s after the last heartbeat`);
  assert.match(failed.last_error, /^Timeout reached while waiting in "wait call-back" for node .* \(limit 2 s, no agent activity since \S+, waiting since \S+\)\. last step reached: agent command write_image started at \S+ — the deploy agent stopped reporting/);
});

test('before the lookup the limit counts from entering the wait state, whatever happens on the network', async () => {
  const mac = '52:54:00:3a:00:02';
  const id = await waitingNode('no-lookup', mac);
  const entered = Date.parse((await api('GET', `/nodes/${id}`)).body.provision_updated_at);
  await fetch(`${seed.url}/boot/${mac.replaceAll(':', '-')}.ipxe`); // the script, then nothing
  const failed = await waitNode(id, (n) => n.provision_state === 'deploy failed');
  const after = (Date.parse(failed.provision_updated_at) - entered) / 1000;
  assert.ok(after >= LIMIT_S && after < LIMIT_S + 2, `failed ${after} s after entering the wait`);
  assert.match(failed.last_error, /\(limit 2 s, waiting since \S+\)\. last step reached: iPXE script fetched .* the deploy kernel and ramdisk were not fetched/);
});

test('the agent finishes while another request holds the lock: the conductor retries and the node becomes active', async () => {
  const mac = '52:54:00:3a:00:03';
  const id = await waitingNode('locked-at-end', mac);
  const agent = await lookedUpAgent(mac);
  const write = await agent.next();
  assert.equal(write.name, 'write_image');
  assert.equal(await agent.report(write.id, { bytes: 4096 }), 200);
  const sync = await agent.next();
  assert.equal(sync.name, 'sync');
  // Someone else takes the node's lock (as a PATCH or a boot device change would) just before the end.
  const db = typed(seed.server.database.db);
  await reserve(db, await findNode(db, id), 'someone-else', {});
  assert.equal(await agent.report(sync.id, {}), 200);
  await new Promise((r) => setTimeout(r, 1500));
  const held = (await api('GET', `/nodes/${id}`)).body;
  assert.equal(held.provision_state, 'wait call-back', 'nothing moves while the lock is held');
  assert.equal(held.reservation, 'someone-else');
  await db.updateTable('baremetal_nodes').set({ reservation: null }).where('uuid', '=', id).execute();
  const done = await waitNode(id, (n) => n.provision_state === 'active' || n.provision_state === 'deploy failed');
  assert.equal(done.provision_state, 'active', done.last_error);
  const history = (await api('GET', `/nodes/${id}/history`)).body.history.map((h: { event: string }) => h.event) as string[];
  assert.ok(history.some((e) => /^wait call-back -> deploying \(resume: the agent finished; the node was locked, took \d+ attempts\)$/.test(e)), history.join('\n'));
  // The boot was cleaned: no pending network boot for the MAC any more.
  assert.match(await (await fetch(`${seed.url}/boot/${mac.replaceAll(':', '-')}.ipxe`)).text(), /no network boot is pending/);
});
