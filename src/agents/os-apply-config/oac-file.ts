// The .oac control file beside a template: YAML (1.1, as PyYAML reads it, so `mode: 0755` is
// octal) with mode, owner, group and allow_empty. Owners and groups are names or numbers looked
// up in /etc/passwd and /etc/group, as the original's pwd/grp lookups do on a files-only system.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';

export interface OacControl {
  allowEmpty: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  /** A control file may even replace the rendered body (the original allows it). */
  body?: string;
}

function lookup(dbPath: string, v: unknown, what: string): number {
  if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) {
    throw new ConfigError(`${what} '${String(v)}' must be a string or int`);
  }
  let text = '';
  try {
    text = readFileSync(dbPath, 'utf8');
  } catch {
    // No database: nothing is found.
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3) continue;
    const id = Number(f[2]);
    if (typeof v === 'string' ? f[0] === v : id === v) return id;
  }
  const db = what === 'owner' ? 'passwd' : 'group';
  throw new ConfigError(`${what} '${String(v)}' not found in ${db} database`);
}

export function parseControl(text: string, templatePath: string): OacControl {
  let doc: unknown;
  try {
    doc = parseYaml(text, { version: '1.1' }) ?? {};
  } catch (err) {
    throw new ConfigError(`${templatePath}.oac: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError(`header is not a dict: ${templatePath}`);
  }
  const ctl: OacControl = { allowEmpty: true };
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    switch (k) {
      case 'allow_empty':
        if (typeof v !== 'boolean') throw new ConfigError(`allow_empty requires Boolean, got: '${String(v)}'`);
        ctl.allowEmpty = v;
        break;
      case 'mode':
        if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(`mode '${String(v)}' is not numeric`);
        if (v < 0 || v > 0o777) throw new ConfigError(`mode '0o${v.toString(8)}' out of range`);
        ctl.mode = v;
        break;
      case 'owner':
        ctl.uid = lookup('/etc/passwd', v, 'owner');
        break;
      case 'group':
        ctl.gid = lookup('/etc/group', v, 'group');
        break;
      case 'body':
        if (typeof v !== 'string') throw new ConfigError(`body '${String(v)}' must be a string`);
        ctl.body = v;
        break;
      default:
        throw new ConfigError(`unrecognised file control key '${k}'`);
    }
  }
  return ctl;
}
