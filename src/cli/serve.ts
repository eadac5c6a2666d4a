import type { Command } from 'commander';
import { loadServerConfig } from '../server/config.js';
import { startServer } from '../server/server.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the Bootstack server (every enabled service on one port)')
    .option('-c, --config <file>', 'configuration file (default ./bootstack.yaml if present)')
    .option('--state-dir <dir>', 'where the database, images and generated files live')
    .option('--host <host>', 'address to listen on')
    .option('--port <port>', 'port to listen on', (v) => Number(v))
    .option('--database-url <url>', 'sqlite:<path> or postgres://...')
    .addHelpText('after', '\nEnvironment: BOOTSTACK_<SECTION>__<KEY>=value overrides the file (e.g. BOOTSTACK_LISTEN__PORT=8000).')
    .action(async (opts: { config?: string; stateDir?: string; host?: string; port?: number; databaseUrl?: string }) => {
      const flags: Record<string, unknown> = {};
      if (opts.stateDir) flags.state_dir = opts.stateDir;
      if (opts.host || opts.port !== undefined) {
        flags.listen = { ...(opts.host ? { host: opts.host } : {}), ...(opts.port !== undefined ? { port: opts.port } : {}) };
      }
      if (opts.databaseUrl) flags.database = { url: opts.databaseUrl };
      const config = loadServerConfig(opts.config, flags);
      const server = await startServer(config);
      const shutdown = (signal: string) => {
        server.log.info({ signal }, 'shutting down');
        void server.stop();
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.stdout.write(`bootstack serving on ${server.url}\n`);
      await server.done;
    });
}
