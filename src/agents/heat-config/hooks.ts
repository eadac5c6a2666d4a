// Hooks run a deployment by its group and return what is signalled back: deploy_stdout,
// deploy_stderr, deploy_status_code and the declared outputs.
//   script                  built in: the config is an executable; inputs are environment
//                           variables; outputs are read from $heat_outputs_path.<name>.
//   os-apply-config,
//   Heat::Ungrouped         built in: os-apply-config already applied the config; succeed.
//   anything else           an executable <hooks-dir>/<group> (the heat-config hook protocol:
//                           the deployment JSON on stdin, the response JSON on stdout), which is
//                           where ansible and puppet hooks plug in.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { type PyDict, type PyValue, dumps, isDict, parse } from '../common/py-json.js';
import type { Deployment } from './deployment.js';

export interface HookContext {
  workDir: string;
  hooksDir: string;
  env: NodeJS.ProcessEnv;
}

export type Hook = (d: Deployment, ctx: HookContext) => Promise<PyDict>;

function exec(cmd: string, env: NodeJS.ProcessEnv, input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => resolve({ stdout: '', stderr: e.message, code: 127 }));
    child.on('close', (code, signal) =>
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? (signal ? 128 : 1) }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

const scriptHook: Hook = async (d, ctx) => {
  const dir = join(ctx.workDir, 'heat-config-script');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const script = join(dir, d.id);
  const outputsPath = join(ctx.workDir, 'heat-config-script', `${d.id}.outputs`);
  await writeFileAtomic(script, typeof d.config === 'string' ? d.config : dumps(d.config), { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...ctx.env, heat_outputs_path: outputsPath };
  for (const i of d.inputs) env[i.name] = typeof i.value === 'string' ? i.value : i.value === null ? '' : dumps(i.value);
  for (const o of d.outputs) {
    try {
      unlinkSync(`${outputsPath}.${o.name}`);
    } catch {
      // No stale output to clear.
    }
  }
  const r = await exec(script, env);
  const response: PyDict = {};
  for (const o of d.outputs) {
    try {
      response[o.name] = readFileSync(`${outputsPath}.${o.name}`, 'utf8');
    } catch {
      // An output the script did not write is absent from the signal.
    }
  }
  response.deploy_stdout = r.stdout;
  response.deploy_stderr = r.stderr;
  response.deploy_status_code = r.code;
  return response;
};

const appliedByOsApplyConfig: Hook = async () => ({ deploy_stdout: '', deploy_stderr: '', deploy_status_code: 0 });

export const BUILTIN_HOOKS: Record<string, Hook> = {
  script: scriptHook,
  'os-apply-config': appliedByOsApplyConfig,
  'Heat::Ungrouped': appliedByOsApplyConfig,
};

/** The hook for a group: an executable in hooks-dir wins, then the built-ins. */
export function findHook(group: string, ctx: HookContext): Hook | undefined {
  const external = join(ctx.hooksDir, group);
  try {
    accessSync(external, constants.X_OK);
    return async (d) => {
      const r = await exec(external, ctx.env, dumps(d.raw));
      let doc: PyValue;
      try {
        doc = parse(r.stdout, external);
      } catch {
        doc = null;
      }
      if (isDict(doc)) return doc;
      return { deploy_stdout: r.stdout, deploy_stderr: `${r.stderr}\nhook ${external} did not answer a JSON object`, deploy_status_code: r.code || 1 };
    };
  } catch {
    return BUILTIN_HOOKS[group];
  }
}
