// heat: a resource's metadata from the orchestration API, authenticating to Keystone v3 with the
// user id, password and project id that Heat gave the server; then the deployments explosion.
//
// Beyond the original: the Keystone token is kept until it is about to expire (or the API answers
// 401) instead of authenticating every round, and the metadata GET long-polls exactly as the
// request collector does (docs/agents.md "Long-poll protocol"): `Prefer: wait=<s>` always and
// `If-None-Match: <ETag>` once the server has answered with `Preference-Applied`, so the
// orchestration service holds the request until the server's metadata changes.
import { parse, isDict, type PyDict } from '../../common/py-json.js';
import { http, type HttpResponse } from '../../common/http.js';
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
  /** Seconds a long-poll may be held by the server; 0 (or absent) never asks for one. */
  longPollWait?: number;
  deploymentKeys: readonly string[];
}

/** A token this close to its expiry is replaced before use. */
const EXPIRY_MARGIN_MS = 120_000;

export class HeatCollector implements Collector {
  readonly name = 'heat';
  private session: { token: string; endpoint: string; expiresAt?: number } | undefined;
  private etag: string | undefined;
  private last: PyDict | undefined;
  /** The server answered with Preference-Applied: wait — the next collect() may block. */
  longPolling = false;

  constructor(
    private readonly opts: HeatOptions,
    private readonly log: CollectorLog,
    private readonly now: () => number = Date.now,
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
      let r = await this.fetch();
      if (r.status === 401) {
        // The token was revoked or expired early: authenticate again, once.
        this.session = undefined;
        r = await this.fetch();
      }
      this.longPolling = /(^|[\s,;])wait\b/i.test(String(r.headers['preference-applied'] ?? ''));
      if (r.status === 304 && this.last) return mergedListFromContent(this.last, o.deploymentKeys, this.name, (m) => this.log.warn(m));
      if (r.status >= 400) throw new Error(`${this.url()} answered ${r.status}`);
      const doc = parse(r.body, this.url());
      const metadata = isDict(doc) ? doc.metadata : undefined;
      if (!isDict(metadata)) throw new Error('the answer has no metadata object');
      this.etag = typeof r.headers.etag === 'string' ? r.headers.etag : undefined;
      this.last = metadata as PyDict;
      return mergedListFromContent(metadata as PyDict, o.deploymentKeys, this.name, (m) => this.log.warn(m));
    } catch (err) {
      this.longPolling = false;
      this.log.warn((err as Error).message);
      throw new SourceNotAvailable((err as Error).message);
    }
  }

  private url(): string {
    return `${this.session?.endpoint ?? ''}/stacks/${this.opts.stackId as string}/resources/${encodeURIComponent(this.opts.resourceName as string)}/metadata`;
  }

  private async fetch(): Promise<HttpResponse> {
    const o = this.opts;
    if (!this.session || (this.session.expiresAt !== undefined && this.session.expiresAt - this.now() < EXPIRY_MARGIN_MS)) {
      const creds = { authUrl: o.authUrl as string, userId: o.userId as string, password: o.password as string, projectId: o.projectId as string };
      this.session = await authenticate(creds, 'orchestration', { regionName: o.regionName, timeoutMs: o.timeout * 1000 });
    }
    const wait = o.longPollWait ?? 0;
    const headers: Record<string, string> = { 'x-auth-token': this.session.token, accept: 'application/json' };
    let holding = false;
    if (wait > 0) {
      headers.prefer = `wait=${wait}`;
      holding = this.longPolling && this.etag !== undefined && this.last !== undefined;
      if (holding) headers['if-none-match'] = this.etag as string;
    }
    return http(this.url(), { headers, timeoutMs: (holding ? wait + o.timeout : o.timeout) * 1000 });
  }
}
