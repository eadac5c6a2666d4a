// Watches the provisioning network for a machine's first DHCP request: a UDP listener on port 67,
// bound to the lab bridge inside the lab's namespace (so it cannot clash with a dnsmasq on the
// host and sees nothing but the lab). Used by tests and benchmarks; returns the decoded request.
import { spawn } from 'node:child_process';
import type { LabRecord } from './spec.js';

// Python because Node cannot bind a socket inside another network namespace.
const DHCP_LISTENER = String.raw`
import socket, sys, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, 25, sys.argv[1].encode())  # SO_BINDTODEVICE
s.bind(('0.0.0.0', 67))
print('ready', flush=True)
s.settimeout(float(sys.argv[2]))
want = sys.argv[3] if len(sys.argv) > 3 else ''
while True:
    data, addr = s.recvfrom(4096)
    mac = ':'.join('%02x' % b for b in data[28:34])
    if len(data) > 240 and (not want or mac == want):
        break
opts = {}
i = 240
while i < len(data) and data[i] != 255:
    if data[i] == 0:
        i += 1; continue
    opts[data[i]] = data[i + 2:i + 2 + data[i + 1]]
    i += 2 + data[i + 1]
print(json.dumps({'op': data[0], 'mac': mac,
  'type': opts.get(53, b'\0')[0], 'vendor': opts.get(60, b'').decode('latin1'),
  'user_class': opts.get(77, b'').decode('latin1'), 'arch': int.from_bytes(opts.get(93, b'\0\0'), 'big')}), flush=True)
`;

export interface DhcpRequest {
  op: number;
  mac: string;
  type: number;
  vendor: string;
  user_class: string;
  arch: number;
  /** When the listener printed it (Date.now()), for power-on-to-DHCP timings. */
  receivedAt: number;
}

/** Resolves `message` with the first DHCP request (from `mac` if given) seen within `timeoutSec`. */
export function listenForDhcp(lab: LabRecord, timeoutSec: number, mac?: string): { ready: Promise<void>; message: Promise<DhcpRequest>; stop: () => void } {
  const py = spawn(
    'nsenter',
    [`--net=/run/netns/${lab.network.namespace}`, '--', '/usr/bin/python3', '-c', DHCP_LISTENER, lab.network.bridge, String(timeoutSec), ...(mac ? [mac] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  let receivedAt = 0;
  let onReady: () => void = () => undefined;
  let onReadyFail: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    onReadyFail = rej;
  });
  py.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.startsWith('ready\n')) onReady();
    if (!receivedAt && out.split('\n').length > 2) receivedAt = Date.now();
  });
  py.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const message = new Promise<DhcpRequest>((res, rej) =>
    py.on('close', (code) => {
      const line = out.split('\n')[1];
      const failure = new Error(`DHCP listener exited ${code}: ${err}`);
      onReadyFail(failure);
      if (code === 0 && line) res({ ...(JSON.parse(line) as Omit<DhcpRequest, 'receivedAt'>), receivedAt });
      else rej(failure);
    }),
  );
  // Nobody may be waiting on `message` yet when the listener fails early.
  message.catch(() => undefined);
  return { ready, message, stop: () => py.kill() };
}
