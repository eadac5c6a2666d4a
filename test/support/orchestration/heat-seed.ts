// A seed with identity and orchestration only (servers from the fake compute provider), for
// tests of the Heat API over HTTP: the admin's token and the project's /orchestration/v1 base.
import { startSeed, type TestSeed } from '../seed.js';

export interface HeatSeed {
  seed: TestSeed;
  token: string;
  /** /orchestration/v1/<admin project id> */
  base: string;
}

export async function startHeatSeed(): Promise<HeatSeed> {
  const seed = await startSeed({ log: { level: 'warn' }, services: ['identity', 'orchestration'], orchestration: { compute_provider: 'fake' } });
  const token = await seed.token();
  const project = (await seed.call('GET', '/identity/v3/projects?name=admin', { token })).body.projects[0].id;
  return { seed, token, base: `/orchestration/v1/${project}` };
}
