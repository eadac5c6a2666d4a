// Key pairs (os-keypairs): per user, as in Nova. A user manages their own; an admin may name
// another user with user_id (2.10). Generated keys are RSA 2048 and the private key is returned
// once, never stored.
import type { AuthContext, Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../common/errors.js';
import { now } from '../common/db.js';
import type { ComputeKysely, KeypairRow } from './db.js';
import { checkPublicKey, generateRsaKey } from './ssh-keys.js';
import type { Quotas } from './quotas.js';

const NAME_RE = /^[a-zA-Z0-9 _.@-]{1,255}$/;

export class Keypairs {
  constructor(
    private readonly db: ComputeKysely,
    private readonly policy: Policy,
    private readonly quotas: Quotas,
  ) {}

  /** The user the call is about: the caller, or (admins only) the one named. */
  private userOf(auth: AuthContext, userId: string | undefined): string {
    if (userId === undefined || userId === auth.userId) return auth.userId;
    if (!isAdmin(auth)) throw new ForbiddenError('Policy does not allow os_compute_api:os-keypairs for another user to be performed.');
    return userId;
  }

  async create(auth: AuthContext, body: { name: string; public_key?: string; type?: string; user_id?: string }): Promise<KeypairRow & { private_key?: string }> {
    this.policy.enforce('os_compute_api:os-keypairs:create', auth);
    const userId = this.userOf(auth, body.user_id);
    if (!NAME_RE.test(body.name) || body.name.trim() !== body.name) {
      throw new BadRequestError('keypair.name: must be 1-255 characters of letters, digits, spaces, "_", "-", "." and "@", without leading or trailing spaces');
    }
    const type = body.type ?? 'ssh';
    if (type !== 'ssh') throw new BadRequestError(`keypair.type: only "ssh" key pairs are supported, not "${type}"`);
    await this.quotas.checkKeypairs(auth.projectId ?? '', userId);
    let row: KeypairRow;
    let privateKey: string | undefined;
    if (body.public_key !== undefined) {
      const { fingerprint, normalized } = checkPublicKey(body.public_key, 'keypair.public_key');
      row = { user_id: userId, name: body.name, type, public_key: normalized, fingerprint, created_at: now() };
    } else {
      const key = await generateRsaKey('Generated-by-Nova');
      privateKey = key.privateKey;
      row = { user_id: userId, name: body.name, type, public_key: key.publicKey, fingerprint: key.fingerprint, created_at: now() };
    }
    try {
      await this.db.insertInto('compute_keypairs').values(row).execute();
    } catch (err) {
      const exists = await this.db.selectFrom('compute_keypairs').select('name').where('user_id', '=', userId).where('name', '=', body.name).executeTakeFirst();
      if (exists) throw new ConflictError(`Key pair '${body.name}' already exists.`, { cause: err });
      throw err;
    }
    return privateKey ? { ...row, private_key: privateKey } : row;
  }

  async list(auth: AuthContext, userId?: string): Promise<KeypairRow[]> {
    this.policy.enforce('os_compute_api:os-keypairs:index', auth);
    const user = this.userOf(auth, userId);
    return this.db.selectFrom('compute_keypairs').selectAll().where('user_id', '=', user).orderBy('name').execute();
  }

  async get(auth: AuthContext, name: string, userId?: string): Promise<KeypairRow> {
    this.policy.enforce('os_compute_api:os-keypairs:show', auth);
    const user = this.userOf(auth, userId);
    const row = await this.db.selectFrom('compute_keypairs').selectAll().where('user_id', '=', user).where('name', '=', name).executeTakeFirst();
    if (!row) throw new NotFoundError('Keypair', `${name} for user ${user}`);
    return row;
  }

  async delete(auth: AuthContext, name: string, userId?: string): Promise<void> {
    this.policy.enforce('os_compute_api:os-keypairs:delete', auth);
    const user = this.userOf(auth, userId);
    const res = await this.db.deleteFrom('compute_keypairs').where('user_id', '=', user).where('name', '=', name).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('Keypair', `${name} for user ${user}`);
  }
}
