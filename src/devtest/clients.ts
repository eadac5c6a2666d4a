// The command-line clients the stages drive, as an operator would: the real `openstack` CLI
// against one of the clouds in <dir>/clouds.yaml, and `bootstack` itself (node import). Output
// lines go to the stage's progress as they come.
import { join } from 'node:path';
import type { RunResult } from '../common/child-process.js';
import { CommandError } from '../common/errors.js';
import { INSTALL_ROOT, bundledEntry } from '../common/paths.js';
import type { CommandRunner } from './deps.js';

/** The `bootstack` command of this installation: bin/bootstack.js of a checkout, or the build's bootstack.mjs. */
export const BOOTSTACK_BIN = bundledEntry('bootstack') ?? join(INSTALL_ROOT, 'bin', 'bootstack.js');

export type CloudName = 'seed' | 'undercloud' | 'overcloud';

/** Calls `onLine` for each complete line of a stream of chunks (and the rest at `flush`). */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; flush(): void } {
  let rest = '';
  return {
    push(chunk) {
      rest += chunk.toString('utf8');
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(l);
    },
    flush() {
      if (rest.trim()) onLine(rest);
      rest = '';
    },
  };
}

export interface ClientCall {
  progress?: (line: string) => void;
  timeoutMs?: number;
  signal?: AbortSignal;
  allowFailure?: boolean;
}

export class Clients {
  constructor(
    private readonly run: CommandRunner,
    /** <dir>/clouds.yaml */
    readonly cloudsFile: string,
    private readonly o: { openstack?: string; env?: NodeJS.ProcessEnv } = {},
  ) {}

  /** The caller's environment without OS_* settings, pointed at `cloud` in the devtest clouds.yaml. */
  env(cloud: CloudName): NodeJS.ProcessEnv {
    const out: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(this.o.env ?? process.env)) if (!k.startsWith('OS_')) out[k] = v;
    return { ...out, OS_CLIENT_CONFIG_FILE: this.cloudsFile, OS_CLOUD: cloud, OS_BAREMETAL_API_VERSION: '1.78' };
  }

  private async call(command: string, args: readonly string[], env: NodeJS.ProcessEnv, c: ClientCall): Promise<RunResult> {
    const out = c.progress ? lineSplitter(c.progress) : undefined;
    const err = c.progress ? lineSplitter(c.progress) : undefined;
    try {
      return await this.run(command, args, {
        env,
        timeoutMs: c.timeoutMs ?? 300_000,
        signal: c.signal,
        allowFailure: c.allowFailure,
        ...(out ? { onStdout: (b: Buffer) => out.push(b) } : {}),
        ...(err ? { onStderr: (b: Buffer) => err.push(b) } : {}),
      });
    } finally {
      out?.flush();
      err?.flush();
    }
  }

  /** `openstack <args>` against `cloud`. */
  openstack(cloud: CloudName, args: readonly string[], c: ClientCall = {}): Promise<RunResult> {
    return this.call(this.o.openstack ?? 'openstack', args, this.env(cloud), c);
  }

  /** `openstack <args> -f json`, parsed. */
  async openstackJson<T = unknown>(cloud: CloudName, args: readonly string[], c: Omit<ClientCall, 'allowFailure'> = {}): Promise<T> {
    const r = await this.openstack(cloud, [...args, '-f', 'json'], c);
    try {
      return JSON.parse(r.stdout) as T;
    } catch (e) {
      throw new CommandError(`openstack ${args.join(' ')} -f json printed no JSON: ${r.stdout.slice(0, 300)}`, `openstack ${args.join(' ')}`, r.code, r.stderr, { cause: e });
    }
  }

  /** `bootstack <args>` (this installation's) against `cloud`. */
  bootstack(cloud: CloudName, args: readonly string[], c: ClientCall = {}): Promise<RunResult> {
    return this.call(process.execPath, [BOOTSTACK_BIN, ...args], this.env(cloud), c);
  }

  /** Any other program (ssh-keygen, ip), with the caller's environment. */
  command(command: string, args: readonly string[], c: ClientCall = {}): Promise<RunResult> {
    return this.call(command, args, this.o.env ?? process.env, c);
  }
}
