// python-ironicclient sends "application/octet-stream" with no body on some DELETEs
// (maintenance unset). Ironic accepts that; so do we, in this service's scope only. (An empty
// "application/json" body is accepted everywhere: src/common/json-body.ts.)
import type { FastifyInstance } from 'fastify';
import { BadRequestError } from '../../common/errors.js';

export function installBodyParsers(app: FastifyInstance): void {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => {
    if ((body as Buffer).length === 0) return done(null, undefined);
    done(new BadRequestError('This API accepts JSON bodies only (Content-Type: application/json).'), undefined);
  });
}
