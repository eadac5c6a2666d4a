// Pieces for deploy tests on loopback (as in test/boot-deploy-e2e.test.ts): a fake machine
// (/proc, /sys/block/vda and the disk FILE the real agent writes), a node with ipxe boot + direct
// deploy, the boot secret read from the iPXE script the seed serves, and the agent run in-process.
import assert from 'node:assert/strict';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestSeed } from './seed.js';
import { runAgent, AgentApiError } from '../../src/agents/deploy-agent/agent.js';
import { parseCmdline } from '../../src/agents/deploy-agent/cli.js';

const MiB = 1024 * 1024;
type Node = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class LoopbackDeploy {
  constructor(
    readonly seed: TestSeed,
    readonly token: string,
    readonly dir: string,
    /** How long waitNode waits by default. */
    readonly waitMs = 60_000,
  ) {}

  api(method: string, path: string, body?: unknown) {
    return this.seed.call(method, `/baremetal/v1${path}`, { token: this.token, body, headers: { 'x-openstack-ironic-api-version': '1.78' } });
  }

  async waitNode(id: string, until: (n: Node) => boolean, ms = this.waitMs): Promise<Node> {
    const end = Date.now() + ms;
    for (;;) {
      const n = (await this.api('GET', `/nodes/${id}`)).body;
      if (until(n)) return n;
      if (Date.now() > end) throw new Error(`node ${id} stuck in ${n.provision_state}: ${n.last_error}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** What the machine's firmware and kernel would do: fetch the iPXE script and read the kernel line. */
  async bootScript(mac: string): Promise<{ apiUrl: string; bootSecret: string }> {
    const script = await (await fetch(`${this.seed.url}/boot/${mac.replaceAll(':', '-')}.ipxe`)).text();
    const line = script.split('\n').find((l) => l.startsWith('kernel '));
    assert.ok(line, `no kernel line in the iPXE script:\n${script}`);
    const { apiUrl, bootSecret } = parseCmdline(line);
    assert.ok(apiUrl && bootSecret);
    return { apiUrl, bootSecret };
  }

  async history(id: string): Promise<string[]> {
    return (await this.api('GET', `/nodes/${id}/history?detail=true`)).body.history.map((h: { event: string }) => h.event);
  }

  /** A fake machine with a `diskMiB` disk FILE at <root>/dev/vda. */
  machine(name: string, diskMiB = 96): Promise<{ root: string; disk: string }> {
    return fakeMachine(join(this.dir, name), diskMiB);
  }

  /** An available node: fake power/management, ipxe boot, direct deploy, one port. */
  async availableNode(name: string, mac: string, instanceInfo: Record<string, unknown>): Promise<string> {
    const c = await this.api('POST', '/nodes', directNode(name, instanceInfo));
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const id = c.body.uuid as string;
    assert.equal((await this.api('POST', '/ports', { node_uuid: id, address: mac })).status, 201);
    await this.api('PUT', `/nodes/${id}/states/provision`, { target: 'manage' });
    await this.waitNode(id, (n) => n.provision_state === 'manageable');
    await this.api('PUT', `/nodes/${id}/states/provision`, { target: 'provide' });
    await this.waitNode(id, (n) => n.provision_state === 'available');
    return id;
  }

  /**
   * provision active, then play the machine: read the boot secret from the iPXE script and run
   * the real agent against `apiUrl` until its token is revoked. Resolves with the final node.
   */
  async deploy(id: string, mac: string, m: { root: string }, apiUrl = `${this.seed.url}/boot`): Promise<{ node: Node; agent: string }> {
    assert.equal((await this.api('PUT', `/nodes/${id}/states/provision`, { target: 'active' })).status, 202);
    await this.waitNode(id, (n) => n.provision_state === 'wait call-back');
    const { bootSecret } = await this.bootScript(mac);
    const logs: string[] = [];
    const agent = agentOutcome(runAgent({ apiUrl, bootSecret, root: m.root, macs: [mac], pollMs: 50, log: (l) => logs.push(l) }), logs);
    const node = await this.waitNode(id, (n) => n.provision_state === 'active' || n.provision_state === 'deploy failed');
    return { node, agent: await agent };
  }
}

/** A fake machine under `root`: /proc, /sys/block/vda and a `diskMiB` disk FILE at <root>/dev/vda. */
export async function fakeMachine(root: string, diskMiB = 96): Promise<{ root: string; disk: string }> {
  await mkdir(join(root, 'proc'), { recursive: true });
  await mkdir(join(root, 'sys/block/vda'), { recursive: true });
  await mkdir(join(root, 'dev'), { recursive: true });
  await writeFile(join(root, 'proc/cpuinfo'), 'processor\t: 0\nmodel name\t: Test CPU\n');
  await writeFile(join(root, 'proc/meminfo'), 'MemTotal: 786432 kB\n');
  await writeFile(join(root, 'sys/block/vda/size'), String((diskMiB * MiB) / 512));
  const disk = join(root, 'dev/vda');
  await writeFile(disk, '');
  await truncate(disk, diskMiB * MiB);
  return { root, disk };
}

/** The POST /nodes body of a node with fake power/management, ipxe boot, direct deploy and root device vda. */
export function directNode(name: string, instanceInfo: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    driver: 'fake-hardware',
    boot_interface: 'ipxe',
    deploy_interface: 'direct',
    automated_clean: false,
    properties: { root_device: { name: 'vda' } },
    instance_info: instanceInfo,
  };
}

/**
 * How an agent run ended: 'revoked' (its token revoked at the deploy's end, the normal way),
 * 'stopped', or "error: …" (followed by `logs` when given).
 */
export function agentOutcome(run: Promise<unknown>, logs?: string[]): Promise<string> {
  return run.then(
    () => 'stopped',
    (e: unknown) => (e instanceof AgentApiError && e.status === 401 ? 'revoked' : `error: ${(e as Error).message}${logs ? `\n${logs.join('\n')}` : ''}`),
  );
}
