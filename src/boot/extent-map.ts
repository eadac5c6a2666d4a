// The extent map of a deploy image on the seed: which ranges of the raw file hold data and which
// are zeros, so the sparse transfer (src/common/sparse-image.ts) sends only the data.
// Found by reading the file and comparing 64 KiB blocks with zeros, not with SEEK_DATA/SEEK_HOLE
// (or `qemu-img map`): an uploaded raw is stored fully allocated, its zeros written out, and only
// the content shows them (the Debian sample raw: 1,466 MB, 584 MB of zeros, 0 bytes of holes once
// uploaded). Holes of a sparse raw read as zeros, so conversion-cache raws are covered too.
// Maps are kept in memory per file version (device, inode, size, mtime): computing one costs a read
// of the file (~0.3-2 s per GiB from the page cache), once per image per seed run.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { MAP_BYTES_HEADER, SPARSE, TRANSFER_HEADER, dataBytes, type ExtentMap } from '../common/sparse-image.js';

/** Zero detection granularity (aligned): small enough to find a filesystem's free space. */
const GRAIN = 64 * 1024;
/** Zero runs shorter than this are sent as data: each run costs the agent a zeroing call. */
const MIN_ZERO_RUN = 1024 * 1024;
const READ = 4 * 1024 * 1024;

export interface ScanOptions {
  grain?: number;
  minZeroRun?: number;
}

/** Reads `path` once and returns its data extents (zero runs of at least minZeroRun left out). */
export async function scanExtents(path: string, opts: ScanOptions = {}): Promise<ExtentMap> {
  const grain = opts.grain ?? GRAIN;
  const minRun = Math.max(opts.minZeroRun ?? MIN_ZERO_RUN, grain);
  const zeros = Buffer.alloc(READ);
  const buf = Buffer.allocUnsafe(READ);
  const extents: Array<[number, number]> = [];
  let dataStart = 0; // start of the data extent being built (data since the last long zero run)
  let zeroStart = -1; // start of the current zero run, -1 outside one
  const closeZeroRun = (end: number) => {
    if (zeroStart >= 0 && end - zeroStart >= minRun) {
      if (zeroStart > dataStart) extents.push([dataStart, zeroStart - dataStart]);
      dataStart = end;
    }
    zeroStart = -1;
  };
  const fh = await open(path, 'r');
  let pos = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ, pos);
      if (!bytesRead) break;
      // A whole zero read (most of a hole) is one memcmp; otherwise block by block.
      const allZero = buf.subarray(0, bytesRead).equals(zeros.subarray(0, bytesRead));
      for (let o = 0; o < bytesRead; o += grain) {
        const n = Math.min(grain, bytesRead - o);
        if (allZero || buf.subarray(o, o + n).equals(zeros.subarray(0, n))) {
          if (zeroStart < 0) zeroStart = pos + o;
        } else closeZeroRun(pos + o);
      }
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  closeZeroRun(pos);
  if (pos > dataStart) extents.push([dataStart, pos - dataStart]);
  return { size: pos, extents };
}

/** Maps by file version, one scan per version however many agents ask at once. */
export class ExtentMapCache {
  private readonly maps = new Map<string, Promise<ExtentMap & { seconds: number }>>();

  constructor(private readonly maxEntries = 16) {}

  async get(path: string): Promise<ExtentMap & { seconds: number }> {
    const st = await stat(path);
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    let m = this.maps.get(key);
    if (!m) {
      const started = Date.now();
      m = scanExtents(path).then((map) => ({ ...map, seconds: (Date.now() - started) / 1000 }));
      m.catch(() => this.maps.delete(key));
      this.maps.set(key, m);
      // Oldest first out (insertion order); a map is small, the cap only bounds a long-running seed.
      while (this.maps.size > this.maxEntries) this.maps.delete(this.maps.keys().next().value!);
    }
    return m;
  }
}

/**
 * The sparse answer for `path`: its headers and a body of the map's JSON then each data extent's
 * bytes in order (src/common/sparse-image.ts), read from the file as it is sent.
 */
export function sparseResponse(path: string, map: ExtentMap): { headers: Record<string, string | number>; bytes: number; stream: Readable } {
  const mapJson = Buffer.from(JSON.stringify({ size: map.size, extents: map.extents }));
  const bytes = mapJson.length + dataBytes(map);
  async function* body(): AsyncGenerator<Buffer> {
    yield mapJson;
    for (const [offset, length] of map.extents) {
      for await (const c of createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: 1024 * 1024 })) yield c as Buffer;
    }
  }
  return {
    headers: { [TRANSFER_HEADER]: SPARSE, [MAP_BYTES_HEADER]: mapJson.length, 'content-length': bytes },
    bytes,
    stream: Readable.from(body(), { objectMode: false }),
  };
}
