// Boots an image in QEMU (TCG: /dev/kvm is not usable on these machines) and watches the serial
// console for a marker. Used by the boot tests and the lab-deploy bench; QEMU is always
// killed, on success, on timeout and on abort.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface BootOptions {
  firmware: 'bios' | 'uefi';
  disk?: { path: string; format: 'qcow2' | 'raw' };
  kernel?: string;
  initrd?: string;
  append?: string;
  marker: RegExp;
  timeoutMs: number;
  memoryMiB?: number;
}

export interface BootResult {
  found: boolean;
  seconds: number;
  /** The serial console output (last 64 KiB). */
  console: string;
  match?: string;
}

export async function bootUntilMarker(opts: BootOptions): Promise<BootResult> {
  const work = mkdtempSync(join(tmpdir(), 'bootstack-qemu-'));
  const args = ['-accel', 'tcg', '-m', String(opts.memoryMiB ?? 1024), '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-nodefaults'];
  if (opts.firmware === 'uefi') {
    const vars = join(work, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    args.push('-machine', 'q35');
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`);
    args.push('-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  } else {
    args.push('-machine', 'pc');
  }
  // Read-only view of the image: snapshot=on keeps the output file unchanged by the boot.
  if (opts.disk) args.push('-drive', `file=${opts.disk.path},format=${opts.disk.format},if=virtio,snapshot=on`);
  if (opts.kernel) args.push('-kernel', opts.kernel);
  if (opts.initrd) args.push('-initrd', opts.initrd);
  if (opts.append) args.push('-append', opts.append);
  const started = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return await new Promise<BootResult>((resolve, reject) => {
    let settled = false;
    const finish = (found: boolean, match?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      child.once('close', () => {
        rmSync(work, { recursive: true, force: true });
        resolve({ found, seconds: (Date.now() - started) / 1000, console: output, match });
      });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs);
    const onData = (c: Buffer) => {
      output = (output + c.toString('latin1')).slice(-64 * 1024);
      const m = opts.marker.exec(output);
      if (m) finish(true, m[0]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      clearTimeout(timer);
      rmSync(work, { recursive: true, force: true });
      reject(err);
    });
    child.on('close', () => finish(false));
  });
}
