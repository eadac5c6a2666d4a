// Software configuration: configs (immutable records the API also serves), structured configs,
// cloud-config and multipart MIME bundles, and deployments of a config onto a server that
// complete when the in-instance hook signals its status (or at once with NO_SIGNAL).
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import type { ResourceType, RuntimeResource } from '../registry.js';
import { isMapping, type Json, type JsonMap } from '../yaml-source.js';

/**
 * The project a read is for: records of other projects are not found. Null only for an admin
 * reading across projects through the API; resources always read as their stack's project.
 */
export type ProjectScope = string | null;

/** Software config and deployment records (the API's software_configs / software_deployments). */
export interface SoftwareStore {
  createConfig(projectId: string, config: SoftwareConfigRecord): Promise<string>;
  getConfig(id: string, scope: ProjectScope): Promise<(SoftwareConfigRecord & { id: string }) | undefined>;
  deleteConfig(id: string): Promise<void>;
  createDeployment(d: DeploymentRecord): Promise<string>;
  getDeployment(id: string, scope: ProjectScope): Promise<(DeploymentRecord & { id: string; createdAt?: string; updatedAt?: string | null }) | undefined>;
  updateDeployment(id: string, patch: Partial<DeploymentRecord>): Promise<void>;
  deleteDeployment(id: string): Promise<void>;
  /**
   * Resolves when the deployment is next updated, after `ms` at the latest or when `signal`
   * aborts; subscribe before reading. Absent: waiters read the deployment every 200 ms.
   */
  nextChange?(id: string, ms: number, signal: AbortSignal): { changed: Promise<boolean>; cancel(): void };
}

export interface SoftwareConfigRecord {
  name: string;
  group: string;
  config: Json;
  inputs: Json[];
  outputs: Json[];
  options: JsonMap;
}

export interface DeploymentRecord {
  projectId: string;
  configId: string;
  serverId: string;
  action: string;
  status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';
  statusReason: string;
  inputValues: JsonMap;
  outputValues: JsonMap;
  stackId?: string;
  resourceName?: string;
}

function store(r: RuntimeResource): SoftwareStore {
  return r.engine.software;
}

const CONFIG_PROPS = {
  group: { type: 'string' as const, default: 'Heat::Ungrouped' },
  config: { type: 'any' as const },
  options: { type: 'map' as const },
  inputs: { type: 'list' as const },
  outputs: { type: 'list' as const },
};

function configType(name: string, configValue: (r: RuntimeResource) => Json | Promise<Json>): ResourceType {
  return {
    name,
    properties: CONFIG_PROPS,
    attributes: ['config', 'show'],
    plugin: {
      async create(r) {
        r.physicalId = await store(r).createConfig(r.projectId, {
          name: r.name,
          group: String(r.properties.group ?? 'Heat::Ungrouped'),
          config: await configValue(r),
          inputs: (r.properties.inputs ?? []) as Json[],
          outputs: (r.properties.outputs ?? []) as Json[],
          options: (r.properties.options ?? {}) as JsonMap,
        });
      },
      async delete(r) {
        if (r.physicalId) await store(r).deleteConfig(r.physicalId);
      },
      async attribute(r) {
        if (!r.physicalId) return null;
        return ((await store(r).getConfig(r.physicalId, r.projectId))?.config ?? null) as Json;
      },
    },
  };
}

export const softwareConfigType = configType('OS::Heat::SoftwareConfig', (r) => (r.properties.config ?? '') as Json);
export const structuredConfigType = configType('OS::Heat::StructuredConfig', (r) => (r.properties.config ?? {}) as Json);

export const cloudConfigType: ResourceType = {
  ...configType('OS::Heat::CloudConfig', (r) => `#cloud-config\n${stringify(r.properties.cloud_config ?? {})}`),
  properties: { cloud_config: { type: 'map' } },
};

export const multipartMimeType: ResourceType = {
  ...configType('OS::Heat::MultipartMime', async (r) => {
    const parts = (r.properties.parts ?? []) as JsonMap[];
    const boundary = `===============${randomUUID().replace(/-/g, '')}==`;
    let out = `Content-Type: multipart/mixed; boundary="${boundary}"\nMIME-Version: 1.0\n\n`;
    for (const [i, part] of parts.entries()) {
      let content = String(part.config ?? '');
      // A part's config is a software config id or the content itself.
      const cfg = /^[0-9a-f-]{36}$/.test(content) ? await store(r).getConfig(content, r.projectId) : undefined;
      if (cfg) content = typeof cfg.config === 'string' ? cfg.config : JSON.stringify(cfg.config);
      const subtype = String(part.subtype ?? (content.startsWith('#cloud-config') ? 'cloud-config' : 'x-shellscript'));
      const filename = String(part.filename ?? `part-${i}`);
      out += `--${boundary}\nContent-Type: text/${subtype}; charset="us-ascii"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename="${filename}"\n\n${content}\n`;
    }
    return `${out}--${boundary}--\n`;
  }),
  properties: { parts: { type: 'list' } },
};

const DEPLOYMENT_PROPS = {
  config: { type: 'string' as const, updateAllowed: true },
  server: { type: 'string' as const, required: true },
  input_values: { type: 'map' as const, updateAllowed: true },
  actions: { type: 'list' as const, default: ['CREATE', 'UPDATE'], updateAllowed: true },
  name: { type: 'string' as const },
  signal_transport: { type: 'string' as const, default: 'CFN_SIGNAL', allowed: ['CFN_SIGNAL', 'TEMP_URL_SIGNAL', 'HEAT_SIGNAL', 'NO_SIGNAL', 'ZAQAR_SIGNAL'] },
};

/** Replaces {get_input: x} in a structured config with the input's value. */
function substituteInputs(config: Json, inputs: JsonMap, key: string): Json {
  if (Array.isArray(config)) return config.map((c) => substituteInputs(c, inputs, key));
  if (isMapping(config)) {
    const keys = Object.keys(config);
    if (keys.length === 1 && keys[0] === key && typeof config[key] === 'string') return inputs[config[key]] ?? null;
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(config)) out[k] = substituteInputs(v, inputs, key);
    return out;
  }
  return config;
}

async function deploy(r: RuntimeResource, action: 'CREATE' | 'UPDATE', structured: boolean): Promise<void> {
  const actions = (r.properties.actions ?? ['CREATE', 'UPDATE']) as Json[];
  const transport = String(r.properties.signal_transport ?? 'CFN_SIGNAL');
  const inputValues = { ...((r.properties.input_values ?? {}) as JsonMap) };
  const inputs: JsonMap = {
    ...inputValues,
    deploy_server_id: String(r.properties.server ?? ''),
    deploy_action: action,
    deploy_stack_id: `${r.stackName}/${r.stackId}`,
    deploy_resource_name: r.name,
    deploy_signal_transport: transport,
  };
  const s = store(r);
  if (!r.physicalId) {
    r.physicalId = randomUUID();
    r.data.signal_token = randomUUID().replace(/-/g, '');
  }
  if (transport === 'CFN_SIGNAL' || transport === 'TEMP_URL_SIGNAL') {
    // A token URL: POST for CFN_SIGNAL, PUT for TEMP_URL_SIGNAL (a Swift temp URL is PUT to; the
    // route accepts both).
    inputs.deploy_signal_id = r.engine.publicUrl(`/orchestration/signal/deployments/${r.physicalId}/${String(r.data.signal_token)}`);
    inputs.deploy_signal_verb = transport === 'TEMP_URL_SIGNAL' ? 'PUT' : 'POST';
  } else if (transport === 'HEAT_SIGNAL') {
    // A stack user of this deployment (as Heat): the hook authenticates as it and POSTs to
    // .../resources/<name>/signal, which accepts that user for this resource only.
    if (typeof r.data.stack_user_id !== 'string') {
      const u = await r.engine.stackUsers.create({ projectId: r.projectId, stackId: r.stackId, resourceName: r.name });
      r.data.stack_user_id = u.userId;
      r.data.stack_user_password = u.password;
      await r.save();
    }
    inputs.deploy_auth_url = r.engine.publicUrl('/identity/v3');
    inputs.deploy_user_id = String(r.data.stack_user_id);
    inputs.deploy_password = String(r.data.stack_user_password);
    inputs.deploy_project_id = r.projectId;
  } else if (transport === 'ZAQAR_SIGNAL') {
    throw new Error('signal_transport ZAQAR_SIGNAL is not supported by this cloud (no Zaqar); use CFN_SIGNAL, TEMP_URL_SIGNAL, HEAT_SIGNAL or NO_SIGNAL');
  }
  let configId = r.properties.config ? String(r.properties.config) : '';
  // The config must be the stack's project's own: another project's id is "not found".
  const cfg = configId ? await s.getConfig(configId, r.projectId) : undefined;
  if (configId && !cfg) throw new Error(`Software config ${configId} not found`);
  if (cfg && structured) {
    const derived = substituteInputs(cfg.config, inputs, String(r.properties.input_key ?? 'get_input'));
    configId = await s.createConfig(r.projectId, { ...cfg, config: derived });
  }
  const serverId = String(r.properties.server ?? '');
  // The server must be the stack's project's too, or its machine would run this config.
  if ((await r.engine.compute.status(serverId, r.projectId)).status === 'DELETED') throw new Error(`Server ${serverId} not found`);
  const doIt = actions.includes(action) && configId !== '';
  const record = {
    projectId: r.projectId,
    configId,
    serverId,
    action,
    status: (doIt && transport !== 'NO_SIGNAL' ? 'IN_PROGRESS' : 'COMPLETE') as 'IN_PROGRESS' | 'COMPLETE',
    statusReason: doIt ? (transport === 'NO_SIGNAL' ? 'Not waiting for outputs signal' : 'Deploy data available') : `action ${action} not in actions`,
    inputValues: inputs,
    outputValues: {},
    stackId: r.stackId,
    resourceName: r.name,
  };
  if (r.data.deployment_id) await s.updateDeployment(String(r.data.deployment_id), record);
  else r.data.deployment_id = await s.createDeployment(record);
  await r.save();
  await r.engine.deploymentsChanged(record.serverId);
  if (record.status === 'COMPLETE') return;
  await waitForSignal(r);
}

async function waitForSignal(r: RuntimeResource): Promise<void> {
  const s = store(r);
  const id = String(r.data.deployment_id);
  for (;;) {
    // Woken by the machine's signal (any update of the deployment); every second regardless.
    const next = s.nextChange?.(id, 1000, r.signal);
    try {
      const d = await s.getDeployment(id, r.projectId);
      if (!d) throw new Error(`deployment ${id} disappeared`);
      if (d.status === 'COMPLETE') return;
      if (d.status === 'FAILED') throw new Error(`Deployment to server failed: ${d.statusReason}`);
      if (next) await next.changed;
      // Aborted (cancel, timeout, delete) or no notifications: fail or wait as before.
      await r.engine.sleep(next ? 0 : 200, r.signal);
    } finally {
      next?.cancel();
    }
  }
}

/** How much of deploy_stderr a failure's reason carries (its end: where the error is). */
export const STDERR_TAIL_CHARS = 1024;

/** A deployment signal's outcome: a non-zero deploy_status_code (or status FAILURE) fails it. */
export function signalResult(m: JsonMap): { failed: boolean; reason: string } {
  const raw = m.deploy_status_code ?? 0;
  const code = typeof raw === 'number' ? raw : Number(String(raw).trim() || 0);
  if (code === 0 && m.status !== 'FAILURE') return { failed: false, reason: 'Outputs received' };
  let reason = code !== 0 && !Number.isNaN(code) ? `deploy_status_code : Deployment exited with non-zero status code: ${code}` : Number.isNaN(code) ? `deploy_status_code : Deployment signalled a status code that is not a number: ${String(raw).slice(0, 64)}` : `Deployment signalled FAILURE: ${String(m.status_reason ?? m.reason ?? '').slice(0, 256)}`;
  const stderr = typeof m.deploy_stderr === 'string' ? m.deploy_stderr.trimEnd() : '';
  if (stderr) reason += `; deploy_stderr: ${stderr.length > STDERR_TAIL_CHARS ? `…${stderr.slice(-STDERR_TAIL_CHARS)}` : stderr}`;
  return { failed: true, reason };
}

/** Secrets among a deployment's inputs, as the API shows them to anyone but the machine. */
export const SECRET_DEPLOYMENT_INPUTS = new Set(['deploy_password']);

export function maskDeploymentInputs(inputs: JsonMap): JsonMap {
  const out: JsonMap = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = SECRET_DEPLOYMENT_INPUTS.has(k) && v !== null && v !== '' ? '******' : v;
  return out;
}

/** The record as `show` gives it (secret inputs masked). */
function deploymentShow(d: DeploymentRecord & { id: string; createdAt?: string; updatedAt?: string | null }): JsonMap {
  const out: JsonMap = {
    id: d.id,
    projectId: d.projectId,
    configId: d.configId,
    serverId: d.serverId,
    action: d.action,
    status: d.status,
    statusReason: d.statusReason,
    inputValues: maskDeploymentInputs(d.inputValues),
    outputValues: d.outputValues,
  };
  if (d.stackId !== undefined) out.stackId = d.stackId;
  if (d.resourceName !== undefined) out.resourceName = d.resourceName;
  if (d.createdAt !== undefined) out.createdAt = d.createdAt;
  if (d.updatedAt !== undefined) out.updatedAt = d.updatedAt;
  return out;
}

function deploymentType(name: string, structured: boolean): ResourceType {
  return {
    name,
    properties: structured ? { ...DEPLOYMENT_PROPS, input_key: { type: 'string', default: 'get_input' }, input_values_validate: { type: 'string', default: 'LAX' } } : DEPLOYMENT_PROPS,
    // Outputs declared by the config are attributes too, so any name is accepted.
    plugin: {
      create: (r) => deploy(r, 'CREATE', structured),
      resume: (r) => (r.data.deployment_id ? waitForSignal(r) : deploy(r, 'CREATE', structured)),
      update: (r) => deploy(r, 'UPDATE', structured),
      async delete(r) {
        if (r.data.deployment_id) {
          const d = await store(r).getDeployment(String(r.data.deployment_id), r.projectId);
          await store(r).deleteDeployment(String(r.data.deployment_id));
          if (d) await r.engine.deploymentsChanged(d.serverId);
        }
        if (typeof r.data.stack_user_id === 'string') {
          await r.engine.stackUsers.delete(r.data.stack_user_id);
          delete r.data.stack_user_id;
          delete r.data.stack_user_password;
        }
      },
      async signal(r, data) {
        if (!r.data.deployment_id) throw new Error(`deployment ${r.name} has not been created yet`);
        const m = isMapping(data) ? data : {};
        const result = signalResult(m);
        await store(r).updateDeployment(String(r.data.deployment_id), {
          status: result.failed ? 'FAILED' : 'COMPLETE',
          statusReason: result.reason,
          outputValues: m,
        });
      },
      async attribute(r, attr) {
        const d = r.data.deployment_id ? await store(r).getDeployment(String(r.data.deployment_id), r.projectId) : undefined;
        const outputs = d?.outputValues ?? {};
        if (attr === null || attr === 'show') return d ? deploymentShow(d) : null;
        return (outputs[attr] ?? null) as Json;
      },
    },
  };
}

export const softwareDeploymentType = deploymentType('OS::Heat::SoftwareDeployment', false);
export const structuredDeploymentType = deploymentType('OS::Heat::StructuredDeployment', true);

/** Deployment groups: one deployment per entry of `servers`, as a nested stack. */
function deploymentGroupType(name: string, member: string, structured: boolean): ResourceType {
  const props = { ...DEPLOYMENT_PROPS, servers: { type: 'map' as const, required: true, updateAllowed: true } } as Record<string, (typeof DEPLOYMENT_PROPS)[keyof typeof DEPLOYMENT_PROPS]>;
  delete props.server;
  if (structured) Object.assign(props, { input_key: { type: 'string', default: 'get_input' }, input_values_validate: { type: 'string', default: 'LAX' } });
  const build = (r: RuntimeResource) => {
    const servers = (r.properties.servers ?? {}) as JsonMap;
    const resources: JsonMap = {};
    for (const [k, id] of Object.entries(servers)) {
      const p: JsonMap = { ...r.properties, server: id };
      delete p.servers;
      for (const key of Object.keys(p)) if (p[key] === null || p[key] === undefined) delete p[key];
      resources[k] = { type: member, properties: p };
    }
    return { template: { heat_template_version: '2015-04-30', resources } as JsonMap, params: {} };
  };
  const agg = async (r: RuntimeResource, attr: string) => r.engine.nestedMemberAttr(r, attr, []);
  return {
    nested: true,
    name,
    properties: props,
    plugin: {
      async create(r) {
        r.physicalId = await r.engine.applyNested(r, build(r));
      },
      async update(r) {
        r.physicalId = await r.engine.applyNested(r, build(r));
      },
      delete: (r) => r.engine.deleteNested(r),
      async attribute(r, attr) {
        if (attr === 'deploy_stdouts') return agg(r, 'deploy_stdout');
        if (attr === 'deploy_stderrs') return agg(r, 'deploy_stderr');
        if (attr === 'deploy_status_codes') return agg(r, 'deploy_status_code');
        return agg(r, attr ?? 'show');
      },
    },
  };
}

export const softwareDeploymentGroupType = deploymentGroupType('OS::Heat::SoftwareDeploymentGroup', 'OS::Heat::SoftwareDeployment', false);
export const structuredDeploymentGroupType = deploymentGroupType('OS::Heat::StructuredDeploymentGroup', 'OS::Heat::StructuredDeployment', true);
export const softwareDeploymentsType = { ...deploymentGroupType('OS::Heat::SoftwareDeployments', 'OS::Heat::SoftwareDeployment', false) };
export const structuredDeploymentsType = { ...deploymentGroupType('OS::Heat::StructuredDeployments', 'OS::Heat::StructuredDeployment', true) };
