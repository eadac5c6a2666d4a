// Starts OpenIPMI's ipmi_sim (Debian package openipmi) as a LAN BMC on 127.0.0.1 for tests. Its
// chassis control is a small shell script that keeps the "machine's" power and boot device in
// files, so a test can see what the BMC was told to do without asking it over IPMI.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/common/child-process.js';

export interface IpmiSim {
  port: number;
  username: string;
  password: string;
  dir: string;
  /** The simulated machine's power, read from the chassis-control state file. */
  power(): 'power on' | 'power off';
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export async function startIpmiSim(username = 'admin', password = 'sim-s3cret'): Promise<IpmiSim> {
  const dir = mkdtempSync(join(tmpdir(), 'ipmisim-'));
  const port = await freeUdpPort();
  const script = join(dir, 'chassis.sh');
  // ipmi_sim calls: chassis.sh get <param>...  → prints "param:value" lines
  //                 chassis.sh set <param> <value>...
  writeFileSync(
    script,
    `#!/bin/sh
d="${dir}"
cmd="$1"; shift
case "$cmd" in
  get) for p in "$@"; do
         case "$p" in
           power) echo "power:$(cat "$d/power" 2>/dev/null || echo 0)";;
           boot) echo "boot:$(cat "$d/boot" 2>/dev/null || echo default)";;
           *) echo "$p:0";;
         esac
       done;;
  set) while [ $# -gt 1 ]; do echo "$2" > "$d/$1"; shift 2; done;;
esac
`,
  );
  chmodSync(script, 0o755);
  writeFileSync(
    join(dir, 'lan.conf'),
    `name "bootstack-test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${script}"
  user 2 true "${username}" "${password}" admin 10 none md2 md5 straight
`,
  );
  writeFileSync(join(dir, 'emu.cmds'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n');
  mkdirSync(join(dir, 'state'));
  const child: ChildProcess = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'emu.cmds'), '-s', join(dir, 'state'), '-n'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  // Ready when it answers over IPMI.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', username, '-E', '-C', '3', '-R', '1', '-N', '1', 'power', 'status'], {
      env: { ...process.env, IPMI_PASSWORD: password },
      allowFailure: true,
      timeoutMs: 5000,
    });
    if (res.code === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ipmi_sim did not start: ${output}${res.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    username,
    password,
    dir,
    power: () => {
      try {
        return readFileSync(join(dir, 'power'), 'utf8').trim() === '1' ? 'power on' : 'power off';
      } catch {
        return 'power off';
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
