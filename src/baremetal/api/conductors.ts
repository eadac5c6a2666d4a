// /v1/conductors (API 1.49): the conductors and the hardware types each serves. Bootstack runs
// exactly one conductor, inside the seed's process, so it is alive whenever this answers; its
// created_at is when this process registered the routes (Ironic: when the conductor registered).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError, NotFoundError } from '../../common/errors.js';
import { now } from '../../common/db.js';
import { CONDUCTOR_LIST_FIELDS, conductorView, pick, type ConductorInfo } from './views.js';
import { authorize, parseBool, parseFields, type ApiDeps, type Query } from './context.js';

export function conductorRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const startedAt = now();
  const info = (): ConductorInfo => ({
    hostname: deps.conductor.options.host,
    // The conductor serves every group: nodes of any conductor_group are managed here.
    conductor_group: '',
    alive: true,
    drivers: Object.keys(deps.conductor.registry.hardwareTypes).sort(),
    created_at: startedAt,
    updated_at: null,
  });

  const list = (detailPath: boolean) => async (request: FastifyRequest) => {
    authorize(request, 'baremetal:conductor:get');
    const q = request.query as Query;
    if (detailPath && q.fields) throw new BadRequestError('Can not specify ?fields with /conductors/detail');
    const detail = detailPath || parseBool(q.detail, 'detail') === true;
    const v = conductorView(info(), deps.base());
    const fields = parseFields(q.fields, Object.keys(v));
    return { conductors: [fields ? pick(v, fields) : detail ? v : pick(v, CONDUCTOR_LIST_FIELDS)] };
  };
  app.get('/v1/conductors', list(false));
  app.get('/v1/conductors/', list(false));
  app.get('/v1/conductors/detail', list(true));

  app.get('/v1/conductors/:hostname', async (request) => {
    authorize(request, 'baremetal:conductor:get');
    const { hostname } = request.params as { hostname: string };
    const c = info();
    if (hostname !== c.hostname) throw new NotFoundError('Conductor', hostname);
    const v = conductorView(c, deps.base());
    const fields = parseFields((request.query as Query).fields, Object.keys(v));
    return fields ? pick(v, fields) : v;
  });
}
