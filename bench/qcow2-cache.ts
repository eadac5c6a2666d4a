// The seed's qcow2 → raw conversion cache (src/boot/raw-cache.ts) with the real qemu-img: for a
// 1 GiB and a 2 GiB disk (default: 1 MiB of random data every 4 MiB, holes between, as an OS
// image with free space), the cold path through RawCache.ensure (qemu-img info + convert + sha256
// of the raw), its two parts measured alone, a cache hit, and three concurrent first requests
// (single-flight: one conversion). Sizes are apparent/allocated MiB. `sync` runs before each
// timed phase; writeback_after_s is how long the converted raw took to reach the disk after.
// `npm run bench -- qcow2-cache [--sizes-mib 1024,2048] [--every-mib 4]`
import { mkdtemp, open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/common/child-process.js';
import { RawCache, sha256File } from '../src/boot/raw-cache.js';

const MiB = 1024 * 1024;
/** Dirty pages of the previous phase written out first, so no phase pays for another's writeback. */
const settle = () => run('sync', []);
const secs = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;

export default async function bench(args: string[]) {
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : dflt;
  };
  const sizes = opt('--sizes-mib', '1024,2048').split(',').map(Number);
  const every = Number(opt('--every-mib', '4'));
  const dir = await mkdtemp(join(tmpdir(), 'bench-qcow2-cache-'));
  const results = [];
  try {
    for (const sizeMiB of sizes) {
      const raw = join(dir, `src-${sizeMiB}.raw`);
      await writeFile(raw, '');
      await truncate(raw, sizeMiB * MiB);
      const fh = await open(raw, 'r+');
      for (let off = 0; off < sizeMiB; off += every) await fh.write(randomBytes(MiB), 0, MiB, off * MiB);
      await fh.close();
      const qcow2 = join(dir, `src-${sizeMiB}.qcow2`);
      await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2], { timeoutMs: 600_000 });
      await rm(raw);

      // Parts alone: qemu-img convert, then sha256 of its (sparse) output.
      const plain = join(dir, `plain-${sizeMiB}.raw`);
      await settle();
      let t0 = performance.now();
      await run('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', qcow2, plain], { timeoutMs: 600_000 });
      const convertS = secs(t0);
      t0 = performance.now();
      await sha256File(plain);
      const sha256S = secs(t0);
      t0 = performance.now();
      await settle();
      const writebackS = secs(t0);
      const out = await stat(plain);
      await rm(plain);

      // Through the cache: cold, then a hit.
      const cache = new RawCache({ dir: join(dir, `cache-${sizeMiB}`), maxBytes: 64 * 1024 * MiB });
      await cache.init();
      await settle();
      t0 = performance.now();
      const cold = await cache.ensure('bench', 'c1', qcow2);
      const coldS = secs(t0);
      t0 = performance.now();
      const hit = await cache.ensure('bench', 'c1', qcow2);
      const hitMs = Math.round((performance.now() - t0) * 10) / 10;

      // Three deploys asking at once on an empty cache.
      const cache2 = new RawCache({ dir: join(dir, `cache2-${sizeMiB}`), maxBytes: 64 * 1024 * MiB });
      await cache2.init();
      await settle();
      t0 = performance.now();
      const three = await Promise.all([1, 2, 3].map(() => cache2.ensure('bench', 'c1', qcow2)));
      const threeS = secs(t0);
      const conversions = new Set(three.map((r) => r.path)).size;

      results.push({
        virtual_mib: sizeMiB,
        data_mib: Math.ceil(sizeMiB / every),
        qcow2_mib: Math.round((await stat(qcow2)).size / MiB),
        raw_allocated_mib: Math.round((out.blocks * 512) / MiB),
        qemu_img_convert_s: convertS,
        sha256_of_raw_s: sha256S,
        writeback_after_s: writebackS,
        cold_ensure_s: coldS,
        cold_reported_s: cold.seconds,
        hit_ms: hitMs,
        hit_cached: hit.cached,
        three_concurrent_s: threeS,
        three_concurrent_distinct_raws: conversions,
      });
      await rm(join(dir, `cache-${sizeMiB}`), { recursive: true });
      await rm(join(dir, `cache2-${sizeMiB}`), { recursive: true });
      await rm(qcow2);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg_before_end: loadavg().map((l) => Math.round(l * 100) / 100), results };
}
