// Stage `overcloud`: the undercloud deploys the overcloud demo — `openstack stack create` of
// templates/overcloud-demo.yaml through the undercloud (a database machine and web machines on the
// lab, configured by software deployments) — and its outputs give the web URLs.
import { join } from 'node:path';
import { BootstackError } from '../common/errors.js';
import type { Clients } from './clients.js';
import { adminCloudEntry, seedCloudEntry, writeClouds, type CloudEntry } from './clouds.js';
import { ensureKeypair } from './keys.js';
import type { DevtestLayout } from './layout.js';
import { ensureStack, requireOutputs } from './stacks.js';
import type { StageIo } from './stage-io.js';
import type { SeedOutput } from './stage-seed.js';
import type { UndercloudOutput } from './stage-undercloud.js';

export const OVERCLOUD_STACK = 'overcloud';

export interface OvercloudStageInput {
  layout: DevtestLayout;
  templatesDir: string;
  seed: SeedOutput;
  undercloud: UndercloudOutput;
  webCount: number;
  timeoutMinutes: number;
}

export interface OvercloudOutput {
  stack_id: string;
  web_urls: string[];
  db_address: string;
  outputs: Record<string, unknown>;
}

/**
 * clouds.yaml with the undercloud, and the overcloud as the undercloud's admin project (which owns
 * the stack). After the pivot the undercloud's admin is the seed's, with the seed's password.
 */
export async function writeAllClouds(layout: DevtestLayout, seedOut: SeedOutput, undercloud: UndercloudOutput): Promise<void> {
  let seed: CloudEntry | undefined;
  try {
    seed = await seedCloudEntry(join(layout.seedState, 'clouds.yaml'));
  } catch {
    seed = undefined; // a run resumed after the seed's state went away: no seed entry
  }
  const uc = adminCloudEntry(undercloud.api_url, seedOut.admin_password, seed);
  await writeClouds(layout.clouds, { ...(seed ? { seed } : {}), undercloud: uc, overcloud: uc }, layout.dir);
}

export async function runOvercloudStage(input: OvercloudStageInput, deps: { clients: Clients }, io: StageIo): Promise<OvercloudOutput> {
  const { layout } = input;
  await writeAllClouds(layout, input.seed, input.undercloud);
  const keyName = await ensureKeypair(deps.clients, 'overcloud', layout, io);
  const stack = await ensureStack(
    deps.clients,
    {
      cloud: 'overcloud',
      name: OVERCLOUD_STACK,
      template: join(input.templatesDir, 'overcloud-demo.yaml'),
      parameters: { key_name: keyName, web_count: input.webCount },
      timeoutMinutes: input.timeoutMinutes,
    },
    io,
  );
  const { db_address } = requireOutputs(OVERCLOUD_STACK, stack.outputs, ['db_address']);
  const urls = stack.outputs.web_urls;
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string')) {
    throw new BootstackError(500, 'stack_failed', `stack ${OVERCLOUD_STACK}'s web_urls output is not a list of URLs: ${JSON.stringify(urls)}`);
  }
  io.progress(`web machines: ${urls.join(' ')}; database: ${db_address}`);
  const rest = Object.fromEntries(Object.entries(stack.outputs).filter(([k]) => k !== 'web_urls' && k !== 'db_address'));
  return { stack_id: stack.id, web_urls: urls as string[], db_address, outputs: rest };
}
