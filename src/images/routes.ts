// Glance v2 routes under /image. Image data is streamed both ways: the octet-stream parser
// registered here does not read the body, the upload handler pipes request.raw to the store.
import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireAuth } from '../common/service.js';
import { parseJsonBody } from '../common/json-body.js';
import { BadRequestError, BootstackError } from '../common/errors.js';
import type { ImagesService, ListQuery, CreateInput } from './images.js';
import { memberCreateSchema, memberUpdateSchema, memberView, type ImageMembers } from './members.js';
import type { PatchOp } from './patch.js';
import { imageSchema, imagesSchema, memberSchema, membersSchema } from './schema-docs.js';
import { imageCreateSchema, patchSchema } from './schemas.js';
import type { MemberStatus } from './states.js';
import { imageView } from './views.js';

const PATCH_TYPE = 'application/openstack-images-v2.1-json-patch';
/**
 * The older (deprecated, still sent by Tempest and some clients) patch type. Same operations and
 * pointers; each operation names itself by its key instead: {"replace": "/name", "value": "x"}
 * for {"op": "replace", "path": "/name", "value": "x"}. The parser rewrites it into the v2.1 form,
 * so both go through one schema and one applyPatch.
 */
const PATCH_TYPE_V20 = 'application/openstack-images-v2.0-json-patch';
const PATCH_TYPES = [PATCH_TYPE, PATCH_TYPE_V20];
const OPS = ['add', 'replace', 'remove'] as const;

/** v2.0 operations → v2.1 operations; anything not an array is left for the schema to refuse. */
export function fromV20Patch(body: unknown): unknown {
  if (!Array.isArray(body)) return body;
  return body.map((change: unknown, index) => {
    if (change === null || typeof change !== 'object' || Array.isArray(change)) return change;
    const named = OPS.filter((op) => Object.hasOwn(change, op));
    if (named.length !== 1) {
      throw new BadRequestError(`body[${index}]: an operation must have exactly one of the members "add", "replace" or "remove" (found ${named.length})`, { fields: { path: `body[${index}]` } });
    }
    const extra = Object.keys(change).find((k) => k !== named[0] && k !== 'value');
    if (extra !== undefined) {
      throw new BadRequestError(`body[${index}].${extra}: not allowed in an ${PATCH_TYPE_V20} operation`, { fields: { path: `body[${index}].${extra}` } });
    }
    const op = named[0]!;
    const c = change as Record<string, unknown>;
    return { op, path: c[op], ...(Object.hasOwn(c, 'value') ? { value: c.value } : {}) };
  });
}

export function versionsDocument(base: string) {
  const v = (id: string, status: string) => ({ id, status, links: [{ rel: 'self', href: `${base}/v2/` }] });
  return { versions: [v('v2.16', 'CURRENT'), v('v2.15', 'SUPPORTED'), v('v2.9', 'SUPPORTED'), v('v2.0', 'SUPPORTED')] };
}

type Req = FastifyRequest<{ Params: { id: string }; Querystring: ListQuery; Body: unknown }>;
type MemberReq = FastifyRequest<{ Params: { id: string; member: string }; Body: { member?: string; status?: MemberStatus } }>;

export function registerImageRoutes(app: FastifyInstance, images: ImagesService, members: ImageMembers, base: () => string): void {
  // Image data: leave the stream unread for the handler (never buffered, not bound by bodyLimit).
  app.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null, undefined));
  app.addContentTypeParser(PATCH_TYPES, { parseAs: 'string' }, (request, body, done) => {
    try {
      const parsed = parseJsonBody(body as string);
      const v20 = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase() === PATCH_TYPE_V20;
      done(null, v20 ? fromV20Patch(parsed) : parsed);
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const pub = { config: { public: true } };
  const versions = async (_req: FastifyRequest, reply: FastifyReply) => reply.status(300).send(versionsDocument(base()));
  app.get('/', pub, versions);
  app.get('/versions', pub, async () => versionsDocument(base()));
  app.get('/v2', pub, versions);

  app.post('/v2/images', { schema: { body: imageCreateSchema } }, async (request: Req, reply) => {
    const image = await images.create(requireAuth(request), (request.body ?? {}) as CreateInput);
    reply.header('location', `${base()}/v2/images/${image.id}`);
    return reply.status(201).send(imageView(image));
  });

  app.get('/v2/images', async (request: Req) => {
    const result = await images.list(requireAuth(request), request.query);
    return {
      images: result.images.map(imageView),
      first: '/v2/images',
      schema: '/v2/schemas/images',
      ...(result.next ? { next: `/v2/images?${result.next}` } : {}),
    };
  });

  app.get('/v2/images/:id', async (request: Req) => imageView(await images.get(requireAuth(request), request.params.id)));

  app.patch('/v2/images/:id', { schema: { body: patchSchema } }, async (request: Req) => {
    const type = request.headers['content-type']?.split(';')[0]?.trim();
    if (!PATCH_TYPES.includes(type?.toLowerCase() ?? '')) {
      throw new BootstackError(415, 'unsupported_media_type', `Content-Type must be ${PATCH_TYPES.join(' or ')}.`, { fields: { path: 'headers.content-type' } });
    }
    return imageView(await images.update(requireAuth(request), request.params.id, request.body as PatchOp[]));
  });

  app.delete('/v2/images/:id', async (request: Req, reply) => {
    await images.delete(requireAuth(request), request.params.id);
    return reply.status(204).send();
  });

  // The router refuses a path parameter over 100 characters with Fastify's own 414, before any
  // handler of ours; a wildcard twin of each tag route takes those tags instead, so that a tag
  // of 101-255 characters works and a longer one gets Glance's 400.
  type TagReq = FastifyRequest<{ Params: { id: string; tag?: string; '*'?: string } }>;
  const tagOf = (request: TagReq): string => {
    const tag = request.params.tag ?? request.params['*'] ?? '';
    if (request.params.tag === undefined && tag.includes('/')) {
      throw new BootstackError(404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}`);
    }
    return tag;
  };
  for (const url of ['/v2/images/:id/tags/:tag', '/v2/images/:id/tags/*']) {
    app.put(url, async (request: TagReq, reply) => {
      await images.setTag(requireAuth(request), request.params.id, tagOf(request), true);
      return reply.status(204).send();
    });
    app.delete(url, async (request: TagReq, reply) => {
      await images.setTag(requireAuth(request), request.params.id, tagOf(request), false);
      return reply.status(204).send();
    });
  }

  app.put('/v2/images/:id/file', async (request: Req, reply) => {
    const type = request.headers['content-type']?.split(';')[0]?.trim();
    if (type !== 'application/octet-stream') {
      throw new BootstackError(415, 'unsupported_media_type', 'Content-Type must be application/octet-stream.', { fields: { path: 'headers.content-type' } });
    }
    const length = request.headers['content-length'];
    const expected = length === undefined ? undefined : Number(length);
    await images.upload(requireAuth(request), request.params.id, request.raw, expected);
    return reply.status(204).send();
  });

  app.get('/v2/images/:id/file', async (request: Req, reply) => {
    const { image, path } = await images.openForDownload(requireAuth(request), request.params.id);
    if (!path) return reply.status(204).send();
    reply.header('content-type', 'application/octet-stream');
    reply.header('content-length', String(image.size ?? 0));
    if (image.checksum) reply.header('content-md5', image.checksum);
    return reply.send(createReadStream(path));
  });

  // Admin only (policy): withdraw an active image's data from non-admins, and give it back.
  app.post('/v2/images/:id/actions/deactivate', async (request: Req, reply) => {
    await images.setDeactivated(requireAuth(request), request.params.id, true);
    return reply.status(204).send();
  });
  app.post('/v2/images/:id/actions/reactivate', async (request: Req, reply) => {
    await images.setDeactivated(requireAuth(request), request.params.id, false);
    return reply.status(204).send();
  });

  // Sharing (members.ts has the rules: who may add, answer, see).
  app.get('/v2/images/:id/members', async (request: MemberReq) => ({
    members: (await members.list(requireAuth(request), request.params.id)).map(memberView),
    schema: '/v2/schemas/members',
  }));
  app.post('/v2/images/:id/members', { schema: { body: memberCreateSchema } }, async (request: MemberReq) =>
    memberView(await members.add(requireAuth(request), request.params.id, request.body.member!)));
  app.get('/v2/images/:id/members/:member', async (request: MemberReq) =>
    memberView(await members.get(requireAuth(request), request.params.id, request.params.member)));
  app.put('/v2/images/:id/members/:member', { schema: { body: memberUpdateSchema } }, async (request: MemberReq) =>
    memberView(await members.setStatus(requireAuth(request), request.params.id, request.params.member, request.body.status!)));
  app.delete('/v2/images/:id/members/:member', async (request: MemberReq, reply) => {
    await members.remove(requireAuth(request), request.params.id, request.params.member);
    return reply.status(204).send();
  });

  // JSON Schemas of our records (schema-docs.ts); any token may read them, as in Glance.
  const schemaDocs = { image: imageSchema(), images: imagesSchema(), member: memberSchema(), members: membersSchema() };
  for (const [name, doc] of Object.entries(schemaDocs)) {
    app.get(`/v2/schemas/${name}`, async (request) => {
      requireAuth(request);
      return doc;
    });
  }
}
