// Erase: make a disk look empty to every tool and firmware. wipefs removes the signatures it
// knows (filesystems, RAID, LVM, partition tables); then the first and last MiB are zeroed, which
// covers the MBR, the primary GPT and the backup GPT at the end of the disk.
import { commandExists, run } from '../../common/child-process.js';
import { deviceSize, MiB, zeroRange } from './disk.js';
import type { EraseResult as AgentEraseResult } from '../../common/agent-protocol.js';

/** One device's part of the erase command's result (src/common/agent-protocol.ts). */
export type EraseResult = AgentEraseResult['devices'][number];

export async function eraseDevice(device: string): Promise<EraseResult> {
  const size = await deviceSize(device);
  let wipefs = false;
  if (await commandExists('wipefs')) {
    await run('wipefs', ['--all', '--force', device], { timeoutMs: 120_000 });
    wipefs = true;
  }
  const head = Math.min(MiB, size);
  await zeroRange(device, 0, head);
  const tail = Math.min(MiB, size - head);
  if (tail > 0) await zeroRange(device, size - tail, tail);
  return { device, size, wipefs, zeroed_bytes: head + tail };
}
