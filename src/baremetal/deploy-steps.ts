// The deploy steps a deploy template may name, and the validation of a template's steps.
//
// Bootstack's drivers declare no deploy steps yet (src/baremetal/drivers has deploy() and clean(),
// not Ironic's step list), so this table is the one place that says which step names exist per
// interface: Ironic's names for its in-tree interfaces. Issue 14's step model will replace it with
// the steps the node's drivers declare (and check them against the node at deploy time, as Ironic's
// conductor does); until then a template is validated here and stored, never run.
import { ValidationError } from '../common/errors.js';

/** Interface → the deploy step names known for it. An interface with none refuses every step. */
export const KNOWN_DEPLOY_STEPS: Readonly<Record<string, readonly string[]>> = {
  deploy: ['deploy', 'write_image', 'prepare_instance_boot', 'tear_down_agent', 'switch_to_tenant_network', 'boot_instance'],
  bios: ['apply_configuration', 'factory_reset', 'cache_bios_settings'],
  raid: ['create_configuration', 'delete_configuration', 'apply_configuration'],
  management: ['update_firmware', 'reset_secure_boot_keys_to_default', 'clear_secure_boot_keys'],
  firmware: ['update'],
  power: [],
  network: [],
  storage: [],
  vendor: [],
};

export interface DeployStep {
  interface: string;
  step: string;
  args: Record<string, unknown>;
  priority: number;
}

const STEP_KEYS = new Set(['interface', 'step', 'args', 'priority']);

/**
 * A template's steps as stored: a non-empty list of {interface, step, args, priority}, each a
 * known step of a known interface, none twice. Throws a 400 naming the offending field.
 */
export function validateDeploySteps(raw: unknown, path = 'steps'): DeployStep[] {
  if (!Array.isArray(raw)) throw new ValidationError('must be a list of deploy steps', { path });
  if (raw.length === 0) throw new ValidationError('must name at least one deploy step', { path });
  const seen = new Set<string>();
  return raw.map((item: unknown, i) => {
    const at = `${path}/${i}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new ValidationError('must be an object {interface, step, args, priority}', { path: at });
    const s = item as Record<string, unknown>;
    for (const k of Object.keys(s)) if (!STEP_KEYS.has(k)) throw new ValidationError(`unknown field "${k}"`, { path: `${at}/${k}` });
    for (const k of STEP_KEYS) if (!(k in s)) throw new ValidationError('is required', { path: `${at}/${k}` });
    const iface = s.interface;
    if (typeof iface !== 'string' || !(iface in KNOWN_DEPLOY_STEPS)) {
      throw new ValidationError(`"${String(iface)}" is not a deploy step interface; expected one of ${Object.keys(KNOWN_DEPLOY_STEPS).join(', ')}`, { path: `${at}/interface` });
    }
    const known = KNOWN_DEPLOY_STEPS[iface]!;
    if (typeof s.step !== 'string' || !known.includes(s.step)) {
      throw new ValidationError(
        `Unknown deploy step "${String(s.step)}" for interface ${iface}; known: ${known.length ? known.join(', ') : 'none'}`,
        { path: `${at}/step` },
      );
    }
    if (s.args === null || typeof s.args !== 'object' || Array.isArray(s.args)) throw new ValidationError('must be an object', { path: `${at}/args` });
    // Ironic takes the priority as a non-negative integer or its decimal string.
    const priority = typeof s.priority === 'string' && /^[0-9]+$/.test(s.priority) ? Number(s.priority) : s.priority;
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) {
      throw new ValidationError(`${JSON.stringify(s.priority)} is not a valid priority: expected an integer of 0 or more`, { path: `${at}/priority` });
    }
    const key = `${iface}.${s.step}`;
    if (seen.has(key)) throw new ValidationError(`Duplicate deploy step ${key}: a template names each step once`, { path: `${at}/step` });
    seen.add(key);
    return { interface: iface, step: s.step, args: s.args as Record<string, unknown>, priority };
  });
}
