// The metadata listener's HTTP answers: the OpenStack tree under /openstack and the EC2 one at
// the root, both looked up by src/common/instance-metadata.ts (the config drive's source). The
// caller is identified by its source address only; an address we cannot tie to a deployed node
// gets the same 404 as a path that does not exist, with nothing of anyone's data.
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { metadataAnswer } from '../common/instance-metadata.js';
import type { InstanceLocator } from './instances.js';

/** IPv4 callers of a dual-stack socket arrive as ::ffff:a.b.c.d. */
function sourceAddress(ip: string | undefined): string {
  return (ip ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

export function buildMetadataApp(o: { locator: InstanceLocator; log: Logger }): FastifyInstance {
  // Its own small Fastify: no auth hook, no body parsing, no service routes of the main app.
  const app = Fastify({ logger: false, bodyLimit: 1024 });
  const notFound = (reply: FastifyReply) => reply.status(404).type('text/plain').send('Not Found');
  app.get('*', async (request, reply) => {
    const ip = sourceAddress(request.socket.remoteAddress);
    const path = request.url.split('?')[0]!;
    const located = await o.locator.locate(ip);
    if ('refused' in located) {
      o.log.info({ ip, path, reason: located.refused }, 'metadata: request refused');
      return notFound(reply);
    }
    const answer = metadataAnswer(located.content, path);
    // The source and the node only: the content may hold keys, passwords or user data.
    o.log.info({ ip, node: located.nodeId, path, status: answer ? 200 : 404 }, 'metadata: request');
    if (!answer) return notFound(reply);
    return reply.type(answer.contentType === 'application/json' ? 'application/json' : 'text/plain; charset=utf-8').send(answer.body);
  });
  return app;
}
