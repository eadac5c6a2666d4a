// Keystone credentials (and the deprecated policy store) in the database. A credential's blob is
// a secret (an EC2 secret key, a TOTP seed): it is kept encrypted with AES-256-GCM under a key
// that lives in the state directory, never in the database, so a copy of the database (a backup,
// a pivot's dump) does not give the secrets away by itself.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { AnyDB } from '../common/db.js';
import { writeFileAtomic } from '../common/atomic-write.js';

export const CREDENTIAL_KEY_FILE = 'credential-key';
const VERSION = 'v1';

/** Encrypts and decrypts credential blobs with the key in `<stateDir>/credential-key`. */
export class CredentialCipher {
  private key: Promise<Buffer> | undefined;
  constructor(private readonly stateDir: string) {}

  /** The key, created (32 random bytes, base64, mode 0600) on first use. */
  private load(): Promise<Buffer> {
    this.key ??= (async () => {
      const path = join(this.stateDir, CREDENTIAL_KEY_FILE);
      try {
        const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
        if (key.length !== 32) throw new Error(`${path}: expected a base64 32-byte key, found ${key.length} bytes`);
        return key;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const key = randomBytes(32);
      await writeFileAtomic(path, `${key.toString('base64')}\n`, { mode: 0o600 });
      return key;
    })();
    // A failed load is retried on the next call rather than remembered.
    this.key.catch(() => { this.key = undefined; });
    return this.key;
  }

  /** The credential's id is the associated data: a ciphertext copied onto another row does not decrypt. */
  async encrypt(id: string, plain: string): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await this.load(), iv);
    cipher.setAAD(Buffer.from(id));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  async decrypt(id: string, stored: string): Promise<string> {
    const [version, data] = stored.split(':', 2);
    if (version !== VERSION || !data) throw new Error(`credential ${id}: unknown blob encoding`);
    const raw = Buffer.from(data, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', await this.load(), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(id));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new Error(`credential ${id}: the blob does not decrypt with ${CREDENTIAL_KEY_FILE} (a different key than the one that wrote it?)`, { cause: err });
    }
  }
}

/** Keystone names an EC2 credential by the SHA-256 of its access key, so it is found by access. */
export function ec2CredentialId(access: string): string {
  return createHash('sha256').update(access).digest('hex');
}

export interface Credential {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
}

export interface PolicyRecord {
  id: string;
  type: string;
  blob: string;
  extra: Record<string, unknown>;
}

interface CredentialRow { id: string; user_id: string; project_id: string | null; type: string; blob_enc: string; created_at: string }
interface PolicyRow { id: string; type: string; blob: string; extra: string; created_at: string }
interface Tables { identity_credentials: CredentialRow; identity_policies: PolicyRow }

export class CredentialStore {
  private readonly db: Kysely<Tables>;
  constructor(db: AnyDB, private readonly cipher: CredentialCipher) {
    this.db = db as unknown as Kysely<Tables>;
  }

  private async open(row: CredentialRow): Promise<Credential> {
    return { id: row.id, user_id: row.user_id, project_id: row.project_id, type: row.type, blob: await this.cipher.decrypt(row.id, row.blob_enc) };
  }

  async create(c: Credential): Promise<Credential> {
    await this.db.insertInto('identity_credentials').values({
      id: c.id, user_id: c.user_id, project_id: c.project_id, type: c.type,
      blob_enc: await this.cipher.encrypt(c.id, c.blob), created_at: new Date().toISOString(),
    }).execute();
    return c;
  }

  async get(id: string): Promise<Credential | undefined> {
    const row = await this.db.selectFrom('identity_credentials').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.open(row) : undefined;
  }

  async list(filter: { userId?: string; type?: string }): Promise<Credential[]> {
    let q = this.db.selectFrom('identity_credentials').selectAll().orderBy('created_at').orderBy('id');
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
    if (filter.type !== undefined) q = q.where('type', '=', filter.type);
    return Promise.all((await q.execute()).map((r) => this.open(r)));
  }

  async update(id: string, set: Partial<Omit<Credential, 'id'>>): Promise<void> {
    const { blob, ...rest } = set;
    const values: Partial<CredentialRow> = { ...rest };
    if (blob !== undefined) values.blob_enc = await this.cipher.encrypt(id, blob);
    if (Object.keys(values).length) await this.db.updateTable('identity_credentials').set(values).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('identity_credentials').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // The policy store: kept as given (Keystone's deprecated policy API), enforced by nothing.
  private policy(row: PolicyRow): PolicyRecord {
    return { id: row.id, type: row.type, blob: row.blob, extra: JSON.parse(row.extra) as Record<string, unknown> };
  }

  async createPolicy(p: PolicyRecord): Promise<PolicyRecord> {
    await this.db.insertInto('identity_policies').values({ id: p.id, type: p.type, blob: p.blob, extra: JSON.stringify(p.extra), created_at: new Date().toISOString() }).execute();
    return p;
  }

  async getPolicy(id: string): Promise<PolicyRecord | undefined> {
    const row = await this.db.selectFrom('identity_policies').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.policy(row) : undefined;
  }

  async listPolicies(type?: string): Promise<PolicyRecord[]> {
    let q = this.db.selectFrom('identity_policies').selectAll().orderBy('created_at').orderBy('id');
    if (type !== undefined) q = q.where('type', '=', type);
    return (await q.execute()).map((r) => this.policy(r));
  }

  async updatePolicy(p: PolicyRecord): Promise<void> {
    await this.db.updateTable('identity_policies').set({ type: p.type, blob: p.blob, extra: JSON.stringify(p.extra) }).where('id', '=', p.id).execute();
  }

  async deletePolicy(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('identity_policies').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
