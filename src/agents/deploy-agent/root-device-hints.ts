// Root device hints as Ironic defines them: a dict of size (GiB), name, model, vendor, serial, wwn,
// wwn_with_extension, wwn_vendor_extension, rotational, hctl, by_path; each value an expression
// of oslo's spec grammar: "== 20", ">= 10", "s== ABC", "<in> foo", "<or> a <or> b", or a bare value
// (integers compare with ==, strings with s==). Every hint must match. Without hints the smallest
// disk of at least 4 GiB is chosen (ironic-python-agent's default).
import type { BlockDevice } from './inspect.js';

export type RootDeviceHints = Record<string, string | number | boolean>;

const GiB = 1024 ** 3;
const INT_HINTS = new Set(['size']);
const BOOL_HINTS = new Set(['rotational']);
const STR_HINTS = new Set(['name', 'model', 'vendor', 'serial', 'wwn', 'wwn_with_extension', 'wwn_vendor_extension', 'hctl', 'by_path']);

export class RootDeviceHintError extends Error {}

const UNARY = ['==', '=', '!=', '>=', '<=', '>', '<', 's==', 's!=', 's>=', 's<=', 's>', 's<', '<in>'];

interface Spec {
  op: string;
  values: string[];
}

function parseSpec(expr: string, isInt: boolean): Spec {
  const words = expr.trim().split(/\s+/);
  if (words[0] === '<or>') {
    const values = words.filter((_, i) => i % 2 === 1);
    if (words.some((w, i) => i % 2 === 0 && w !== '<or>') || values.length === 0) {
      throw new RootDeviceHintError(`malformed <or> expression "${expr}"`);
    }
    return { op: '<or>', values };
  }
  if (UNARY.includes(words[0]!)) {
    if (words.length < 2) throw new RootDeviceHintError(`"${expr}" has an operator but no value`);
    return { op: words[0]!, values: [words.slice(1).join(' ')] };
  }
  // A bare value (which may contain spaces, as models do) compares for equality.
  return { op: isInt ? '==' : 's==', values: [expr.trim()] };
}

// Ironic URL-quotes string values so that values with spaces survive its grammar.
const quote = (s: string) => encodeURIComponent(s.trim()).replace(/%2F/gi, '/');

function compareNum(op: string, actual: number, want: string): boolean {
  const w = Number(want);
  if (!Number.isFinite(w)) throw new RootDeviceHintError(`"${want}" is not a number`);
  switch (op) {
    case '==': return actual === w;
    case '=': case '>=': return actual >= w;
    case '!=': return actual !== w;
    case '<=': return actual <= w;
    case '<': return actual < w;
    case '>': return actual > w;
    case '<or>': return actual === w;
    default: throw new RootDeviceHintError(`operator ${op} does not apply to a number`);
  }
}

function compareStr(op: string, actual: string, want: string): boolean {
  switch (op) {
    case 's==': case '<or>': return actual === want;
    case 's!=': return actual !== want;
    case 's>=': return actual >= want;
    case 's<=': return actual <= want;
    case 's>': return actual > want;
    case 's<': return actual < want;
    case '<in>': return actual.includes(want);
    default: throw new RootDeviceHintError(`operator ${op} does not apply to a string`);
  }
}

function toBool(v: string | number | boolean): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw new RootDeviceHintError(`"${v}" is not a boolean`);
}

function devicePath(v: string): string {
  return v.startsWith('/dev/') ? v : `/dev/${v}`;
}

/** Validates hints; throws naming the first unknown or malformed one. */
export function validateHints(hints: RootDeviceHints): void {
  for (const [k, v] of Object.entries(hints)) {
    if (!INT_HINTS.has(k) && !BOOL_HINTS.has(k) && !STR_HINTS.has(k)) throw new RootDeviceHintError(`unknown root device hint "${k}"`);
    if (BOOL_HINTS.has(k)) toBool(v);
    else parseSpec(String(v), INT_HINTS.has(k));
  }
}

/**
 * Evaluates one hint expression against one value, as oslo's specs_matcher does after Ironic has
 * normalized both (sizes in whole GiB, strings URL-quoted, names with /dev/).
 */
export function matchExpression(actual: string | number, expr: string, kind: 'int' | 'str'): boolean {
  const spec = parseSpec(expr, kind === 'int');
  if (kind === 'int') {
    const n = Number(actual);
    return spec.op === '<or>' ? spec.values.some((v) => compareNum('==', n, v)) : compareNum(spec.op, n, spec.values[0]!);
  }
  const a = String(actual);
  return spec.op === '<or>' ? spec.values.includes(a) : compareStr(spec.op, a, spec.values[0]!);
}

function matchesOne(device: BlockDevice & Record<string, unknown>, key: string, hint: string | number | boolean): boolean {
  if (BOOL_HINTS.has(key)) return device.rotational === toBool(hint);
  if (key === 'size') return matchExpression(Math.floor(device.size / GiB), String(hint), 'int');
  const raw = device[key];
  const actuals = (Array.isArray(raw) ? raw : [raw]).filter((x): x is string => typeof x === 'string' && x !== '');
  if (actuals.length === 0) return false;
  const norm = (s: string) => (key === 'name' || key === 'by_path' ? devicePath(s) : quote(s));
  // Normalize the values inside the expression the same way as the device's value.
  const spec = parseSpec(String(hint), false);
  const expr = spec.op === '<or>' ? spec.values.map((v) => `<or> ${norm(v)}`).join(' ') : `${spec.op} ${norm(spec.values[0]!)}`;
  return actuals.some((a) => matchExpression(norm(a), expr, 'str'));
}

export function findDevices(devices: readonly BlockDevice[], hints: RootDeviceHints): BlockDevice[] {
  validateHints(hints);
  return devices.filter((d) => Object.entries(hints).every(([k, v]) => matchesOne(d as BlockDevice & Record<string, unknown>, k, v)));
}

/** The install target: the first disk matching every hint, or the smallest of at least 4 GiB. */
export function chooseRootDevice(devices: readonly BlockDevice[], hints?: RootDeviceHints | null): BlockDevice {
  if (hints && Object.keys(hints).length) {
    const found = findDevices(devices, hints);
    if (!found[0]) {
      throw new RootDeviceHintError(
        `no disk matches the root device hints ${JSON.stringify(hints)}; disks: ${devices.map((d) => `${d.name} ${Math.floor(d.size / GiB)} GiB serial=${d.serial ?? '-'} model=${d.model ?? '-'}`).join(', ') || 'none'}`,
      );
    }
    return found[0];
  }
  const big = [...devices].filter((d) => d.size >= 4 * GiB).sort((a, b) => a.size - b.size);
  if (!big[0]) throw new RootDeviceHintError(`no disk of at least 4 GiB; disks: ${devices.map((d) => d.name).join(', ') || 'none'}`);
  return big[0];
}
