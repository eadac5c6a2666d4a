// One collection round and the run loop. A round asks every collector in order, stores each
// output in the cache and notes which changed; when something did, os_config_files.json is
// rewritten and the cache is mirrored to the backup directory. The loop runs the command with
// OS_CONFIG_FILES when anything changed and commits the outputs only if the command succeeded.
// Between rounds it sleeps as the original does (min interval doubling up to the polling
// interval) unless the request or heat collector is long-polling, in which case the next round
// starts at once and the metadata server holds it until something changes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type PyValue, type PyDict, dumpsIndent } from '../common/py-json.js';
import type { Cache } from './cache.js';
import { SourceNotAvailable, SourceNotConfigured } from './errors.js';
import type { Collector, CollectorLog } from './collectors/types.js';
import type { RequestCollector } from './collectors/request.js';
import type { HeatCollector } from './collectors/heat.js';
import { sleep } from '../../common/sleep.js';

export interface RoundResult {
  changed: Set<string>;
  paths: string[];
  content: PyDict;
  unavailable: string[];
}

export class CollectRunner {
  /** Output names each collector produced last time it answered (kept when it does not). */
  private readonly lastGood = new Map<string, string[]>();

  constructor(
    readonly collectors: Collector[],
    readonly cache: Cache,
    readonly backupDir: string,
    readonly log: CollectorLog,
  ) {}

  async round(store: boolean): Promise<RoundResult> {
    const changed = new Set<string>();
    const keys: string[] = [];
    const content: PyDict = {};
    const unavailable: string[] = [];
    for (const c of this.collectors) {
      let outputs: [string, PyValue][];
      try {
        outputs = await c.collect();
      } catch (err) {
        if (err instanceof SourceNotConfigured) {
          this.log.debug(`Source [${c.name}] Not configured.`);
          continue;
        }
        if (!(err instanceof SourceNotAvailable)) throw err;
        this.log.warn(`Source [${c.name}] Unavailable.`);
        unavailable.push(c.name);
        // Keep serving the last good data of this source rather than dropping it.
        if (store) keys.push(...(this.lastGood.get(c.name) ?? []));
        continue;
      }
      if (store) {
        for (const [name, value] of outputs) {
          keys.push(name);
          if (this.cache.store(name, value).changed) changed.add(name);
        }
        this.lastGood.set(
          c.name,
          outputs.map(([n]) => n),
        );
      } else {
        for (const [name, value] of outputs) content[name] = value;
      }
    }
    if (changed.size > 0) {
      this.cache.storeMetaList('os_config_files', keys);
      this.cache.backup(this.backupDir);
    }
    return { changed, paths: keys.map((k) => this.cache.path(k)), content, unavailable };
  }
}

/** md5 of the config files' contents, to notice when they change under a running loop. */
export function fileHash(files: readonly string[]): string {
  const h = createHash('md5');
  for (const f of files) {
    try {
      h.update(readFileSync(f));
    } catch {
      // Unreadable files count as empty, as in the original.
    }
  }
  return h.digest('hex');
}

export function runCommand(command: string, files: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { env: { ...env, OS_CONFIG_FILES: files.join(':') }, stdio: 'inherit' });
    child.on('error', () => resolve(127));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export interface LoopOptions {
  command?: string;
  oneTime: boolean;
  force: boolean;
  printOnly: boolean;
  minPollingInterval: number;
  pollingInterval: number;
  configFiles: string[];
  env: NodeJS.ProcessEnv;
  stdout: (s: string) => void;
  request?: RequestCollector;
  /** The heat collector long-polls the same way. */
  heat?: HeatCollector;
  signal?: AbortSignal;
  /** Called after each round that ran the command (tests and benchmarks observe convergence). */
  onApplied?: (code: number) => void;
}

export type LoopEnd = { kind: 'exit'; code: number } | { kind: 'reexec' };

export async function runLoop(runner: CollectRunner, o: LoopOptions): Promise<LoopEnd> {
  let exitval = 0;
  const configHash = fileHash(o.configFiles);
  let sleepS = o.minPollingInterval;
  for (;;) {
    const storeAndRun = Boolean(o.command && !o.printOnly);
    const r = await runner.round(storeAndRun);
    if (!storeAndRun) {
      o.stdout(`${dumpsIndent(r.content, 1)}\n`);
      return { kind: 'exit', code: 0 };
    }
    if (r.changed.size > 0 || o.force) {
      runner.log.info(`Executing ${o.command as string} with OS_CONFIG_FILES=${r.paths.join(':')}`);
      const code = await runCommand(o.command as string, r.paths, o.env);
      if (code !== 0) {
        exitval = code;
        runner.log.error(`Command failed, will not cache new data. Command '${o.command as string}' returned non-zero exit status ${code}.`);
      } else {
        for (const name of r.changed) runner.cache.commit(name);
      }
      o.onApplied?.(code);
      if (!o.oneTime && fileHash(o.configFiles) !== configHash) return { kind: 'reexec' };
    } else {
      runner.log.debug('No changes detected.');
    }
    if (o.oneTime || o.signal?.aborted) return { kind: 'exit', code: exitval };
    if ((o.request?.longPolling || o.heat?.longPolling) && r.unavailable.length === 0) {
      // The metadata server holds our next request until something changes.
      sleepS = o.minPollingInterval;
      continue;
    }
    runner.log.info(`Sleeping ${sleepS.toFixed(2)} seconds.`);
    await sleep(sleepS * 1000, o.signal).catch(() => undefined); // checked just below
    if (o.signal?.aborted) return { kind: 'exit', code: exitval };
    sleepS = Math.min(sleepS * 2, o.pollingInterval);
  }
}
