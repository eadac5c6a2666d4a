// The "direct" deploy interface (Ironic's agent deploy): the node network-boots the deploy
// ramdisk, its agent looks itself up and pulls commands; we stream the image to its disk
// (write_image, checksum verified on the machine), write the config drive and sync, then boot
// the disk. Cleaning erases the disks' metadata the same way. The agent part runs while the
// node waits ("wait call-back", "clean wait"); see Conductor.watchAgent.
import { BadRequestError, BootstackError } from '../../common/errors.js';
import { standardMetaData, type InstanceContent } from '../../common/instance-metadata.js';
import type { AgentCommandName, AgentCommandParams, RootDeviceHintsParam } from '../../common/agent-protocol.js';
import { AgentProtocolError, checkCommandParams } from '../../common/agent-protocol-check.js';
import type { Provisioning, ProvisioningLinks } from '../provisioning.js';
import { sleep } from '../../common/sleep.js';
import type { AgentPhase, CleanStep, DeployInterface, DriverContext, DriverNode, StepResult } from './interfaces.js';

/** Manual clean steps this interface runs (both are the agent's metadata erase). */
const CLEAN_STEPS = new Set(['erase_devices', 'erase_devices_metadata']);
const LOOKUP_POLL_MS = 100;

export class DirectDeploy implements DeployInterface {
  readonly name = 'direct';

  constructor(
    private readonly provisioning: Provisioning,
    /** The node's pxe-enabled port MACs, in enrolment order (network_data's links when none is given). */
    private readonly macsOf: (nodeUuid: string) => Promise<string[]> = async () => [],
  ) {}

  /**
   * What the node's config drive holds and the metadata service serves: both come from here, so
   * the drive and the service cannot disagree.
   */
  async instanceContent(node: DriverNode): Promise<InstanceContent | undefined> {
    return configDriveParams(node, await this.macsOf(node.uuid));
  }

  validate(node: DriverNode): void {
    this.provisioning.get();
    const source = node.instance_info.image_source;
    if (typeof source !== 'string' || !source) {
      throw new BadRequestError(`Node ${node.uuid}: instance_info.image_source is required for the "direct" deploy interface (an image id of the image service).`);
    }
  }

  async deploy(node: DriverNode, ctx: DriverContext): Promise<StepResult> {
    await bootRamdisk(node, ctx);
    return 'wait';
  }

  async clean(node: DriverNode, steps: CleanStep[] | null, ctx: DriverContext): Promise<StepResult> {
    for (const s of steps ?? []) {
      if (s.interface !== 'deploy' || !CLEAN_STEPS.has(s.step)) {
        throw new BadRequestError(`clean step ${s.interface}.${s.step} is not supported by the "direct" deploy interface (supported: deploy.erase_devices, deploy.erase_devices_metadata)`);
      }
    }
    if (steps && !steps.length) return 'done';
    await bootRamdisk(node, ctx);
    return 'wait';
  }

  async tearDown(node: DriverNode, ctx: DriverContext): Promise<void> {
    await ctx.driver?.boot.cleanUpRamdisk(node, ctx);
    await ctx.driver?.power.setPowerState(node, 'power off', ctx);
  }

  async awaitAgent(node: DriverNode, phase: AgentPhase, ctx: DriverContext): Promise<void> {
    const links = this.provisioning.get();
    const signal = ctx.signal ?? new AbortController().signal;
    await waitForLookup(links, node, signal);
    if (phase === 'clean') {
      await step(links, node, 'erase', {}, signal);
      return;
    }
    const info = node.instance_info;
    const image = await links.images.locate(node.uuid, String(info.image_source));
    if (image.diskFormat === 'qcow2') {
      // The image links convert qcow2 on the seed; getting one here is a wiring bug, not a user error.
      throw new BootstackError(500, 'not_raw', `image ${String(info.image_source)} was handed out as qcow2; the agent writes raw images only`);
    }
    let override = typeof info.image_checksum === 'string' && info.image_checksum ? info.image_checksum.toLowerCase() : undefined;
    if (override && image.converted) {
      // The operator's checksum is the qcow2's; the agent verifies the raw the seed made from it.
      if (!image.converted.sourceChecksums.includes(override)) {
        throw new BadRequestError(`instance_info.image_checksum ${override} does not match image ${String(info.image_source)} (${image.converted.from})`);
      }
      override = undefined;
    }
    await step(links, node, 'write_image', {
      image_url: image.url,
      checksum: override ?? image.checksum,
      checksum_algo: override ? algoOf(override) : image.algo,
      image_type: info.image_type === 'partition' ? 'partition' : 'whole-disk',
      image_size: image.size,
      ...(node.properties.root_device ? { root_device_hints: node.properties.root_device as RootDeviceHintsParam } : {}),
      ...(info.root_gb ? { root_mb: Number(info.root_gb) * 1024 } : {}),
    }, signal);
    const drive = await this.instanceContent(node);
    // instance_info.config_drive false (Nova's config_drive=False): the instance's metadata is
    // served by the metadata service only, and no drive is written.
    if (drive && info.config_drive !== false) await step(links, node, 'write_config_drive', { ...drive }, signal);
    await step(links, node, 'sync', {}, signal);
  }

  async complete(node: DriverNode, phase: AgentPhase, ctx: DriverContext): Promise<void> {
    await ctx.driver?.boot.cleanUpRamdisk(node, ctx);
    if (phase === 'clean') {
      await ctx.driver?.power.setPowerState(node, 'power off', ctx);
      await ctx.record?.('cleaning done; powered off');
      return;
    }
    await ctx.driver?.boot.prepareInstance(node, ctx);
    await ctx.driver?.power.setPowerState(node, 'rebooting', ctx);
    await ctx.record?.('rebooting into the deployed image');
  }

}

/** Boot device pxe (boot interface), then power on or reboot into the deploy ramdisk. */
export async function bootRamdisk(node: DriverNode, ctx: DriverContext): Promise<void> {
  const driver = ctx.driver;
  if (!driver) throw new BootstackError(500, 'no_driver', 'the conductor gave no power/boot interfaces to the agent-driven interface');
  const target = node.power_state === 'power on' ? 'rebooting' : 'power on';
  try {
    await driver.boot.prepareRamdisk(node, ctx);
    await driver.power.setPowerState(node, target, ctx);
  } catch (err) {
    // The node will not boot the ramdisk: stop serving it (and its live boot secret) to the MAC.
    await Promise.resolve()
      .then(() => driver.boot.cleanUpRamdisk(node, ctx))
      .catch(() => undefined);
    throw err;
  }
  await ctx.record?.(`${target === 'rebooting' ? 'rebooted' : 'powered on'}; waiting for the deploy ramdisk to look up`);
}

/** Until the node's agent has looked up (the phase timeout or an abort ends the wait). */
export async function waitForLookup(links: ProvisioningLinks, node: DriverNode, signal: AbortSignal): Promise<void> {
  while (!links.agent.lookedUp(node.uuid)) await sleep(LOOKUP_POLL_MS, signal);
}

function algoOf(hex: string): 'md5' | 'sha256' | 'sha512' {
  return hex.length === 32 ? 'md5' : hex.length === 128 ? 'sha512' : 'sha256';
}

/**
 * Runs one agent command and returns its result. The params are checked before they are queued
 * (what the agent would refuse is a bug here, better named on the seed) and sent as given. The
 * result is returned unchecked: only inspect's becomes node data, and AgentInspect checks it;
 * the others are only shown (timeline), so a sparse one must not fail a deploy.
 */
export async function step<N extends AgentCommandName>(links: ProvisioningLinks, node: DriverNode, name: N, params: AgentCommandParams[N], signal: AbortSignal): Promise<unknown> {
  try {
    checkCommandParams(name, params);
  } catch (err) {
    if (!(err instanceof AgentProtocolError)) throw err;
    throw new BootstackError(500, 'agent_command_failed', `agent command ${name} not sent, its params are malformed: ${err.message}`);
  }
  const out = await links.agent.run(node.uuid, name, params, signal);
  if (out.status !== 'succeeded') throw new BootstackError(500, 'agent_command_failed', `agent command ${name} failed: ${out.error ?? 'no reason given'}`);
  return out.result;
}

/**
 * The one function from a node to its instance content (write_config_drive's params, the metadata
 * service's source): instance_info.configdrive {meta_data, user_data, network_data, vendor_data,
 * vendor_data2} plus the node's uuid and name. Without network_data, one is built from the node's
 * ports (`macs`): one physical link per MAC, each configured by DHCP. undefined: no config drive.
 */
export function configDriveParams(node: DriverNode, macs: readonly string[] = []): InstanceContent | undefined {
  const cd = node.instance_info.configdrive;
  if (cd === undefined || cd === null || cd === '') return undefined;
  if (typeof cd !== 'object' || Array.isArray(cd)) {
    throw new BadRequestError('instance_info.configdrive must be an object {meta_data, user_data, network_data}; a base64 ISO image is not supported');
  }
  const drive = cd as Record<string, unknown>;
  const field = (key: string): Record<string, unknown> | undefined => {
    const v = drive[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new BadRequestError(`instance_info.configdrive.${key} must be an object`);
    return v as Record<string, unknown>;
  };
  const given = field('meta_data') ?? {};
  const meta_data = standardMetaData({ uuid: node.uuid, ...(node.name ? { name: node.name, hostname: node.name } : {}), ...given });
  const ud = drive.user_data;
  const network_data = field('network_data') ?? portsNetworkData(macs);
  const vendor_data = field('vendor_data');
  const vendor_data2 = field('vendor_data2');
  return {
    meta_data,
    network_data,
    ...(ud === undefined || ud === null ? {} : { user_data: typeof ud === 'string' ? ud : JSON.stringify(ud) }),
    ...(vendor_data ? { vendor_data } : {}),
    ...(vendor_data2 ? { vendor_data2 } : {}),
  };
}

/** network_data.json for a machine whose every port takes its address by DHCP. */
function portsNetworkData(macs: readonly string[]): Record<string, unknown> {
  return {
    links: macs.map((mac, i) => ({ id: `port${i}`, type: 'phy', ethernet_mac_address: mac.toLowerCase(), mtu: null, vif_id: null })),
    networks: macs.map((_, i) => ({ id: `network${i}`, type: 'ipv4_dhcp', link: `port${i}`, network_id: `network${i}` })),
    services: [],
  };
}
