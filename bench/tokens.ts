// Token throughput against `bootstack serve` on SQLite, the server in its own process:
//   npm run bench -- tokens [seconds=5] [concurrency=32]
// - issue+validate: each unit of work issues a token (token method: no password hashing) and
//   validates it (GET /v3/auth/tokens), i.e. two requests, counted as two;
// - validate (cached): the same subject token validated again and again;
// - validate (uncached): validation cache disabled, every request reads the database;
// - password issue: POST /v3/auth/tokens with the password method (scrypt-bound by design).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { adminToken, spawnSeed } from '../test/support/serve-process.js';

async function load(seconds: number, concurrency: number, work: () => Promise<number>): Promise<{ requests: number; perSecond: number; errors: number }> {
  const until = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        try {
          // Not `requests += await work()`: that reads `requests` before the await and loses
          // the other workers' increments.
          const n = await work();
          requests += n;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { requests, perSecond: Math.round(requests / elapsed), errors };
}

async function scenario(seconds: number, concurrency: number, cacheSeconds: number) {
  const stateDir = mkdtempSync(join(tmpdir(), 'bootstack-bench-tokens-'));
  const seed = await spawnSeed(stateDir, { BOOTSTACK_IDENTITY__VALIDATION_CACHE_SECONDS: String(cacheSeconds) });
  const pool = new Pool(seed.url, { connections: concurrency, pipelining: 1 });
  try {
    const admin = await adminToken(seed.url, stateDir);
    const password = (await import('node:fs')).readFileSync(join(stateDir, 'admin-password'), 'utf8').trim();
    const post = async (body: unknown) => {
      const res = await pool.request({ path: '/identity/v3/auth/tokens?nocatalog', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await res.body.dump();
      if (res.statusCode !== 201) throw new Error(String(res.statusCode));
      return res.headers['x-subject-token'] as string;
    };
    const validate = async (subject: string) => {
      const res = await pool.request({ path: '/identity/v3/auth/tokens?nocatalog', method: 'GET', headers: { 'x-auth-token': admin, 'x-subject-token': subject } });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(String(res.statusCode));
    };
    const scope = { project: { name: 'admin', domain: { id: 'default' } } };
    const byToken = { auth: { identity: { methods: ['token'], token: { id: admin } }, scope } };
    const byPassword = { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password } } }, scope } };
    // Warm-up (JIT, connection pool).
    await load(1, concurrency, async () => (await validate(admin), 1));
    const result: Record<string, unknown> = {};
    if (cacheSeconds > 0) {
      result.issueAndValidate = await load(seconds, concurrency, async () => {
        const t = await post(byToken);
        await validate(t);
        return 2;
      });
      result.validateCached = await load(seconds, concurrency, async () => (await validate(admin), 1));
      result.passwordIssue = await load(seconds, Math.min(concurrency, 8), async () => (await post(byPassword), 1));
    } else {
      result.validateUncached = await load(seconds, concurrency, async () => (await validate(admin), 1));
      result.issueAndValidateUncached = await load(seconds, concurrency, async () => {
        const t = await post(byToken);
        await validate(t);
        return 2;
      });
    }
    result.serverPeakRssMiB = Math.round(seed.peakRssMiB());
    return result;
  } finally {
    await pool.close();
    await seed.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export default async function tokens(args: string[]) {
  const seconds = Number(args[0] ?? 5);
  const concurrency = Number(args[1] ?? 32);
  return {
    seconds,
    concurrency,
    database: 'sqlite',
    cached: await scenario(seconds, concurrency, 5),
    uncached: await scenario(seconds, concurrency, 0),
  };
}
