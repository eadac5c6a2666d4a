// Neutron v2.0 routes under /networking: the version document at the root, and networks,
// subnets and ports under /v2.0. Bodies are {"network": {...}} etc.; the facade (networking.ts)
// validates the inner object and names the field in its errors. openstacksdk appends "v2.0" to
// the catalog's endpoint itself (no version discovery for the network service).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireAuth } from '../common/service.js';
import { NeutronError } from './errors.js';
import { actorOf, type Actor, type Networking, type Query } from './networking.js';

type Req = FastifyRequest<{ Params: { id: string }; Querystring: Query; Body: unknown }>;

/** The extensions whose attributes we serve (clients look some of them up before using them). */
const EXTENSIONS = [
  { alias: 'provider', name: 'Provider Network', description: 'Provider network attributes (flat; vlan recorded only).' },
  { alias: 'external-net', name: 'Neutron external network', description: 'The router:external attribute.' },
  { alias: 'binding', name: 'Port Binding', description: 'binding:host_id, binding:profile, binding:vnic_type.' },
  { alias: 'net-mtu', name: 'Network MTU', description: 'The mtu attribute of networks.' },
  { alias: 'dns-integration', name: 'DNS Integration', description: 'The dns_name attribute of ports (the DHCP host name).' },
].map((e) => ({ ...e, updated: '2025-01-01T00:00:00-00:00', links: [] }));

/** One resource's "{"network": {...}}" wrapper, or a 400 naming the missing key. */
function inner(body: unknown, key: string): Record<string, unknown> {
  const v = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw NeutronError.invalidInput(key, `the body must be {"${key}": {...}}`);
  const extra = Object.keys(body as object).filter((k) => k !== key);
  // Bulk create ({"networks": [...]}) is not supported: say so rather than ignore it.
  if (extra.length) throw NeutronError.invalidInput(extra[0]!, `unexpected key next to "${key}" (bulk operations are not supported)`);
  return v as Record<string, unknown>;
}

/** Neutron's `fields=` selection. */
function pick<T extends object>(items: T[], q: Query): Array<Partial<T>> {
  const f = q.fields;
  if (f === undefined) return items;
  const keys = (Array.isArray(f) ? f : [f]).flatMap((x) => x.split(','));
  return items.map((it) => Object.fromEntries(Object.entries(it).filter(([k]) => keys.includes(k))) as Partial<T>);
}

export function registerNetworkRoutes(app: FastifyInstance, net: Networking, base: () => string): void {
  const pub = { config: { public: true } };
  const versions = () => ({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${base()}/v2.0/` }] }] });
  app.get('/', pub, async () => versions());
  app.get('/v2.0', async () => ({
    resources: ['network', 'subnet', 'port'].map((r) => ({ name: r, collection: `${r}s`, links: [{ rel: 'self', href: `${base()}/v2.0/${r}s` }] })),
  }));
  app.get('/v2.0/extensions', async () => ({ extensions: EXTENSIONS }));
  app.get('/v2.0/extensions/:id', async (request: Req) => {
    const e = EXTENSIONS.find((x) => x.alias === request.params.id);
    if (!e) throw new NeutronError(404, 'ExtensionNotFound', `Extension with alias ${request.params.id} does not exist.`);
    return { extension: e };
  });

  resource(app, 'network', {
    list: (a, q) => net.listNetworks(a, q),
    get: (a, id) => net.getNetwork(a, id),
    create: (a, b) => net.createNetwork(a, b),
    update: (a, id, b) => net.updateNetwork(a, id, b),
    remove: (a, id) => net.deleteNetwork(a, id),
  });
  resource(app, 'subnet', {
    list: (a, q) => net.listSubnets(a, q),
    get: (a, id) => net.getSubnet(a, id),
    create: (a, b) => net.createSubnet(a, b),
    update: (a, id, b) => net.updateSubnet(a, id, b),
    remove: (a, id) => net.deleteSubnet(a, id),
  });
  resource(app, 'port', {
    list: (a, q) => net.listPorts(a, q),
    get: (a, id) => net.getPort(a, id),
    create: (a, b) => net.createPort(a, b),
    update: (a, id, b) => net.updatePort(a, id, b),
    remove: (a, id) => net.deletePort(a, id),
  });
}

interface Handlers<T extends object> {
  list(a: Actor, q: Query): Promise<T[]>;
  get(a: Actor, id: string): Promise<T>;
  create(a: Actor, body: Record<string, unknown>): Promise<T>;
  update(a: Actor, id: string, body: Record<string, unknown>): Promise<T>;
  remove(a: Actor, id: string): Promise<void>;
}

/** The five routes of one resource: list, show, create, update, delete. */
function resource<T extends object>(app: FastifyInstance, one: string, h: Handlers<T>): void {
  const many = `${one}s`;
  app.get(`/v2.0/${many}`, async (request: Req) => ({ [many]: pick(await h.list(actorOf(requireAuth(request)), request.query), request.query) }));
  app.get(`/v2.0/${many}/:id`, async (request: Req) => ({ [one]: pick([await h.get(actorOf(requireAuth(request)), request.params.id)], request.query)[0] }));
  app.post(`/v2.0/${many}`, async (request: Req, reply) => {
    const created = await h.create(actorOf(requireAuth(request)), inner(request.body, one));
    return reply.status(201).send({ [one]: created });
  });
  app.put(`/v2.0/${many}/:id`, async (request: Req) => ({ [one]: await h.update(actorOf(requireAuth(request)), request.params.id, inner(request.body, one)) }));
  app.delete(`/v2.0/${many}/:id`, async (request: Req, reply) => {
    await h.remove(actorOf(requireAuth(request)), request.params.id);
    return reply.status(204).send();
  });
}
