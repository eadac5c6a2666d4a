// Template parameters: schema from the "parameters" section, typed conversion of the values given
// (environment parameters, parameter_defaults, defaults) and constraint checks.
import { isIP } from 'node:net';
import { MAX_PATTERN_LENGTH } from './limits.js';
import { compileUserPattern, PatternBudget, PatternError, type UserPattern } from './user-regex.js';
import { isMapping, joinPath, type Json, type JsonMap } from './yaml-source.js';

export const PARAM_TYPES = ['string', 'number', 'json', 'comma_delimited_list', 'boolean'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export interface ParamSchema {
  name: string;
  /** Where the schema is in its template ("parameters.<name>"). */
  path: string;
  type: ParamType;
  default?: Json;
  description?: string;
  label?: string;
  hidden: boolean;
  immutable: boolean;
  constraints: JsonMap[];
}

/** Custom constraint checks that need other services (images, flavors); absent = accepted. */
export type CustomConstraintLookup = (name: string, value: string) => string | undefined;

type Fail = (path: string, message: string) => never;

const PARAM_KEYS = ['type', 'default', 'description', 'label', 'hidden', 'constraints', 'immutable', 'tags'];

export function parseParamSchema(name: string, raw: Json, path: string, fail: Fail): ParamSchema {
  if (!isMapping(raw)) fail(path, `Invalid parameter schema for ${name}: must be a map`);
  const m = raw as JsonMap;
  for (const k of Object.keys(m)) if (!PARAM_KEYS.includes(k)) fail(joinPath(path, k), `Invalid key '${k}' for parameter (${name})`);
  if (m.type === undefined) fail(path, `Missing parameter type for parameter: ${name}`);
  const type = m.type as ParamType;
  if (!PARAM_TYPES.includes(type)) fail(joinPath(path, 'type'), `Invalid type (${String(m.type)}); expected one of ${PARAM_TYPES.join(', ')}`);
  const constraints = m.constraints ?? [];
  if (!Array.isArray(constraints)) fail(joinPath(path, 'constraints'), 'constraints must be a list');
  (constraints as Json[]).forEach((c, i) => checkConstraintShape(c, type, joinPath(path, `constraints.${i}`), fail));
  const schema: ParamSchema = {
    name,
    path,
    type,
    default: m.default,
    description: typeof m.description === 'string' ? m.description : undefined,
    label: typeof m.label === 'string' ? m.label : undefined,
    hidden: m.hidden === true || m.hidden === 'true',
    immutable: m.immutable === true,
    constraints: constraints as JsonMap[],
  };
  // The default is checked against the constraints by validation (checkDefault), which holds the
  // request's pattern budget.
  if (m.default !== undefined && m.default !== null) convertParam(schema, m.default, joinPath(path, 'default'), fail);
  return schema;
}

/** Heat checks a parameter's default against its constraints (and its patterns compile) even when a value is given. */
export function checkDefault(schema: ParamSchema, fail: Fail, budget: PatternBudget, lookup?: CustomConstraintLookup): void {
  schema.constraints.forEach((c, i) => {
    if (c.allowed_pattern !== undefined) patternOf(schema, i, fail, budget);
  });
  if (schema.default === undefined || schema.default === null) return;
  const path = joinPath(schema.path, 'default');
  checkConstraints(schema, convertParam(schema, schema.default, path, fail), path, fail, lookup, budget);
}

/** The compiled allowed_pattern of constraint i; an unusable pattern fails at the constraint. */
function patternOf(schema: ParamSchema, i: number, fail: Fail, budget: PatternBudget): UserPattern {
  const source = String(schema.constraints[i]!.allowed_pattern);
  try {
    return compileUserPattern(source, budget);
  } catch (err) {
    if (!(err instanceof PatternError)) throw err;
    return fail(joinPath(schema.path, `constraints.${i}.allowed_pattern`), `Parameter '${schema.name}': allowed_pattern "${source.slice(0, 200)}": ${err.message}`);
  }
}

const CONSTRAINT_KINDS = ['length', 'range', 'modulo', 'allowed_values', 'allowed_pattern', 'custom_constraint'];

function checkConstraintShape(c: Json, type: ParamType, path: string, fail: Fail): void {
  if (!isMapping(c)) fail(path, 'a constraint must be a map');
  const kind = Object.keys(c).find((k) => CONSTRAINT_KINDS.includes(k));
  if (!kind) fail(path, `unknown constraint; expected one of ${CONSTRAINT_KINDS.join(', ')}`);
  const v = c[kind];
  if ((kind === 'length' || kind === 'range') && !isMapping(v ?? null)) fail(joinPath(path, kind), `${kind} needs min and/or max`);
  if (kind === 'modulo' && (!isMapping(v ?? null) || typeof (v as JsonMap).step !== 'number')) fail(joinPath(path, kind), 'modulo needs step and offset');
  if (kind === 'allowed_values' && !Array.isArray(v)) fail(joinPath(path, kind), 'allowed_values must be a list');
  if (kind === 'allowed_pattern') {
    if (typeof v !== 'string') fail(joinPath(path, kind), 'allowed_pattern must be a string');
    if (v.length > MAX_PATTERN_LENGTH) fail(joinPath(path, kind), `allowed_pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  if (kind === 'length' && !['string', 'comma_delimited_list', 'json'].includes(type)) fail(joinPath(path, kind), `length constraint is invalid for type ${type}`);
  if ((kind === 'range' || kind === 'modulo') && type !== 'number') fail(joinPath(path, kind), `${kind} constraint is invalid for type ${type}`);
}

const TRUE = ['true', 't', 'yes', 'y', 'on', '1'];
const FALSE = ['false', 'f', 'no', 'n', 'off', '0'];

/** Converts a supplied value to the parameter's type, as Heat does (strings from the CLI, etc.). */
export function convertParam(schema: ParamSchema, value: Json, path: string, fail: Fail): Json {
  const name = schema.name;
  switch (schema.type) {
    case 'string':
      // Heat (Kilo) accepted maps and lists for string parameters (TripleO's network templates
      // rely on it); they are passed on as JSON text.
      if (value !== null && typeof value === 'object') return JSON.stringify(value);
      return value === null ? '' : String(value);
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n)) fail(path, `Parameter '${name}' is invalid: Value '${String(value)}' is not a number`);
      return n;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const s = String(value).toLowerCase();
      if (TRUE.includes(s)) return true;
      if (FALSE.includes(s)) return false;
      return fail(path, `Parameter '${name}' is invalid: Unrecognized value "${String(value)}", acceptable values are: ${[...TRUE, ...FALSE].join(', ')}`);
    }
    case 'comma_delimited_list':
      if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      if (value === null || value === '') return [];
      if (typeof value !== 'string') fail(path, `Parameter '${name}' is invalid: value must be a comma-delimited string or a list`);
      return value.split(',').map((s) => s.trim());
    case 'json':
      if (typeof value === 'string') {
        if (value === '') return {};
        try {
          return JSON.parse(value) as Json;
        } catch {
          return fail(path, `Parameter '${name}' is invalid: Value must be valid JSON: ${value.slice(0, 80)}`);
        }
      }
      if (value !== null && typeof value !== 'object') fail(path, `Parameter '${name}' is invalid: Value must be a map or a list`);
      return value;
  }
}

const CUSTOM: Record<string, (v: string) => boolean> = {
  ip_addr: (v) => isIP(v) !== 0,
  cidr: (v) => {
    const m = /^(.+)\/(\d{1,3})$/.exec(v);
    if (!m) return false;
    const kind = isIP(m[1]!);
    const bits = Number(m[2]);
    return kind !== 0 && bits <= (kind === 4 ? 32 : 128);
  },
  mac_addr: (v) => /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(v),
};

export function checkConstraints(schema: ParamSchema, value: Json, path: string, fail: Fail, lookup?: CustomConstraintLookup, budget = new PatternBudget()): void {
  for (const [i, c] of schema.constraints.entries()) {
    const desc = typeof c.description === 'string' ? c.description : undefined;
    const bad = (why: string) => fail(path, `Parameter '${schema.name}' is invalid: ${desc ?? why}`);
    if (c.length !== undefined) {
      const { min, max } = c.length as JsonMap;
      const len = typeof value === 'string' || Array.isArray(value) ? value.length : isMapping(value) ? Object.keys(value).length : 0;
      if (typeof min === 'number' && len < min) bad(`length must be at least ${min}`);
      if (typeof max === 'number' && len > max) bad(`length must be no greater than ${max}`);
    }
    if (c.range !== undefined) {
      const { min, max } = c.range as JsonMap;
      const n = Number(value);
      if (typeof min === 'number' && n < min) bad(`${n} must be at least ${min}`);
      if (typeof max === 'number' && n > max) bad(`${n} must be no greater than ${max}`);
    }
    if (c.modulo !== undefined) {
      const { step, offset } = c.modulo as JsonMap;
      const n = Number(value);
      const off = Number(offset ?? 0);
      if (((n - off) % Number(step) + Number(step)) % Number(step) !== 0) bad(`${n} is not a multiple of ${String(step)} with an offset of ${off}`);
    }
    if (c.allowed_values !== undefined) {
      const allowed = (c.allowed_values as Json[]).map((x) => String(x));
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) if (!allowed.includes(String(v))) bad(`"${String(v)}" is not an allowed value [${allowed.join(', ')}]`);
    }
    if (c.allowed_pattern !== undefined) {
      const re = patternOf(schema, i, fail, budget);
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) {
        let ok: boolean;
        try {
          ok = re.matchesWhole(String(v), budget);
        } catch (err) {
          if (!(err instanceof PatternError)) throw err;
          return fail(path, `Parameter '${schema.name}' is invalid: allowed_pattern: ${err.message}`);
        }
        if (!ok) bad(`"${String(v).slice(0, 200)}" does not match pattern "${String(c.allowed_pattern)}"`);
      }
    }
    if (c.custom_constraint !== undefined) {
      const name = String(c.custom_constraint);
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) {
        const s = String(v);
        const check = CUSTOM[name];
        if (check && !check(s)) bad(`"${s}" is not a valid ${name}`);
        const problem = lookup?.(name, s);
        if (problem) bad(problem);
      }
    }
  }
}
