// The image repository: rows of images_images, for SQLite and PostgreSQL alike.
import type { Kysely } from 'kysely';
import { fromJson, now, toJson, type AnyDB } from '../common/db.js';
import type { ImageStatus, MemberStatus, Visibility } from './states.js';

/** An image as the rest of the code sees it (numbers as numbers, JSON decoded). */
export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  owner: string | null;
  disk_format: string | null;
  container_format: string | null;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  min_disk: number;
  min_ram: number;
  protected: boolean;
  os_hidden: boolean;
  tags: string[];
  properties: Record<string, string>;
  created_at: string;
  updated_at: string;
}

/** The stored row: booleans as 0/1, JSON as text, bigint sizes possibly as text (PostgreSQL). */
export interface ImageRow extends Omit<Image, 'size' | 'virtual_size' | 'protected' | 'os_hidden' | 'tags' | 'properties'> {
  size: number | string | null;
  virtual_size: number | string | null;
  protected: number;
  os_hidden: number;
  tags: string;
  properties: string;
}

/** A project an image is shared with, and its answer (rows of images_members). */
export interface ImageMember {
  image_id: string;
  member_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
}

interface ImagesDB {
  images_images: ImageRow;
  images_members: ImageMember;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: ImageRow): Image {
  return {
    ...r,
    size: num(r.size),
    virtual_size: num(r.virtual_size),
    protected: r.protected === 1,
    os_hidden: r.os_hidden === 1,
    tags: fromJson<string[]>(r.tags, []),
    properties: fromJson<Record<string, string>>(r.properties, {}),
  };
}

function toRow(i: Image): ImageRow {
  return { ...i, protected: i.protected ? 1 : 0, os_hidden: i.os_hidden ? 1 : 0, tags: toJson(i.tags), properties: toJson(i.properties) };
}

export interface ImageQuery {
  name?: string;
  status?: string;
  visibility?: string;
  owner?: string;
  disk_format?: string;
  container_format?: string;
}

export class ImageStore {
  private readonly db: Kysely<ImagesDB>;
  constructor(db: AnyDB) {
    this.db = db as unknown as Kysely<ImagesDB>;
  }

  async insert(image: Image): Promise<void> {
    await this.db.insertInto('images_images').values(toRow(image)).execute();
  }

  async get(id: string): Promise<Image | undefined> {
    const r = await this.db.selectFrom('images_images').selectAll().where('id', '=', id).executeTakeFirst();
    return r && fromRow(r);
  }

  /** Equality filters in SQL; visibility rules, sorting and paging are the caller's. */
  async list(q: ImageQuery = {}): Promise<Image[]> {
    let sel = this.db.selectFrom('images_images').selectAll();
    for (const key of ['name', 'status', 'visibility', 'owner', 'disk_format', 'container_format'] as const) {
      const v = q[key];
      if (v !== undefined) sel = sel.where(key, '=', v as never);
    }
    return (await sel.execute()).map(fromRow);
  }

  /**
   * Writes the user-editable columns of `image` (never the server-owned status, size, checksums
   * or virtual_size, which only `transition` sets, so a PATCH racing an upload cannot undo it).
   * With `onlyIfStatus`, writes only while the row is still in that status. Returns false when
   * the row is gone or no longer in `onlyIfStatus`.
   */
  async save(image: Image, onlyIfStatus?: ImageStatus): Promise<boolean> {
    const {
      id, created_at: _c, status: _s, size: _sz, virtual_size: _v, checksum: _ck, os_hash_algo: _ha, os_hash_value: _hv, ...rest
    } = toRow({ ...image, updated_at: now() });
    let upd = this.db.updateTable('images_images').set(rest).where('id', '=', id);
    if (onlyIfStatus !== undefined) upd = upd.where('status', '=', onlyIfStatus);
    const res = await upd.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Moves an image from one status to another only if it is still in `from` (compare-and-set),
   * with extra columns; returns false if someone else moved or deleted it first.
   */
  async transition(id: string, from: ImageStatus, to: ImageStatus, set: Partial<Pick<ImageRow, 'size' | 'checksum' | 'os_hash_algo' | 'os_hash_value'>> = {}): Promise<boolean> {
    const res = await this.db
      .updateTable('images_images')
      .set({ ...set, status: to, updated_at: now() })
      .where('id', '=', id)
      .where('status', '=', from)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async delete(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('images_images').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /** At start: uploads that were in progress when the server died go back to queued. */
  async resetSaving(to: ImageStatus): Promise<string[]> {
    const rows = await this.db.selectFrom('images_images').select('id').where('status', '=', 'saving').execute();
    for (const r of rows) await this.transition(r.id, 'saving', to, { size: null, checksum: null, os_hash_algo: null, os_hash_value: null });
    return rows.map((r) => r.id);
  }

  /** Ids of the images whose bytes must be kept: active and deactivated ones. */
  async activeIds(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('images_images').select('id').where('status', 'in', ['active', 'deactivated']).execute();
    return new Set(rows.map((r) => r.id));
  }

  // --- members (their rows go with the image: ON DELETE CASCADE)

  async getMember(imageId: string, memberId: string): Promise<ImageMember | undefined> {
    return this.db.selectFrom('images_members').selectAll().where('image_id', '=', imageId).where('member_id', '=', memberId).executeTakeFirst();
  }

  async listMembers(imageId: string): Promise<ImageMember[]> {
    return this.db.selectFrom('images_members').selectAll().where('image_id', '=', imageId).orderBy('created_at').orderBy('member_id').execute();
  }

  /** image id → status, for every image shared with `memberId`. */
  async membershipsOf(memberId: string): Promise<Map<string, MemberStatus>> {
    const rows = await this.db.selectFrom('images_members').select(['image_id', 'status']).where('member_id', '=', memberId).execute();
    return new Map(rows.map((r) => [r.image_id, r.status]));
  }

  /** Adds a member unless the image already has it; false when it had. */
  async addMember(member: ImageMember): Promise<boolean> {
    const res = await this.db.insertInto('images_members').values(member).onConflict((oc) => oc.columns(['image_id', 'member_id']).doNothing()).executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async setMemberStatus(imageId: string, memberId: string, status: MemberStatus): Promise<boolean> {
    const res = await this.db.updateTable('images_members').set({ status, updated_at: now() }).where('image_id', '=', imageId).where('member_id', '=', memberId).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async removeMember(imageId: string, memberId: string): Promise<boolean> {
    const res = await this.db.deleteFrom('images_members').where('image_id', '=', imageId).where('member_id', '=', memberId).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
