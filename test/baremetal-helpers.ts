// Test support for the bare-metal service: runs it in-process on a real HTTP port with a named
// fake token validator (FakeTokenValidator) in place of identity, on SQLite or PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/server/app.js';
import { openDatabase, migrate, type Database } from '../src/common/db.js';
import { Policy, type AuthContext } from '../src/common/auth.js';
import { createLogger } from '../src/common/logging.js';
import { UnauthorizedError } from '../src/common/errors.js';
import type { ApiService, TokenValidator } from '../src/common/service.js';
import { createBaremetalService, type BaremetalService } from '../src/baremetal/index.js';
import { baremetalConfigSchema, type BaremetalConfig } from '../src/baremetal/config.js';
import type { DriverRegistry } from '../src/baremetal/drivers/registry.js';

/** API JSON as the tests read it: loosely typed on purpose (the shapes are what is under test). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

/** Accepts three fixed tokens: an admin, a member of project p1 and a reader of project p2. */
export class FakeTokenValidator implements TokenValidator {
  static readonly users: Record<string, AuthContext> = {
    'admin-token': { userId: 'u-admin', userName: 'admin', domainId: 'default', projectId: 'p-admin', projectName: 'admin', roles: ['admin', 'member', 'reader'], tokenExpiresAt: '2999-01-01T00:00:00Z' },
    'member-token': { userId: 'u-member', userName: 'alice', domainId: 'default', projectId: 'p1', projectName: 'p1', roles: ['member', 'reader'], tokenExpiresAt: '2999-01-01T00:00:00Z' },
    'reader-token': { userId: 'u-reader', userName: 'bob', domainId: 'default', projectId: 'p2', projectName: 'p2', roles: ['reader'], tokenExpiresAt: '2999-01-01T00:00:00Z' },
  };
  async validate(token: string): Promise<AuthContext> {
    const auth = FakeTokenValidator.users[token];
    if (!auth) throw new UnauthorizedError('The request you have made requires authentication.');
    return auth;
  }
}

export interface Harness {
  url: string;
  service: BaremetalService;
  database: Database;
  stateDir: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: Loose; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startBaremetal(
  options: {
    config?: Record<string, unknown>;
    registry?: (config: BaremetalConfig) => DriverRegistry;
    databaseUrl?: string;
    background?: boolean;
    /** Collects every log line (level debug) here. */
    logLines?: string[];
  } = {},
): Promise<Harness> {
  const stateDir = mkdtempSync(join(tmpdir(), 'bm-test-'));
  const database = openDatabase(options.databaseUrl ?? `sqlite:${join(stateDir, 'db.sqlite')}`);
  const sink = options.logLines;
  const log = sink
    ? createLogger({ level: 'debug', destination: { write: (line: string) => void sink.push(line) } })
    : createLogger({ level: process.env.BM_TEST_LOG ?? 'silent' });
  const policy = new Policy();
  let url = '';
  const config = baremetalConfigSchema.parse(options.config ?? {});
  const service = createBaremetalService(
    { db: database.db, dbKind: database.kind, log, policy, stateDir, publicUrl: () => url },
    config,
    options.registry?.(config),
  );
  const identity: ApiService = { name: 'fake-identity', prefix: '/fake-identity', faultStyle: 'plain', migrations: [], routes() {}, tokenValidator: new FakeTokenValidator() };
  policy.add(service.policy!);
  await migrate(database.db, { baremetal: service.migrations });
  const app = await buildApp({ services: [identity, service], log, bodyLimit: 1024 * 1024 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  await service.init!();
  const abort = new AbortController();
  const background = options.background === false ? Promise.resolve() : service.start!(abort.signal);
  return {
    url,
    service,
    database,
    stateDir,
    async call(method, path, body, headers = {}) {
      const res = await fetch(url + path, {
        method,
        headers: {
          'x-auth-token': 'admin-token',
          'x-openstack-ironic-api-version': '1.78',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      abort.abort();
      service.conductor.stop();
      await background.catch(() => undefined);
      await app.close();
      await database.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls GET /nodes/{id} until `done(node)` or the time runs out. */
export async function waitForNode(h: Harness, id: string, done: (n: Loose) => boolean, ms = 10_000): Promise<Loose> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await h.call('GET', `/baremetal/v1/nodes/${id}`);
    if (done(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`node ${id} did not reach the expected state: ${JSON.stringify({ provision_state: res.body.provision_state, power_state: res.body.power_state, last_error: res.body.last_error, target: res.body.target_provision_state })}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The error message inside Ironic's fault body. */
export function faultMessage(body: Loose): string {
  return JSON.parse(body.error_message).faultstring as string;
}

/** `bootstack serve` as a child process on a fresh (or given) state directory, with the real CLIs pointed at it. */
export interface Seed {
  url: string;
  stateDir: string;
  child: ChildProcess;
  /** Runs the real `openstack` CLI against the seed (clouds.yaml written by identity). */
  openstack(...args: string[]): Promise<string>;
  openstackJson(...args: string[]): Promise<Loose>;
  /** Runs `bootstack ...` with the seed's cloud in the environment. */
  bootstack(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const execFileP = promisify(execFile);

export async function startSeed(options: { stateDir?: string; configFile?: string; prefix?: string } = {}): Promise<Seed> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), options.prefix ?? 'bm-seed-'));
  const args = ['--import', 'tsx', 'bin/bootstack.js', 'serve', '--state-dir', stateDir, '--port', '0', ...(options.configFile ? ['-c', options.configFile] : [])];
  const child = spawn(process.execPath, args, { env: { ...process.env, BOOTSTACK_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      const m = /serving on (http\S+)/.exec(c.toString());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const env = { ...process.env, OS_CLIENT_CONFIG_FILE: join(stateDir, 'clouds.yaml'), OS_CLOUD: 'bootstack', HOME: stateDir };
  const openstack = async (...a: string[]) => {
    try {
      return (await execFileP('openstack', a, { env, timeout: 60_000 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`openstack ${a.join(' ')} failed: ${e.stderr ?? e.message}`);
    }
  };
  return {
    url,
    stateDir,
    child,
    openstack,
    openstackJson: async (...a: string[]) => JSON.parse(await openstack(...a, '-f', 'json')),
    bootstack: (...a: string[]) => execFileP(process.execPath, ['--import', 'tsx', 'bin/bootstack.js', ...a], { env, timeout: 60_000 }),
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await new Promise((r) => child.once('exit', r));
    },
  };
}
