// Keeps one dnsmasq running: writes its configuration, starts it in the foreground (optionally
// inside a network namespace), turns its log lines into events, restarts it with exponential
// backoff when it dies, and logs every failure with dnsmasq's own last words.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../common/atomic-write.js';
import { ServiceUnavailableError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';
import { parseDnsmasqLine, type DnsmasqEvent } from './dnsmasq-log.js';

export interface DnsmasqSupervisorOptions {
  /** Directory for dnsmasq.conf (and, usually, the hosts directory and lease file). */
  workDir: string;
  /** The rendered configuration (see dnsmasq-config.ts). */
  config: string;
  binary?: string;
  /** Run inside this network namespace (`ip netns exec NS dnsmasq ...`, which execs in place). */
  netns?: string;
  log: Logger;
  onEvent?: (event: DnsmasqEvent) => void;
  /** First restart delay; doubles up to maxBackoffMs, reset after a run longer than stableMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  stableMs?: number;
}

const READY = /started, version|DHCP, (IP range|proxy on subnet)/;

export class DnsmasqSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private readyWaiters: Array<() => void> = [];
  private isReady = false;
  /** How many times dnsmasq was started after the first time. */
  restarts = 0;
  /** The last lines dnsmasq wrote, for error messages. */
  private tail: string[] = [];
  private loop: Promise<void> | undefined;

  constructor(private readonly options: DnsmasqSupervisorOptions) {}

  get configPath(): string {
    return join(this.options.workDir, 'dnsmasq.conf');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the supervision loop; resolves when `signal` aborts and dnsmasq has stopped. */
  start(signal: AbortSignal): Promise<void> {
    this.loop ??= this.supervise(signal);
    return this.loop;
  }

  /** Resolves once the current dnsmasq has said it serves DHCP. */
  waitReady(timeoutMs = 10_000): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ServiceUnavailableError(`dnsmasq not ready after ${timeoutMs} ms: ${this.tail.slice(-5).join(' | ')}`)),
        timeoutMs,
      );
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** SIGHUP: re-read the hosts directory (removed entries are forgotten). */
  reload(): void {
    this.child?.kill('SIGHUP');
  }

  private async supervise(signal: AbortSignal): Promise<void> {
    const { log } = this.options;
    await mkdir(this.options.workDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.configPath, this.options.config, { mode: 0o600 });
    let delay = this.options.backoffMs ?? 500;
    const maxDelay = this.options.maxBackoffMs ?? 30_000;
    const stableMs = this.options.stableMs ?? 30_000;
    let first = true;
    while (!signal.aborted) {
      if (!first) this.restarts++;
      first = false;
      const startedAt = Date.now();
      const { code, sig } = await this.runOnce(signal);
      if (signal.aborted) break;
      const ranMs = Date.now() - startedAt;
      if (ranMs > stableMs) delay = this.options.backoffMs ?? 500;
      log.error(
        { exitCode: code, signal: sig, ranMs, restartInMs: delay, lastLines: this.tail.slice(-5) },
        `dnsmasq ${code === null ? `was killed by ${sig}` : `exited with code ${code}`}; restarting in ${delay} ms`,
      );
      await sleep(delay, signal).catch(() => undefined); // woken by a stop: the loop checks the signal
      delay = Math.min(delay * 2, maxDelay);
    }
  }

  private runOnce(signal: AbortSignal): Promise<{ code: number | null; sig: NodeJS.Signals | null }> {
    const binary = this.options.binary ?? '/usr/sbin/dnsmasq';
    const args = ['--keep-in-foreground', `--conf-file=${this.configPath}`];
    const [cmd, argv] = this.options.netns ? ['ip', ['netns', 'exec', this.options.netns, binary, ...args]] : [binary, args];
    this.isReady = false;
    this.tail = [];
    return new Promise((resolve) => {
      const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      const onAbort = () => child.kill('SIGTERM');
      signal.addEventListener('abort', onAbort, { once: true });
      const onLine = (line: string) => {
        this.tail.push(line);
        if (this.tail.length > 20) this.tail.shift();
        if (!this.isReady && READY.test(line)) {
          this.isReady = true;
          for (const w of this.readyWaiters.splice(0)) w();
        }
        const event = parseDnsmasqLine(line);
        if (event) this.options.onEvent?.(event);
        this.options.log.debug({ dnsmasq: line }, 'dnsmasq');
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      let settled = false;
      const done = (code: number | null, sig: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        this.child = undefined;
        resolve({ code, sig });
      };
      child.on('error', (err) => {
        this.tail.push(`spawn ${cmd}: ${err.message}`);
        done(null, null);
      });
      child.on('close', (code, sig) => done(code, sig));
    });
  }
}
