// The collected metadata plus one extra output per deployment for os-apply-config: under each
// deployment key (default "deployments"), entries with a name whose group is os-apply-config or
// absent become (name, config). The collector's whole document comes first.
import { type PyValue, type PyDict, isDict } from '../common/py-json.js';

export type Collected = [string, PyValue][];

export function mergedListFromContent(content: PyDict, deploymentKeys: readonly string[], collector: string, warn: (m: string) => void): Collected {
  const out: Collected = [];
  for (const key of deploymentKeys) {
    if (!Object.prototype.hasOwnProperty.call(content, key)) continue;
    const deployments = content[key];
    if (!Array.isArray(deployments)) {
      warn(`Deployment-key ${key} was found but does not contain a list.`);
      continue;
    }
    for (const d of deployments) {
      if (!isDict(d) || !('name' in d)) {
        warn(`No name found for a deployment under ${key}.`);
        continue;
      }
      const group = 'group' in d ? d.group : 'Heat::Ungrouped';
      if (group === 'os-apply-config' || group === 'Heat::Ungrouped') out.push([String(d.name), (d.config ?? null) as PyValue]);
    }
  }
  out.unshift([collector, content]);
  return out;
}
