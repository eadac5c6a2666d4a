// The image service alone behind the shared HTTP shell, for its route tests: an in-memory
// database, a temporary store, and a named fake identity that maps a few fixed tokens to callers
// of two projects (A owns images, B and C are other projects).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.js';
import { openDatabase, migrate } from '../../src/common/db.js';
import { Policy, type AuthContext } from '../../src/common/auth.js';
import { UnauthorizedError } from '../../src/common/errors.js';
import type { ApiService } from '../../src/common/service.js';
import { createImagesService, imagesPolicy } from '../../src/images/index.js';
import { imagesMigrations } from '../../src/images/migrations.js';

const caller = (name: string, projectId: string, roles: string[]): AuthContext => ({
  userId: `u-${name}`, userName: name, domainId: 'default', projectId, projectName: projectId, roles, tokenExpiresAt: '2999-01-01T00:00:00Z',
});

/** Token → caller. */
export const CALLERS = {
  admin: caller('admin', 'p-admin', ['admin', 'member', 'reader']),
  memberA: caller('alice', 'p-a', ['member', 'reader']),
  readerA: caller('rita', 'p-a', ['reader']),
  memberB: caller('bob', 'p-b', ['member', 'reader']),
  readerB: caller('bea', 'p-b', ['reader']),
  memberC: caller('carl', 'p-c', ['member', 'reader']),
} as const;
export type Caller = keyof typeof CALLERS;

export interface ImagesApp {
  app: FastifyInstance;
  /** A request as `who` (undefined: no token); JSON bodies unless `type` says otherwise. */
  // The answer's body is whatever JSON the route sent: the tests assert on its fields directly.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(who: Caller | undefined, method: string, url: string, body?: unknown, type?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startImagesApp(): Promise<ImagesApp> {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-images-http-'));
  const database = openDatabase('sqlite::memory:');
  await migrate(database.db, { images: imagesMigrations });
  const policy = new Policy();
  policy.add(imagesPolicy);
  const log = pino({ level: 'silent' });
  const identity: ApiService = {
    name: 'identity', prefix: '/identity', faultStyle: 'keystone', migrations: [],
    tokenValidator: {
      async validate(token) {
        const who = CALLERS[token as Caller];
        if (!who) throw new UnauthorizedError();
        return who;
      },
    },
    routes() {},
  };
  const images = createImagesService(
    { db: database.db, dbKind: 'sqlite', log, policy, stateDir: dir, publicUrl: () => 'http://127.0.0.1:1' },
    { image_size_cap: 1024 * 1024 },
  );
  const app = await buildApp({ services: [identity, images], log, bodyLimit: 1024 * 1024 });
  await app.ready();
  return {
    app,
    async call(who, method, url, body, type) {
      const headers: Record<string, string> = who ? { 'x-auth-token': who } : {};
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] = type ?? 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const r = await app.inject({ method: method as 'GET', url: `/image${url}`, headers, ...(payload !== undefined ? { payload } : {}) });
      let parsed: unknown = r.body;
      try {
        parsed = r.body ? JSON.parse(r.body) : undefined;
      } catch {
        // not JSON (image data): keep the text
      }
      return { status: r.statusCode, body: parsed };
    },
    async close() {
      await app.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
