// 1 GiB image upload and download over loopback against `bootstack serve` (its own process):
//   npm run bench -- images [MiB=1024]
// Reports MB/s each way and the server's peak RSS (VmHWM), which shows that nothing is buffered
// whole. The data is a 1 MiB random block repeated (hashing costs the same as for real data).
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { adminToken, spawnSeed } from '../test/support/serve-process.js';

export default async function images(args: string[]) {
  const mib = Number(args[0] ?? 1024);
  const bytes = mib * 1024 * 1024;
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-bench-images-'));
  const seed = await spawnSeed(stateDir);
  try {
    const token = await adminToken(seed.url, stateDir);
    const idleRssMiB = Math.round(seed.rssMiB());
    const created = await request(`${seed.url}/image/v2/images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ name: 'bench', disk_format: 'raw', container_format: 'bare' }),
    });
    const id = ((await created.body.json()) as { id: string }).id;
    const block = randomBytes(1024 * 1024);
    const md5 = createHash('md5');
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent >= bytes) return this.push(null);
        sent += block.length;
        md5.update(block);
        this.push(block);
      },
    });
    let t = performance.now();
    const put = await request(`${seed.url}/image/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes), 'x-auth-token': token },
      body: source,
    });
    await put.body.dump();
    if (put.statusCode !== 204) throw new Error(`upload: ${put.statusCode}`);
    const uploadS = (performance.now() - t) / 1000;
    const afterUploadPeak = Math.round(seed.peakRssMiB());

    t = performance.now();
    const get = await request(`${seed.url}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': token } });
    const got = createHash('md5');
    let received = 0;
    for await (const chunk of get.body) {
      received += (chunk as Buffer).length;
      got.update(chunk as Buffer);
    }
    const downloadS = (performance.now() - t) / 1000;
    if (received !== bytes || got.digest('hex') !== md5.digest('hex') || get.headers['content-md5'] === undefined) {
      throw new Error('download differs from upload');
    }
    const mb = bytes / 1e6;
    return {
      sizeMiB: mib,
      upload: { seconds: +uploadS.toFixed(2), MBps: Math.round(mb / uploadS), note: 'md5 + sha512 + write + fsync' },
      download: { seconds: +downloadS.toFixed(2), MBps: Math.round(mb / downloadS), note: 'client also hashes with md5' },
      serverIdleRssMiB: idleRssMiB,
      serverPeakRssMiBAfterUpload: afterUploadPeak,
      serverPeakRssMiB: Math.round(seed.peakRssMiB()),
    };
  } finally {
    await seed.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
