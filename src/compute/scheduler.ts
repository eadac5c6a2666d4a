// What a flavor asks of a host, read from its extra specs as Nova's scheduler reads them for
// placement: `resources:CUSTOM_<CLASS>=1` names a custom resource class (bare metal: a node's
// resource_class normalised), `resources:VCPU=0` / `MEMORY_MB=0` / `DISK_GB=0` drop the
// standard resources the flavor's fields would otherwise ask for, `trait:<NAME>=required|forbidden`
// filter on traits. Invalid specs are refused when set (flavor extra specs API), so that a bad
// flavor fails at its creation rather than at every boot.
import { BadRequestError } from '../common/errors.js';
import type { PlacementRequest } from './virt-driver.js';

/** Nova/Ironic: upper-case, every non-alphanumeric character "_", prefixed CUSTOM_. */
export function normaliseResourceClass(rc: string): string {
  const up = rc.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return up.startsWith('CUSTOM_') ? up : `CUSTOM_${up}`;
}

const STANDARD = new Set(['VCPU', 'MEMORY_MB', 'DISK_GB']);
const RC_RE = /^(CUSTOM_[A-Z0-9_]+|VCPU|MEMORY_MB|DISK_GB)$/;
const TRAIT_RE = /^[A-Z0-9_]{1,255}$/;

/** Refuses an extra spec this scheduler would misread; other keys (hw:*, capabilities:*) pass. */
export function checkExtraSpec(key: string, value: string): void {
  if (key.length > 255 || value.length > 255) throw new BadRequestError(`extra_specs.${key.slice(0, 64)}: keys and values are at most 255 characters`);
  if (key.startsWith('resources:')) {
    const rc = key.slice('resources:'.length);
    if (!RC_RE.test(rc)) throw new BadRequestError(`extra_specs.${key}: "${rc}" is not a resource class (VCPU, MEMORY_MB, DISK_GB or CUSTOM_<NAME> in upper case)`);
    if (!/^\d+$/.test(value)) throw new BadRequestError(`extra_specs.${key}: the amount must be a non-negative integer, not "${value}"`);
  } else if (key.startsWith('trait:')) {
    const t = key.slice('trait:'.length);
    if (!TRAIT_RE.test(t)) throw new BadRequestError(`extra_specs.${key}: "${t}" is not a trait name (upper case, digits, "_")`);
    if (value !== 'required' && value !== 'forbidden') throw new BadRequestError(`extra_specs.${key}: must be "required" or "forbidden", not "${value}"`);
  }
}

export function placementRequest(flavor: { vcpus: number; ram: number; disk: number; extra_specs: Record<string, string> }): PlacementRequest {
  const req: PlacementRequest = { resourceClass: null, vcpus: flavor.vcpus, memoryMb: flavor.ram, diskGb: flavor.disk, requiredTraits: [], forbiddenTraits: [] };
  for (const [key, value] of Object.entries(flavor.extra_specs)) {
    if (key.startsWith('resources:')) {
      const rc = key.slice('resources:'.length);
      const amount = Number(value);
      if (rc === 'VCPU') req.vcpus = amount;
      else if (rc === 'MEMORY_MB') req.memoryMb = amount;
      else if (rc === 'DISK_GB') req.diskGb = amount;
      else if (!STANDARD.has(rc) && amount > 0) req.resourceClass = rc;
    } else if (key.startsWith('trait:')) {
      (value === 'required' ? req.requiredTraits : req.forbiddenTraits).push(key.slice('trait:'.length));
    }
  }
  req.requiredTraits.sort();
  req.forbiddenTraits.sort();
  return req;
}

/** Nova's NoValidHost message, with our reason appended so the fault says what did not match. */
export function noValidHost(reason: string): string {
  return `No valid host was found. ${reason}`;
}
