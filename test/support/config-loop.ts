// The configuration loop on a lab machine, the parts the lab test and the benchmark share: one TCG
// lab machine enrolled to "available" in a REAL seed (all services, dnsmasq, the metadata service on
// the lab network), the deploy ramdisk and the managed sample image (os-collect-config and
// friends) uploaded, an SSH key, the real `openstack` CLI pointed at the seed, and helpers to
// find the deployed machine's address and run commands on it.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from '../../src/common/child-process.js';
import { ensureDemoImages } from '../../src/image-builder/demo-images.js';
import { LabNodes, startLabSeed, type LabSeed } from './lab-seed.js';
import { openstackCli } from './openstack-cli.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface ConfigLoopLab {
  ls: LabSeed;
  nodes: LabNodes;
  nodeId: string;
  token: string;
  /** The admin project's id (stacks are created there). */
  projectId: string;
  /** A stack's (or one of its resources') record through the API, without the CLI's start-up time. */
  orchestration(path: string): Promise<Json>;
  /** The private key file whose public half the stacks install (through user_data). */
  keyFile: string;
  publicKey: string;
  /** The real openstack CLI against the seed; fails with its stderr unless allowFailure. */
  openstack(args: string[], o?: { allowFailure?: boolean; timeoutMs?: number }): Promise<RunResult>;
  /**
   * The address the deployed system took, reachable by SSH: leases naming `hostname` first (the
   * ramdisk's do not), then the MAC's other leases, newest first.
   */
  sshAddress(hostname: string, timeoutMs: number, user?: string): Promise<string>;
  /** A command on the machine as `user` (root by default; cloud-init images keep Debian's `debian`). */
  ssh(ip: string, command: string, timeoutMs?: number, user?: string): Promise<string>;
  /** `command` once the machine at `ip` answers SSH (it boots after the node is active), within `timeoutMs`. */
  sshWhenUp(ip: string, command: string, timeoutMs: number, user?: string): Promise<string>;
  /** Uploads an image file (qcow2) under `name`; returns its id. */
  uploadImage(name: string, file: string): Promise<string>;
}

/**
 * `machines` lab machines (default 1); only the first is enrolled here, so that the stacks of the
 * first stages can only land on it. Later stages enrol the others (`nodes.availableNode(..., i)`).
 */
export async function startConfigLoopLab(dir: string, o: { memoryMiB?: number; diskGiB?: number; machines?: number } = {}): Promise<ConfigLoopLab> {
  const images = await ensureDemoImages({ log: (l) => console.log(`# ${l}`) });
  const files = join(dir, 'files');
  await mkdir(files, { recursive: true });
  await copyFile(images.kernel, join(files, 'deploy.kernel'));
  await copyFile(images.initramfs, join(files, 'deploy.initramfs'));
  const ls = await startLabSeed(dir, { memoryMiB: o.memoryMiB ?? 1024, diskGiB: o.diskGiB ?? 4, conductorHost: 'config-loop', filesDir: files, metadata: true, machines: o.machines ?? 1 });
  const token = await ls.seed.token();
  const nodes = new LabNodes(ls, token);
  const node = await nodes.availableNode({ resource_class: 'baremetal', properties: { root_device: { name: 'vda' } } });

  const keyFile = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'config-loop', '-f', keyFile]);
  const publicKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim();

  const cli = openstackCli(() => ls.seed.stateDir, { timeoutMs: 1_800_000, extraEnv: { OS_BAREMETAL_API_VERSION: '1.78' } });
  const openstack: ConfigLoopLab['openstack'] = (args, oo = {}) => (oo.allowFailure ? cli.openstack : cli.checked)(args, oo);
  const sshOpts = ['-i', keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5', '-o', 'BatchMode=yes'];
  const ssh: ConfigLoopLab['ssh'] = async (ip, command, timeoutMs = 120_000, user = 'root') => (await run('ssh', [...sshOpts, `${user}@${ip}`, command], { timeoutMs })).stdout;
  const sshWhenUp: ConfigLoopLab['sshWhenUp'] = async (ip, command, timeoutMs, user = 'root') => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await run('ssh', [...sshOpts, `${user}@${ip}`, command], { allowFailure: true, timeoutMs: 60_000 }).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
      if (r.code === 0) return r.stdout;
      if (Date.now() > end) throw new Error(`no SSH answer from ${ip} within ${timeoutMs / 1000} s: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 3000));
    }
  };
  const sshAddress: ConfigLoopLab['sshAddress'] = async (hostname, timeoutMs, user = 'root') => {
    const leases = join(ls.seed.stateDir, 'boot', 'dnsmasq.leases');
    const mac = ls.lab.machines[0]!.mac;
    // (Machine 0's leases: the later stages with several machines SSH to their Neutron ports' addresses.)
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const lines = (await readFile(leases, 'utf8').catch(() => '')).split('\n').map((l) => l.split(' '));
      const ofMac = lines.filter((f) => f[1] === mac).sort((a, b) => Number(b[0]) - Number(a[0]));
      for (const f of [...ofMac.filter((f) => f[3] === hostname), ...ofMac.filter((f) => f[3] !== hostname)]) {
        // A machine going down or coming up may accept the connection and then hang: a timeout is a "no".
        const ok = await run('ssh', [...sshOpts, `${user}@${f[2]}`, 'true'], { allowFailure: true, timeoutMs: 20_000 }).catch(() => undefined);
        if (ok?.code === 0) return f[2]!;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    throw new Error(`${hostname}: no SSH answer within ${timeoutMs / 1000} s; leases:\n${await readFile(leases, 'utf8').catch(() => '')}\nconsole:\n${(await nodes.consoleLog()).slice(-3000)}`);
  };
  const uploadImage: ConfigLoopLab['uploadImage'] = async (name, file) => {
    const created = await ls.seed.call('POST', '/image/v2/images', { token, body: { name, disk_format: 'qcow2', container_format: 'bare' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const upload = await fetch(`${ls.seed.url}/image/v2/images/${created.body.id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' },
      body: createReadStream(file) as never,
      duplex: 'half',
    } as RequestInit);
    assert.equal(upload.status, 204, `upload of ${name}: HTTP ${upload.status}`);
    return created.body.id as string;
  };
  await uploadImage('sample', images.qcow2);
  const projectId = (await ls.seed.call('GET', '/identity/v3/projects?name=admin', { token })).body.projects[0].id as string;
  const orchestration: ConfigLoopLab['orchestration'] = async (path) => {
    const r = await ls.seed.call('GET', `/orchestration/v1/${projectId}${path}`, { token });
    assert.equal(r.status, 200, `GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Json;
  };
  return { ls, nodes, nodeId: node.uuid as string, token, projectId, orchestration, keyFile, publicKey, openstack, sshAddress, ssh, sshWhenUp, uploadImage };
}

/**
 * The stack the lab test and the benchmark deploy: one server on the lab machine (POLL_SERVER_HEAT),
 * a `script` deployment whose outputs are the machine's hostname and machine-id and the message
 * it was given, and an `os-apply-config` deployment rendering /etc/bootstack-sample.conf from the
 * image's template. `fail` makes the script fail with a message on stderr. `extra` deployments of a
 * trivial script measure fan-out. The SSH key reaches root through user_data (run once on first boot).
 */
export function configLoopTemplate(publicKey: string, o: { extra?: number } = {}): string {
  const extra = Array.from({ length: o.extra ?? 0 }, (_, i) => `
  extra_${i}:
    type: OS::Heat::SoftwareDeployment
    properties:
      config: {get_resource: noop}
      server: {get_resource: server}
      input_values: {n: "${i}"}`).join('');
  return `heat_template_version: 2018-08-31
parameters:
  message: {type: string, default: one}
  fail: {type: string, default: "no"}
resources:
  server:
    type: OS::Nova::Server
    properties:
      name: loop-0
      image: sample
      flavor: baremetal
      software_config_transport: POLL_SERVER_HEAT
      user_data_format: RAW
      user_data: |
        #!/bin/sh
        mkdir -p /root/.ssh && chmod 700 /root/.ssh
        echo '${publicKey}' >> /root/.ssh/authorized_keys
        chmod 600 /root/.ssh/authorized_keys
        echo ran >> /var/lib/bootstack-user-data-runs
  whoami:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      inputs: [{name: message}, {name: fail}]
      outputs: [{name: hostname}, {name: machine_id}, {name: message}]
      config: |
        #!/bin/sh
        echo "$message" >> /var/lib/loop-runs
        if [ "$fail" = yes ]; then echo "failing on purpose with $message" >&2; exit 3; fi
        hostname > "$heat_outputs_path.hostname"
        cat /etc/machine-id | tr -d '\\n' > "$heat_outputs_path.machine_id"
        printf %s "$message" > "$heat_outputs_path.message"
        echo "$message" > /etc/loop-message
  whoami_deploy:
    type: OS::Heat::SoftwareDeployment
    properties:
      config: {get_resource: whoami}
      server: {get_resource: server}
      input_values: {message: {get_param: message}, fail: {get_param: fail}}
  sample:
    type: OS::Heat::StructuredConfig
    properties:
      group: os-apply-config
      config:
        bootstack_sample:
          message: {get_input: message}
  sample_deploy:
    type: OS::Heat::StructuredDeployment
    properties:
      config: {get_resource: sample}
      server: {get_resource: server}
      input_values: {message: {get_param: message}}
  noop:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      config: "#!/bin/sh\\ntrue\\n"${extra}
outputs:
  hostname: {value: {get_attr: [whoami_deploy, hostname]}}
  machine_id: {value: {get_attr: [whoami_deploy, machine_id]}}
  message: {value: {get_attr: [whoami_deploy, message]}}
`;
}
