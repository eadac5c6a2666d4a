// For tests: the overcloud demo's two programs (templates/overcloud-demo/db.mjs and web.mjs) run
// on this host on loopback ports, as the demo's systemd units run them on the machines.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { TEMPLATES_DIR } from '../../../src/common/paths.js';

export const DEMO_PROGRAMS_DIR = join(TEMPLATES_DIR, 'overcloud-demo');

export interface DemoProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> (no trailing slash). */
  url: string;
  port: number;
  /** What the program printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `program` (db.mjs, web.mjs) with `env` on 127.0.0.1 and a free port; resolves once it listens. */
export async function startDemoProgram(program: 'db.mjs' | 'web.mjs', env: Record<string, string>): Promise<DemoProcess> {
  const child = spawn(process.execPath, [join(DEMO_PROGRAMS_DIR, program)], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = / listening on [^\s]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code, signal) => reject(new Error(`${program} exited (${code ?? signal}) before listening:\n${out}`)));
  });
  const exited = once(child, 'exit');
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface DemoServices {
  db: DemoProcess;
  webs: DemoProcess[];
  /** The web URLs as the stack's web_urls output gives them (with a trailing slash). */
  webUrls: string[];
  stop(): Promise<void>;
}

/** A database (its file `dbFile`) and `webs` web services named web-0, web-1, ... in front of it. */
export async function startDemoServices(dbFile: string, webs = 2): Promise<DemoServices> {
  const db = await startDemoProgram('db.mjs', { DB_FILE: dbFile });
  const started: DemoProcess[] = [];
  try {
    for (let i = 0; i < webs; i++) started.push(await startDemoProgram('web.mjs', { DB_URL: db.url, OVERCLOUD_DEMO_NAME: `web-${i}` }));
  } catch (err) {
    await Promise.all([db, ...started].map((p) => p.stop()));
    throw err;
  }
  return {
    db,
    webs: started,
    webUrls: started.map((w) => `${w.url}/`),
    stop: async () => void (await Promise.all([...started, db].map((p) => p.stop()))),
  };
}
