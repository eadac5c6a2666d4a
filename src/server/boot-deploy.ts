// The bare-metal service's provisioning links (src/baremetal/provisioning.ts) implemented over the
// boot service (BootManager: DHCP hosts, iPXE script with a boot secret, the agent's command queue,
// boot events) and the image service (ImageFiles). Deploy images reach the agent through
// /boot/images/{token}: the image API needs a Keystone token the agent does not have, so each
// deploy gets a random per-node download token in the URL instead (revoked with the boot).
// qcow2 images are served as raw from the boot service's conversion cache (the agent writes raw
// bytes only): the format is decided from disk_format AND the file's magic (src/boot/image-format.ts).
import type { ApiService } from '../common/service.js';
import { ConflictError, NotFoundError } from '../common/errors.js';
import type { BootService } from '../boot/index.js';
import { deployFormat } from '../boot/image-format.js';
import type { RawImage } from '../boot/raw-cache.js';
import type { ImageFileInfo, ImagesApiService } from '../images/index.js';
import type { BaremetalService, ProvisioningLinks } from '../baremetal/index.js';
import { agentChannel } from './agent-channel.js';

/** Connects boot to images and baremetal to both; returns the boot service for the factory list. */
export function connectBootDeploy(boot: BootService, services: ApiService[]): BootService {
  const images = services.find((s): s is ImagesApiService => s.name === 'images');
  const baremetal = services.find((s): s is BaremetalService => s.name === 'baremetal');
  if (images) {
    boot.setImageSource(async (id) => {
      const f = await images.files.get(id);
      // A cache hit is a stat; if the raw was evicted since locate(), it is converted again.
      if ((await deployFormat(f)) === 'qcow2') return rawOf(boot, images, f);
      return { path: f.path, size: f.size };
    });
    baremetal?.provisioning.attach(provisioningLinks(boot, images));
  }
  return boot;
}

/**
 * image_source as an image id, or else as the name of exactly one active image (OS::Nova::Server
 * names its image). The seed deploys as its operator: image visibility is not checked here.
 */
async function resolveImage(images: Pick<ImagesApiService, 'files' | 'store'>, source: string): Promise<ImageFileInfo> {
  if (await images.store.get(source)) return images.files.get(source);
  const named = await images.store.list({ name: source, status: 'active' });
  if (named.length > 1) throw new ConflictError(`image_source "${source}" names ${named.length} active images; give an image id`);
  if (!named[0]) throw new NotFoundError('Image', source);
  return images.files.get(named[0].id);
}

/** Glance's strongest checksum of the uploaded file: it keys the raw in the conversion cache. */
function sourceChecksum(f: ImageFileInfo): string {
  return f.os_hash_value || f.checksum;
}

/**
 * The raw form of a qcow2 image from the conversion cache. Raws of images that were deleted or
 * whose data changed are dropped first (the cache learns about deletions here, lazily).
 */
async function rawOf(boot: BootService, images: Pick<ImagesApiService, 'files' | 'store'>, f: ImageFileInfo): Promise<RawImage> {
  await boot.rawCache.prune(async (id, sum) => {
    const img = await images.store.get(id);
    return img !== undefined && img !== null && img.status === 'active' && (img.os_hash_value === sum || img.checksum === sum);
  });
  return boot.rawCache.ensure(f.id, sourceChecksum(f), f.path);
}

export function provisioningLinks(boot: BootService, images: Pick<ImagesApiService, 'files' | 'store'>): ProvisioningLinks {
  const m = boot.manager;
  return {
    boot: {
      async prepare(o) {
        await m.prepareBoot(o);
      },
      cleanUp: (nodeId) => m.cleanBoot(nodeId),
      setPorts: (macs) => m.setEnrolledPorts(macs.map((mac) => ({ mac }))),
      addPort: (mac) => m.addPort({ mac }),
      removePort: (mac) => m.removePort(mac),
    },
    agent: agentChannel(m.commands),
    images: {
      async locate(nodeId, imageSource) {
        const f = await resolveImage(images, imageSource);
        if ((await deployFormat(f)) === 'qcow2') {
          const raw = await rawOf(boot, images, f);
          boot.events.emit({
            kind: 'image_converted',
            at: new Date(),
            nodeId,
            detail: { image: f.name ?? f.id, from: 'qcow2', to: 'raw', bytes: raw.size, source_bytes: raw.sourceBytes, seconds: raw.seconds, cached: raw.cached },
          });
          return {
            url: m.publishImage(nodeId, f.id),
            checksum: raw.sha256,
            algo: 'sha256',
            size: raw.size,
            diskFormat: 'raw',
            converted: { from: 'qcow2', sourceChecksums: [f.checksum, f.os_hash_value].filter(Boolean) },
          };
        }
        const strong = f.os_hash_algo === 'sha256' || f.os_hash_algo === 'sha512';
        return {
          url: m.publishImage(nodeId, f.id),
          checksum: strong ? f.os_hash_value : f.checksum,
          algo: strong ? (f.os_hash_algo as 'sha256' | 'sha512') : 'md5',
          size: f.size,
          diskFormat: f.disk_format ?? null,
        };
      },
    },
    timeline: boot.events,
  };
}
