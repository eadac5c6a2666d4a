// os-net-config: reads the network_config (YAML or JSON), maps nic1/nic2... to the machine's NICs,
// and writes Debian ifupdown or systemd-networkd files (only those whose content changes), then
// brings the changed interfaces up again. --noop prints what it would write.
//   exit 0 ok (with --detailed-exit-codes: 0 nothing changed, 2 files changed), 1 error.
import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { run, commandExists } from '../../common/child-process.js';
import { type AgentIo, logLine } from '../common/io.js';
import { parseCommandLine, type OptionSpec } from '../common/argv.js';
import { parseNetworkConfig, type NetObject } from './schema.js';
import { listNics, nicMapping } from './nic-mapping.js';
import { renderIfupdown, renderNetworkd, type Provider } from './render.js';

const SPECS: OptionSpec[] = [
  { names: ['-c', '--config-file'], dest: 'config', kind: 'one', help: 'network config (default /etc/os-net-config/config.yaml, then config.json)' },
  { names: ['-m', '--mapping-file'], dest: 'mapping', kind: 'one', help: 'interface_mapping of nicN to names or MACs' },
  { names: ['-p', '--provider'], dest: 'provider', kind: 'one', help: 'ifupdown (alias eni) or systemd-networkd' },
  { names: ['-r', '--root-dir'], dest: 'root', kind: 'one', help: 'write under this directory (no activation)' },
  { names: ['-n', '--noop'], dest: 'noop', kind: 'flag', help: 'print the files instead of writing them' },
  { names: ['--detailed-exit-codes'], dest: 'detailed', kind: 'flag', help: 'exit 2 when files were modified' },
  { names: ['-i', '--interfaces'], dest: 'interfaces', kind: 'flag', help: 'print the nicN mapping as JSON and exit' },
  { names: ['--sys-class-net'], dest: 'sysfs', kind: 'one', help: 'where to list NICs (default /sys/class/net)' },
  { names: ['--no-activate'], dest: 'noActivate', kind: 'flag', help: 'write files only, do not restart interfaces' },
  { names: ['-d', '--debug'], dest: 'debug', kind: 'flag' },
  { names: ['-v', '--verbose'], dest: 'verbose', kind: 'flag' },
];

function loadDoc(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  // YAML is a superset of JSON; parse errors carry line and column.
  return parseYaml(text, { prettyErrors: true });
}

function mapNames(objects: NetObject[], map: Map<string, string>): NetObject[] {
  const name = (n: string) => {
    if (/^nic\d+$/.test(n)) {
      const real = map.get(n);
      if (!real) throw new Error(`${n} does not match an active NIC (have: ${[...map].map(([k, v]) => `${k}=${v}`).join(', ') || 'none'})`);
      return real;
    }
    return n;
  };
  return objects.map((o) => ({
    ...o,
    name: name(o.name),
    device: o.device === undefined ? undefined : name(o.device),
    members: mapNames(o.members, map),
  }));
}

function detectProvider(root: string): Provider {
  if (existsSync(join(root || '/', 'etc/network/interfaces')) || existsSync(join(root || '/', 'sbin/ifup'))) return 'ifupdown';
  return 'systemd-networkd';
}

export async function main(argv: string[], io: AgentIo): Promise<number> {
  const a = parseCommandLine(argv, SPECS, io, 'os-net-config', 'Configures host networking from a YAML/JSON network_config.');
  if (typeof a === 'number') return a;
  const log = (l: string, m: string) => io.stderr(logLine(l, m));
  try {
    const root = (a.root as string | undefined) ?? '';
    const sysfs = (a.sysfs as string | undefined) ?? io.env.OS_NET_CONFIG_SYS_CLASS_NET ?? '/sys/class/net';
    let overrides: Record<string, string> = {};
    const mappingFile = (a.mapping as string | undefined) ?? '/etc/os-net-config/mapping.yaml';
    if (existsSync(mappingFile)) {
      const m = loadDoc(mappingFile) as { interface_mapping?: Record<string, string> } | null;
      overrides = m?.interface_mapping ?? {};
    }
    const map = nicMapping(listNics(sysfs), overrides);
    if (a.interfaces) {
      io.stdout(`${JSON.stringify(Object.fromEntries(map))}\n`);
      return 0;
    }
    let config = a.config as string | undefined;
    if (!config) config = existsSync('/etc/os-net-config/config.yaml') ? '/etc/os-net-config/config.yaml' : '/etc/os-net-config/config.json';
    if (!existsSync(config)) throw new Error(`${config} does not exist`);
    const objects = mapNames(parseNetworkConfig(loadDoc(config), config), map);
    let provider = (a.provider as string | undefined) ?? detectProvider(root);
    if (provider === 'eni') provider = 'ifupdown';
    if (provider !== 'ifupdown' && provider !== 'systemd-networkd') throw new Error(`unknown provider ${provider} (ifupdown, systemd-networkd)`);
    const files = provider === 'ifupdown' ? renderIfupdown(objects) : renderNetworkd(objects);
    if (a.noop) {
      for (const [path, content] of files) io.stdout(`File: ${join(root || '/', path)}\n\n${content}\n----\n`);
      return 0;
    }
    const changed: string[] = [];
    for (const [path, content] of files) {
      const full = join(root || '/', path);
      let old: string | undefined;
      try {
        old = readFileSync(full, 'utf8');
      } catch {
        old = undefined;
      }
      if (old === content) continue;
      await writeFileAtomic(full, content, { mode: 0o644 });
      log('INFO', `writing ${full}`);
      changed.push(full);
    }
    if (provider === 'systemd-networkd') {
      // Units we generated earlier for interfaces no longer in the config.
      const dir = join(root || '/', 'etc/systemd/network');
      for (const f of existsSync(dir) ? readdirSync(dir) : []) {
        const full = join(dir, f);
        if (files.has(`/etc/systemd/network/${f}`)) continue;
        if (readFileSync(full, 'utf8').startsWith('# This file is autogenerated by os-net-config')) {
          unlinkSync(full);
          log('INFO', `removing ${full}`);
          changed.push(full);
        }
      }
    }
    if (changed.length && !root && !a.noActivate) await activate(provider, objects, log);
    return a.detailed && changed.length ? 2 : 0;
  } catch (err) {
    log('ERROR', (err as Error).message);
    return 1;
  }
}

async function activate(provider: Provider, objects: NetObject[], log: (l: string, m: string) => void): Promise<void> {
  if (provider === 'systemd-networkd') {
    if (!(await commandExists('networkctl'))) return log('WARNING', 'networkctl not found: the new units apply at the next start of systemd-networkd');
    await run('networkctl', ['reload'], { timeoutMs: 60_000 });
    return;
  }
  if (!(await commandExists('ifup'))) return log('WARNING', 'ifup not found (Debian package ifupdown): files written, interfaces not restarted');
  for (const o of objects) {
    await run('ifdown', ['--force', o.name], { allowFailure: true, timeoutMs: 60_000 });
    const r = await run('ifup', [o.name], { allowFailure: true, timeoutMs: 120_000 });
    if (r.code !== 0) log('ERROR', `ifup ${o.name} failed: ${r.stderr.trim()}`);
  }
}
