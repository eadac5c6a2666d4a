// The image service's facade: who may see and change which image, the upload and download
// workflows, and listing with Glance's filters, sorting and marker/limit paging.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { AuthContext, Policy, PolicyTable } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { now } from '../common/db.js';
import { BadRequestError, BootstackError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../common/errors.js';
import type { FilesystemStore } from './file-store.js';
import type { Image, ImageQuery, ImageStore } from './store.js';
import { MEMBER_STATUSES, imageStates, type MemberStatus, type Visibility } from './states.js';
import { IMAGE_PROPERTIES, READ_ONLY, UUID_PATTERN, checkPropertyCount, checkPropertyName } from './schemas.js';
import { applyPatch, type PatchOp } from './patch.js';

export const imagesPolicy: PolicyTable = {
  'image:get_images': { roles: ['reader'] },
  'image:get_image': { roles: ['reader'] },
  'image:download_image': { roles: ['reader'] },
  'image:add_image': { roles: ['member'], ownProjectOnly: true },
  'image:modify_image': { roles: ['member'], ownProjectOnly: true },
  'image:upload_image': { roles: ['member'], ownProjectOnly: true },
  'image:delete_image': { roles: ['member'], ownProjectOnly: true },
  'image:communitize_image': { roles: ['member'], ownProjectOnly: true },
  // Sharing: the owner project's members add and remove members (target: the image's owner);
  // the member project answers for itself (target: the member); both sides' readers may look.
  'image:add_member': { roles: ['member'], ownProjectOnly: true },
  'image:delete_member': { roles: ['member'], ownProjectOnly: true },
  'image:modify_member': { roles: ['member'], ownProjectOnly: true },
  'image:get_member': { roles: ['reader'] },
  'image:get_members': { roles: ['reader'] },
  // Withdrawing and restoring an image's data: the owner project's members, as Glance's
  // defaults (ADMIN_OR_PROJECT_MEMBER); Tempest's member client deactivates its own image.
  'image:deactivate': { roles: ['member'], ownProjectOnly: true },
  'image:reactivate': { roles: ['member'], ownProjectOnly: true },
  // image:publicize_image is deliberately absent: making an image public is admin-only.
};

const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at', 'visibility', 'owner', 'min_disk', 'min_ram'] as const;
type SortKey = (typeof SORT_KEYS)[number];
export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 1000;
/** Glance's image_tag_quota default (the tags schema says the same). */
const MAX_TAGS = IMAGE_PROPERTIES.tags.maxItems;

export interface ListQuery extends ImageQuery {
  tag?: string | string[];
  os_hidden?: string;
  marker?: string;
  limit?: string;
  sort_key?: string | string[];
  sort_dir?: string | string[];
  sort?: string;
  size?: string;
  size_min?: string;
  size_max?: string;
  member_status?: string;
}

export interface ListResult {
  images: Image[];
  /** Query string of the next page, when there is one. */
  next?: string;
}

function one(v: string | string[] | undefined, path: string): string | undefined {
  if (Array.isArray(v)) {
    if (v.length > 1) throw new ValidationError('may be given only once', { path });
    return v[0];
  }
  return v;
}

/** A byte count from the query string (size, size_min, size_max), or undefined when absent. */
function byteCount(v: string | string[] | undefined, path: string): number | undefined {
  const text = one(v, path);
  if (text === undefined) return undefined;
  if (!/^\d{1,16}$/.test(text)) throw new ValidationError('must be a non-negative integer (bytes)', { path });
  return Number(text);
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  // Nulls sort first ascending, as in PostgreSQL with NULLS FIRST and Glance's SQLAlchemy default on SQLite.
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

export function parseSort(q: ListQuery): Array<{ key: SortKey; dir: 1 | -1 }> {
  const check = (key: string, path: string): SortKey => {
    if (!(SORT_KEYS as readonly string[]).includes(key)) throw new ValidationError(`must be one of ${SORT_KEYS.join(', ')}`, { path });
    return key as SortKey;
  };
  const dirOf = (d: string | undefined, path: string): 1 | -1 => {
    if (d === undefined || d === 'desc') return -1;
    if (d === 'asc') return 1;
    throw new ValidationError('must be asc or desc', { path });
  };
  if (q.sort !== undefined) {
    if (q.sort_key !== undefined || q.sort_dir !== undefined) throw new ValidationError('cannot be combined with sort_key/sort_dir', { path: 'query.sort' });
    return q.sort.split(',').map((part) => {
      const [key, dir] = part.trim().split(':');
      return { key: check(key ?? '', 'query.sort'), dir: dirOf(dir, 'query.sort') };
    });
  }
  const keys = q.sort_key === undefined ? ['created_at'] : Array.isArray(q.sort_key) ? q.sort_key : [q.sort_key];
  const dirs = q.sort_dir === undefined ? [] : Array.isArray(q.sort_dir) ? q.sort_dir : [q.sort_dir];
  if (dirs.length > 1 && dirs.length !== keys.length) throw new ValidationError('needs one direction per sort_key', { path: 'query.sort_dir' });
  return keys.map((k, i) => ({ key: check(k, 'query.sort_key'), dir: dirOf(dirs[dirs.length > 1 ? i : 0], 'query.sort_dir') }));
}

export interface CreateInput extends Record<string, unknown> {
  id?: string;
  name?: string | null;
  visibility?: Visibility;
  protected?: boolean;
  os_hidden?: boolean;
  owner?: string | null;
  disk_format?: string | null;
  container_format?: string | null;
  min_disk?: number;
  min_ram?: number;
  tags?: string[];
}

const TYPED = new Set(['id', 'name', 'visibility', 'protected', 'os_hidden', 'owner', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'tags']);
const UUID_RE = new RegExp(UUID_PATTERN);

/** Who is looking at images: a project (null: none) and whether with admin rights. */
export interface ImageViewer {
  projectId: string | null;
  admin: boolean;
}

/**
 * Glance's visibility: an admin sees all; others public, community, their project's own, and a
 * "shared" image of which their project is a member (`membership`: its status, whatever it is).
 * A private image is never visible to another project, members or not.
 */
export function visibleTo(image: Image, who: ImageViewer, membership?: MemberStatus): boolean {
  if (who.admin) return true;
  if (image.visibility === 'public' || image.visibility === 'community') return true;
  if (image.owner !== null && image.owner === who.projectId) return true;
  return image.visibility === 'shared' && membership !== undefined;
}

/**
 * In a list: what is visible, except community images of other projects unless asked for
 * (Glance applies that to admins too: they are found by id or by asking for them), and shared
 * images of other projects only where the caller's answer is `memberStatus` (Glance's
 * member_status filter, by default "accepted": a pending share is not listed until accepted).
 */
function listedFor(image: Image, who: ImageViewer, membership: MemberStatus | undefined, memberStatus: MemberStatus | 'all' = 'accepted', community = false): boolean {
  if (!visibleTo(image, who, membership)) return false;
  const others = image.owner === null || image.owner !== who.projectId;
  if (others && image.visibility === 'community' && !community) return false;
  if (others && !who.admin && image.visibility === 'shared') return memberStatus === 'all' || membership === memberStatus;
  return true;
}

const viewer = (auth: AuthContext): ImageViewer => ({ projectId: auth.projectId, admin: isAdmin(auth) });

export class ImagesService {
  constructor(
    private readonly store: ImageStore,
    private readonly files: FilesystemStore,
    private readonly policy: Policy,
    private readonly sizeCap: number,
  ) {}

  /** The viewer's membership of `image`, looked up only when it decides visibility. */
  private async membership(image: Image, who: ImageViewer): Promise<MemberStatus | undefined> {
    if (who.admin || image.visibility !== 'shared' || who.projectId === null || image.owner === who.projectId) return undefined;
    return (await this.store.getMember(image.id, who.projectId))?.status;
  }

  private async visible(image: Image, who: ImageViewer): Promise<boolean> {
    return visibleTo(image, who, await this.membership(image, who));
  }

  /**
   * An image for another service acting for a project (no token involved), by id or by name.
   * By id: the image whatever its status, if the project may see it; one it may not see is
   * "not found" exactly like a missing one. By name: among the images that project's list would
   * show (listedFor, and not os_hidden), the active ones with that name: exactly one, else 404
   * (none) or 409 naming how many. An id that matches nothing is tried as a name.
   */
  async resolveForProject(ref: string, project: ImageViewer): Promise<Image> {
    if (UUID_RE.test(ref)) {
      const image = await this.store.get(ref.toLowerCase());
      if (image && (await this.visible(image, project))) return image;
    }
    const shares = project.projectId === null ? new Map<string, MemberStatus>() : await this.store.membershipsOf(project.projectId);
    const named = (await this.store.list({ name: ref, status: 'active' })).filter((i) => listedFor(i, project, shares.get(i.id)) && !i.os_hidden);
    if (named.length === 1) return named[0]!;
    if (named.length === 0) throw new NotFoundError('Image', ref);
    throw new ConflictError(`${named.length} images named ${ref} are visible to project ${project.projectId ?? '(none)'}; use an image id.`, { fields: { name: ref, count: named.length } });
  }

  /** The image if the caller may see it; an image they may not see does not exist for them. */
  async get(auth: AuthContext, id: string): Promise<Image> {
    this.policy.enforce('image:get_image', auth);
    const image = await this.store.get(id);
    if (!image || !(await this.visible(image, viewer(auth)))) throw new NotFoundError('Image', id);
    return image;
  }

  private checkVisibility(auth: AuthContext, visibility: Visibility, owner: string | null): void {
    if (visibility === 'public') this.policy.enforce('image:publicize_image', auth);
    if (visibility === 'community') this.policy.enforce('image:communitize_image', auth, { projectId: owner });
  }

  async create(auth: AuthContext, input: CreateInput): Promise<Image> {
    for (const key of READ_ONLY) {
      if (Object.hasOwn(input, key)) throw new ForbiddenError(`Attribute '${key}' is read-only.`, { fields: { path: `body.${key}` } });
    }
    // Custom properties: user-named, so built with fromEntries (own data properties only).
    const custom = Object.entries(input).filter(([k]) => !TYPED.has(k));
    for (const [k] of custom) checkPropertyName(k, `body.${k}`);
    checkPropertyCount(custom.length);
    const properties = Object.fromEntries(custom) as Record<string, string>;
    const owner = input.owner === undefined ? auth.projectId : input.owner;
    this.policy.enforce('image:add_image', auth, { projectId: owner });
    const visibility = input.visibility ?? 'shared';
    this.checkVisibility(auth, visibility, owner);
    const ts = now();
    const image: Image = {
      id: input.id?.toLowerCase() ?? randomUUID(),
      name: input.name ?? null,
      status: 'queued',
      visibility,
      owner,
      disk_format: input.disk_format ?? null,
      container_format: input.container_format ?? null,
      size: null,
      virtual_size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      min_disk: input.min_disk ?? 0,
      min_ram: input.min_ram ?? 0,
      protected: input.protected ?? false,
      os_hidden: input.os_hidden ?? false,
      tags: input.tags ?? [],
      properties,
      created_at: ts,
      updated_at: ts,
    };
    if (await this.store.get(image.id)) throw new ConflictError(`Image with identifier ${image.id} already exists!`, { fields: { path: 'body.id' } });
    await this.store.insert(image);
    return image;
  }

  async update(auth: AuthContext, id: string, ops: readonly PatchOp[]): Promise<Image> {
    const image = await this.get(auth, id);
    this.policy.enforce('image:modify_image', auth, { projectId: image.owner });
    const { image: next, changed } = applyPatch(image, ops);
    if (changed.has('owner')) this.policy.enforce('image:modify_image', auth, { projectId: next.owner });
    if (changed.has('visibility') && next.visibility !== image.visibility) this.checkVisibility(auth, next.visibility, next.owner);
    const formatChanged = (changed.has('disk_format') || changed.has('container_format'))
      && (next.disk_format !== image.disk_format || next.container_format !== image.container_format);
    if (formatChanged && image.status !== 'queued') {
      throw new ForbiddenError('disk_format and container_format can be changed only while the image is queued.', { fields: { path: 'body' } });
    }
    // save never writes status, size or checksums (an upload may finish meanwhile); a format
    // change is written only if the image is still queued.
    if (!(await this.store.save(next, formatChanged ? 'queued' : undefined))) {
      if (await this.store.get(id)) throw new ConflictError(`Image ${id} is being uploaded or was changed meanwhile.`);
      throw new NotFoundError('Image', id);
    }
    return (await this.store.get(id)) ?? next;
  }

  /** PUT/DELETE /v2/images/{id}/tags/{tag}: a patch of the tags list. */
  async setTag(auth: AuthContext, id: string, tag: string, present: boolean): Promise<void> {
    if (present && (tag.length === 0 || tag.length > 255)) {
      // Glance checks the tag against its image schema first, and answers in that schema's words.
      const shown = tag.length > 64 ? `${tag.slice(0, 64)}...` : tag;
      throw new BadRequestError(`Provided object does not match schema 'image': '${shown}' is ${tag.length ? 'too long' : 'too short'}`, { fields: { path: 'tag' } });
    }
    const image = await this.get(auth, id);
    if (!present && !image.tags.includes(tag)) throw new NotFoundError('Tag', tag);
    if (present && !image.tags.includes(tag) && image.tags.length >= MAX_TAGS) {
      throw new BootstackError(413, 'limit_exceeded', `The limit has been exceeded on the number of allowed image tags. Attempted: ${image.tags.length + 1}, Maximum: ${MAX_TAGS}`);
    }
    const tags = present ? [...new Set([...image.tags, tag])] : image.tags.filter((t) => t !== tag);
    await this.update(auth, id, [{ op: 'replace', path: '/tags', value: tags }]);
  }

  async delete(auth: AuthContext, id: string): Promise<void> {
    const image = await this.get(auth, id);
    this.policy.enforce('image:delete_image', auth, { projectId: image.owner });
    if (image.protected) throw new ForbiddenError(`Image ${id} is protected and cannot be deleted.`);
    if (!(await this.store.delete(id))) throw new NotFoundError('Image', id);
    await this.files.remove(id);
  }

  /** queued → saving → active, or killed when the data does not arrive whole. */
  async upload(auth: AuthContext, id: string, source: Readable, expectedSize?: number): Promise<Image> {
    const image = await this.get(auth, id);
    this.policy.enforce('image:upload_image', auth, { projectId: image.owner });
    if (!image.disk_format || !image.container_format) {
      throw new ValidationError('disk_format and container_format must be set before uploading data', { path: image.disk_format ? 'container_format' : 'disk_format' });
    }
    imageStates.next(image.status, 'upload');
    if (!(await this.store.transition(id, 'queued', 'saving'))) {
      throw new ConflictError(`Image ${id} is already being uploaded or was changed meanwhile.`);
    }
    let received;
    try {
      received = await this.files.receive(id, source, this.sizeCap, expectedSize);
    } catch (err) {
      await this.store.transition(id, 'saving', imageStates.next('saving', 'upload_failed'));
      throw err;
    }
    // Rename first, then mark active: a crash in between leaves a file without an active
    // record, which the start-up sweep deletes; never an active record without its file.
    await this.files.commit(received.tmpPath, id);
    const done = await this.store.transition(id, 'saving', imageStates.next('saving', 'upload_done'), {
      size: received.size,
      checksum: received.md5,
      os_hash_algo: 'sha512',
      os_hash_value: received.sha512,
    });
    if (!done) {
      await this.files.remove(id);
      throw new ConflictError(`Image ${id} was deleted during the upload.`);
    }
    return (await this.store.get(id))!;
  }

  /** The image and its file path, or no path when it has no data yet. */
  async openForDownload(auth: AuthContext, id: string): Promise<{ image: Image; path: string | null }> {
    const image = await this.get(auth, id);
    this.policy.enforce('image:download_image', auth, { projectId: image.owner });
    if (image.status === 'deactivated' && !isAdmin(auth)) {
      throw new ForbiddenError('The requested image has been deactivated. Image data download is forbidden.', { fields: { status: image.status } });
    }
    return { image, path: image.status === 'active' || image.status === 'deactivated' ? this.files.path(id) : null };
  }

  /**
   * POST /v2/images/{id}/actions/deactivate and /reactivate (the owner's members, or the admin): active ⇄ deactivated.
   * Asking for the status the image already has succeeds without change, as in Glance; from any
   * other status (no data yet, upload running, killed) it is refused with 403.
   */
  async setDeactivated(auth: AuthContext, id: string, deactivated: boolean): Promise<void> {
    const image = await this.get(auth, id);
    const event = deactivated ? 'deactivate' : 'reactivate';
    this.policy.enforce(`image:${event}`, auth, { projectId: image.owner });
    const target = deactivated ? 'deactivated' : 'active';
    if (image.status === target) return;
    const from = deactivated ? 'active' : 'deactivated';
    if (image.status !== from) {
      throw new ForbiddenError(`Not allowed to ${event} image in status '${image.status}'`, { fields: { status: image.status } });
    }
    if (!(await this.store.transition(id, from, imageStates.next(from, event)))) {
      throw new ConflictError(`Image ${id} was changed meanwhile; try again.`);
    }
  }

  async list(auth: AuthContext, q: ListQuery): Promise<ListResult> {
    this.policy.enforce('image:get_images', auth);
    const limitText = one(q.limit, 'query.limit');
    let limit = DEFAULT_LIMIT;
    if (limitText !== undefined) {
      if (!/^\d+$/.test(limitText)) throw new ValidationError('must be a non-negative integer', { path: 'query.limit' });
      limit = Math.min(Number(limitText), MAX_LIMIT);
    }
    const sort = parseSort(q);
    const visibility = one(q.visibility, 'query.visibility');
    if (visibility !== undefined && !['public', 'private', 'shared', 'community', 'all'].includes(visibility)) {
      throw new ValidationError('must be one of public, private, shared, community, all', { path: 'query.visibility' });
    }
    const filters = {
      name: one(q.name, 'query.name'),
      status: one(q.status, 'query.status'),
      owner: one(q.owner, 'query.owner'),
      disk_format: one(q.disk_format, 'query.disk_format'),
      container_format: one(q.container_format, 'query.container_format'),
      visibility: visibility === 'all' ? undefined : visibility,
    };
    const tags = q.tag === undefined ? [] : Array.isArray(q.tag) ? q.tag : [q.tag];
    const hidden = one(q.os_hidden, 'query.os_hidden');
    const memberStatus = one(q.member_status, 'query.member_status') ?? 'accepted';
    if (![...MEMBER_STATUSES, 'all'].includes(memberStatus)) {
      throw new ValidationError(`must be one of ${MEMBER_STATUSES.join(', ')}, all`, { path: 'query.member_status' });
    }
    const who = viewer(auth);
    const shares = who.projectId === null || who.admin ? new Map<string, MemberStatus>() : await this.store.membershipsOf(who.projectId);
    // Like Glance: community images of other projects appear only when asked for; shared images
    // of other projects by the caller's answer to the share.
    let rows = (await this.store.list(filters)).filter((i) => listedFor(i, who, shares.get(i.id), memberStatus as MemberStatus | 'all', visibility !== undefined));
    rows = rows.filter((i) => (hidden === 'true' ? i.os_hidden : hidden === undefined || hidden === 'false' ? !i.os_hidden : true));
    if (tags.length) rows = rows.filter((i) => tags.every((t) => i.tags.includes(t)));
    // Size filters as Glance's: an image without data (no size yet) matches none of them.
    const size = byteCount(q.size, 'query.size');
    const sizeMin = byteCount(q.size_min, 'query.size_min');
    const sizeMax = byteCount(q.size_max, 'query.size_max');
    if (size !== undefined || sizeMin !== undefined || sizeMax !== undefined) {
      rows = rows.filter((i) => i.size !== null && i.size !== undefined && (size === undefined || i.size === size) && (sizeMin === undefined || i.size >= sizeMin) && (sizeMax === undefined || i.size <= sizeMax));
    }
    const keys = [...sort, ...(sort.some((s) => s.key === 'id') ? [] : [{ key: 'id' as const, dir: -1 as const }])];
    const cmp = (a: Image, b: Image) => {
      for (const { key, dir } of keys) {
        const c = compare(a[key], b[key]);
        if (c) return c * dir;
      }
      return 0;
    };
    rows.sort(cmp);
    const marker = one(q.marker, 'query.marker');
    if (marker !== undefined) {
      const at = rows.findIndex((i) => i.id === marker);
      if (at < 0) throw new ValidationError(`marker ${marker} could not be found`, { path: 'query.marker' });
      rows = rows.slice(at + 1);
    }
    const page = rows.slice(0, limit);
    const result: ListResult = { images: page };
    if (rows.length > limit && page.length) {
      const next = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) {
        if (k === 'marker' || k === 'limit') continue;
        for (const x of [v].flat()) if (typeof x === 'string') next.append(k, x);
      }
      next.set('marker', page[page.length - 1]!.id);
      next.set('limit', String(limit));
      result.next = next.toString();
    }
    return result;
  }
}
