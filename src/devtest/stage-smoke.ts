// Stage `smoke`: the overcloud demo works end to end — each web machine answers with its own
// hostname, and a value written through one is read through another (src/devtest/smoke.ts).
import type { SmokeOptions, SmokeReport } from './smoke.js';
import type { StageIo } from './stage-io.js';
import type { OvercloudOutput } from './stage-overcloud.js';

export type SmokeFn = (webUrls: readonly string[], o: SmokeOptions) => Promise<SmokeReport>;

export async function runSmokeStage(input: { overcloud: OvercloudOutput }, deps: { smoke: SmokeFn }, io: StageIo): Promise<SmokeReport> {
  const r = await deps.smoke(input.overcloud.web_urls, { log: io.progress, signal: io.signal });
  io.progress(`${r.webs.map((w) => w.hostname).join(', ')} answer; ${r.key} written through ${r.wroteThrough} and read through ${r.readThrough}`);
  return r;
}
