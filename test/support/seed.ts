// A freshly started seed for API tests: the real server (identity, images) in this process,
// listening on a free loopback port, with its own temporary state directory, and its log lines
// captured so that tests can check what was (not) logged.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/common/logging.js';
import { serverConfigSchema } from '../../src/server/config.js';
import { startServer, type RunningServer } from '../../src/server/server.js';

export interface TestSeed {
  url: string;
  server: RunningServer;
  stateDir: string;
  adminPassword: string;
  logLines: string[];
  /** A project-scoped token for a user (admin/admin by default). */
  token(user?: string, password?: string, project?: string): Promise<string>;
  /** fetch with X-Auth-Token and a JSON body, returning status, headers and parsed body. */
  call(method: string, path: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string>; raw?: string | Buffer }): Promise<{ status: number; headers: Headers; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
}

export async function startSeed(overrides: Record<string, unknown> = {}, options: { stateDir?: string } = {}): Promise<TestSeed> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'bootstack-seed-'));
  const logLines: string[] = [];
  // The project's own logger (with its redaction rules), writing into memory.
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk, _enc, cb) {
        logLines.push(String(chunk));
        cb();
      },
    }),
  });
  const config = serverConfigSchema.parse({ state_dir: stateDir, listen: { host: '127.0.0.1', port: 0 }, ...overrides });
  const server = await startServer(config, log);
  const adminPassword = readFileSync(join(stateDir, 'admin-password'), 'utf8').trim();
  const { call, token } = seedClient(server.url, adminPassword);
  const url = server.url;
  return {
    url,
    server,
    stateDir,
    adminPassword,
    logLines,
    token,
    call,
    async stop() {
      await server.stop();
      if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Creates a project and a user with one role on it; returns the user's project-scoped token. */
export async function userWithRole(seed: TestSeed, adminToken: string, project: string, user: string, role: string): Promise<{ token: string; projectId: string; userId: string }> {
  let p = await seed.call('POST', '/identity/v3/projects', { token: adminToken, body: { project: { name: project } } });
  if (p.status === 409) p = { ...p, body: { project: (await seed.call('GET', `/identity/v3/projects?name=${project}`, { token: adminToken })).body.projects[0] } };
  const u = await seed.call('POST', '/identity/v3/users', { token: adminToken, body: { user: { name: user, password: `${user}-pw` } } });
  const r = await seed.call('GET', `/identity/v3/roles?name=${role}`, { token: adminToken });
  const projectId = p.body.project.id as string;
  const userId = u.body.user.id as string;
  const g = await seed.call('PUT', `/identity/v3/projects/${projectId}/users/${userId}/roles/${r.body.roles[0].id}`, { token: adminToken });
  if (g.status !== 204) throw new Error(`grant: ${g.status}`);
  return { token: await seed.token(user, `${user}-pw`, project), projectId, userId };
}

/** `call` and `token` against a seed's URL (in this process or another). */
export function seedClient(url: string, adminPassword: string): Pick<TestSeed, 'call' | 'token'> {
  const call: TestSeed['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers['x-auth-token'] = opts.token;
    let body: string | Buffer | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed as never };
  };
  const token: TestSeed['token'] = async (user = 'admin', password = adminPassword, project = 'admin') => {
    const res = await call('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      },
    });
    if (res.status !== 201) throw new Error(`token for ${user}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.headers.get('x-subject-token')!;
  };
  return { call, token };
}
