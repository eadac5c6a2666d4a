// Helpers for orchestration tests: an engine over a throwaway SQLite database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { migrate, openDatabase, type Database } from '../../../src/common/db.js';
import { FakeComputeProvider } from '../../../src/orchestration/compute-provider.js';
import { FakeNetworkProvider } from '../../../src/orchestration/network-provider.js';
import { Engine } from '../../../src/orchestration/engine.js';
import { migrations, type OrchestrationDB, type StackTable } from '../../../src/orchestration/migrations.js';
import { createRegistry } from '../../../src/orchestration/resources/index.js';
import { DbSoftwareStore } from '../../../src/orchestration/software-store.js';
import { FakeStackUsers } from '../../../src/orchestration/stack-users.js';

export interface TestEngine {
  engine: Engine;
  compute: FakeComputeProvider;
  network: FakeNetworkProvider;
  stackUsers: FakeStackUsers;
  database: Database;
  dir: string;
  close(): Promise<void>;
  /** Waits for background work, then returns the stack row. */
  settle(id: string): Promise<StackTable>;
}

export async function testEngine(options: { buildMs?: number; dir?: string; publicUrl?: string; dbUrl?: string } = {}): Promise<TestEngine> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'orch-test-'));
  const database = openDatabase(options.dbUrl ?? `sqlite:${join(dir, 'db.sqlite')}`);
  await migrate(database.db, { orchestration: migrations });
  const db = database.db as unknown as Kysely<OrchestrationDB>;
  const network = new FakeNetworkProvider();
  const compute = new FakeComputeProvider({ buildMs: options.buildMs ?? 0, failImages: ['broken-image'], network });
  const stackUsers = new FakeStackUsers();
  const engine = new Engine({
    stackUsers,
    db,
    registry: createRegistry(),
    compute,
    network,
    software: new DbSoftwareStore(db),
    log: pino({ level: 'silent' }),
    publicUrl: () => options.publicUrl ?? 'http://127.0.0.1:1',
  });
  return {
    engine,
    compute,
    network,
    stackUsers,
    database,
    dir,
    async close() {
      await engine.stop();
      await database.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
    async settle(id) {
      await engine.idle();
      return (await engine.getStack(id))!;
    },
  };
}

/** Runs `fn` with a fresh test engine, closed afterwards whatever happens. */
export async function withEngine(fn: (t: TestEngine) => Promise<void>, opts: { buildMs?: number } = {}): Promise<void> {
  const t = await testEngine(opts);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

/** Polls `check` until it holds, failing after `ms`. */
export async function until(check: () => Promise<boolean>, ms = 10_000, intervalMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
