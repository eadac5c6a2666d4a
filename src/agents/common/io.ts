// How an agent talks to the world, injectable so tests can run a tool in-process: its environment,
// where stdout and stderr go, and a clock for log lines.
export interface AgentIo {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The working directory (default process.cwd()); pystache looks for partials there. */
  cwd?: string;
}

export function processIo(): AgentIo {
  return {
    env: process.env,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
}

/** "[2026/11/21 09:00:00 AM] [INFO] message", the originals' log line layout. */
export function logLine(level: string, message: string, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const h = now.getHours() % 12 || 12;
  const stamp = `${now.getFullYear()}/${p(now.getMonth() + 1)}/${p(now.getDate())} ${p(h)}:${p(now.getMinutes())}:${p(now.getSeconds())} ${now.getHours() < 12 ? 'AM' : 'PM'}`;
  return `[${stamp}] [${level}] ${message}\n`;
}

/** Entry point of a bundled tool: run main, exit with its status (negative codes wrap as in C). */
export function runMain(main: (argv: string[], io: AgentIo) => Promise<number>): void {
  main(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = ((code % 256) + 256) % 256;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
