// listen_host/32 on the provisioning interface: without it the kernel drops packets addressed to
// 169.254.169.254 (no local address, no route), so nothing could listen there.
import { run } from '../common/child-process.js';

/** Adds `ip`/32 to `iface`; resolves true when we added it (false: it was already there). */
export async function addHostAddress(ip: string, iface: string): Promise<boolean> {
  const shown = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', iface], { timeoutMs: 10_000 });
  if (shown.stdout.split('\n').some((l) => l.includes(` inet ${ip}/32 `))) return false;
  // `replace` is idempotent should another process add it between the check and now.
  await run('ip', ['addr', 'replace', `${ip}/32`, 'dev', iface], { timeoutMs: 10_000 });
  return true;
}

export async function removeHostAddress(ip: string, iface: string): Promise<void> {
  await run('ip', ['addr', 'del', `${ip}/32`, 'dev', iface], { allowFailure: true, timeoutMs: 10_000 });
}
