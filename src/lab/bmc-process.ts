// Runs the BMC as a detached background process that outlives `lab up`, and stops it on `down`.
import { spawn } from 'node:child_process';
import { openSync, closeSync, existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { BootstackError, ConflictError } from '../common/errors.js';
import { bundledEntry } from '../common/paths.js';
import { sleep } from '../common/sleep.js';
import type { LabPaths } from './state.js';
import type { LabRecord } from './spec.js';

export class BmcStartError extends BootstackError {
  constructor(message: string) {
    super(502, 'bmc_start_failed', message);
  }
}

/** A free TCP port on `host` (the kernel picks it; we release it and the BMC binds it next). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    // The seed address does not exist until the network does: find a port free on every address.
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRNOTAVAIL' ? freePort('0.0.0.0').then(resolve, reject) : reject(err)));
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Refuses a BMC port another program already listens on, before the lab creates anything. */
export function checkPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      // The seed address does not exist before the lab's network does: nothing to check yet.
      err.code === 'EADDRNOTAVAIL' ? resolve() : reject(
        new ConflictError(`BMC port ${host}:${port} is not available (${err.code ?? err.message}); pass --bmc-port with a free port, or 0 for any`, {
          fields: { port },
        }),
      ),
    );
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

async function pidOf(paths: LabPaths): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(paths.bmcPid, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('bmc-main') && cmdline.includes(paths.dir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when the service at the lab's URL is this lab's BMC (its ServiceRoot carries the lab's UUID). */
export async function bmcAnswers(lab: LabRecord): Promise<boolean> {
  try {
    const res = await fetch(`${lab.bmc.url}/redfish/v1/`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { UUID?: string };
    return body.UUID === lab.bmc.uuid;
  } catch {
    return false;
  }
}

export async function bmcRunning(paths: LabPaths): Promise<number | undefined> {
  return pidOf(paths);
}

/** Starts the BMC unless this lab's BMC already runs; resolves once it answers. */
export async function ensureBmc(lab: LabRecord, paths: LabPaths): Promise<number> {
  const existing = await pidOf(paths);
  if (existing && (await bmcAnswers(lab))) return existing;
  if (existing) await stopBmc(paths);
  // From the production build, bmc-main is a second program beside bootstack.mjs (common/paths.ts).
  const bundled = bundledEntry('bmc-main');
  const self = fileURLToPath(import.meta.url);
  const ts = !bundled && self.endsWith('.ts');
  const entry = bundled ?? self.replace(/bmc-process\.(ts|js)$/, `bmc-main.${ts ? 'ts' : 'js'}`);
  const loader = ts ? ['--import', import.meta.resolve('tsx')] : [];
  const log = openSync(paths.bmcLog, 'a');
  const child = spawn(process.execPath, [...loader, entry, paths.dir], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new BmcStartError('could not start the BMC process');
  await writeFile(paths.bmcPid, `${child.pid}\n`);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    if (await bmcAnswers(lab)) return child.pid;
    await sleep(100);
  }
  const tail = existsSync(paths.bmcLog) ? (await readFile(paths.bmcLog, 'utf8')).trim().split('\n').slice(-5).join('\n') : '';
  await stopBmc(paths);
  throw new BmcStartError(
    `the lab BMC did not answer on ${lab.bmc.url}${exited !== undefined ? ` (it exited with code ${exited})` : ' within 20 s'}${tail ? `:\n${tail}` : ''}`,
  );
}

export async function stopBmc(paths: LabPaths): Promise<void> {
  const pid = await pidOf(paths);
  if (pid) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
    const deadline = Date.now() + 5000;
    while ((await pidOf(paths)) && Date.now() < deadline) await sleep(50);
    if (await pidOf(paths)) process.kill(pid, 'SIGKILL');
    while (await pidOf(paths)) await sleep(50);
  }
  await rm(paths.bmcPid, { force: true });
}
