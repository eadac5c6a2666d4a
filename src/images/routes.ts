// Glance v2 routes under /image. Image data is streamed both ways: the octet-stream parser
// registered here does not read the body, the upload handler pipes request.raw to the store.
import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireAuth } from '../common/service.js';
import { parseJsonBody } from '../common/json-body.js';
import { BootstackError } from '../common/errors.js';
import type { ImagesService, ListQuery, CreateInput } from './images.js';
import type { PatchOp } from './patch.js';
import { imageCreateSchema, patchSchema } from './schemas.js';
import { imageView } from './views.js';

const PATCH_TYPE = 'application/openstack-images-v2.1-json-patch';

export function versionsDocument(base: string) {
  const v = (id: string, status: string) => ({ id, status, links: [{ rel: 'self', href: `${base}/v2/` }] });
  return { versions: [v('v2.16', 'CURRENT'), v('v2.15', 'SUPPORTED'), v('v2.9', 'SUPPORTED'), v('v2.0', 'SUPPORTED')] };
}

type Req = FastifyRequest<{ Params: { id: string }; Querystring: ListQuery; Body: unknown }>;

export function registerImageRoutes(app: FastifyInstance, images: ImagesService, base: () => string): void {
  // Image data: leave the stream unread for the handler (never buffered, not bound by bodyLimit).
  app.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null, undefined));
  app.addContentTypeParser(PATCH_TYPE, { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
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
    if (type !== PATCH_TYPE) {
      throw new BootstackError(415, 'unsupported_media_type', `Content-Type must be ${PATCH_TYPE}.`, { fields: { path: 'headers.content-type' } });
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
}
