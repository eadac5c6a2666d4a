// The deploy agent brings up its own network in the ramdisk: inside a client namespace it finds
// the interface named by BOOTIF and gets a lease from our supervised dnsmasq with busybox udhcpc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { run } from '../src/common/child-process.js';
import { startDhcpNetns, type DhcpNetns } from './support/dhcp-netns.js';

const MAC = '52:54:00:b1:00:01';
let net: DhcpNetns;

before(async () => {
  net = await startDhcpNetns('agentnet');
  await net.hosts.add({ mac: MAC });
  await net.ip('-n', net.cliNs, 'link', 'set', net.cliIf, 'address', MAC);
});

after(async () => {
  await net?.stop();
});

/** Runs bringUpNetwork inside the client namespace (ip netns exec also gives it that namespace's /sys). */
async function bringUp(bootMac: string, timeoutS: number) {
  const mod = pathToFileURL(join(process.cwd(), 'src/agents/deploy-agent/network.ts')).href;
  const code = `const { bringUpNetwork } = await import(${JSON.stringify(mod)});
    try { process.stdout.write(JSON.stringify(await bringUpNetwork({ bootMac: ${JSON.stringify(bootMac)}, timeoutS: ${timeoutS} }))); }
    catch (e) { process.stdout.write(JSON.stringify({ error: e.message })); }`;
  const r = await run('ip', ['netns', 'exec', net.cliNs, process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], { timeoutMs: 60_000 });
  return JSON.parse(r.stdout) as { interface?: string; address?: string; configured?: boolean; error?: string };
}

test('DHCP on the BOOTIF interface (Ironic-style 01-… form accepted), then left alone once configured', async () => {
  const first = await bringUp(`01-${MAC.replace(/:/g, '-')}`, 10);
  assert.equal(first.error, undefined);
  assert.equal(first.interface, net.cliIf);
  assert.equal(first.configured, true);
  assert.match(first.address!, new RegExp(`^${net.subnet.replace(/\./g, '\\.')}\\.\\d+$`));
  const shown = await run('ip', ['-n', net.cliNs, '-4', '-o', 'addr', 'show', 'dev', net.cliIf]);
  assert.ok(shown.stdout.includes(`inet ${first.address}/24`), shown.stdout);
  assert.ok(net.events.some((e) => e.kind === 'dhcp' && e.message === 'DHCPACK' && e.mac === MAC));
  const again = await bringUp(MAC, 10);
  assert.deepEqual(again, { interface: net.cliIf, address: first.address, configured: false });
});

test('a BOOTIF no interface has, or no answer from the server, is a clear error', async () => {
  assert.match((await bringUp('52:54:00:ff:ff:ff', 2)).error!, /no interface has the boot MAC 52:54:00:ff:ff:ff/);
  await net.ip('-n', net.cliNs, 'addr', 'flush', 'dev', net.cliIf);
  await net.hosts.remove(MAC);
  await new Promise((r) => setTimeout(r, 200));
  assert.match((await bringUp(MAC, 2)).error!, new RegExp(`no DHCP lease on ${net.cliIf} \\(${MAC}\\)`));
});
