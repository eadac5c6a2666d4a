// The metadata cache, laid out as the original lays it out so existing hooks find their files:
//   <cachedir>/<name>.json       what was collected last (given to the command)
//   <cachedir>/<name>.json.orig  the first version ever collected
//   <cachedir>/<name>.json.last  the version the command last ran successfully with
//   <cachedir>/os_config_files.json  the list of .json paths, in collector order
// Files are 0600 (the original writes them through a private temporary file).
import { existsSync, mkdirSync, readFileSync, copyFileSync, rmSync, cpSync, renameSync, writeFileSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type PyValue, dumps, dumpsIndent, parse, pyEquals } from '../common/py-json.js';

export class Cache {
  constructor(readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  private writePrivate(path: string, data: string): void {
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path);
  }

  /** Writes <name>.json; true when it differs from what the command last ran with (.last). */
  store(name: string, content: PyValue): { changed: boolean; path: string } {
    if (!existsSync(this.dir)) mkdirSync(this.dir);
    const dest = this.path(name);
    const text = dumpsIndent(content, 1);
    let changed = false;
    if (!existsSync(`${dest}.orig`)) {
      this.writePrivate(`${dest}.orig`, text);
      changed = true;
    }
    this.writePrivate(dest, text);
    if (!changed) {
      const last = `${dest}.last`;
      if (!existsSync(last)) changed = true;
      else {
        try {
          changed = !pyEquals(parse(readFileSync(last, 'utf8'), last), content);
        } catch {
          changed = true;
        }
      }
    }
    return { changed, path: dest };
  }

  /** The command succeeded with <name>.json: remember it as .last. */
  commit(name: string): void {
    const dest = this.path(name);
    if (existsSync(dest)) copyFileSync(dest, `${dest}.last`);
  }

  storeMetaList(name: string, keys: readonly string[]): string {
    const dest = this.path(name);
    this.writePrivate(dest, dumps(keys.map((k) => this.path(k))));
    return dest;
  }

  /** The last stored content of a collector's output, if any (to keep the last good config). */
  load(name: string): PyValue | undefined {
    try {
      return parse(readFileSync(this.path(name), 'utf8'), this.path(name));
    } catch {
      return undefined;
    }
  }

  /** Mirrors the cache into the backup directory (the original's --backup-cachedir). */
  backup(to: string): void {
    if (existsSync(to)) rmSync(to, { recursive: true, force: true });
    if (existsSync(this.dir)) cpSync(this.dir, to, { recursive: true, preserveTimestamps: true });
  }
}
