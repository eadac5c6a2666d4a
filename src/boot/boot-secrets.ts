// One-time boot secrets. The conductor asks for one when it prepares a node's network boot; it
// goes on the deploy ramdisk's kernel command line (inside the per-node iPXE script, never in a
// URL) and the agent trades it once, at lookup, for a per-deploy agent token. A secret is 256
// random bits, stored only as its SHA-256, refused once used or past its expiry.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../common/errors.js';
import type { BootKysely } from './db.js';

export interface BootSecretRecord {
  /** SHA-256 of the secret, hex. */
  hash: string;
  nodeId: string;
  expiresAt: number;
  usedAt: number | null;
}

/** Where records live: memory (unit tests) or the boot_secrets table (the server: survives a restart). */
export interface BootSecretStore {
  put(record: BootSecretRecord): Promise<void>;
  get(hash: string): Promise<BootSecretRecord | undefined>;
  /** Marks used only if still unused (compare-and-set); false when someone else got there first. */
  markUsed(hash: string, at: number): Promise<boolean>;
  /** Drops every record of a node (a new boot invalidates the old secrets). */
  deleteForNode(nodeId: string): Promise<void>;
  /** Drops the node's records except `keepHash` (one secret was used: the others must not open a second session). */
  deleteOthers(nodeId: string, keepHash: string): Promise<void>;
}

export class MemoryBootSecretStore implements BootSecretStore {
  private readonly records = new Map<string, BootSecretRecord>();
  async put(record: BootSecretRecord): Promise<void> {
    this.records.set(record.hash, { ...record });
  }
  async get(hash: string): Promise<BootSecretRecord | undefined> {
    const r = this.records.get(hash);
    return r && { ...r };
  }
  async markUsed(hash: string, at: number): Promise<boolean> {
    const r = this.records.get(hash);
    if (!r || r.usedAt !== null) return false;
    r.usedAt = at;
    return true;
  }
  async deleteForNode(nodeId: string): Promise<void> {
    for (const [k, r] of this.records) if (r.nodeId === nodeId) this.records.delete(k);
  }
  async deleteOthers(nodeId: string, keepHash: string): Promise<void> {
    for (const [k, r] of this.records) if (r.nodeId === nodeId && k !== keepHash) this.records.delete(k);
  }
}

/** The boot_secrets table: digests only; markUsed is one conditional UPDATE, so two lookups cannot both win. */
export class DbBootSecretStore implements BootSecretStore {
  constructor(private readonly db: BootKysely) {}
  async put(r: BootSecretRecord): Promise<void> {
    await this.db
      .insertInto('boot_secrets')
      .values({ hash: r.hash, node_id: r.nodeId, expires_at: new Date(r.expiresAt).toISOString(), used_at: r.usedAt === null ? null : new Date(r.usedAt).toISOString() })
      .execute();
  }
  async get(hash: string): Promise<BootSecretRecord | undefined> {
    const row = await this.db.selectFrom('boot_secrets').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row && { hash: row.hash, nodeId: row.node_id, expiresAt: Date.parse(row.expires_at), usedAt: row.used_at === null ? null : Date.parse(row.used_at) };
  }
  async markUsed(hash: string, at: number): Promise<boolean> {
    const res = await this.db.updateTable('boot_secrets').set({ used_at: new Date(at).toISOString() }).where('hash', '=', hash).where('used_at', 'is', null).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
  async deleteForNode(nodeId: string): Promise<void> {
    await this.db.deleteFrom('boot_secrets').where('node_id', '=', nodeId).execute();
  }
  async deleteOthers(nodeId: string, keepHash: string): Promise<void> {
    await this.db.deleteFrom('boot_secrets').where('node_id', '=', nodeId).where('hash', '!=', keepHash).execute();
  }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A URL-safe random token of `bytes` random bytes. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export class BootSecrets {
  constructor(
    private readonly store: BootSecretStore,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A fresh secret for `nodeId`; older ones of the node stop working. */
  async issue(nodeId: string): Promise<{ secret: string; expiresAt: Date }> {
    await this.store.deleteForNode(nodeId);
    const secret = randomToken();
    const expiresAt = this.clock() + this.ttlMs;
    await this.store.put({ hash: hashSecret(secret), nodeId, expiresAt, usedAt: null });
    return { secret, expiresAt: new Date(expiresAt) };
  }

  /**
   * One more secret for the same pending boot, expiring at `expiresAt`, older ones kept: after a
   * seed restart the plaintext of the first is gone (only its digest was stored), but a machine
   * that fetched its script before the restart still holds it. Whichever is used first wins.
   */
  async issueAnother(nodeId: string, expiresAt: number): Promise<string> {
    const secret = randomToken();
    await this.store.put({ hash: hashSecret(secret), nodeId, expiresAt, usedAt: null });
    return secret;
  }

  /** Every secret of `nodeId` stops working (its boot is over or aborted). */
  async revoke(nodeId: string): Promise<void> {
    await this.store.deleteForNode(nodeId);
  }

  /**
   * Uses a secret up and returns its node; 401 naming why when unknown, used or expired.
   * `check` runs before the secret is marked used, so a refused caller does not burn it.
   */
  async consume(secret: string, check: (nodeId: string) => void = () => undefined): Promise<string> {
    const hash = hashSecret(secret);
    const record = await this.store.get(hash);
    if (!record) throw new UnauthorizedError('Unknown boot secret.', { fields: { reason: 'unknown' } });
    const now = this.clock();
    if (record.usedAt !== null) throw new UnauthorizedError('This boot secret was already used.', { fields: { reason: 'used', nodeId: record.nodeId } });
    if (now >= record.expiresAt) throw new UnauthorizedError('This boot secret has expired.', { fields: { reason: 'expired', nodeId: record.nodeId } });
    check(record.nodeId);
    if (!(await this.store.markUsed(hash, now))) {
      throw new UnauthorizedError('This boot secret was already used.', { fields: { reason: 'used', nodeId: record.nodeId } });
    }
    await this.store.deleteOthers(record.nodeId, hash);
    return record.nodeId;
  }
}
