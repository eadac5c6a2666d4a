// Image members (Glance v2 sharing): the owner project offers a "shared" image to other projects,
// each member project answers for itself (pending → accepted or rejected), and a member project
// sees the image. Projects are adversaries here: the owner cannot answer for a member, a member
// cannot add, remove or even list the other members, and a project that is neither owner nor
// member is told the image does not exist.
import type { AuthContext, Policy } from '../common/auth.js';
import { isAdmin } from '../common/auth.js';
import { now } from '../common/db.js';
import { BootstackError, ConflictError, ForbiddenError, NotFoundError } from '../common/errors.js';
import type { ImagesService } from './images.js';
import type { Image, ImageMember, ImageStore } from './store.js';
import { MEMBER_STATUSES, type MemberStatus } from './states.js';

/** Glance's image_member_quota default: members per image. */
export const MAX_MEMBERS = 128;

export const memberCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['member'],
  properties: { member: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

export const memberUpdateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { type: 'string', enum: MEMBER_STATUSES } },
} as const;

export function memberView(m: ImageMember): Record<string, unknown> {
  return {
    image_id: m.image_id,
    member_id: m.member_id,
    status: m.status,
    created_at: m.created_at.replace(/\.\d+Z$/, 'Z'),
    updated_at: m.updated_at.replace(/\.\d+Z$/, 'Z'),
    schema: '/v2/schemas/member',
  };
}

export class ImageMembers {
  constructor(
    private readonly images: ImagesService,
    private readonly store: ImageStore,
    private readonly policy: Policy,
  ) {}

  /** The image, if the caller sees it (else 404) and it can have members (else 403, as Glance). */
  private async sharedImage(auth: AuthContext, imageId: string): Promise<Image> {
    const image = await this.images.get(auth, imageId);
    if (image.visibility !== 'shared') {
      throw new ForbiddenError('Only shared images have members.', { fields: { visibility: image.visibility } });
    }
    return image;
  }

  /** The owner's side (and an admin) sees every member; a member project only its own row. */
  private seesMember(auth: AuthContext, image: Image, memberId: string): boolean {
    return isAdmin(auth) || (image.owner !== null && image.owner === auth.projectId) || memberId === auth.projectId;
  }

  async list(auth: AuthContext, imageId: string): Promise<ImageMember[]> {
    const image = await this.sharedImage(auth, imageId);
    this.policy.enforce('image:get_members', auth);
    return (await this.store.listMembers(image.id)).filter((m) => this.seesMember(auth, image, m.member_id));
  }

  async get(auth: AuthContext, imageId: string, memberId: string): Promise<ImageMember> {
    const image = await this.sharedImage(auth, imageId);
    this.policy.enforce('image:get_member', auth);
    const member = this.seesMember(auth, image, memberId) ? await this.store.getMember(image.id, memberId) : undefined;
    if (!member) throw new NotFoundError('Image member', memberId);
    return member;
  }

  /** Owner side only; the new member starts "pending". */
  async add(auth: AuthContext, imageId: string, memberId: string): Promise<ImageMember> {
    const image = await this.sharedImage(auth, imageId);
    this.policy.enforce('image:add_member', auth, { projectId: image.owner });
    const existing = await this.store.listMembers(image.id);
    if (existing.some((m) => m.member_id === memberId)) {
      throw new ConflictError(`Project ${memberId} is already a member of image ${image.id}.`, { fields: { path: 'body.member' } });
    }
    if (existing.length >= MAX_MEMBERS) {
      throw new BootstackError(413, 'limit_exceeded', `The limit has been exceeded on the number of allowed image members for this image. Attempted: ${existing.length + 1}, Maximum: ${MAX_MEMBERS}`);
    }
    const ts = now();
    const member: ImageMember = { image_id: image.id, member_id: memberId, status: 'pending', created_at: ts, updated_at: ts };
    // Two concurrent adds of the same member: the primary key lets one in.
    if (!(await this.store.addMember(member))) {
      throw new ConflictError(`Project ${memberId} is already a member of image ${image.id}.`, { fields: { path: 'body.member' } });
    }
    return member;
  }

  /** The member project's answer; the owner may not answer for it (403). */
  async setStatus(auth: AuthContext, imageId: string, memberId: string, status: MemberStatus): Promise<ImageMember> {
    const current = await this.get(auth, imageId, memberId);
    this.policy.enforce('image:modify_member', auth, { projectId: memberId });
    if (!(await this.store.setMemberStatus(current.image_id, memberId, status))) throw new NotFoundError('Image member', memberId);
    return (await this.store.getMember(current.image_id, memberId))!;
  }

  /** Owner side only: a member project cannot leave by deleting itself (Glance: it rejects). */
  async remove(auth: AuthContext, imageId: string, memberId: string): Promise<void> {
    const image = await this.sharedImage(auth, imageId);
    this.policy.enforce('image:delete_member', auth, { projectId: image.owner });
    if (!(await this.store.removeMember(image.id, memberId))) throw new NotFoundError('Image member', memberId);
  }
}
