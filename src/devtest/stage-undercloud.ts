// Stage `undercloud`: the seed deploys the undercloud — `openstack stack create` of
// templates/undercloud.yaml with templates/undercloud-env.yaml through the seed, waited for — and
// its outputs say where the undercloud answers (api_url) and the token the pivot presents to it.
// The environment file describes a lab on 10.213.0.0/24; the lab's own addresses are passed as
// parameters (the undercloud at .5, DHCP on .100-.199 like the seed's), and only parameters the
// template declares. CREATE_COMPLETE means the undercloud's configuration was written, not that
// its server answers (docs/undercloud.md), so the stage then waits for api_url. A stack an
// earlier run completed is kept.
import { join } from 'node:path';
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import { adminCloudEntry, seedCloudEntry, writeClouds } from './clouds.js';
import { ensureKeypair } from './keys.js';
import type { DevtestLayout } from './layout.js';
import { ensureStack, requireOutputs, templateParameters } from './stacks.js';
import type { StageIo } from './stage-io.js';
import type { LabOutput } from './stage-lab.js';
import type { SeedOutput } from './stage-seed.js';
import { sleep } from '../common/sleep.js';

export const UNDERCLOUD_STACK = 'undercloud';

export interface UndercloudStageInput {
  layout: DevtestLayout;
  /** templates/ of this installation. */
  templatesDir: string;
  lab: LabOutput;
  seed: SeedOutput;
  timeoutMinutes: number;
  /** How long to wait for api_url to answer after CREATE_COMPLETE, ms (default 10 minutes). */
  answerTimeoutMs?: number;
}

export interface UndercloudOutput {
  stack_id: string;
  api_url: string;
  /**
   * The stack's admin_password output. A receiving undercloud (the default) takes the seed's
   * admin with the seed's password at the pivot, so the clouds.yaml entries use the seed's.
   */
  admin_password: string;
  pivot_token: string;
  /** The stack's other outputs, as they are. */
  outputs: Record<string, unknown>;
}

/** The parameters devtest sets from its lab, of those the template declares. */
export function undercloudParameters(declared: readonly string[], lab: LabOutput, keyName: string | undefined): Record<string, string> {
  const prefix = lab.seedAddress.split('.').slice(0, 3).join('.');
  const wanted: Record<string, string | undefined> = {
    key_name: keyName,
    ctlplane_ip: `${prefix}.5`,
    dhcp_start: `${prefix}.100`,
    dhcp_end: `${prefix}.199`,
  };
  return Object.fromEntries(Object.entries(wanted).filter((e): e is [string, string] => e[1] !== undefined && declared.includes(e[0])));
}

/** Until `url` answers with a status below 500 (a receiving server may answer only its pivot routes). */
export async function waitForAnswer(url: string, timeoutMs: number, io: StageIo, intervalMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    io.signal.throwIfAborted();
    try {
      const res = await fetch(url, { signal: AbortSignal.any([AbortSignal.timeout(5000), io.signal]) });
      await res.arrayBuffer();
      if (res.status < 500) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      if (io.signal.aborted) throw err;
      const cause = (err as { cause?: { code?: string } }).cause;
      last = cause?.code ?? (err as Error).message;
    }
    if (Date.now() > end) throw new BootstackError(504, 'no_answer', `${url} did not answer within ${timeoutMs / 1000} s (last: ${last})`);
    await sleep(intervalMs);
  }
}

export async function runUndercloudStage(input: UndercloudStageInput, deps: { clients: Clients }, io: StageIo): Promise<UndercloudOutput> {
  const { layout } = input;
  const template = join(input.templatesDir, 'undercloud.yaml');
  const env = join(input.templatesDir, 'undercloud-env.yaml');
  const declared = templateParameters(template);
  const keyName = declared.includes('key_name') ? await ensureKeypair(deps.clients, 'seed', layout, io) : undefined;
  const parameters = undercloudParameters(declared, input.lab, keyName);
  const stack = await ensureStack(deps.clients, { cloud: 'seed', name: UNDERCLOUD_STACK, template, environments: [env], parameters, timeoutMinutes: input.timeoutMinutes }, io);
  const out = requireOutputs(UNDERCLOUD_STACK, stack.outputs, ['api_url', 'pivot_token']);
  const adminPassword = typeof stack.outputs.admin_password === 'string' ? stack.outputs.admin_password : '';
  io.progress(`stack ${UNDERCLOUD_STACK} is ${stack.status}; waiting for ${out.api_url} to answer`);
  await waitForAnswer(`${out.api_url.replace(/\/+$/, '')}/`, input.answerTimeoutMs ?? 600_000, io);
  const seed = await seedCloudEntry(join(layout.seedState, 'clouds.yaml'));
  await writeClouds(layout.clouds, { seed, undercloud: adminCloudEntry(out.api_url, input.seed.admin_password, seed) }, layout.dir);
  io.progress(`the undercloud answers at ${out.api_url} (cloud "undercloud" in ${layout.clouds}, usable after the pivot)`);
  const rest = Object.fromEntries(Object.entries(stack.outputs).filter(([k]) => !['api_url', 'admin_password', 'pivot_token'].includes(k)));
  return { stack_id: stack.id, api_url: out.api_url, admin_password: adminPassword, pivot_token: out.pivot_token, outputs: rest };
}
