// The dhcp-hostsdir dnsmasq watches: one file per enrolled MAC. dnsmasq reads new and changed
// files by itself (inotify); a removed entry stays until it gets SIGHUP, so removal asks the
// supervisor to reload. Files are written atomically via a dot-file that dnsmasq skips.
//
// Every operation goes through one queue: a port added and removed by two concurrent requests
// must end in the state of the last call, and an add interleaved with a full sync must not
// resurrect a file the sync (or a later remove) deleted. The directory is rebuilt from the
// database at every start, so writes are not fsynced (a crash loses nothing that matters).
//
// Two owners write entries: enrolled bare-metal ports (add/remove/sync: the MAC alone) and the
// network service's address reservations (reserve/release/setReservations: MAC, fixed address,
// host name). One MAC has one file, so the file is the merge of both: a reservation's address on
// top of the enrolled entry. dnsmasq only ever adds records from a changed file, so a change of
// an existing file's content also asks for a reload (SIGHUP), or the old record would stay.
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

/** Fixed addresses for MACs, merged into the hosts directory (the network service's bound ports). */
export interface HostReservations {
  reserve(mac: string, ip: string, hostname?: string): Promise<void>;
  release(mac: string): Promise<void>;
  /** Makes the reservations exactly these (at start, from the network service's database). */
  setReservations(entries: readonly HostEntry[]): Promise<void>;
}

export class DhcpHostsDir implements HostReservations {
  private queue: Promise<unknown> = Promise.resolve();
  /** What the enrolled ports asked for, and the reservations, by normalized MAC. */
  private readonly enrolled = new Map<string, HostEntry>();
  private reserved = new Map<string, HostEntry>();
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
    renderHostLine(entry); // validate now, in the caller's request
    const m = normalizeMac(entry.mac);
    return this.serial(async () => {
      this.enrolled.set(m, entry);
      await this.put(m);
    });
  }

  remove(mac: string): Promise<void> {
    const m = normalizeMac(mac);
    return this.serial(async () => {
      this.enrolled.delete(m);
      await this.put(m);
    });
  }

  reserve(mac: string, ip: string, hostname?: string): Promise<void> {
    const entry: HostEntry = { mac, ip, ...(hostname ? { hostname } : {}) };
    renderHostLine(entry);
    const m = normalizeMac(mac);
    return this.serial(async () => {
      this.reserved.set(m, entry);
      await this.put(m);
    });
  }

  release(mac: string): Promise<void> {
    const m = normalizeMac(mac);
    return this.serial(async () => {
      this.reserved.delete(m);
      await this.put(m);
    });
  }

  setReservations(entries: readonly HostEntry[]): Promise<void> {
    for (const e of entries) renderHostLine(e);
    const wanted = new Map(entries.map((e) => [normalizeMac(e.mac), e]));
    return this.serial(async () => {
      // Files of MACs nobody asks for any more go (a reservation whose port was deleted while
      // the seed was down); enrolled MACs not yet known here come back with the enrolled sync.
      const touched = new Set([...this.reserved.keys(), ...wanted.keys(), ...(await this.names())]);
      this.reserved = wanted;
      for (const m of touched) await this.put(m);
    });
  }

  /** The merged line for a MAC: the enrolled entry with the reservation's address and name on top. */
  private lineFor(mac: string): string | undefined {
    const e = this.enrolled.get(mac);
    const r = this.reserved.get(mac);
    if (!e && !r) return undefined;
    return renderHostLine(r ? { mac, ip: r.ip, hostname: r.hostname ?? e?.hostname } : e!);
  }

  /** Writes (or removes) one MAC's file from the merged state; reloads dnsmasq when a record changed or went. */
  private async put(mac: string): Promise<void> {
    const line = this.lineFor(mac);
    if (line === undefined) {
      if (await this.unlink(mac)) this.reload();
      return;
    }
    const current = await readFile(join(this.dir, fileFor(mac)), 'utf8').catch(() => undefined);
    if (current === line) return;
    await this.write(mac, line);
    if (current !== undefined) this.reload();
  }

  list(): Promise<string[]> {
    return this.serial(() => this.names());
  }

  /** Makes the directory hold exactly these entries (at start, from the enrolled ports); unchanged files are left alone. */
  sync(entries: readonly HostEntry[]): Promise<void> {
    for (const e of entries) renderHostLine(e);
    return this.serial(async () => {
      this.enrolled.clear();
      for (const e of entries) this.enrolled.set(normalizeMac(e.mac), e);
      const wanted = new Map<string, string>();
      for (const mac of new Set([...this.enrolled.keys(), ...this.reserved.keys()])) wanted.set(mac, this.lineFor(mac)!);
      let reload = false;
      for (const mac of await this.names()) {
        if (!wanted.has(mac)) reload = (await this.unlink(mac)) || reload;
      }
      for (const [mac, line] of wanted) {
        const current = await readFile(join(this.dir, fileFor(mac)), 'utf8').catch(() => undefined);
        if (current !== line) {
          await this.write(mac, line);
          // A changed file adds a record and keeps the old one until a reload.
          if (current !== undefined) reload = true;
        }
      }
      if (reload) this.reload();
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
