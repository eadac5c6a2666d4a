// The deployed image's first boot, for real: the sample image (debian-minimal vm config-drive
// openssh-server serial-console, cached build) is copied to a disk file, a config drive is appended
// to it by the deploy agent's own command (as on a real deploy), and the disk is booted in QEMU
// (TCG). The serial console must show the config drive applied and a login prompt with the drive's
// hostname, and SSH with the drive's key must answer from the host with that hostname.
//  - SeaBIOS, on a tap device the host has an address on, the guest's static address coming from
//    network_data.json (matched by MAC);
//  - OVMF (q35), QEMU user networking, an empty network_data.json: the image's DHCP fallback, SSH
//    through a forwarded port.
// The two machines must have made different SSH host keys (none are shipped in the image, which is
// checked in the file first), and the SeaBIOS machine's second boot must apply nothing again and
// keep its key. Needs root (image build, tap device).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/common/child-process.js';
import { buildSampleImage, type SampleImage } from '../src/image-builder/sample-image.js';
import { OVMF_CODE, OVMF_VARS } from './support/image-builder/qemu-boot.js';
import { COMMANDS } from '../src/agents/deploy-agent/commands.js';
import { readPartitionTable } from '../src/agents/deploy-agent/disk.js';

const MiB = 1024 * 1024;
let dir = '';
let image: SampleImage;
let keyPath = '';
let publicKey = '';
const figures: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bootstack-first-boot-'));
  image = await buildSampleImage(undefined, { log: (l) => console.log(`# ${l}`) });
  console.log(`# sample image ${image.cached ? 'reused' : 'built'} in ${image.seconds.toFixed(1)} s`);
  keyPath = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'first-boot-test', '-f', keyPath]);
  publicKey = readFileSync(`${keyPath}.pub`, 'utf8').trim();
});

after(() => {
  if (figures.length) console.log(figures.map((f) => `# ${f}`).join('\n'));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A disk with the image at its start and room for the config drive, as on a machine's disk. */
async function deployedDisk(name: string, meta: Record<string, unknown>, network: Record<string, unknown>): Promise<string> {
  const disk = join(dir, name);
  copyFileSync(image.raw, disk);
  truncateSync(disk, statSync(image.raw).size + 256 * MiB);
  await COMMANDS.write_config_drive!({ meta_data: meta, network_data: network }, { root: dir, device: disk });
  const table = await readPartitionTable(disk);
  assert.equal(table?.partitions.at(-1)?.name, 'config-2');
  return disk;
}

interface Vm {
  child: ChildProcess;
  started: number;
  console: () => string;
  /** Seconds from QEMU start until the console matched, or a failure with the console's tail. */
  waitFor: (re: RegExp, timeoutMs: number) => Promise<{ seconds: number; match: RegExpExecArray }>;
  /** Resolves when QEMU has exited by itself (the guest powered off); fails after timeoutMs. */
  exited: (timeoutMs: number) => Promise<void>;
  stop: () => Promise<void>;
}

function startVm(firmware: 'bios' | 'uefi', disk: string, netdev: string, mac: string): Vm {
  const args = ['-accel', 'tcg', '-m', '1024', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-nodefaults', '-no-reboot'];
  if (firmware === 'uefi') {
    const vars = `${disk}.OVMF_VARS.fd`;
    copyFileSync(OVMF_VARS, vars);
    args.push('-machine', 'q35', '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  } else {
    args.push('-machine', 'pc');
  }
  args.push('-drive', `file=${disk},format=raw,if=virtio`, '-netdev', netdev, '-device', `virtio-net-pci,netdev=n0,mac=${mac},romfile=`);
  const started = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (c: Buffer) => {
    out += c.toString('latin1');
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  child.on('close', () => {
    exited = true;
    for (const w of waiters) w();
  });
  return {
    child,
    started,
    console: () => out,
    waitFor: (re, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            done();
            resolve({ seconds: (Date.now() - started) / 1000, match: m });
          } else if (exited) {
            done();
            reject(new Error(`QEMU exited before ${re}:\n${out.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${re} on the ${firmware} console within ${timeoutMs / 1000} s:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    exited: (timeoutMs) =>
      new Promise((resolve, reject) => {
        if (exited) return resolve();
        const timer = setTimeout(() => reject(new Error(`QEMU still running ${timeoutMs / 1000} s after poweroff:\n${out.slice(-3000)}`)), timeoutMs);
        child.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
    stop: async () => {
      if (exited) return;
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGKILL');
      await closed;
    },
  };
}

/** `ssh root@host <command>` with the test's key, retried until it answers or the time is up. */
async function sshUntilAnswer(host: string, port: number, command: string, timeoutMs: number): Promise<{ stdout: string; seconds: number }> {
  const t0 = Date.now();
  let last = '';
  const opts = ['-i', keyPath, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR'];
  while (Date.now() - t0 < timeoutMs) {
    const r = await run('ssh', [...opts, `root@${host}`, command], { allowFailure: true, timeoutMs: 60_000 });
    if (r.code === 0) return { stdout: r.stdout, seconds: (Date.now() - t0) / 1000 };
    last = `exit ${r.code}: ${r.stderr.trim()}`;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`ssh root@${host} -p ${port} did not answer within ${timeoutMs / 1000} s (last: ${last})`);
}

async function ssh(host: string, port: number, command: string): Promise<string> {
  return (await sshUntilAnswer(host, port, command, 30_000)).stdout;
}

/** networkd has finished configuring the NIC (state "routable configured"), within 60 s. */
async function networkdConfigured(host: string, port: number): Promise<void> {
  const t0 = Date.now();
  let list = '';
  while (Date.now() - t0 < 60_000) {
    list = await ssh(host, port, 'networkctl list --no-legend');
    if (/ether\s+routable\s+configured\b/.test(list)) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  const status = await ssh(host, port, 'networkctl status --no-pager -n 30; journalctl -b -u systemd-networkd --no-pager | tail -30');
  assert.fail(`networkd did not finish configuring the NIC:\n${list}\n${status}`);
}

/** What systemd says the boot took, and the first-boot units' share (for the benchmark notes). */
async function bootBreakdown(host: string, port: number): Promise<string> {
  const out = await ssh(host, port, 'systemd-analyze time | head -1; systemd-analyze blame --no-pager | grep -E "bootstack|ssh|networkd.service"');
  return out.trim().replace(/\s*\n\s*/g, '; ');
}

/** A 10.214.N.0/24 no interface of the host has an address in. */
async function freeSubnet(): Promise<string> {
  const used = (await run('ip', ['-4', '-o', 'addr', 'show'])).stdout;
  const start = randomBytes(1)[0]!;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 250;
    if (!used.includes(` 10.214.${n}.`)) return `10.214.${n}`;
  }
  throw new Error('no free 10.214.N.0/24 on this host');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The SHA256 fingerprint of the ed25519 host key the console reported. */
function consoleHostKey(consoleText: string): string {
  const m = /bootstack-ssh-host-keys: 256 (SHA256:\S+) \S+ \(ED25519\)/.exec(consoleText);
  assert.ok(m, `no ED25519 host key fingerprint on the console:\n${consoleText.slice(-3000)}`);
  return m[1]!;
}

async function offeredHostKey(host: string, port: number): Promise<string> {
  const scan = await run('ssh-keyscan', ['-t', 'ed25519', '-p', String(port), host], { timeoutMs: 30_000 });
  const fp = await run('ssh-keygen', ['-l', '-f', '-'], { input: scan.stdout });
  return /(SHA256:\S+)/.exec(fp.stdout)![1]!;
}

const hostKeys: string[] = [];

test('the image ships no SSH host keys, no machine id, a neutral hostname, and the first-boot units enabled', async () => {
  const table = JSON.parse((await run('sfdisk', ['--json', image.raw])).stdout) as { partitiontable: { partitions: Array<{ start: number }> } };
  const root = `${image.raw}?offset=${table.partitiontable.partitions[1]!.start * 512}`;
  // debugfs reads the ext4 root inside the whole-disk file (io option offset=), nothing mounted.
  const debugfs = async (cmd: string) => (await run('debugfs', ['-R', cmd, root])).stdout;
  const ssh = await debugfs('ls /etc/ssh');
  assert.match(ssh, /sshd_config/);
  assert.doesNotMatch(ssh, /ssh_host_/);
  assert.equal(await debugfs('cat /etc/hostname'), 'debian\n');
  assert.equal(await debugfs('cat /etc/machine-id'), '');
  const wants = await debugfs('ls /etc/systemd/system/multi-user.target.wants');
  for (const unit of ['bootstack-config-drive.service', 'bootstack-ssh-host-keys.service', 'ssh.service', 'systemd-networkd.service']) assert.match(wants, new RegExp(unit.replace(/\./g, '\\.')), unit);
  assert.match(await debugfs('ls /etc/systemd/system/getty.target.wants'), /serial-getty@ttyS0\.service/);
});

test('SeaBIOS: config drive with a static address; console shows hostname and login prompt; SSH with the drive key', async () => {
  const hostname = `fb-bios-${randomBytes(3).toString('hex')}`;
  const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
  const subnet = await freeSubnet();
  const tap = `bsfb${randomBytes(3).toString('hex')}`;
  const disk = await deployedDisk(
    'bios.raw',
    { uuid: '6d4f1b2e-0000-4000-8000-000000000001', name: hostname, hostname: `${hostname}.lab.example`, public_keys: { default: publicKey } },
    {
      links: [{ id: 'nic0', type: 'phy', ethernet_mac_address: mac, mtu: 1500 }],
      networks: [{ id: 'net0', link: 'nic0', type: 'ipv4', ip_address: `${subnet}.2`, netmask: '255.255.255.0', routes: [] }],
      services: [],
    },
  );
  await run('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  let vm: Vm | undefined;
  try {
    await run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', tap]);
    await run('ip', ['link', 'set', tap, 'up']);
    vm = startVm('bios', disk, `tap,id=n0,ifname=${tap},script=no,downscript=no`, mac);
    const applied = await vm.waitFor(new RegExp(`bootstack-config-drive: applied hostname=${hostname} keys=1 links=1 from /dev/vda\\d`), 240_000);
    const prompt = await vm.waitFor(new RegExp(`\\n${hostname} login: `), 240_000);
    // Before the drive is applied the machine has the image's neutral name, not the build host's.
    assert.match(vm.console(), /Hostname set to <debian>/);
    const answered = await sshUntilAnswer(`${subnet}.2`, 22, 'hostname', 180_000);
    assert.equal(answered.stdout.trim(), hostname);
    const sshAt = (Date.now() - vm.started) / 1000;
    figures.push(`SeaBIOS (pc, TCG, 1 GiB): config drive applied ${applied.seconds.toFixed(1)} s, login prompt ${prompt.seconds.toFixed(1)} s, SSH answered ${sshAt.toFixed(1)} s after QEMU start`);

    // The network came from network_data.json, nothing failed, the drive is marked as done.
    const addr = await ssh(`${subnet}.2`, 22, 'ip -4 -o addr show; networkctl list --no-legend; ls /etc/systemd/network; cat /etc/hostname; test -f /var/lib/bootstack/config-drive.done && echo DONE');
    assert.match(addr, new RegExp(`inet ${subnet.replace(/\./g, '\\.')}\\.2/24`));
    assert.match(addr, /50-config-drive-nic0\.network/);
    await networkdConfigured(`${subnet}.2`, 22);
    assert.match(addr, new RegExp(`^${hostname}$`, 'm'));
    assert.match(addr, /^DONE$/m);
    const failed = await ssh(`${subnet}.2`, 22, 'systemctl --failed --plain --no-legend');
    assert.equal(failed.trim(), '', `failed units:\n${failed}`);
    figures.push(`SeaBIOS guest: ${await bootBreakdown(`${subnet}.2`, 22)}`);
    // The host key sshd offers is the one made at first boot and announced on the console.
    const announced = consoleHostKey(vm.console());
    assert.equal(await offeredHostKey(`${subnet}.2`, 22), announced);
    hostKeys.push(announced);

    // Second boot: the drive is not applied again, the host keys stay, the network comes back.
    await run('ssh', ['-i', keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${subnet}.2`, 'systemctl poweroff'], {
      allowFailure: true,
      timeoutMs: 30_000,
    });
    await vm.exited(120_000);
    vm = startVm('bios', disk, `tap,id=n0,ifname=${tap},script=no,downscript=no`, mac);
    const again = await vm.waitFor(new RegExp(`\\n${hostname} login: `), 240_000);
    const second = await sshUntilAnswer(`${subnet}.2`, 22, 'hostname', 180_000);
    assert.equal(second.stdout.trim(), hostname);
    figures.push(`SeaBIOS second boot: login prompt ${again.seconds.toFixed(1)} s, SSH answered ${((Date.now() - vm.started) / 1000).toFixed(1)} s`);
    assert.doesNotMatch(vm.console(), /bootstack-config-drive: applied|bootstack-ssh-host-keys:/);
    assert.equal(await offeredHostKey(`${subnet}.2`, 22), announced);
  } finally {
    await vm?.stop();
    await run('ip', ['link', 'del', tap], { allowFailure: true });
  }
});

test('OVMF: empty network_data falls back to DHCP; console marker, login prompt and SSH over a forwarded port', async () => {
  const hostname = `fb-uefi-${randomBytes(3).toString('hex')}`;
  const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
  const disk = await deployedDisk(
    'uefi.raw',
    { uuid: '6d4f1b2e-0000-4000-8000-000000000002', hostname, public_keys: { default: publicKey } },
    { links: [], networks: [], services: [] },
  );
  const port = await freePort();
  const vm = startVm('uefi', disk, `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`, mac);
  try {
    const applied = await vm.waitFor(new RegExp(`bootstack-config-drive: applied hostname=${hostname} keys=1 links=0 from /dev/vda\\d`), 300_000);
    const prompt = await vm.waitFor(new RegExp(`\\n${hostname} login: `), 300_000);
    const answered = await sshUntilAnswer('127.0.0.1', port, 'hostname', 180_000);
    assert.equal(answered.stdout.trim(), hostname);
    const sshAt = (Date.now() - vm.started) / 1000;
    figures.push(`OVMF (q35, TCG, 1 GiB): config drive applied ${applied.seconds.toFixed(1)} s, login prompt ${prompt.seconds.toFixed(1)} s, SSH answered ${sshAt.toFixed(1)} s after QEMU start`);
    // QEMU's user network hands out 10.0.2.15 by DHCP.
    const addr = await ssh('127.0.0.1', port, 'ip -4 -o addr show; networkctl list --no-legend');
    assert.match(addr, /inet 10\.0\.2\.15\/24/);
    await networkdConfigured('127.0.0.1', port);
    // network-online.target is reached through networkd's wait-online (any one link configured).
    const online = await ssh('127.0.0.1', port, 'systemctl start network-online.target && systemctl is-active systemd-networkd-wait-online.service');
    assert.equal(online.trim(), 'active');
    const failed = await ssh('127.0.0.1', port, 'systemctl --failed --plain --no-legend');
    assert.equal(failed.trim(), '', `failed units:\n${failed}`);
    figures.push(`OVMF guest: ${await bootBreakdown('127.0.0.1', port)}`);
    const announced = consoleHostKey(vm.console());
    assert.equal(await offeredHostKey('127.0.0.1', port), announced);
    hostKeys.push(announced);
    // Each machine made its own host keys (only meaningful when the BIOS machine ran too).
    if (hostKeys.length === 2) assert.notEqual(hostKeys[0], hostKeys[1], 'two machines from the same image share an SSH host key');
  } finally {
    await vm.stop();
  }
});
