// ec2: the EC2-style metadata tree, fetched once and then read from the cache; the config drive
// is preferred to the network when there is one (as the original does).
import { existsSync, readFileSync } from 'node:fs';
import { parse, truthy, type PyValue, type PyDict } from '../../common/py-json.js';
import { http } from '../../common/http.js';
import { SourceNotAvailable } from '../errors.js';
import type { Collected } from '../merger.js';
import type { Collector, CollectorLog } from './types.js';
import { configDriveMetadata, type DriveSystem } from './config-drive.js';

export const EC2_METADATA_URL = 'http://169.254.169.254/latest/meta-data';

export interface Ec2Options {
  metadataUrl: string;
  timeout: number;
  /** The cache file the original reads first (<cachedir>/ec2.json). */
  cachePath: string;
  drive?: DriveSystem;
}

export class Ec2Collector implements Collector {
  readonly name = 'ec2';
  constructor(
    private readonly opts: Ec2Options,
    private readonly log: CollectorLog,
  ) {}

  private async fetchTree(url: string): Promise<PyValue> {
    let r;
    try {
      r = await http(url, { timeoutMs: this.opts.timeout * 1000 });
    } catch (err) {
      this.log.warn((err as Error).message);
      throw new SourceNotAvailable((err as Error).message);
    }
    if (r.status >= 400) {
      this.log.warn(`${r.status} Error for url: ${url}`);
      throw new SourceNotAvailable(`HTTP ${r.status}`);
    }
    if (!url.endsWith('/')) return r.body;
    const out: PyDict = {};
    for (let sub of r.body.split('\n')) {
      if (sub.includes('=')) sub = `${sub.slice(0, sub.indexOf('='))}/`;
      const key = sub.endsWith('/') ? sub.slice(0, -1) : sub;
      out[key] = await this.fetchTree(url + sub);
    }
    return out;
  }

  async collect(): Promise<Collected> {
    if (existsSync(this.opts.cachePath)) {
      try {
        const cached = parse(readFileSync(this.opts.cachePath, 'utf8'), this.opts.cachePath);
        if (truthy(cached)) return [['ec2', cached]];
      } catch (err) {
        this.log.warn((err as Error).message);
      }
    }
    const md = await configDriveMetadata(this.log, this.opts.drive);
    if (truthy(md)) return [['ec2', md]];
    return [['ec2', await this.fetchTree(`${this.opts.metadataUrl}/`)]];
  }
}
