// The dhcp-hostsdir dnsmasq watches: one file per enrolled MAC. dnsmasq reads new and changed
// files by itself (inotify); a removed entry stays until it gets SIGHUP, so removal asks the
// supervisor to reload. Files are written atomically via a dot-file that dnsmasq skips.
import { mkdir, readdir, unlink } from 'node:fs/promises';
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
  constructor(
    readonly dir: string,
    /** Called after a removal so dnsmasq forgets the entry (SIGHUP). */
    private readonly reload: () => void = () => undefined,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async add(entry: HostEntry): Promise<void> {
    await writeFileAtomic(join(this.dir, fileFor(normalizeMac(entry.mac))), renderHostLine(entry), { mode: 0o644 });
  }

  async remove(mac: string): Promise<void> {
    try {
      await unlink(join(this.dir, fileFor(normalizeMac(mac))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.reload();
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => !n.startsWith('.')).map((n) => n.replace(/-/g, ':')).sort();
  }

  /** Makes the directory hold exactly these entries (at start, from the enrolled ports). */
  async sync(entries: readonly HostEntry[]): Promise<void> {
    const wanted = new Map(entries.map((e) => [normalizeMac(e.mac), e]));
    let removed = false;
    for (const mac of await this.list()) {
      if (!wanted.has(mac)) {
        await unlink(join(this.dir, fileFor(mac))).catch(() => undefined);
        removed = true;
      }
    }
    for (const e of wanted.values()) await this.add(e);
    if (removed) this.reload();
  }
}
