// The real `openstack` CLI (Debian's python-openstackclient) pointed at a seed: the environment
// (the caller's, minus any OS_* settings, plus the seed's clouds.yaml), a run that resolves with
// the exit code, and checked runs that fail with the CLI's stderr.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run, type RunResult } from '../../src/common/child-process.js';

export const OPENSTACK = '/usr/bin/openstack';

export interface OpenstackCliOptions {
  /** Per command (default 120 s). */
  timeoutMs?: number;
  /** Set after the seed's settings (e.g. OS_BAREMETAL_API_VERSION). */
  extraEnv?: NodeJS.ProcessEnv;
}

export interface OpenstackCli {
  /** process.env without OS_*, with OS_CLIENT_CONFIG_FILE=<state dir>/clouds.yaml and OS_CLOUD=bootstack. */
  env(): NodeJS.ProcessEnv;
  /** Runs `openstack args...`; resolves whatever the exit code. */
  openstack(args: string[], o?: { timeoutMs?: number }): Promise<RunResult>;
  /** As openstack(), but asserts exit 0 (with stderr and stdout in the message). */
  checked(args: string[], o?: { timeoutMs?: number }): Promise<RunResult>;
  /** checked()'s stdout. */
  ok(args: string[], o?: { timeoutMs?: number }): Promise<string>;
  /** ok() with `-f json`, parsed. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json(args: string[], o?: { timeoutMs?: number }): Promise<any>;
}

/** stateDir is a function: the seed (and so its state directory) is usually made in before(). */
export function openstackCli(stateDir: () => string, o: OpenstackCliOptions = {}): OpenstackCli {
  const env = (): NodeJS.ProcessEnv => {
    const out: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_')) out[k] = v;
    return { ...out, OS_CLIENT_CONFIG_FILE: join(stateDir(), 'clouds.yaml'), OS_CLOUD: 'bootstack', ...o.extraEnv };
  };
  const openstack: OpenstackCli['openstack'] = (args, oo = {}) => run(OPENSTACK, args, { env: env(), allowFailure: true, timeoutMs: oo.timeoutMs ?? o.timeoutMs ?? 120_000 });
  const checked: OpenstackCli['checked'] = async (args, oo) => {
    const r = await openstack(args, oo);
    assert.equal(r.code, 0, `openstack ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r;
  };
  const ok: OpenstackCli['ok'] = async (args, oo) => (await checked(args, oo)).stdout;
  const json: OpenstackCli['json'] = async (args, oo) => JSON.parse(await ok([...args, '-f', 'json'], oo));
  return { env, openstack, checked, ok, json };
}
