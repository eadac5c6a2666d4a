// python-ironicclient sends "Content-Type: application/json" with an empty body on some PUTs
// (node add trait) and "application/octet-stream" with no body on some DELETEs (maintenance
// unset). Ironic accepts both; so do we, in this service's scope only.
import type { FastifyInstance } from 'fastify';
import { BadRequestError } from '../../common/errors.js';

export function installBodyParsers(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new BadRequestError(`The request body is not valid JSON: ${(err as Error).message}`, { cause: err }), undefined);
    }
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => {
    if ((body as Buffer).length === 0) return done(null, undefined);
    done(new BadRequestError('This API accepts JSON bodies only (Content-Type: application/json).'), undefined);
  });
}
