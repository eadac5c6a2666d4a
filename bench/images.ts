// 1 GiB image upload and download over loopback against `bootstack serve` run from the production
// build (dist/server/bootstack.mjs, brought up to date first) as its own process:
//   npm run bench -- images [MiB=1024] [--semi-space 2]
// Reports MB/s each way and the server's RSS: idle, and its peak (VmHWM) after the upload and
// after the download, which shows that nothing is buffered whole. --semi-space N runs the server
// with NODE_OPTIONS=--max-semi-space-size=N (bootstack.service uses 2). The data is a 1 MiB random
// block repeated (hashing costs the same as for real data).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { adminToken } from '../test/support/serve-process.js';
import { arg } from './support/args.js';

const REPO = resolve(import.meta.dirname, '..');

function procStatusMiB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** `node dist/server/bootstack.mjs serve` on a free port; resolves when it says where it serves. */
async function serveBuild(stateDir: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [join(REPO, 'dist', 'server', 'bootstack.mjs'), 'serve', '--state-dir', stateDir, '--port', '0'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d).slice(-4000)));
  const url = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /serving on (\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.once('exit', (code) => rej(new Error(`bootstack serve exited (${code}):\n${err}`)));
  });
  return {
    url,
    rssMiB: () => procStatusMiB(child.pid!, 'VmRSS'),
    peakRssMiB: () => procStatusMiB(child.pid!, 'VmHWM'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export default async function images(args: string[]) {
  const mib = Number(args[0] && !args[0].startsWith('--') ? args[0] : 1024);
  const semiSpace = arg(args, 'semi-space', 0);
  const bytes = mib * 1024 * 1024;
  const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-server.mjs')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed:\n${build.stderr}`);
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-bench-images-'));
  const env: Record<string, string> = semiSpace ? { NODE_OPTIONS: `--max-semi-space-size=${semiSpace}` } : {};
  const seed = await serveBuild(stateDir, env);
  const load = [loadavg()[0]!];
  try {
    // The admin is bootstrapped just after the server starts serving.
    let token = '';
    for (let i = 0; !token; i++) {
      token = await adminToken(seed.url, stateDir).catch((err: unknown) => {
        if (i >= 100) throw err;
        return new Promise<string>((r) => setTimeout(() => r(''), 100));
      });
    }
    await new Promise((r) => setTimeout(r, 2000));
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
    load.push(loadavg()[0]!);
    return {
      server: 'node dist/server/bootstack.mjs serve',
      nodeOptions: env.NODE_OPTIONS ?? '',
      loadAverage1m: load.map((l) => Math.round(l * 100) / 100),
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
