// What a deploy image really is, before the agent is given it. Glance's disk_format is metadata the
// uploader typed, so the file's first bytes are checked too: a qcow2 header ("QFI\xfb") written to
// a disk as if it were raw gives a machine that does not boot, and a "raw" image that is really
// qcow2 is also how host files leak through backing-file references. We therefore REFUSE any
// mismatch instead of guessing (as Ironic does since its image-format inspection fixes): the
// operator corrects disk_format and the deploy goes ahead.
import { open } from 'node:fs/promises';
import { BootstackError } from '../common/errors.js';

export const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/** Formats written as they are (bytes = disk or partition contents). */
const AS_IS = new Set(['raw', 'iso', 'ami']);
/** Virtual-disk formats we do not convert: their descriptors may reference other files (vmdk extents). */
const REFUSED = new Set(['vhd', 'vhdx', 'vmdk', 'vdi', 'ploop', 'aki', 'ari']);

export type DeployFormat = 'raw' | 'qcow2';

export class ImageFormatError extends BootstackError {
  constructor(message: string, imageId: string) {
    super(400, 'image_format', message, { fields: { image: imageId } });
  }
}

/** The first bytes of a file (fewer if it is shorter). */
export async function readMagic(path: string, length = 4): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * How the seed must serve this image: "raw" (the file as it is) or "qcow2" (through the raw
 * conversion cache). Throws ImageFormatError naming the image for mismatches and formats we
 * do not deploy.
 */
export async function deployFormat(image: { id: string; disk_format: string | null; path: string }): Promise<DeployFormat> {
  const isQcow2 = (await readMagic(image.path)).equals(QCOW2_MAGIC);
  const declared = image.disk_format;
  if (declared === 'qcow2') {
    if (!isQcow2) throw new ImageFormatError(`image ${image.id}: disk_format is qcow2 but its file has no qcow2 header; set disk_format to what the file is (raw?)`, image.id);
    return 'qcow2';
  }
  if (isQcow2) {
    throw new ImageFormatError(`image ${image.id}: disk_format is ${declared ?? 'unset'} but its file is qcow2; set disk_format to qcow2 (the seed converts it to raw)`, image.id);
  }
  if (declared === null || AS_IS.has(declared)) return 'raw';
  if (REFUSED.has(declared)) {
    throw new ImageFormatError(`image ${image.id}: disk_format ${declared} cannot be deployed; convert it (qemu-img convert -O raw or -O qcow2) and upload that`, image.id);
  }
  throw new ImageFormatError(`image ${image.id}: unknown disk_format ${declared}`, image.id);
}
