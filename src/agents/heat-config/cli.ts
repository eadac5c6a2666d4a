// heat-config: runs the software deployments found in the collected metadata, each by its group's
// hook, and signals the results. A deployment runs again only when its config, inputs, options or
// group changed: what ran is recorded in <deployed-dir>/<id>.json with a fingerprint. Usually an
// os-refresh-config configure.d script calls it; OS_CONFIG_FILES (set by os-collect-config) says
// where the metadata is, as for os-apply-config.
//   exit 0: every deployment ran (or was unchanged) and was signalled; 1 otherwise.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { type AgentIo, logLine } from '../common/io.js';
import { parseCommandLine, type OptionSpec } from '../common/argv.js';
import { type PyValue, dumps, parse } from '../common/py-json.js';
import { collectMetadata } from '../os-apply-config/metadata.js';
import { toDeployments, fingerprint } from './deployment.js';
import { findHook } from './hooks.js';
import { notify } from './notify.js';

const SPECS: OptionSpec[] = [
  { names: ['-m', '--metadata'], dest: 'metadata', kind: 'many', help: 'metadata files (default: $OS_CONFIG_FILES, then os_config_files.json)' },
  { names: ['--deployments-file'], dest: 'deploymentsFile', kind: 'one', help: 'a JSON list of deployments instead (heat-config format)' },
  { names: ['--deployed-dir'], dest: 'deployedDir', kind: 'one', help: 'records of what ran (default /var/lib/heat-config/deployed)' },
  { names: ['--work-dir'], dest: 'workDir', kind: 'one', help: 'scripts and outputs (default /var/lib/heat-config)' },
  { names: ['--hooks-dir'], dest: 'hooksDir', kind: 'one', help: 'external hooks by group (default /var/lib/heat-config/hooks)' },
  { names: ['--signal-attempts'], dest: 'attempts', kind: 'one', help: 'tries per signal (default 5)' },
  { names: ['--signal-backoff'], dest: 'backoff', kind: 'one', help: 'seconds before the first retry, doubling (default 1)' },
];

export async function main(argv: string[], io: AgentIo): Promise<number> {
  const a = parseCommandLine(argv, SPECS, io, 'heat-config', 'Runs software deployments from the metadata and signals their results.');
  if (typeof a === 'number') return a;
  const log = (level: string, m: string) => io.stderr(logLine(level, m));
  const workDir = (a.workDir as string | undefined) ?? '/var/lib/heat-config';
  const deployedDir = (a.deployedDir as string | undefined) ?? join(workDir, 'deployed');
  const hooksDir = (a.hooksDir as string | undefined) ?? join(workDir, 'hooks');
  let list: PyValue | undefined;
  try {
    if (a.deploymentsFile) {
      list = parse(readFileSync(a.deploymentsFile as string, 'utf8'), a.deploymentsFile as string);
    } else {
      let files = (a.metadata as string[] | undefined) ?? [];
      if (files.length === 0 && io.env.OS_CONFIG_FILES) files = io.env.OS_CONFIG_FILES.split(':');
      if (files.length === 0) {
        const ocf = io.env.OS_CONFIG_FILES_PATH ?? '/var/lib/os-collect-config/os_config_files.json';
        if (existsSync(ocf)) files = (parse(readFileSync(ocf, 'utf8'), ocf) as string[]).map(String);
      }
      list = collectMetadata(files).deployments;
    }
  } catch (err) {
    log('ERROR', (err as Error).message);
    return 1;
  }
  const deployments = toDeployments(list);
  mkdirSync(deployedDir, { recursive: true, mode: 0o700 });
  let failed = 0;
  for (const d of deployments) {
    const record = join(deployedDir, `${d.id}.json`);
    const print = fingerprint(d);
    if (existsSync(record)) {
      try {
        if ((JSON.parse(readFileSync(record, 'utf8')) as { fingerprint?: string }).fingerprint === print) {
          log('INFO', `Skipping ${d.group} deployment ${d.name} (${d.id}): unchanged since it ran`);
          continue;
        }
      } catch {
        // An unreadable record: run again.
      }
    }
    const ctx = { workDir, hooksDir, env: io.env };
    const hook = findHook(d.group, ctx);
    if (!hook) {
      log('WARNING', `Skipping group ${d.group} of deployment ${d.name}: no hook (${join(hooksDir, d.group)})`);
      continue;
    }
    log('INFO', `Running ${d.group} deployment ${d.name} (${d.id})`);
    const response = await hook(d, ctx);
    log('INFO', `Deployment ${d.name} finished with status ${String(response.deploy_status_code)}`);
    try {
      const transport = await notify(d, response, {
        attempts: Number(a.attempts ?? 5),
        backoffMs: Number(a.backoff ?? 1) * 1000,
        timeoutMs: 30_000,
      });
      log('INFO', `Signalled ${d.name} (${transport})`);
    } catch (err) {
      log('ERROR', `Could not signal ${d.name}: ${(err as Error).message}; it will run again next time`);
      failed++;
      continue;
    }
    await writeFileAtomic(record, `${JSON.stringify({ id: d.id, name: d.name, group: d.group, fingerprint: print, response: JSON.parse(dumps(response)) as unknown })}\n`, {
      mode: 0o600,
    });
  }
  return failed > 0 ? 1 : 0;
}
