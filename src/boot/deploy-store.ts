// The boot tables behind the in-memory deploy state (see db.ts): agent sessions and commands
// (DeployStateStore), pending boots and image download grants. Only digests of credentials are
// written; command params lose their credentials (redactParams) before they are stored.
import { fromJson, toJson } from '../common/db.js';
import type { BootKysely } from './db.js';
import type { AgentCommandName, CommandRecord, CommandStatus, DeployStateStore } from './deploy-commands.js';
import type { Firmware } from './ipxe-script.js';
import type { Binding } from './address-binding.js';

/** Params as stored: URLs carrying a download token and anything named like a credential are replaced. */
export function redactParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = /url|token|secret|password/i.test(k) ? '[not stored]' : v;
  return out;
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);
const date = (s: string | null) => (s === null ? undefined : new Date(s));

export class DbDeployStateStore implements DeployStateStore {
  constructor(private readonly db: BootKysely) {}

  async loadSessions() {
    const rows = await this.db.selectFrom('boot_sessions').selectAll().execute();
    return rows.map((r) => ({ nodeId: r.node_id, tokenHash: r.token_hash, openedAt: new Date(r.opened_at), lastSeen: new Date(r.last_seen), lastActivity: new Date(r.last_activity) }));
  }

  async loadCommands(): Promise<Array<CommandRecord & { seq: number }>> {
    const rows = await this.db.selectFrom('boot_commands').selectAll().orderBy('seq').execute();
    return rows.map((r) => ({
      id: r.id,
      nodeId: r.node_id,
      seq: Number(r.seq),
      name: r.name as AgentCommandName,
      params: fromJson<Record<string, unknown>>(r.params, {}),
      status: r.status as CommandStatus,
      queuedAt: new Date(r.queued_at),
      startedAt: date(r.started_at),
      finishedAt: date(r.finished_at),
      ...(r.result === null ? {} : { result: fromJson<unknown>(r.result, null) }),
      ...(r.error === null ? {} : { error: r.error }),
      interrupted: r.interrupted === 1,
    }));
  }

  async putSession(s: { nodeId: string; tokenHash: string; openedAt: Date; lastSeen: Date; lastActivity: Date }): Promise<void> {
    const row = { node_id: s.nodeId, token_hash: s.tokenHash, opened_at: s.openedAt.toISOString(), last_seen: s.lastSeen.toISOString(), last_activity: s.lastActivity.toISOString() };
    await this.db
      .insertInto('boot_sessions')
      .values(row)
      .onConflict((oc) => oc.column('node_id').doUpdateSet({ token_hash: row.token_hash, opened_at: row.opened_at, last_seen: row.last_seen, last_activity: row.last_activity }))
      .execute();
  }

  async putCommand(c: CommandRecord, seq: number): Promise<void> {
    const row = {
      id: c.id,
      node_id: c.nodeId,
      seq,
      name: c.name,
      params: toJson(redactParams(c.params)),
      status: c.status,
      queued_at: c.queuedAt.toISOString(),
      started_at: iso(c.startedAt),
      finished_at: iso(c.finishedAt),
      result: c.result === undefined ? null : toJson(c.result),
      error: c.error ?? null,
      interrupted: c.interrupted ? 1 : 0,
    };
    await this.db
      .insertInto('boot_commands')
      .values(row)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ status: row.status, started_at: row.started_at, finished_at: row.finished_at, result: row.result, error: row.error, interrupted: row.interrupted }),
      )
      .execute();
  }

  async deleteNode(nodeId: string): Promise<void> {
    await this.db.deleteFrom('boot_commands').where('node_id', '=', nodeId).execute();
    await this.db.deleteFrom('boot_sessions').where('node_id', '=', nodeId).execute();
  }
}

export interface StoredPendingBoot {
  nodeId: string;
  macs: string[];
  firmware: Firmware;
  expiresAt: Date;
  bound?: Binding;
  scriptAt?: Date;
}

/** Pending boots and image grants (BootManager's durable half). */
export class DbBootStore {
  constructor(private readonly db: BootKysely) {}

  async putPending(p: StoredPendingBoot): Promise<void> {
    await this.db.deleteFrom('boot_pending').where('node_id', '=', p.nodeId).execute();
    await this.db
      .insertInto('boot_pending')
      .values({ node_id: p.nodeId, macs: toJson(p.macs), firmware: p.firmware, expires_at: p.expiresAt.toISOString(), created_at: new Date().toISOString() })
      .execute();
  }

  async loadPending(): Promise<StoredPendingBoot[]> {
    const rows = await this.db.selectFrom('boot_pending').selectAll().execute();
    return rows.map((r) => ({
      nodeId: r.node_id,
      macs: fromJson<string[]>(r.macs, []),
      firmware: r.firmware as Firmware,
      expiresAt: new Date(r.expires_at),
      bound: r.bound_ip && r.bound_at ? { ip: r.bound_ip, by: r.bound_by === 'lease' ? 'lease' : 'first_fetch', at: new Date(r.bound_at) } : undefined,
      scriptAt: date(r.script_at),
    }));
  }

  async putBinding(nodeId: string, bound: Binding | undefined, scriptAt: Date | undefined): Promise<void> {
    await this.db
      .updateTable('boot_pending')
      .set({ bound_ip: bound?.ip ?? null, bound_by: bound?.by ?? null, bound_at: iso(bound?.at), script_at: iso(scriptAt) })
      .where('node_id', '=', nodeId)
      .execute();
  }

  async putGrant(tokenHash: string, nodeId: string, imageId: string): Promise<void> {
    await this.db.insertInto('boot_image_grants').values({ token_hash: tokenHash, node_id: nodeId, image_id: imageId }).execute();
  }

  async getGrant(tokenHash: string): Promise<{ nodeId: string; imageId: string } | undefined> {
    const r = await this.db.selectFrom('boot_image_grants').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r && { nodeId: r.node_id, imageId: r.image_id };
  }

  /** The node's boot is over: pending boot and image grants gone. */
  async deleteNode(nodeId: string): Promise<void> {
    await this.db.deleteFrom('boot_pending').where('node_id', '=', nodeId).execute();
    await this.db.deleteFrom('boot_image_grants').where('node_id', '=', nodeId).execute();
  }
}
