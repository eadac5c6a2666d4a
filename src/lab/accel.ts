// Chooses the accelerator by booting, not by looking: /dev/kvm can exist and still be unable to
// run stock firmware (a PVM backend: SeaBIOS and iPXE die with "KVM internal error"). The probe
// boots SeaBIOS with QEMU's iPXE NIC ROM under KVM and passes only if iPXE gets as far as opening
// the NIC (its "net0:" line on the serial console) with no KVM error on stderr.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { qemuArgs } from './qemu.js';
import { sleep } from '../common/sleep.js';
import type { Accel, AccelChoice } from './spec.js';

export interface AccelVerdict {
  accel: Accel;
  reason: string;
}

/** Serial-console text that proves iPXE came up and drove the NIC. */
export const IPXE_NIC_OPEN = /net0: [0-9a-f:]{17} using/;

const KVM_ERROR = /KVM internal error|emulation failure|failed to initialize kvm|Could not access KVM/i;

export async function probeKvm(timeoutMs = 20000): Promise<AccelVerdict> {
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', reason: 'no /dev/kvm' };
  const dir = await mkdtemp(join(tmpdir(), 'bootstack-kvm-probe-'));
  try {
    const consoleLog = join(dir, 'console.log');
    const args = qemuArgs({ name: 'kvm-probe', accel: 'kvm', firmware: 'bios', memoryMiB: 128, cpus: 1, consoleLog, bootFirst: 'network' });
    const ac = new AbortController();
    const started = Date.now();
    let stderr = '';
    const proc = run('qemu-system-x86_64', [...args, '-no-reboot'], {
      signal: ac.signal,
      allowFailure: true,
      onStderr: (c) => (stderr += c.toString('utf8')),
    });
    let booted = false;
    let exited = false;
    void proc.finally(() => (exited = true));
    // A KVM failure leaves QEMU paused rather than exiting: stop at the first error line.
    while (!exited && !KVM_ERROR.test(stderr) && Date.now() - started < timeoutMs) {
      await sleep(200);
      const text = await readFile(consoleLog, 'utf8').catch(() => '');
      if (IPXE_NIC_OPEN.test(text)) {
        booted = true;
        break;
      }
    }
    ac.abort();
    const r = await proc;
    const kvmError = KVM_ERROR.exec(r.stderr);
    if (booted && !kvmError) return { accel: 'kvm', reason: `KVM booted SeaBIOS and iPXE in ${Date.now() - started} ms` };
    const why = kvmError ? kvmError[0] : exited ? `QEMU exited: ${r.stderr.trim().split('\n').pop() ?? ''}` : `no iPXE on the console within ${timeoutMs} ms`;
    return { accel: 'tcg', reason: `KVM boot test failed (${why}); using TCG` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function chooseAccel(choice: AccelChoice): Promise<AccelVerdict> {
  if (choice === 'kvm') return { accel: 'kvm', reason: 'asked for kvm' };
  if (choice === 'tcg') return { accel: 'tcg', reason: 'asked for tcg' };
  return probeKvm();
}
