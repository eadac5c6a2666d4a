// HTTP routes under /boot. All are public (machines booting have no Keystone token): the iPXE
// scripts, the deploy kernel and ramdisk (streamed), and the deploy agent's API, which
// authenticates with the one-time boot secret first and then with the per-deploy agent token.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BootstackError, NotFoundError, UnauthorizedError } from '../common/errors.js';
import type { BootManager } from './boot-manager.js';
import type { BootEventBus } from './boot-events.js';
import {
  AGENT_ROUTES,
  AGENT_TOKEN_HEADER,
  HEARTBEAT_BODY_SCHEMA,
  LOOKUP_BODY_SCHEMA,
  RESULT_BODY_SCHEMA,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type LookupRequest,
  type LookupResponse,
  type NextCommandResponse,
  type ResultRequest,
  type ResultResponse,
} from '../common/agent-protocol-http.js';
import { normalizeMac } from './dhcp-hosts.js';
import { clientAddress, type FetchLimiter } from './address-binding.js';
import { ExtentMapCache, sparseResponse } from './extent-map.js';
import { SPARSE, TRANSFER_HEADER } from '../common/sparse-image.js';

export interface BootRouteOptions {
  manager: BootManager;
  events: BootEventBus;
  filesDir: string;
  /** The MAC that last got this IPv4 address from our dnsmasq (ties HTTP fetches to a machine). */
  macForIp: (ip: string) => string | undefined;
  /**
   * Called when a per-MAC script is fetched. In ProxyDHCP mode another server hands out the
   * addresses, so our dnsmasq never logs the lease: this fetch is what ties the client's address
   * to its MAC for the kernel and ramdisk fetches that follow.
   */
  learnIp?: (ip: string, mac: string) => void;
  heartbeatIntervalS: number;
  /** Rate limits on per-MAC/node script fetches (absent: none). */
  scriptLimiter?: FetchLimiter;
  /** Where a deploy image's bytes are (set by the server from the image service); absent: 503. */
  imageFile?: () => DeployImageSource | undefined;
}

/** The image service as the boot service needs it (implemented in src/server). */
export type DeployImageSource = (imageId: string) => Promise<{ path: string; size: number }>;

const pub = { config: { public: true } };

/** The MAC a script name stands for, if it is one (node ids are names too). */
function macOf(name: string): string | undefined {
  try {
    return normalizeMac(name);
  } catch {
    return undefined;
  }
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function agentToken(request: FastifyRequest): string {
  const t = request.headers[AGENT_TOKEN_HEADER];
  if (typeof t !== 'string' || !t) throw new UnauthorizedError('X-Agent-Token is required.');
  return t;
}

export function bootRoutes(o: BootRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const extentMaps = new ExtentMapCache();
    const text = 'text/plain; charset=utf-8';
    // The server listens before services init: nothing is answered from a half-loaded state
    // (an agent refused its token because the sessions were not read yet would give up).
    app.addHook('onRequest', async () => {
      await o.manager.ready;
    });

    app.get('/boot.ipxe', pub, async (_req, reply) => reply.type(text).send(o.manager.genericScript()));

    app.get<{ Params: { name: string } }>('/:name', pub, async (req, reply) => {
      const { name } = req.params;
      if (!name.endsWith('.ipxe')) throw new NotFoundError('Boot script', name);
      const key = name.slice(0, -'.ipxe'.length);
      const from = clientAddress(req.ip);
      const limited = o.scriptLimiter?.take(from);
      if (limited) {
        // Logged once per run of refusals (not once per fetch: that would flood the timeline).
        if (limited.first) {
          const why = limited.limit === 'address' ? 'too many fetches from this address' : 'too many fetches from all addresses';
          o.events.emit({ kind: 'script_fetched', at: new Date(), ...o.manager.scriptTarget(key), detail: { name: key, from, granted: false, secret_given: false, reason: `rate limited: ${why}` } });
        }
        throw new BootstackError(429, 'too_many_requests', 'Too many boot script fetches; try again later.', { fields: { limit: limited.limit } });
      }
      const script = await o.manager.scriptFor(key, from);
      const mac = macOf(key);
      if (mac) o.learnIp?.(from, mac);
      return reply.type(text).send(script);
    });

    app.get<{ Params: { file: string } }>('/files/:file', pub, async (req, reply) => {
      const { file } = req.params;
      if (!FILE_NAME.test(file)) throw new NotFoundError('Boot file', file);
      const path = join(o.filesDir, file);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) throw new NotFoundError('Boot file', file);
      const started = Date.now();
      const stream = createReadStream(path);
      const mac = o.macForIp(req.ip);
      stream.on('end', () => {
        const seconds = (Date.now() - started) / 1000;
        o.events.emit({ kind: 'file_fetched', at: new Date(), mac, nodeId: mac && o.manager.nodeForMac(mac), detail: { file, bytes: st.size, seconds, from: req.ip } });
      });
      return reply.type('application/octet-stream').header('content-length', st.size).send(stream);
    });

    // Deploy images for the agent: the token in the path is the per-deploy grant (publishImage).
    app.get<{ Params: { token: string } }>('/images/:token', pub, async (req, reply) => {
      const grant = await o.manager.imageGrant(req.params.token, clientAddress(req.ip));
      const source = o.imageFile?.();
      if (!source) throw new BootstackError(503, 'no_image_service', 'The image service is not enabled in this server; deploy images cannot be served.');
      const { path, size } = await source(grant.imageId);
      const started = Date.now();
      // An agent that asks gets only the data extents (zero runs it zeroes itself); others the full file.
      const sparse = req.headers[TRANSFER_HEADER] === SPARSE;
      const map = sparse ? await extentMaps.get(path) : undefined;
      const answer = map
        ? sparseResponse(path, map)
        : { headers: { 'content-length': size }, bytes: size, stream: createReadStream(path) };
      const transfer = map ? { transfer: SPARSE, image_bytes: map.size, extents: map.extents.length, map_seconds: map.seconds } : {};
      answer.stream.on('end', () => {
        const seconds = (Date.now() - started) / 1000;
        o.events.emit({ kind: 'file_fetched', at: new Date(), nodeId: grant.nodeId, detail: { file: `image ${grant.imageId}`, bytes: answer.bytes, seconds, from: req.ip, ...transfer } });
      });
      return reply.type('application/octet-stream').headers(answer.headers).send(answer.stream);
    });

    // The agent protocol's exchanges (paths, bodies, schemas: src/common/agent-protocol-http.ts).
    app.post<{ Body: LookupRequest }>(
      AGENT_ROUTES.lookup,
      { ...pub, schema: { body: LOOKUP_BODY_SCHEMA } },
      async (req): Promise<LookupResponse> => {
        const { nodeId, agentToken: token } = await o.manager.lookup(req.body.macs, req.body.boot_secret, clientAddress(req.ip), req.body.ramdisk_stages);
        await o.manager.commands.flush(); // the session is stored before the agent has its token
        return { node_id: nodeId, agent_token: token, heartbeat_interval_s: o.heartbeatIntervalS };
      },
    );

    // The token first (a wrong one says nothing about the address), then the bound address.
    const authed = (req: FastifyRequest<{ Params: { nodeId: string } }>) => {
      o.manager.commands.authenticate(req.params.nodeId, agentToken(req));
      o.manager.assertFrom(req.params.nodeId, clientAddress(req.ip), 'agent call');
      return req.params.nodeId;
    };

    app.post<{ Params: { nodeId: string }; Body: HeartbeatRequest }>(
      AGENT_ROUTES.heartbeat,
      { ...pub, schema: { body: HEARTBEAT_BODY_SCHEMA } },
      async (req): Promise<HeartbeatResponse> => {
        const nodeId = authed(req);
        o.manager.commands.heartbeat(nodeId, req.body?.status);
        await o.manager.commands.flush();
        o.events.emit({ kind: 'heartbeat', at: new Date(), nodeId, detail: req.body?.status ?? {} });
        return { heartbeat_interval_s: o.heartbeatIntervalS };
      },
    );

    app.get<{ Params: { nodeId: string } }>(AGENT_ROUTES.next, pub, async (req): Promise<NextCommandResponse> => {
      const nodeId = authed(req);
      const c = o.manager.commands.next(nodeId);
      await o.manager.commands.flush();
      return { command: c && { id: c.id, name: c.name, params: c.params } };
    });

    app.post<{ Params: { nodeId: string; commandId: string }; Body: ResultRequest }>(
      AGENT_ROUTES.result,
      { ...pub, schema: { body: RESULT_BODY_SCHEMA } },
      async (req): Promise<ResultResponse> => {
        const nodeId = authed(req);
        const c = o.manager.commands.report(nodeId, req.params.commandId, req.body);
        await o.manager.commands.flush(); // acknowledged only once stored: a restart cannot lose it
        return { id: c.id, status: c.status };
      },
    );
  };
}
