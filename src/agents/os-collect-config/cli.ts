// os-collect-config: the original's command line and config file; collectors local, heat_local,
// request (with long-poll), heat, ec2 (with the config drive). Without --command it prints what it
// collected as JSON and exits; with one it keeps running (unless --one-time or --force).
import { spawn } from 'node:child_process';
import { type AgentIo, logLine } from '../common/io.js';
import { UsageError, HelpRequested, usage } from '../common/argv.js';
import { loadConfig, SPECS, DEFAULT_COLLECTORS } from './config.js';
import { Cache } from './cache.js';
import { CollectRunner, runLoop } from './collect.js';
import type { Collector, CollectorLog } from './collectors/types.js';
import { LocalCollector, HeatLocalCollector } from './collectors/local.js';
import { RequestCollector } from './collectors/request.js';
import { HeatCollector } from './collectors/heat.js';
import { Ec2Collector } from './collectors/ec2.js';
import { SourceNotConfigured } from './errors.js';
import { sleep } from '../../common/sleep.js';

export interface CollectMainOptions {
  signal?: AbortSignal;
  onApplied?: (code: number) => void;
}

export async function main(argv: string[], io: AgentIo, extra: CollectMainOptions = {}): Promise<number> {
  let cfg;
  try {
    cfg = loadConfig(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(usage('os-collect-config [collectors...]', SPECS, 'Collects metadata and runs a command when it changes.'));
      return 0;
    }
    io.stderr(`usage: os-collect-config [options] [collectors...]\nos-collect-config: error: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  if (cfg.version) {
    io.stdout('bootstack-os-collect-config 12.0.0\n');
    return 0;
  }
  if (cfg.printCachedir) {
    io.stdout(`${cfg.cachedir}\n`);
    return 0;
  }
  const unknown = cfg.collectors.filter((c) => !DEFAULT_COLLECTORS.includes(c));
  if (unknown.length) {
    io.stderr(logLine('ERROR', `Unknown collectors ${JSON.stringify(unknown)}. Valid collectors are: ${JSON.stringify(DEFAULT_COLLECTORS)}`));
    return 1;
  }
  const log: CollectorLog = {
    debug: (m) => cfg.debug && io.stderr(logLine('DEBUG', m)),
    info: (m) => io.stderr(logLine('INFO', m)),
    warn: (m) => io.stderr(logLine('WARNING', m)),
    error: (m) => io.stderr(logLine('ERROR', m)),
  };
  for (const u of cfg.unsupported) log.warn(`The ${u} collector is not supported by this implementation; it is skipped.`);
  const cache = new Cache(cfg.cachedir);
  let request: RequestCollector | undefined;
  let heat: HeatCollector | undefined;
  const collectors: Collector[] = cfg.collectors.map((name): Collector => {
    switch (name) {
      case 'local':
        return new LocalCollector(cfg.localPaths, log);
      case 'heat_local':
        return new HeatLocalCollector(cfg.heatLocalPaths, log);
      case 'request':
        return (request = new RequestCollector({ ...cfg.request, deploymentKeys: cfg.deploymentKeys }, log));
      case 'heat':
        // Long-polls with the request collector's wait (--request-long-poll-wait).
        return (heat = new HeatCollector({ ...cfg.heat, timeout: cfg.request.timeout, longPollWait: cfg.request.longPollWait, deploymentKeys: cfg.deploymentKeys }, log));
      case 'ec2':
        return new Ec2Collector({ ...cfg.ec2, cachePath: cache.path('ec2') }, log);
      default:
        // cfn and zaqar: not implemented here; they behave as unconfigured sources.
        return {
          name,
          collect: () => Promise.reject(new SourceNotConfigured(name)),
        };
    }
  });
  if (cfg.splay > 0 && !cfg.oneTime) await sleep(Math.floor(Math.random() * cfg.splay) * 1000);
  const runner = new CollectRunner(collectors, cache, cfg.backupCachedir, log);
  const end = await runLoop(runner, {
    command: cfg.command,
    oneTime: cfg.oneTime,
    force: cfg.force,
    printOnly: cfg.printOnly,
    minPollingInterval: cfg.minPollingInterval,
    pollingInterval: cfg.pollingInterval,
    configFiles: cfg.configFiles,
    env: io.env,
    stdout: io.stdout,
    request,
    heat,
    signal: extra.signal,
    onApplied: extra.onApplied,
  });
  if (end.kind === 'exit') return end.code;
  // The config files changed: start again as a fresh process with the same arguments.
  log.info(`Configuration changed. Re-executing ${process.argv.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, process.argv.slice(1), { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  });
}
