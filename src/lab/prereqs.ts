// Refuses early, naming the Debian packages to install, when the host lacks what the lab needs.
import { existsSync } from 'node:fs';
import { commandExists } from '../common/child-process.js';
import { BootstackError } from '../common/errors.js';
import { OVMF_CODE, OVMF_VARS } from './qemu.js';
import type { Firmware } from './spec.js';

export class MissingPrerequisitesError extends BootstackError {
  constructor(readonly missing: Array<{ what: string; pkg: string }>) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    super(
      412,
      'missing_prerequisites',
      `the lab needs ${missing.map((m) => m.what).join(', ')}; install with: apt-get install -y ${pkgs.join(' ')}`,
      { fields: { packages: pkgs } },
    );
  }
}

export interface PrerequisiteProbe {
  hasCommand: (cmd: string) => Promise<boolean>;
  hasFile: (path: string) => boolean;
}

const realProbe: PrerequisiteProbe = { hasCommand: commandExists, hasFile: existsSync };

export async function checkPrerequisites(
  firmware: Firmware,
  opts: { needRoot?: boolean; probe?: PrerequisiteProbe } = {},
): Promise<void> {
  const { hasCommand, hasFile } = opts.probe ?? realProbe;
  const missing: Array<{ what: string; pkg: string }> = [];
  const commands: Array<[string, string]> = [
    ['qemu-system-x86_64', 'qemu-system-x86'],
    ['qemu-img', 'qemu-utils'],
    ['ip', 'iproute2'],
    ['nsenter', 'util-linux'],
  ];
  for (const [cmd, pkg] of commands) if (!(await hasCommand(cmd))) missing.push({ what: `the ${cmd} command`, pkg });
  // QEMU's virtio-net option ROM is iPXE from this package: without it a NIC cannot network-boot.
  if (!hasFile('/usr/lib/ipxe/qemu/efi-virtio.rom')) missing.push({ what: 'iPXE option ROMs (/usr/lib/ipxe/qemu)', pkg: 'ipxe-qemu' });
  if (firmware === 'uefi') {
    for (const f of [OVMF_CODE, OVMF_VARS]) if (!hasFile(f)) missing.push({ what: f, pkg: 'ovmf' });
  }
  if (missing.length) throw new MissingPrerequisitesError(missing);
  if ((opts.needRoot ?? true) && process.getuid?.() !== 0) {
    throw new BootstackError(403, 'needs_root', 'the lab creates network namespaces, bridges and tap devices: run it as root');
  }
}
