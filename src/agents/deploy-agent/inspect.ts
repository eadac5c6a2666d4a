// Hardware inventory read from /proc and /sys, under a root path so tests can point it at a
// fake tree. Field names follow ironic-python-agent's inventory where one exists.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { machine } from 'node:os';
import { basename, join } from 'node:path';

// The inventory is the inspect command's result: declared with the protocol.
import type { BlockDevice, Inventory, NetworkInterface } from '../../common/agent-protocol.js';
export type { BlockDevice, Inventory, NetworkInterface };

async function text(path: string): Promise<string | null> {
  try {
    const v = (await readFile(path, 'utf8')).trim();
    return v === '' ? null : v;
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function readCpu(root: string): Promise<Inventory['cpu']> {
  const info = (await text(join(root, 'proc/cpuinfo'))) ?? '';
  const count = info.split('\n').filter((l) => /^processor\s*:/.test(l)).length;
  const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? null;
  return { count, model_name: model, architecture: machine() };
}

export async function readMemory(root: string): Promise<Inventory['memory']> {
  const info = (await text(join(root, 'proc/meminfo'))) ?? '';
  const kb = Number(/^MemTotal:\s*(\d+)\s*kB/m.exec(info)?.[1] ?? 0);
  // MemTotal excludes what the kernel reserved; physical_mb rounds up to whole 128 MiB as the
  // DIMMs are, so a 768 MiB machine reads 768 and not 741.
  const mb = kb / 1024;
  return { total_bytes: kb * 1024, physical_mb: Math.ceil(mb / 128) * 128 };
}

/** Devices that are never install targets. */
const SKIP_BLOCK = /^(loop|ram|zram|fd|sr|dm-|md|nbd)/;

function normalizeWwn(raw: string | null): string | null {
  if (!raw) return null;
  // SCSI wwid "naa.5000c500a1b2c3d4" → "0x5000c500a1b2c3d4", the form udev's ID_WWN and Ironic use.
  const naa = /^naa\.([0-9a-f]+)$/i.exec(raw);
  return naa ? `0x${naa[1]!.toLowerCase()}` : raw;
}

export async function readDisks(root: string): Promise<BlockDevice[]> {
  const dir = join(root, 'sys/block');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !SKIP_BLOCK.test(n)).sort();
  const out: BlockDevice[] = [];
  for (const n of names) {
    const d = join(dir, n);
    const sectors = Number((await text(join(d, 'size'))) ?? 0);
    if (!sectors) continue;
    if ((await text(join(d, 'removable'))) === '1' && sectors === 0) continue;
    let hctl: string | null = null;
    try {
      const target = basename(await realpath(join(d, 'device')));
      if (/^\d+:\d+:\d+:\d+$/.test(target)) hctl = target;
    } catch {
      // no device link (virtual): no SCSI address
    }
    out.push({
      name: `/dev/${n}`,
      // /sys/block/*/size is always in 512-byte units, whatever the logical block size.
      size: sectors * 512,
      model: (await text(join(d, 'device/model'))) ?? null,
      vendor: (await text(join(d, 'device/vendor'))) ?? null,
      serial: (await text(join(d, 'serial'))) ?? (await text(join(d, 'device/serial'))),
      wwn: normalizeWwn((await text(join(d, 'wwid'))) ?? (await text(join(d, 'device/wwid')))),
      rotational: (await text(join(d, 'queue/rotational'))) === '1',
      hctl,
    });
  }
  return out;
}

export async function readInterfaces(root: string): Promise<NetworkInterface[]> {
  const dir = join(root, 'sys/class/net');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n !== 'lo').sort();
  const out: NetworkInterface[] = [];
  for (const n of names) {
    const d = join(dir, n);
    // type 1 is ARPHRD_ETHER; skip tunnels and the like.
    if ((await text(join(d, 'type'))) !== '1') continue;
    const mac = await text(join(d, 'address'));
    if (!mac) continue;
    const speed = Number(await text(join(d, 'speed')));
    out.push({
      name: n,
      mac_address: mac.toLowerCase(),
      // Reading carrier of a down interface fails with EINVAL: that is "no carrier".
      has_carrier: (await text(join(d, 'carrier'))) === '1',
      speed_mbps: Number.isFinite(speed) && speed > 0 ? speed : null,
      physical: await exists(join(d, 'device')),
    });
  }
  return out;
}

export async function readSystem(root: string): Promise<Inventory['system_vendor']> {
  const d = join(root, 'sys/class/dmi/id');
  return {
    manufacturer: await text(join(d, 'sys_vendor')),
    product_name: await text(join(d, 'product_name')),
    serial_number: await text(join(d, 'product_serial')),
    uuid: await text(join(d, 'product_uuid')),
  };
}

export async function inspect(root = '/'): Promise<Inventory> {
  const [cpu, memory, disks, interfaces, system_vendor] = await Promise.all([
    readCpu(root),
    readMemory(root),
    readDisks(root),
    readInterfaces(root),
    readSystem(root),
  ]);
  return { cpu, memory, disks, interfaces, system_vendor };
}
