// local: every JSON file in the configured directories, one output per file (named by its file
// name), sorted bytewise. Refuses directories or files that others could write to.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse, type PyValue } from '../../common/py-json.js';
import { SourceNotAvailable } from '../errors.js';
import type { Collected } from '../merger.js';
import type { Collector, CollectorLog } from './types.js';

export class LocalCollector implements Collector {
  readonly name = 'local';
  constructor(
    private readonly paths: readonly string[],
    private readonly log: CollectorLog,
  ) {}

  async collect(): Promise<Collected> {
    if (this.paths.length === 0) throw new SourceNotAvailable('no local path configured');
    const found: [string, PyValue][] = [];
    for (const dir of this.paths) {
      let st;
      try {
        st = statSync(dir);
      } catch {
        this.log.warn(`${dir} not found. Skipping`);
        continue;
      }
      const uid = process.getuid?.() ?? st.uid;
      if (st.uid !== uid) {
        this.log.error(`${dir} is owned by another user. This is a security risk.`);
        throw new SourceNotAvailable(`${dir} is insecure`);
      }
      if (st.mode & 0o002) {
        this.log.error(`${dir} is world writable. This is a security risk.`);
        throw new SourceNotAvailable(`${dir} is insecure`);
      }
      for (const name of readdirSync(dir)) {
        if (name.startsWith('.')) continue;
        const file = join(dir, name);
        const fst = statSync(file);
        if (fst.isDirectory()) continue;
        if (fst.mode & 0o002) {
          this.log.error(`${file} is world writable. This is a security risk.`);
          throw new SourceNotAvailable(`${file} is insecure`);
        }
        try {
          found.push([name, parse(readFileSync(file, 'utf8'), file)]);
        } catch (err) {
          this.log.error(`${file} is not valid JSON (${(err as Error).message})`);
          throw new SourceNotAvailable(`${file} is not valid JSON`);
        }
      }
    }
    if (found.length === 0) this.log.info(`No local metadata found (${this.paths.join(', ')})`);
    return found.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  }
}

/** heat_local: the cfn-init-data files, merged (top level only), under the name heat_local. */
export class HeatLocalCollector implements Collector {
  readonly name = 'heat_local';
  constructor(
    private readonly paths: readonly string[],
    private readonly log: CollectorLog,
  ) {}

  async collect(): Promise<Collected> {
    let merged: PyValue | undefined;
    for (const path of this.paths) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      let value: PyValue;
      try {
        value = parse(text, path);
      } catch (err) {
        this.log.info(`${path} is not valid JSON (${(err as Error).message})`);
        continue;
      }
      merged = merged && typeof merged === 'object' && typeof value === 'object' ? Object.assign(merged, value) : value;
    }
    if (!merged || (typeof merged === 'object' && Object.keys(merged).length === 0)) {
      this.log.info(`Local metadata not found (${this.paths.join(', ')})`);
      throw new SourceNotAvailable('no heat_local metadata');
    }
    return [['heat_local', merged]];
  }
}
