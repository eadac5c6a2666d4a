// iPXE scripts served over HTTP. The generic script (the DHCP boot file for iPXE clients) chains
// to the per-MAC script; the per-node script loads the deploy kernel and ramdisk and passes the
// seed URL and the node's one-time boot secret on the kernel command line.
export type Firmware = 'bios' | 'uefi';

export interface NodeScriptOptions {
  firmware: Firmware;
  /** Absolute URLs of the deploy kernel and ramdisk. */
  kernelUrl: string;
  ramdiskUrl: string;
  /** The base URL the agent talks to (…/boot). */
  apiUrl: string;
  bootSecret: string;
  nodeId: string;
  kernelArgs?: string;
}

/** Names of the kernel parameters the deploy agent reads from /proc/cmdline. */
export const CMDLINE = { api: 'bootstack.api', secret: 'bootstack.boot_secret', node: 'bootstack.node' } as const;

function assertSafe(name: string, value: string): string {
  // iPXE expands ${...} and splits on whitespace: refuse anything that could change the script.
  if (/[\s${}]/.test(value)) throw new Error(`${name} contains characters unsafe in an iPXE script: ${JSON.stringify(value)}`);
  return value;
}

export function genericScript(baseUrl: string): string {
  return [
    '#!ipxe',
    '# Chain to the script of this machine, named by the MAC it booted from.',
    `chain --autofree ${assertSafe('baseUrl', baseUrl)}/\${net0/mac:hexhyp}.ipxe || goto failed`,
    ':failed',
    'echo bootstack: no boot script for ${net0/mac}; retrying in 10 s',
    'sleep 10',
    'reboot',
    '',
  ].join('\n');
}

export function nodeScript(o: NodeScriptOptions): string {
  const args = [
    // Under UEFI the kernel's EFI stub loads the initrd named on its command line; under BIOS iPXE
    // hands the initrd over through the boot protocol and the parameter is not needed.
    ...(o.firmware === 'uefi' ? ['initrd=ramdisk'] : []),
    `${CMDLINE.api}=${assertSafe('apiUrl', o.apiUrl)}`,
    `${CMDLINE.node}=${assertSafe('nodeId', o.nodeId)}`,
    `${CMDLINE.secret}=${assertSafe('bootSecret', o.bootSecret)}`,
    'BOOTIF=${net0/mac}',
    'ip=dhcp',
  ];
  if (o.kernelArgs) args.push(...o.kernelArgs.split(/\s+/).filter(Boolean).map((a) => assertSafe('kernelArgs', a)));
  const lines = [
    '#!ipxe',
    `# bootstack deploy ramdisk for node ${o.nodeId} (${o.firmware})`,
    ':retry',
    `kernel ${assertSafe('kernelUrl', o.kernelUrl)} ${args.join(' ')} || goto fetch_failed`,
    `initrd --name ramdisk ${assertSafe('ramdiskUrl', o.ramdiskUrl)} || goto fetch_failed`,
  ];
  lines.push('boot || goto fetch_failed', ':fetch_failed', 'echo bootstack: fetching the deploy ramdisk failed; retrying in 5 s', 'sleep 5', 'goto retry', '');
  return lines.join('\n');
}
