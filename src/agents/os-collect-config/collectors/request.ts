// request: the metadata document at a URL (Heat's deployment metadata, a Swift temp URL, or
// Bootstack's metadata service), plus one output per os-apply-config deployment.
//
// Beyond the original, it long-polls: every GET carries `Prefer: wait=<s>` and, once we hold a
// version, `If-None-Match: <its ETag>`. A server that implements the protocol (docs/agents.md)
// answers at once when the ETag differs, otherwise holds the request until the document changes
// (200 with the new ETag) or the wait passes (304), and says so with `Preference-Applied: wait=<s>`.
// Against a server that does not answer with Preference-Applied we fall back to the original's
// polling, including its Last-Modified check.
import { parse, isDict, type PyDict } from '../../common/py-json.js';
import { http, redactUrl, type HttpResponse } from '../../common/http.js';
import { SourceNotAvailable, SourceNotConfigured } from '../errors.js';
import { mergedListFromContent, type Collected } from '../merger.js';
import type { Collector, CollectorLog } from './types.js';

export interface RequestOptions {
  metadataUrl?: string;
  /** Seconds for connecting and reading (the original's --request-timeout). */
  timeout: number;
  /** Seconds a long-poll may be held by the server; 0 never asks for one. */
  longPollWait: number;
  deploymentKeys: readonly string[];
}

export class RequestCollector implements Collector {
  readonly name = 'request';
  private etag: string | undefined;
  private lastModified: number | undefined;
  private last: PyDict | undefined;
  /** The server answered with Preference-Applied: wait — the next collect() may block. */
  longPolling = false;

  constructor(
    private readonly opts: RequestOptions,
    private readonly log: CollectorLog,
  ) {}

  async collect(): Promise<Collected> {
    const url = this.opts.metadataUrl;
    if (!url) {
      this.log.info('No metadata_url configured.');
      throw new SourceNotConfigured('request');
    }
    const content = this.opts.longPollWait > 0 ? await this.fetchLongPoll(url) : await this.fetchPolling(url);
    return mergedListFromContent(content, this.opts.deploymentKeys, this.name, (m) => this.log.warn(m));
  }

  private async get(url: string, headers: Record<string, string>, timeoutS: number, method = 'GET'): Promise<HttpResponse> {
    try {
      return await http(url, { method, headers, timeoutMs: timeoutS * 1000 });
    } catch (err) {
      this.log.warn((err as Error).message);
      throw new SourceNotAvailable((err as Error).message);
    }
  }

  private decode(r: HttpResponse, url: string): PyDict {
    if (r.status >= 400) {
      this.log.warn(`${r.status} Error for url: ${redactUrl(url)}`);
      throw new SourceNotAvailable(`HTTP ${r.status}`);
    }
    try {
      const doc = parse(r.body, redactUrl(url));
      if (!isDict(doc)) throw new Error('not a JSON object');
      return doc;
    } catch (err) {
      this.log.warn(`Failed to parse as json. (${(err as Error).message})`);
      throw new SourceNotAvailable('bad JSON');
    }
  }

  private async fetchLongPoll(url: string): Promise<PyDict> {
    const wait = this.opts.longPollWait;
    const headers: Record<string, string> = { prefer: `wait=${wait}` };
    const holding = this.longPolling && this.etag !== undefined && this.last !== undefined;
    if (holding) headers['if-none-match'] = this.etag as string;
    const r = await this.get(url, headers, holding ? wait + this.opts.timeout : this.opts.timeout);
    this.longPolling = /(^|[\s,;])wait\b/i.test(String(r.headers['preference-applied'] ?? ''));
    if (r.status === 304 && this.last) return this.last;
    const doc = this.decode(r, url);
    this.etag = typeof r.headers.etag === 'string' ? r.headers.etag : undefined;
    this.last = doc;
    return doc;
  }

  private async fetchPolling(url: string): Promise<PyDict> {
    // The original's Last-Modified probe: a HEAD, so that the document is downloaded once per poll.
    const head = await this.get(url, {}, this.opts.timeout, 'HEAD').catch(() => undefined);
    const lm = head && head.status < 400 ? head.headers['last-modified'] : undefined;
    let lastModified: number | undefined;
    if (lm) {
      lastModified = Date.parse(lm);
      if (this.lastModified !== undefined && lastModified <= this.lastModified && this.last) return this.last;
    }
    const doc = this.decode(await this.get(url, {}, this.opts.timeout), url);
    this.lastModified = lastModified;
    this.last = doc;
    return doc;
  }
}
