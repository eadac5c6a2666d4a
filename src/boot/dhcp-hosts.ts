// The dhcp-hostsdir dnsmasq watches: one file per enrolled MAC. dnsmasq reads new and changed
// files by itself (inotify); a removed entry stays until it gets SIGHUP, so removal asks the
// supervisor to reload. Files are written atomically via a dot-file that dnsmasq skips.
//
// Every operation goes through one queue: a port added and removed by two concurrent requests
// must end in the state of the last call, and an add interleaved with a full sync must not
// resurrect a file the sync (or a later remove) deleted. The directory is rebuilt from the
// database at every start, so writes are not fsynced (a crash loses nothing that matters).
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';
import { ValidationError } from '../common/errors.js';

export interface HostEntry {
  mac: string;
  /** Fixed address for this MAC (dhcp mode only); otherwise one from the range. */
  ip?: string;
  hostname?: string;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function normalizeMac(mac: string): string {
  const m = mac.trim().toLowerCase().replace(/-/g, ':');
  if (!MAC.test(m)) throw new ValidationError(`"${mac}" is not a MAC address`, { path: 'mac' });
  return m;
}

function fileFor(mac: string): string {
  return mac.replace(/:/g, '-');
}

export function renderHostLine(entry: HostEntry): string {
  const parts = [normalizeMac(entry.mac)];
  if (entry.ip) parts.push(entry.ip);
  if (entry.hostname) {
    if (!/^[A-Za-z0-9-]{1,63}$/.test(entry.hostname)) throw new ValidationError(`"${entry.hostname}" is not a host name`, { path: 'hostname' });
    parts.push(entry.hostname);
  }
  return parts.join(',') + '\n';
}

export class DhcpHostsDir {
  private queue: Promise<unknown> = Promise.resolve();
  /** File writes and unlinks done so far (tests and benchmarks count them). */
  readonly stats = { writes: 0, unlinks: 0 };

  constructor(
    readonly dir: string,
    /** Called after a removal so dnsmasq forgets the entry (SIGHUP). */
    private readonly reload: () => void = () => undefined,
  ) {}

  /** Runs `op` after every operation queued before it (whatever their outcome). */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  add(entry: HostEntry): Promise<void> {
    const line = renderHostLine(entry); // validate now, in the caller's request
    return this.serial(() => this.write(normalizeMac(entry.mac), line));
  }

  remove(mac: string): Promise<void> {
    const m = normalizeMac(mac);
    return this.serial(async () => {
      if (await this.unlink(m)) this.reload();
    });
  }

  list(): Promise<string[]> {
    return this.serial(() => this.names());
  }

  /** Makes the directory hold exactly these entries (at start, from the enrolled ports); unchanged files are left alone. */
  sync(entries: readonly HostEntry[]): Promise<void> {
    const wanted = new Map(entries.map((e) => [normalizeMac(e.mac), renderHostLine(e)]));
    return this.serial(async () => {
      let removed = false;
      for (const mac of await this.names()) {
        if (!wanted.has(mac)) removed = (await this.unlink(mac)) || removed;
      }
      for (const [mac, line] of wanted) {
        const current = await readFile(join(this.dir, fileFor(mac)), 'utf8').catch(() => undefined);
        if (current !== line) await this.write(mac, line);
      }
      if (removed) this.reload();
    });
  }

  private async write(mac: string, line: string): Promise<void> {
    this.stats.writes++;
    await writeFileAtomic(join(this.dir, fileFor(mac)), line, { mode: 0o644, fsync: false });
  }

  private async unlink(mac: string): Promise<boolean> {
    try {
      await unlink(join(this.dir, fileFor(mac)));
      this.stats.unlinks++;
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  private async names(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => !n.startsWith('.')).map((n) => n.replace(/-/g, ':')).sort();
  }
}
