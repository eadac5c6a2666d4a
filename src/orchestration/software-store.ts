// Software configs and deployments in the database (served by the API to os-collect-config and
// the deployment hooks, and used by the software resources).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { fromJson, now, toJson } from '../common/db.js';
import { ChangeNotifier } from '../common/long-poll.js';
import type { OrchestrationDB, SoftwareConfigTable, SoftwareDeploymentTable } from './migrations.js';
import type { DeploymentRecord, ProjectScope, SoftwareConfigRecord, SoftwareStore } from './resources/software.js';
import type { Json, JsonMap } from './yaml-source.js';

export function configFromRow(row: SoftwareConfigTable): SoftwareConfigRecord & { id: string; projectId: string; createdAt: string } {
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    group: row.group_name,
    config: fromJson<Json>(row.config, null),
    inputs: fromJson<Json[]>(row.inputs, []),
    outputs: fromJson<Json[]>(row.outputs, []),
    options: fromJson<JsonMap>(row.options, {}),
    createdAt: row.created_at,
  };
}

export function deploymentFromRow(row: SoftwareDeploymentTable): DeploymentRecord & { id: string; createdAt: string; updatedAt: string | null } {
  return {
    id: row.id,
    projectId: row.project_id,
    configId: row.config_id,
    serverId: row.server_id,
    action: row.action,
    status: row.status as DeploymentRecord['status'],
    statusReason: row.status_reason,
    inputValues: fromJson<JsonMap>(row.input_values, {}),
    outputValues: fromJson<JsonMap>(row.output_values, {}),
    stackId: row.stack_id ?? undefined,
    resourceName: row.resource_name ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class DbSoftwareStore implements SoftwareStore {
  /** Wakes resources waiting for a deployment's signal (keyed by deployment id). */
  private readonly changes = new ChangeNotifier();

  constructor(private readonly db: Kysely<OrchestrationDB>) {}

  nextChange(id: string, ms: number, signal: AbortSignal) {
    return this.changes.subscribe(id, ms, signal);
  }

  async createConfig(projectId: string, c: SoftwareConfigRecord): Promise<string> {
    const id = randomUUID();
    await this.db
      .insertInto('orchestration_software_configs')
      .values({
        id,
        project_id: projectId,
        name: c.name,
        group_name: c.group,
        config: toJson(c.config),
        inputs: toJson(c.inputs),
        outputs: toJson(c.outputs),
        options: toJson(c.options),
        created_at: now(),
      })
      .execute();
    return id;
  }

  async getConfig(id: string, scope: ProjectScope) {
    let q = this.db.selectFrom('orchestration_software_configs').selectAll().where('id', '=', id);
    if (scope !== null) q = q.where('project_id', '=', scope);
    const row = await q.executeTakeFirst();
    return row ? configFromRow(row) : undefined;
  }

  async deleteConfig(id: string): Promise<void> {
    await this.db.deleteFrom('orchestration_software_configs').where('id', '=', id).execute();
  }

  async createDeployment(d: DeploymentRecord, id: string = randomUUID()): Promise<string> {
    await this.db
      .insertInto('orchestration_software_deployments')
      .values({
        id,
        project_id: d.projectId,
        config_id: d.configId,
        server_id: d.serverId,
        action: d.action,
        status: d.status,
        status_reason: d.statusReason,
        input_values: toJson(d.inputValues),
        output_values: toJson(d.outputValues),
        stack_id: d.stackId ?? null,
        resource_name: d.resourceName ?? null,
        created_at: now(),
        updated_at: null,
      })
      .execute();
    return id;
  }

  async getDeployment(id: string, scope: ProjectScope) {
    let q = this.db.selectFrom('orchestration_software_deployments').selectAll().where('id', '=', id);
    if (scope !== null) q = q.where('project_id', '=', scope);
    const row = await q.executeTakeFirst();
    return row ? deploymentFromRow(row) : undefined;
  }

  async listDeployments(scope: ProjectScope, filter: { serverId?: string } = {}) {
    let q = this.db.selectFrom('orchestration_software_deployments').selectAll();
    if (filter.serverId) q = q.where('server_id', '=', filter.serverId);
    if (scope !== null) q = q.where('project_id', '=', scope);
    return (await q.orderBy('created_at').execute()).map(deploymentFromRow);
  }

  async updateDeployment(id: string, p: Partial<DeploymentRecord>): Promise<void> {
    const set: Partial<SoftwareDeploymentTable> = { updated_at: now() };
    if (p.configId !== undefined) set.config_id = p.configId;
    if (p.serverId !== undefined) set.server_id = p.serverId;
    if (p.action !== undefined) set.action = p.action;
    if (p.status !== undefined) set.status = p.status;
    if (p.statusReason !== undefined) set.status_reason = p.statusReason;
    if (p.inputValues !== undefined) set.input_values = toJson(p.inputValues);
    if (p.outputValues !== undefined) set.output_values = toJson(p.outputValues);
    await this.db.updateTable('orchestration_software_deployments').set(set).where('id', '=', id).execute();
    this.changes.notify(id);
  }

  async deleteDeployment(id: string): Promise<void> {
    await this.db.deleteFrom('orchestration_software_deployments').where('id', '=', id).execute();
  }

  /**
   * What os-collect-config's heat collector and the hooks read for one server: the deployments
   * of the server's own project only (as Heat filters them by tenant), each with its config when
   * that config is the deployment's project's too. A deployment another project aimed at this
   * server never reaches the machine.
   */
  async serverMetadata(serverId: string, serverProject: string): Promise<JsonMap[]> {
    const out: JsonMap[] = [];
    for (const d of await this.listDeployments(serverProject, { serverId })) {
      const c = await this.getConfig(d.configId, d.projectId);
      if (!c) continue;
      const inputs = [
        // A derived config (heatclient's `software deployment create`) carries its inputs' values.
        ...(c.inputs as JsonMap[]).map((i) => ({ ...i, value: (d.inputValues[String(i.name)] ?? i.value ?? i.default ?? null) as Json })),
        ...Object.entries(d.inputValues)
          .filter(([k]) => !(c.inputs as JsonMap[]).some((i) => i.name === k))
          .map(([name, value]) => ({ name, value, type: 'String', description: '' }) as JsonMap),
      ];
      out.push({
        id: d.id,
        name: c.name,
        group: c.group,
        config: c.config,
        inputs,
        outputs: c.outputs,
        options: c.options,
        creation_time: d.createdAt,
        updated_time: d.updatedAt,
      });
    }
    return out;
  }
}
