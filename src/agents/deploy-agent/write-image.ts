// Write image: stream an image over HTTP straight onto the disk, hashing while writing, with a
// bounded buffer (so a 2 GiB image deploys on a 768 MiB machine) and throughput reported.
// Raw images only: a qcow2 image is refused with a clear error, because the seed converts
// qcow2 to raw in its conversion cache before offering it to the agent (docs/boot-deploy.md).
// Sparse transfer (src/common/sparse-image.ts): when the seed sends only the data extents with their map,
// the zero runs between them are not downloaded; they are zeroed on the disk (BLKZEROOUT through
// `blkdiscard --zeroout` on a block device, written zeros otherwise) and hashed from one reused
// zero buffer, so the checksum still covers the whole logical image in order.
import { createHash, type Hash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { run } from '../../common/child-process.js';
import { deviceSize, MiB, zeroRange } from './disk.js';
import { MAP_BYTES_HEADER, SPARSE, TRANSFER_HEADER, dataBytes, validateExtentMap, type ExtentMap } from '../../common/sparse-image.js';

// The progress and result fields are the protocol's (heartbeats and write_image's result).
import type { ChecksumAlgo, ImageWrite, WriteProgress } from '../../common/agent-protocol.js';
export type { ChecksumAlgo, WriteProgress };
export type WriteImageResult = ImageWrite;

export interface WriteImageOptions {
  url: string;
  device: string;
  /** Expected hex digest; the write fails (and the written start is wiped) if it differs. */
  checksum: string;
  algo: ChecksumAlgo;
  /** Byte offset on the device (a partition's start for partition images). */
  offset?: number;
  /** Largest number of bytes that may be written (the partition's size). */
  limit?: number;
  /** Called about every `progressEveryBytes` (default 64 MiB). */
  onProgress?: (p: WriteProgress) => void;
  progressEveryBytes?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Ask for the sparse transfer (default true); false always downloads the full image. */
  sparse?: boolean;
}

export class ImageWriteError extends Error {
  constructor(
    message: string,
    readonly code: 'download_failed' | 'checksum_mismatch' | 'image_too_large' | 'unsupported_format',
  ) {
    super(message);
  }
}

/** How much we gather before one write(2): large enough to stream fast, small enough to not matter. */
const WRITE_BATCH = 4 * MiB;

/** Zero runs at least this long on a block device go to BLKZEROOUT (one process each); shorter ones are written. */
const ZEROOUT_MIN = MiB;

/** The longest extent map accepted (about 600,000 extents): it is held in memory. */
const MAX_MAP_BYTES = 16 * MiB;

/** A download that sends nothing for this long is dead (the seed restarted, the link went away). */
const IDLE_TIMEOUT_MS = 60_000;

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/** Zeros for the zero runs' hash and for the writes where BLKZEROOUT is not available; never written to. */
const ZEROS = Buffer.alloc(MiB);

function get(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const impl = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = impl(u, { method: 'GET', signal, headers }, (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        res.resume();
        reject(new ImageWriteError(`GET ${url} answered HTTP ${res.statusCode}`, 'download_failed'));
      } else resolve(res);
    });
    req.on('error', (err) => reject(new ImageWriteError(`GET ${url}: ${err.message}`, 'download_failed')));
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.end();
  });
}

/**
 * Puts image bytes on the disk at image positions. Contiguous data is gathered into 4 MiB
 * batches; one batch is being written while the next one is received (fetch and write overlap),
 * so at most two batches are in memory. Zero runs wait for the writes before them.
 */
class DiskWriter {
  private batch: Buffer[] = [];
  private batched = 0;
  private batchAt = 0;
  private inflight: Promise<void> = Promise.resolve();
  private failed: Error | undefined;
  private blkdiscardWorks: boolean;
  /** Image bytes put on the disk (written or zeroed), for progress. */
  done = 0;
  readonly zeroedWith = new Set<'blkdiscard' | 'write'>();

  constructor(
    private readonly fh: FileHandle,
    private readonly device: string,
    private readonly base: number,
    isBlockDevice: boolean,
    private readonly onDone: () => void,
  ) {
    this.blkdiscardWorks = isBlockDevice;
  }

  async data(pos: number, chunk: Buffer): Promise<void> {
    if (this.batched && this.batchAt + this.batched !== pos) await this.flush();
    if (!this.batched) this.batchAt = pos;
    this.batch.push(chunk);
    this.batched += chunk.length;
    if (this.batched >= WRITE_BATCH) await this.flush();
  }

  /** Hands the batch to the disk; waits only for the previous batch's write. */
  async flush(): Promise<void> {
    if (!this.batched) return;
    const buf = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batched);
    const at = this.base + this.batchAt;
    this.batch = [];
    this.batched = 0;
    await this.settle();
    // Rejections are kept, not left unhandled: the next flush, zero or finish reports them.
    this.inflight = this.writeFully(buf, at).catch((err: Error) => {
      this.failed ??= err;
    });
  }

  async zero(pos: number, length: number): Promise<void> {
    await this.flush();
    await this.settle();
    const at = this.base + pos;
    // BLKZEROOUT needs sector alignment; 4 KiB keeps it clear of the page cache's partial pages.
    if (this.blkdiscardWorks && length >= ZEROOUT_MIN && at % 4096 === 0 && length % 4096 === 0) {
      const r = await run('blkdiscard', ['--zeroout', '--offset', String(at), '--length', String(length), this.device], { allowFailure: true, timeoutMs: 600_000 }).catch(
        (err: Error) => ({ code: -1, stderr: err.message }),
      );
      if (r.code === 0) {
        this.zeroedWith.add('blkdiscard');
        this.done += length;
        this.onDone();
        return;
      }
      // Not supported here (old kernel, device without write-zeroes, no util-linux): write zeros from now on.
      this.blkdiscardWorks = false;
    }
    for (let off = 0; off < length; off += ZEROS.length) {
      await this.writeFully(ZEROS.subarray(0, Math.min(ZEROS.length, length - off)), at + off);
    }
    this.zeroedWith.add('write');
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.settle();
  }

  /** After a failure: drops what is batched and waits for the write in flight, whatever its outcome. */
  async abandon(): Promise<void> {
    this.batch = [];
    this.batched = 0;
    await this.inflight;
  }

  private async settle(): Promise<void> {
    await this.inflight;
    if (this.failed) throw this.failed;
  }

  private async writeFully(buf: Buffer, at: number): Promise<void> {
    let n = 0;
    while (n < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, n, buf.length - n, at + n);
      n += bytesWritten;
    }
    this.done += buf.length;
    this.onDone();
  }
}

/** Hashes `length` zero bytes from the one zero buffer (never `length` bytes of memory). */
function hashZeros(hash: Hash, length: number): void {
  for (let left = length; left > 0; left -= ZEROS.length) hash.update(left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left));
}

export async function writeImage(o: WriteImageOptions): Promise<WriteImageResult> {
  const offset = o.offset ?? 0;
  const room = (o.limit ?? (await deviceSize(o.device)) - offset);
  const started = Date.now();
  const res = await get(o.url, o.sparse === false ? {} : { [TRANSFER_HEADER]: SPARSE }, o.signal);
  const sparse = res.headers[TRANSFER_HEADER] === SPARSE;
  const lengthHeader = res.headers['content-length'];
  const bodyBytes = lengthHeader === undefined ? null : Number(lengthHeader);
  const mapBytes = sparse ? Number(res.headers[MAP_BYTES_HEADER]) : 0;
  if (sparse && !(Number.isSafeInteger(mapBytes) && mapBytes > 0 && mapBytes <= MAX_MAP_BYTES)) {
    res.destroy();
    throw new ImageWriteError(`GET ${o.url}: the sparse answer has no usable ${MAP_BYTES_HEADER} header (${String(res.headers[MAP_BYTES_HEADER])})`, 'download_failed');
  }
  // The full transfer's size is its body; the sparse one's is in its map (checked once read).
  let total: number | null = sparse ? null : bodyBytes;
  if (total !== null && total > room) {
    res.destroy();
    throw new ImageWriteError(`the image is ${total} bytes but only ${room} bytes are available on ${o.device} at offset ${offset}`, 'image_too_large');
  }
  const hash: Hash = createHash(o.algo);
  const fh = await open(o.device, 'r+');
  let nextReport = o.progressEveryBytes ?? 64 * MiB;
  const progress = (): WriteProgress => {
    const seconds = (Date.now() - started) / 1000;
    return { bytes: writer.done, total, seconds, mb_per_s: seconds > 0 ? writer.done / MiB / seconds : 0 };
  };
  const writer: DiskWriter = new DiskWriter(fh, o.device, offset, (await stat(o.device)).isBlockDevice(), () => {
    if (writer.done >= nextReport) {
      o.onProgress?.(progress());
      nextReport = writer.done + (o.progressEveryBytes ?? 64 * MiB);
    }
  });
  let received = 0;
  let zeroBytes = 0;
  try {
    const timer = o.timeoutMs ? setTimeout(() => res.destroy(new Error(`no end after ${o.timeoutMs} ms`)), o.timeoutMs) : undefined;
    try {
      // Where the next body byte goes: map bytes first (sparse), then each extent in turn.
      let mapParts: Buffer[] | undefined = sparse ? [] : undefined;
      let mapGot = 0;
      let map: ExtentMap | undefined;
      let extent = 0; // index of the current extent (sparse)
      let pos = 0; // image position of the next data byte
      let extentLeft = sparse ? 0 : Infinity;
      const data = async (chunk: Buffer) => {
        if (pos === 0 && chunk.length >= 4 && chunk.subarray(0, 4).equals(QCOW2_MAGIC)) {
          throw new ImageWriteError('the image is qcow2; the agent writes raw images only (the seed converts qcow2 to raw before deploy)', 'unsupported_format');
        }
        if (pos + chunk.length > room) throw new ImageWriteError(`the image is larger than the ${room} bytes available on ${o.device}`, 'image_too_large');
        hash.update(chunk);
        await writer.data(pos, chunk);
        pos += chunk.length;
      };
      // The zero run up to `to` (the next extent, or the image's end): hashed and zeroed, not downloaded.
      const zerosUpTo = async (to: number) => {
        if (to <= pos) return;
        hashZeros(hash, to - pos);
        await writer.zero(pos, to - pos);
        zeroBytes += to - pos;
        pos = to;
      };
      const nextExtent = async () => {
        while (map && extentLeft === 0 && extent < map.extents.length) {
          const [at, length] = map.extents[extent++]!;
          await zerosUpTo(at);
          extentLeft = length;
        }
      };
      // for-await pulls one chunk at a time: the socket is paused while we hash and queue it (backpressure).
      for await (const c of res as AsyncIterable<Buffer>) {
        received += c.length;
        let chunk = c;
        if (mapParts) {
          const take = Math.min(chunk.length, mapBytes - mapGot);
          mapParts.push(chunk.subarray(0, take));
          mapGot += take;
          chunk = chunk.subarray(take);
          if (mapGot < mapBytes) continue;
          try {
            map = validateExtentMap(JSON.parse(Buffer.concat(mapParts).toString('utf8')));
          } catch (err) {
            throw new ImageWriteError(`GET ${o.url}: bad extent map: ${(err as Error).message}`, 'download_failed');
          }
          mapParts = undefined;
          total = map.size;
          if (total > room) throw new ImageWriteError(`the image is ${total} bytes but only ${room} bytes are available on ${o.device} at offset ${offset}`, 'image_too_large');
          if (bodyBytes !== null && bodyBytes !== mapBytes + dataBytes(map)) {
            throw new ImageWriteError(`GET ${o.url}: the body is ${bodyBytes} bytes but the map announces ${mapBytes + dataBytes(map)}`, 'download_failed');
          }
          await nextExtent();
        }
        while (chunk.length) {
          if (extentLeft === 0) throw new ImageWriteError(`GET ${o.url}: more data than the extent map announces`, 'download_failed');
          const n = Math.min(chunk.length, extentLeft);
          await data(chunk.subarray(0, n));
          chunk = chunk.subarray(n);
          extentLeft -= n;
          if (extentLeft === 0) await nextExtent();
        }
      }
      if (bodyBytes !== null && received !== bodyBytes) {
        throw new ImageWriteError(`download ended after ${received} of ${bodyBytes} bytes`, 'download_failed');
      }
      if (sparse) {
        if (!map || extentLeft !== 0 || extent < map.extents.length) throw new ImageWriteError(`download ended before the last data extent of ${o.url}`, 'download_failed');
        await zerosUpTo(map.size);
      }
      await writer.finish();
    } finally {
      if (timer) clearTimeout(timer);
    }
    await fh.sync();
  } catch (err) {
    res.destroy();
    await writer.abandon(); // no write still running when the file closes
    if (err instanceof ImageWriteError) throw err;
    throw new ImageWriteError(`writing ${o.url} to ${o.device}: ${(err as Error).message}`, 'download_failed');
  } finally {
    await fh.close();
  }
  const digest = hash.digest('hex');
  if (digest !== o.checksum.toLowerCase()) {
    // Leave nothing that could boot: wipe the start of what we wrote.
    await zeroRange(o.device, offset, Math.min(MiB, writer.done));
    throw new ImageWriteError(`${o.algo} checksum mismatch: expected ${o.checksum}, image has ${digest}`, 'checksum_mismatch');
  }
  return {
    ...progress(),
    device: o.device,
    offset,
    checksum: digest,
    algo: o.algo,
    transfer: sparse ? SPARSE : 'full',
    downloaded_bytes: received,
    zero_bytes: zeroBytes,
    zeroed_with: [...writer.zeroedWith],
  };
}
