// Memory and speed of the deploy agent's write path: a sparse-ish raw image (default 2 GiB) served
// over HTTP on 127.0.0.1 is streamed by writeImage (in a child process, as in the ramdisk) into a
// disk FILE, checksum verified on the fly. Reports the writer's peak RSS (sampled from /proc and
// its own maxRSS) next to the image size: the image must never be held in memory.
// With --memory-limit-mib N the writer runs in a cgroup (v1 memory controller) limited to N MiB,
// page cache included: it must still finish.
// The server answers the agent's sparse request as the seed does (src/boot/extent-map.ts: data
// extents only, the agent zeroes the rest); --full makes the agent ask for every byte instead.
// `npm run bench -- boot-deploy [--size-mib N] [--memory-limit-mib N] [--full]`
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, rmdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir, totalmem, cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { scanExtents, sparseResponse } from '../src/boot/extent-map.js';
import { SPARSE, TRANSFER_HEADER } from '../src/common/sparse-image.js';

const MiB = 1024 * 1024;

async function rssMiB(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}

export default async function bench(args: string[]) {
  const at = args.indexOf('--size-mib');
  const sizeMiB = at >= 0 ? Number(args[at + 1]) : 2048;
  const lim = args.indexOf('--memory-limit-mib');
  const limitMiB = lim >= 0 ? Number(args[lim + 1]) : undefined;
  const full = args.includes('--full');
  const cgroup = limitMiB ? `/sys/fs/cgroup/memory/bootstack-bench-${process.pid}` : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'bench-boot-deploy-'));
  try {
    // Sparse-ish: 1 MiB of random data every 16 MiB, holes between (zeros on the wire).
    const image = join(dir, 'image.raw');
    await writeFile(image, '');
    await truncate(image, sizeMiB * MiB);
    const fh = await open(image, 'r+');
    for (let off = 0; off < sizeMiB; off += 16) await fh.write(randomBytes(MiB), 0, MiB, off * MiB);
    await fh.close();
    const hash = createHash('sha256');
    for await (const c of createReadStream(image, { highWaterMark: 4 * MiB })) hash.update(c as Buffer);
    const sha = hash.digest('hex');
    const disk = join(dir, 'disk.raw');
    await writeFile(disk, '');
    await truncate(disk, (sizeMiB + 64) * MiB);

    const mapStarted = Date.now();
    const map = await scanExtents(image);
    const mapSeconds = (Date.now() - mapStarted) / 1000;
    const server = createServer((req, res) => {
      if (req.headers[TRANSFER_HEADER] === SPARSE) {
        const r = sparseResponse(image, map);
        res.writeHead(200, r.headers);
        r.stream.pipe(res);
        return;
      }
      res.writeHead(200, { 'content-length': sizeMiB * MiB });
      createReadStream(image, { highWaterMark: MiB }).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/image.raw`;
    const mod = pathToFileURL(join(process.cwd(), 'src/agents/deploy-agent/write-image.ts')).href;
    const code = `
      const { writeImage } = await import(${JSON.stringify(mod)});
      const before = process.memoryUsage().rss;
      const r = await writeImage({ url: ${JSON.stringify(url)}, device: ${JSON.stringify(disk)}, checksum: ${JSON.stringify(sha)}, algo: 'sha256', sparse: ${!full} });
      process.stdout.write(JSON.stringify({ ...r, rssBeforeMiB: before / ${MiB}, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
    `;
    if (cgroup) {
      await mkdir(cgroup);
      await writeFile(join(cgroup, 'memory.limit_in_bytes'), String(limitMiB! * MiB));
    }
    // The shell puts itself in the cgroup, then becomes node: everything the writer does is charged there.
    const child = cgroup
      ? spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', cgroup, process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    let sampledMax = 0;
    const sampler = setInterval(() => {
      void rssMiB(child.pid!).then((m) => {
        if (m !== null) sampledMax = Math.max(sampledMax, m);
      });
    }, 100);
    const exitCode = await new Promise<number | null>((r) => child.on('close', r));
    clearInterval(sampler);
    server.close();
    if (exitCode !== 0) throw new Error(`writer exited with ${exitCode}: ${out}`);
    const cgroupPeak = cgroup ? Number(await readFile(join(cgroup, 'memory.max_usage_in_bytes'), 'utf8')) / MiB : undefined;
    const r = JSON.parse(out) as { bytes: number; seconds: number; mb_per_s: number; rssBeforeMiB: number; maxRssMiB: number; transfer: string; downloaded_bytes: number; zero_bytes: number; zeroed_with: string[] };
    return {
      machine: { cpus: cpus().length, memory_gib: Math.round(totalmem() / 1024 ** 3), node: process.version },
      image_mib: sizeMiB,
      bytes_written: r.bytes,
      transfer: r.transfer,
      downloaded_bytes: r.downloaded_bytes,
      zero_bytes: r.zero_bytes,
      zeroed_with: r.zeroed_with,
      seed_map_seconds: Number(mapSeconds.toFixed(2)),
      seconds: Number(r.seconds.toFixed(2)),
      mb_per_s: Number(r.mb_per_s.toFixed(1)),
      writer_rss_before_write_mib: Number(r.rssBeforeMiB.toFixed(1)),
      writer_peak_rss_mib: Number(r.maxRssMiB.toFixed(1)),
      writer_sampled_peak_rss_mib: Number(sampledMax.toFixed(1)),
      ...(cgroup ? { cgroup_limit_mib: limitMiB, cgroup_peak_usage_mib: Number(cgroupPeak!.toFixed(1)) } : {}),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (cgroup) await rmdir(cgroup).catch(() => undefined);
  }
}
