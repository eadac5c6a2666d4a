// A software deployment as Heat puts it in a server's metadata (under "deployments"): id, name,
// group, config, inputs [{name, value}], outputs [{name, error_output}], options. The deploy_*
// inputs say how to signal the result back.
import { createHash } from 'node:crypto';
import { type PyValue, isDict, dumps, pyStr } from '../common/py-json.js';

export interface Deployment {
  id: string;
  name: string;
  group: string;
  config: PyValue;
  inputs: { name: string; value: PyValue }[];
  outputs: { name: string; errorOutput: boolean }[];
  options: PyValue;
  raw: PyValue;
}

export function toDeployments(value: PyValue | undefined): Deployment[] {
  if (!Array.isArray(value)) return [];
  const out: Deployment[] = [];
  for (const d of value) {
    if (!isDict(d) || typeof d.id !== 'string') continue;
    const inputs = Array.isArray(d.inputs) ? d.inputs.filter(isDict) : [];
    const outputs = Array.isArray(d.outputs) ? d.outputs.filter(isDict) : [];
    out.push({
      id: d.id,
      name: typeof d.name === 'string' ? d.name : d.id,
      group: typeof d.group === 'string' ? d.group : 'Heat::Ungrouped',
      config: d.config ?? '',
      inputs: inputs.map((i) => ({ name: pyStr(i.name ?? ''), value: i.value ?? null })),
      outputs: outputs.map((o) => ({ name: pyStr(o.name ?? ''), errorOutput: o.error_output === true })),
      options: d.options ?? null,
      raw: d,
    });
  }
  return out;
}

export function input(d: Deployment, name: string): string | undefined {
  const v = d.inputs.find((i) => i.name === name)?.value;
  return v === undefined || v === null ? undefined : typeof v === 'string' ? v : dumps(v);
}

/** What decides whether a deployment must run again: its group, config, inputs and options. */
export function fingerprint(d: Deployment): string {
  return createHash('sha256')
    .update(dumps([d.group, d.config, d.inputs.map((i) => [i.name, i.value]), d.options]))
    .digest('hex');
}
