// The composition root: reads config, opens the database, runs migrations, builds the enabled
// services, listens, starts their background work, and stops everything on the first failure
// or when asked (SIGTERM in `bootstack serve`).
import { mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../common/logging.js';
import { openDatabase, migrate, type Database } from '../common/db.js';
import { Policy } from '../common/auth.js';
import type { ApiService, ServiceContext } from '../common/service.js';
import { buildApp } from './app.js';
import { serviceFactories } from './services.js';
import type { ServerConfig } from './config.js';
import type { PivotService } from '../pivot/index.js';

/** How long stop() lets in-flight requests finish before it closes their connections. */
const STOP_GRACE_MS = 5_000;

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  database: Database;
  services: ApiService[];
  log: Logger;
  /** Resolves when the server has stopped; rejects with the error that stopped it. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger = createLogger({ level: config.log.level })): Promise<RunningServer> {
  const stateDir = resolve(config.state_dir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const database = openDatabase(config.database.url ?? `sqlite:${join(stateDir, 'bootstack.sqlite')}`);
  let publicUrl = config.public_url?.replace(/\/$/, '') ?? '';
  // Background work has its own signal, so a pivot can stop it (pause) while the API answers on.
  const backgroundAbort = new AbortController();
  let background: Promise<void>[] = [];
  const pause = async () => {
    if (!backgroundAbort.signal.aborted) {
      log.warn('background work stopping (conductor, DHCP, metadata listener): the API stays up');
      backgroundAbort.abort();
    }
    await Promise.allSettled(background);
  };
  const ctx: ServiceContext = {
    db: database.db,
    dbKind: database.kind,
    log,
    policy: new Policy(),
    stateDir,
    publicUrl: () => publicUrl,
    background: { pause },
  };
  const services: ApiService[] = [];
  let app: FastifyInstance | undefined;
  try {
    for (const factory of serviceFactories) {
      const service = factory(ctx, config, services);
      if (config.services && !config.services.includes(service.name)) continue;
      services.push(service);
    }
    for (const s of services) if (s.policy) ctx.policy.add(s.policy);
    const applied = await migrate(
      database.db,
      Object.fromEntries(services.map((s) => [s.name, s.migrations])),
    );
    if (applied.length) log.info({ migrations: applied }, 'database migrated');

    const pivot = services.find((s): s is PivotService => s.name === 'pivot');
    let listenPort = config.listen.port;
    if (config.pivot.receive && pivot && !(await pivot.received())) {
      // Until a seed's records arrive this server is only a receiver: no bootstrap, no DHCP, no
      // conductor (they would create records of their own or act on machines the seed owns).
      listenPort = await receivePivot(pivot, config, log);
    }

    const http = await buildApp({ services, log, bodyLimit: config.body_limit, tls: config.tls, readOnly: () => pivot?.readOnlyReason() });
    app = http;
    await http.listen({ host: config.listen.host, port: listenPort });
    const addr = http.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : listenPort;
    const scheme = config.tls ? 'https' : 'http';
    const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
    if (!publicUrl) publicUrl = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    for (const s of services) await s.init?.();

    const abort = new AbortController();
    abort.signal.addEventListener('abort', () => backgroundAbort.abort(), { once: true });
    // A seed that handed its records over (or is handing them over) acts on nothing any more.
    if (pivot?.frozen()) backgroundAbort.abort();
    background = services
      .filter((s) => s.start && !backgroundAbort.signal.aborted)
      .map((s) =>
        s.start!(backgroundAbort.signal).catch((err: unknown) => {
          if (!backgroundAbort.signal.aborted) {
            log.error({ err, service: s.name }, `${s.name} stopped with an error; stopping the server`);
            abort.abort(err);
          }
          // Not rethrown: `done` carries the error to whoever waits on the server.
        }),
      );
    // A service failure aborts with its error; an operator's stop() aborts with this marker.
    const requested = Symbol('stop requested');
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        if (!abort.signal.aborted) abort.abort(requested);
        // In-flight requests get a grace period; then every connection is cut. A machine powered
        // off mid long-poll leaves a socket no FIN ever closes, and close() would wait for it forever.
        const closing = http.close();
        const grace = setTimeout(() => http.server.closeAllConnections(), STOP_GRACE_MS);
        await closing.finally(() => clearTimeout(grace));
        await Promise.allSettled(background);
        await database.close();
        log.info('stopped');
      })());
    const done = new Promise<void>((resolveDone, rejectDone) => {
      abort.signal.addEventListener('abort', () => {
        const reason: unknown = abort.signal.reason;
        void stop().then(() => (reason === requested ? resolveDone() : rejectDone(reason)), rejectDone);
      });
    });
    log.info({ url: publicUrl, services: services.map((s) => s.name), database: database.kind }, 'bootstack listening');
    return { url: publicUrl, app: http, database, services, log, done, stop };
  } catch (err) {
    // A service whose init() fails must not leave the port open behind a failed start.
    await app?.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Serves only the pivot's receiver routes until an import commits, then closes; returns the port
 * it listened on, so the full server takes the same one (a test's port 0 stays one port).
 */
async function receivePivot(pivot: PivotService, config: ServerConfig, log: Logger): Promise<number> {
  const receiver = await buildApp({ services: [pivot], log, bodyLimit: config.body_limit, tls: config.tls });
  await receiver.listen({ host: config.listen.host, port: config.listen.port });
  const addr = receiver.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  const scheme = config.tls ? 'https' : 'http';
  log.info({ port }, 'waiting for a pivot: only /pivot/v1/receiver answers until a seed\'s records arrive');
  process.stdout.write(`bootstack receiving a pivot on ${scheme}://${config.listen.host}:${port}\n`);
  try {
    await pivot.whenReceived();
  } finally {
    await receiver.close();
  }
  return port;
}
