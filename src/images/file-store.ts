// The filesystem store: one file per active image under <store>/<id>. Uploads stream into
// <store>/.tmp and are renamed into place only when complete, so a reader never sees a partial
// image and a crash leaves only files that the start-up sweep recognises and removes.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadRequestError, PayloadTooLargeError } from '../common/errors.js';

export interface ReceivedData {
  tmpPath: string;
  size: number;
  md5: string;
  sha512: string;
}

const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class FilesystemStore {
  private readonly tmpDir: string;

  constructor(readonly dir: string) {
    this.tmpDir = join(dir, '.tmp');
  }

  async prepare(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  path(id: string): string {
    if (!ID_RE.test(id)) throw new BadRequestError(`invalid image id ${id}`);
    return join(this.dir, id);
  }

  /**
   * Streams `source` to a temporary file while computing md5 and sha512; never holds more than
   * a chunk in memory. Fails (and removes the partial file) when the stream breaks, when more
   * than `cap` bytes arrive, or when fewer than `expected` bytes arrive.
   */
  async receive(id: string, source: Readable, cap: number, expected?: number): Promise<ReceivedData> {
    await this.prepare();
    const tmpPath = join(this.tmpDir, `${id}.${randomBytes(6).toString('hex')}.part`);
    const md5 = createHash('md5');
    const sha = createHash('sha512');
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (size > cap) throw new PayloadTooLargeError(cap, { fields: { image: id } });
            md5.update(chunk);
            sha.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmpPath, { flags: 'wx', mode: 0o600 }),
      );
      if (expected !== undefined && size !== expected) {
        throw new BadRequestError(`Upload ended after ${size} of ${expected} bytes.`, { fields: { image: id } });
      }
      // Durable before it can become active: a power cut must not leave an active image with
      // a truncated file.
      const fh = await open(tmpPath, 'r');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await unlink(tmpPath).catch(() => undefined);
      throw err;
    }
    return { tmpPath, size, md5: md5.digest('hex'), sha512: sha.digest('hex') };
  }

  async commit(tmpPath: string, id: string): Promise<void> {
    await rename(tmpPath, this.path(id));
  }

  async discard(tmpPath: string): Promise<void> {
    await unlink(tmpPath).catch(() => undefined);
  }

  async remove(id: string): Promise<void> {
    await unlink(this.path(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async size(id: string): Promise<number | null> {
    return stat(this.path(id)).then((s) => s.size, () => null);
  }

  /**
   * At start, before any upload: every temporary file is from an upload that died, and every
   * image file whose record is not active was renamed into place by an upload whose commit
   * never happened (or belongs to a deleted image). Both go.
   */
  async sweep(activeIds: Set<string>): Promise<string[]> {
    await this.prepare();
    const removed: string[] = [];
    for (const name of await readdir(this.tmpDir)) {
      await rm(join(this.tmpDir, name), { force: true, recursive: true });
      removed.push(join('.tmp', name));
    }
    for (const name of await readdir(this.dir)) {
      if (name === '.tmp' || activeIds.has(name)) continue;
      await rm(join(this.dir, name), { force: true, recursive: true });
      removed.push(name);
    }
    return removed;
  }
}
