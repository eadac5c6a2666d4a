// Named crash points for the pivot's kill -9 tests: when BOOTSTACK_PIVOT_KILL_AT names the point
// a process reaches, it sends itself SIGKILL there (no cleanup, no flush: a real kill -9 at a
// known step). Unset in production; the points are listed in docs/pivot.md.
export function crashPoint(name: string): void {
  if (process.env.BOOTSTACK_PIVOT_KILL_AT !== name) return;
  process.stderr.write(`pivot: BOOTSTACK_PIVOT_KILL_AT=${name}: killing this process (SIGKILL)\n`);
  process.kill(process.pid, 'SIGKILL');
}
