// Write image: stream an image over HTTP straight onto the disk, hashing while writing, with a
// bounded buffer (so a 2 GiB image deploys on a 768 MiB machine) and throughput reported.
// Raw images only: a qcow2 image is refused with a clear error, because the seed converts
// qcow2 to raw in its conversion cache before offering it to the agent (docs/boot-deploy.md).
import { createHash, type Hash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { open } from 'node:fs/promises';
import { deviceSize, MiB, zeroRange } from './disk.js';

export type ChecksumAlgo = 'md5' | 'sha256' | 'sha512';

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
}

export interface WriteProgress {
  bytes: number;
  total: number | null;
  seconds: number;
  mb_per_s: number;
}

export interface WriteImageResult extends WriteProgress {
  device: string;
  offset: number;
  checksum: string;
  algo: ChecksumAlgo;
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

/** A download that sends nothing for this long is dead (the seed restarted, the link went away). */
const IDLE_TIMEOUT_MS = 60_000;

function get(url: string, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const impl = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = impl(u, { method: 'GET', signal }, (res) => {
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

export async function writeImage(o: WriteImageOptions): Promise<WriteImageResult> {
  const offset = o.offset ?? 0;
  const room = (o.limit ?? (await deviceSize(o.device)) - offset);
  const started = Date.now();
  const res = await get(o.url, o.signal);
  const lengthHeader = res.headers['content-length'];
  const total = lengthHeader === undefined ? null : Number(lengthHeader);
  if (total !== null && total > room) {
    res.destroy();
    throw new ImageWriteError(`the image is ${total} bytes but only ${room} bytes are available on ${o.device} at offset ${offset}`, 'image_too_large');
  }
  const hash: Hash = createHash(o.algo);
  const fh = await open(o.device, 'r+');
  let written = 0;
  let nextReport = o.progressEveryBytes ?? 64 * MiB;
  const progress = (): WriteProgress => {
    const seconds = (Date.now() - started) / 1000;
    return { bytes: written, total, seconds, mb_per_s: seconds > 0 ? written / MiB / seconds : 0 };
  };
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    if (!batched) return;
    const buf = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    let at = 0;
    while (at < buf.length) {
      const { bytesWritten } = await fh.write(buf, at, buf.length - at, offset + written);
      at += bytesWritten;
      written += bytesWritten;
    }
    if (written >= nextReport) {
      o.onProgress?.(progress());
      nextReport = written + (o.progressEveryBytes ?? 64 * MiB);
    }
  };
  let first = true;
  let received = 0;
  try {
    const timer = o.timeoutMs ? setTimeout(() => res.destroy(new Error(`no end after ${o.timeoutMs} ms`)), o.timeoutMs) : undefined;
    try {
      // for-await pulls one chunk at a time: the socket is paused while we write (backpressure).
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (first) {
          first = false;
          if (chunk.subarray(0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) {
            throw new ImageWriteError('the image is qcow2; the agent writes raw images only (the seed converts qcow2 to raw before deploy)', 'unsupported_format');
          }
        }
        received += chunk.length;
        if (received > room) throw new ImageWriteError(`the image is larger than the ${room} bytes available on ${o.device}`, 'image_too_large');
        hash.update(chunk);
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) await flush();
      }
      await flush();
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (total !== null && received !== total) {
      throw new ImageWriteError(`download ended after ${received} of ${total} bytes`, 'download_failed');
    }
    await fh.sync();
  } catch (err) {
    res.destroy();
    if (err instanceof ImageWriteError) throw err;
    throw new ImageWriteError(`writing ${o.url} to ${o.device}: ${(err as Error).message}`, 'download_failed');
  } finally {
    await fh.close();
  }
  const digest = hash.digest('hex');
  if (digest !== o.checksum.toLowerCase()) {
    // Leave nothing that could boot: wipe the start of what we wrote.
    await zeroRange(o.device, offset, Math.min(MiB, written));
    throw new ImageWriteError(`${o.algo} checksum mismatch: expected ${o.checksum}, image has ${digest}`, 'checksum_mismatch');
  }
  return { ...progress(), device: o.device, offset, checksum: digest, algo: o.algo };
}
