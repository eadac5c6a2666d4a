// heat: a resource's metadata from the orchestration API, authenticating to Keystone v3 with the
// user id, password and project id that Heat gave the server; then the deployments explosion.
import { parse, isDict, type PyDict } from '../../common/py-json.js';
import { http } from '../../common/http.js';
import { authenticate } from '../../common/keystone.js';
import { SourceNotAvailable, SourceNotConfigured } from '../errors.js';
import { mergedListFromContent, type Collected } from '../merger.js';
import type { Collector, CollectorLog } from './types.js';

export interface HeatOptions {
  authUrl?: string;
  userId?: string;
  password?: string;
  projectId?: string;
  stackId?: string;
  resourceName?: string;
  regionName?: string;
  timeout: number;
  deploymentKeys: readonly string[];
}

export class HeatCollector implements Collector {
  readonly name = 'heat';
  constructor(
    private readonly opts: HeatOptions,
    private readonly log: CollectorLog,
  ) {}

  async collect(): Promise<Collected> {
    const o = this.opts;
    for (const [k, v] of [
      ['auth_url', o.authUrl],
      ['password', o.password],
      ['project_id', o.projectId],
      ['user_id', o.userId],
      ['stack_id', o.stackId],
      ['resource_name', o.resourceName],
    ] as const) {
      if (v === undefined) {
        this.log.info(`No ${k} configured.`);
        throw new SourceNotConfigured('heat');
      }
    }
    try {
      const creds = { authUrl: o.authUrl as string, userId: o.userId as string, password: o.password as string, projectId: o.projectId as string };
      const { token, endpoint } = await authenticate(creds, 'orchestration', { regionName: o.regionName, timeoutMs: o.timeout * 1000 });
      const url = `${endpoint}/stacks/${o.stackId as string}/resources/${encodeURIComponent(o.resourceName as string)}/metadata`;
      const r = await http(url, { headers: { 'x-auth-token': token, accept: 'application/json' }, timeoutMs: o.timeout * 1000 });
      if (r.status >= 400) throw new Error(`${url} answered ${r.status}`);
      const doc = parse(r.body, url);
      const metadata = isDict(doc) ? doc.metadata : undefined;
      if (!isDict(metadata)) throw new Error('the answer has no metadata object');
      return mergedListFromContent(metadata as PyDict, o.deploymentKeys, this.name, (m) => this.log.warn(m));
    } catch (err) {
      this.log.warn((err as Error).message);
      throw new SourceNotAvailable((err as Error).message);
    }
  }
}
