// The lab's BMC: one Redfish service (DMTF DSP0266) for every lab machine. ServiceRoot, Systems,
// ComputerSystem (PowerState, Boot override, Reset action), Managers, SessionService with
// sessions; basic auth or X-Auth-Token on everything but the service root and session login.
// GET answers carry an ETag; PATCH honours If-Match (412 when it does not match).
// OEM: each machine's serial console log, read-only, at Systems/{id}/Oem/Bootstack/SerialConsole
// (linked from the ComputerSystem's Oem.Bootstack), when the service is given `consoleLog`.
import { open } from 'node:fs/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { BootstackError } from '../common/errors.js';
import { BOOT_ENABLED, BOOT_TARGETS, RESET_TYPES, type BootOverride, type ResetType, type SystemBackend, type SystemInfo } from './systems.js';
import { LAB_ASSET_TAG } from './qemu.js';
import type { MachineRecord } from './spec.js';

export interface RedfishOptions {
  backend: SystemBackend;
  username: string;
  password: string;
  /** Identifies this service (ServiceRoot UUID); stable per lab. */
  serviceUuid: string;
  sessionTimeoutSec?: number;
  /** The file a machine's serial console goes to; without it there is no SerialConsole resource. */
  consoleLog?: (machine: MachineRecord) => string;
}

/** ?tail= of the SerialConsole resource: bytes from the end of the log. */
export const SERIAL_CONSOLE_DEFAULT_TAIL = 64 * 1024;
export const SERIAL_CONSOLE_MAX_TAIL = 1024 * 1024;

const ROOT = '/redfish/v1';
const MANAGER_ID = 'BMC';

interface Session {
  id: string;
  token: string;
  user: string;
  lastUsed: number;
}

class RedfishError extends Error {
  constructor(
    readonly status: number,
    readonly messageId: string,
    message: string,
  ) {
    super(message);
  }
}

function errorBody(status: number, messageId: string, message: string) {
  return {
    error: {
      code: `Base.1.8.${messageId}`,
      message,
      '@Message.ExtendedInfo': [
        {
          '@odata.type': '#Message.v1_1_1.Message',
          MessageId: `Base.1.8.${messageId}`,
          Message: message,
          Severity: status >= 500 ? 'Critical' : 'Warning',
          Resolution: status === 401 ? 'Provide valid credentials.' : 'See the message.',
        },
      ],
    },
  };
}

function etagOf(body: unknown): string {
  return `W/"${createHash('sha1').update(JSON.stringify(body)).digest('hex').slice(0, 16)}"`;
}

/** Weak comparison (RFC 9110 §8.8.3.2): W/"x" matches "x". */
function etagMatches(ifMatch: string, current: string): boolean {
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return ifMatch.split(',').some((t) => t.trim() === '*' || strip(t) === strip(current));
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function systemBody(info: SystemInfo, backend: SystemBackend, opts: { serialConsole?: boolean } = {}) {
  const m = info.machine;
  const id = `${ROOT}/Systems/${m.systemId}`;
  return {
    '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
    '@odata.id': id,
    Id: m.systemId,
    Name: m.name,
    UUID: m.systemId,
    SystemType: 'Physical',
    Manufacturer: 'Bootstack',
    Model: 'QEMU lab machine',
    // Read-only here: the value QEMU's SMBIOS chassis table carries (src/lab/qemu.ts).
    AssetTag: LAB_ASSET_TAG,
    HostName: m.name,
    PowerState: info.powerState,
    Status: { State: 'Enabled', Health: 'OK' },
    Boot: {
      BootSourceOverrideTarget: info.boot.target,
      'BootSourceOverrideTarget@Redfish.AllowableValues': [...BOOT_TARGETS],
      BootSourceOverrideEnabled: info.boot.enabled,
      'BootSourceOverrideEnabled@Redfish.AllowableValues': [...BOOT_ENABLED],
      BootSourceOverrideMode: info.boot.mode,
      'BootSourceOverrideMode@Redfish.AllowableValues': backend.bootModes(),
    },
    ProcessorSummary: { Count: m.cpus, Status: { State: 'Enabled', Health: 'OK' } },
    MemorySummary: { TotalSystemMemoryGiB: Math.round((m.memoryMiB / 1024) * 100) / 100 },
    EthernetInterfaces: { '@odata.id': `${id}/EthernetInterfaces` },
    Links: { ManagedBy: [{ '@odata.id': `${ROOT}/Managers/${MANAGER_ID}` }] },
    Actions: {
      '#ComputerSystem.Reset': {
        target: `${id}/Actions/ComputerSystem.Reset`,
        'ResetType@Redfish.AllowableValues': [...RESET_TYPES],
      },
    },
    ...(opts.serialConsole ? { Oem: { Bootstack: { SerialConsole: { '@odata.id': `${id}/Oem/Bootstack/SerialConsole` } } } } : {}),
  };
}

/** The `tail` query: an integer 1..SERIAL_CONSOLE_MAX_TAIL, SERIAL_CONSOLE_DEFAULT_TAIL when absent. */
export function parseTail(raw: unknown): number {
  if (raw === undefined || raw === '') return SERIAL_CONSOLE_DEFAULT_TAIL;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > SERIAL_CONSOLE_MAX_TAIL) {
    throw new RedfishError(400, 'QueryParameterOutOfRange', `tail must be a number of bytes from 1 to ${SERIAL_CONSOLE_MAX_TAIL}; got ${JSON.stringify(raw)}.`);
  }
  return n;
}

/** The last `tail` bytes of a file as text (not starting inside a UTF-8 character), and its size; a missing file is empty. */
export async function readTail(path: string, tail: number): Promise<{ data: string; bytes: number }> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: '', bytes: 0 };
    throw err;
  }
  try {
    const size = (await file.stat()).size;
    const length = Math.min(size, tail);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await file.read(buf, 0, length, size - length);
    let start = 0;
    while (start < bytesRead && (buf[start]! & 0xc0) === 0x80) start++;
    return { data: buf.subarray(start, bytesRead).toString('utf8'), bytes: size };
  } finally {
    await file.close();
  }
}

function collection(type: string, name: string, path: string, ids: string[]) {
  return {
    '@odata.type': `#${type}Collection.${type}Collection`,
    '@odata.id': path,
    Name: name,
    'Members@odata.count': ids.length,
    Members: ids.map((i) => ({ '@odata.id': `${path}/${i}` })),
  };
}

export function buildRedfishApp(options: RedfishOptions): FastifyInstance {
  const { backend } = options;
  const bodyOf = (info: SystemInfo) => systemBody(info, backend, { serialConsole: Boolean(options.consoleLog) });
  const sessions = new Map<string, Session>();
  const timeoutSec = options.sessionTimeoutSec ?? 1800;
  const app = Fastify({ logger: false });

  const send = (reply: FastifyReply, body: unknown, status = 200) => {
    reply.header('OData-Version', '4.0');
    reply.header('ETag', etagOf(body));
    return reply.code(status).type('application/json').send(body);
  };

  const authenticate = (req: FastifyRequest): string => {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && token) {
      const now = Date.now();
      for (const s of sessions.values()) {
        if (safeEqual(s.token, token)) {
          if (now - s.lastUsed > timeoutSec * 1000) {
            sessions.delete(s.id);
            break;
          }
          s.lastUsed = now;
          return s.user;
        }
      }
      throw new RedfishError(401, 'NoValidSession', 'The X-Auth-Token is not a valid session.');
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = decoded.slice(0, colon);
      const pass = decoded.slice(colon + 1);
      if (colon > 0 && safeEqual(user, options.username) && safeEqual(pass, options.password)) return user;
    }
    throw new RedfishError(401, 'InsufficientPrivilege', 'Authentication is required: use HTTP basic auth or an X-Auth-Token session.');
  };

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof RedfishError) {
      if (err.status === 401) reply.header('WWW-Authenticate', 'Basic realm="Bootstack lab BMC"');
      return reply.code(err.status).send(errorBody(err.status, err.messageId, err.message));
    }
    if (err instanceof BootstackError) {
      const id = err.status === 404 ? 'ResourceMissingAtURI' : err.status === 400 ? 'PropertyValueNotInList' : 'GeneralError';
      return reply.code(err.status >= 400 && err.status < 600 ? err.status : 500).send(errorBody(err.status, id, err.message));
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    const message = err instanceof Error ? err.message : String(err);
    return reply.code(status).send(errorBody(status, status === 400 ? 'MalformedJSON' : 'InternalError', message));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody(404, 'ResourceMissingAtURI', `The resource at ${req.url} does not exist.`)),
  );

  const serviceRoot = {
    '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
    '@odata.id': `${ROOT}/`,
    Id: 'RootService',
    Name: 'Bootstack lab Redfish service',
    RedfishVersion: '1.8.0',
    UUID: options.serviceUuid,
    Product: 'Bootstack lab BMC',
    Systems: { '@odata.id': `${ROOT}/Systems` },
    Managers: { '@odata.id': `${ROOT}/Managers` },
    SessionService: { '@odata.id': `${ROOT}/SessionService` },
    Links: { Sessions: { '@odata.id': `${ROOT}/SessionService/Sessions` } },
  };

  // Unauthenticated, as DSP0266 requires: clients discover the session service here.
  app.get('/redfish', (_req, reply) => send(reply, { v1: `${ROOT}/` }));
  app.get(ROOT, (_req, reply) => send(reply, serviceRoot));
  app.get(`${ROOT}/`, (_req, reply) => send(reply, serviceRoot));

  app.get(`${ROOT}/Systems`, (req, reply) => {
    authenticate(req);
    return send(reply, collection('ComputerSystem', 'Computer System Collection', `${ROOT}/Systems`, backend.machines().map((m) => m.systemId)));
  });

  app.get<{ Params: { id: string } }>(`${ROOT}/Systems/:id`, async (req, reply) => {
    authenticate(req);
    return send(reply, bodyOf(await backend.get(req.params.id)));
  });

  // Read-only, under the same auth as the rest; the file path comes from the lab, never the request.
  app.get<{ Params: { id: string }; Querystring: { tail?: string } }>(`${ROOT}/Systems/:id/Oem/Bootstack/SerialConsole`, async (req, reply) => {
    authenticate(req);
    const consoleLog = options.consoleLog;
    if (!consoleLog) throw new RedfishError(404, 'ResourceMissingAtURI', 'This service offers no serial console log.');
    const tail = parseTail(req.query.tail);
    const info = await backend.get(req.params.id);
    const { data, bytes } = await readTail(consoleLog(info.machine), tail);
    return send(reply, {
      '@odata.type': '#BootstackSerialConsole.v1_0_0.BootstackSerialConsole',
      '@odata.id': `${ROOT}/Systems/${info.machine.systemId}/Oem/Bootstack/SerialConsole`,
      Id: 'SerialConsole',
      Name: `Serial console log of ${info.machine.name}`,
      Bytes: bytes,
      Tail: tail,
      Data: data,
    });
  });

  app.get<{ Params: { id: string } }>(`${ROOT}/Systems/:id/EthernetInterfaces`, async (req, reply) => {
    authenticate(req);
    const info = await backend.get(req.params.id);
    return send(reply, collection('EthernetInterface', 'Ethernet Interfaces', `${ROOT}/Systems/${info.machine.systemId}/EthernetInterfaces`, ['nic0']));
  });

  app.get<{ Params: { id: string; nic: string } }>(`${ROOT}/Systems/:id/EthernetInterfaces/:nic`, async (req, reply) => {
    authenticate(req);
    const info = await backend.get(req.params.id);
    if (req.params.nic !== 'nic0') throw new RedfishError(404, 'ResourceMissingAtURI', `No interface ${req.params.nic}.`);
    return send(reply, {
      '@odata.type': '#EthernetInterface.v1_4_0.EthernetInterface',
      '@odata.id': `${ROOT}/Systems/${info.machine.systemId}/EthernetInterfaces/nic0`,
      Id: 'nic0',
      Name: 'Provisioning NIC',
      MACAddress: info.machine.mac,
      PermanentMACAddress: info.machine.mac,
      Status: { State: 'Enabled', Health: 'OK' },
    });
  });

  app.patch<{ Params: { id: string }; Body: unknown }>(`${ROOT}/Systems/:id`, async (req, reply) => {
    authenticate(req);
    const current = await backend.get(req.params.id);
    const ifMatch = req.headers['if-match'];
    if (typeof ifMatch === 'string' && !etagMatches(ifMatch, etagOf(bodyOf(current)))) {
      throw new RedfishError(412, 'PreconditionFailed', 'If-Match does not match the current ETag of this resource.');
    }
    await backend.setBoot(current.machine.systemId, parseBootPatch(req.body, backend.bootModes()));
    return send(reply, bodyOf(await backend.get(current.machine.systemId)));
  });

  app.post<{ Params: { id: string }; Body: unknown }>(`${ROOT}/Systems/:id/Actions/ComputerSystem.Reset`, async (req, reply) => {
    authenticate(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const type = body.ResetType;
    if (typeof type !== 'string' || !(RESET_TYPES as readonly string[]).includes(type)) {
      throw new RedfishError(400, 'ActionParameterNotSupported', `ResetType must be one of ${RESET_TYPES.join(', ')}; got ${JSON.stringify(type)}.`);
    }
    await backend.reset(req.params.id, type as ResetType);
    return reply.code(204).send();
  });

  app.get(`${ROOT}/Managers`, (req, reply) => {
    authenticate(req);
    return send(reply, collection('Manager', 'Manager Collection', `${ROOT}/Managers`, [MANAGER_ID]));
  });

  app.get<{ Params: { id: string } }>(`${ROOT}/Managers/:id`, (req, reply) => {
    authenticate(req);
    if (req.params.id !== MANAGER_ID) throw new RedfishError(404, 'ResourceMissingAtURI', `No manager ${req.params.id}.`);
    return send(reply, {
      '@odata.type': '#Manager.v1_10_0.Manager',
      '@odata.id': `${ROOT}/Managers/${MANAGER_ID}`,
      Id: MANAGER_ID,
      Name: 'Bootstack lab BMC',
      ManagerType: 'BMC',
      UUID: options.serviceUuid,
      Model: 'Bootstack lab Redfish emulator',
      PowerState: 'On',
      Status: { State: 'Enabled', Health: 'OK' },
      Links: { ManagerForServers: backend.machines().map((m) => ({ '@odata.id': `${ROOT}/Systems/${m.systemId}` })) },
    });
  });

  app.get(`${ROOT}/SessionService`, (req, reply) => {
    authenticate(req);
    return send(reply, {
      '@odata.type': '#SessionService.v1_1_8.SessionService',
      '@odata.id': `${ROOT}/SessionService`,
      Id: 'SessionService',
      Name: 'Session Service',
      ServiceEnabled: true,
      SessionTimeout: timeoutSec,
      Status: { State: 'Enabled', Health: 'OK' },
      Sessions: { '@odata.id': `${ROOT}/SessionService/Sessions` },
    });
  });

  const sessionBody = (s: Session) => ({
    '@odata.type': '#Session.v1_3_0.Session',
    '@odata.id': `${ROOT}/SessionService/Sessions/${s.id}`,
    Id: s.id,
    Name: `Session ${s.id}`,
    UserName: s.user,
  });

  app.get(`${ROOT}/SessionService/Sessions`, (req, reply) => {
    authenticate(req);
    return send(reply, collection('Session', 'Session Collection', `${ROOT}/SessionService/Sessions`, [...sessions.keys()]));
  });

  // Login: the one authenticated action that takes the credentials in the body.
  app.post<{ Body: unknown }>(`${ROOT}/SessionService/Sessions`, (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const user = body.UserName;
    const pass = body.Password;
    if (typeof user !== 'string' || typeof pass !== 'string') {
      throw new RedfishError(400, 'PropertyMissing', 'UserName and Password are required.');
    }
    if (!safeEqual(user, options.username) || !safeEqual(pass, options.password)) {
      throw new RedfishError(401, 'NoValidSession', 'Invalid UserName or Password.');
    }
    const s: Session = { id: randomUUID(), token: randomBytes(24).toString('hex'), user, lastUsed: Date.now() };
    sessions.set(s.id, s);
    reply.header('X-Auth-Token', s.token);
    reply.header('Location', `${ROOT}/SessionService/Sessions/${s.id}`);
    return send(reply, sessionBody(s), 201);
  });

  app.get<{ Params: { id: string } }>(`${ROOT}/SessionService/Sessions/:id`, (req, reply) => {
    authenticate(req);
    const s = sessions.get(req.params.id);
    if (!s) throw new RedfishError(404, 'ResourceMissingAtURI', `No session ${req.params.id}.`);
    return send(reply, sessionBody(s));
  });

  app.delete<{ Params: { id: string } }>(`${ROOT}/SessionService/Sessions/:id`, (req, reply) => {
    authenticate(req);
    if (!sessions.delete(req.params.id)) throw new RedfishError(404, 'ResourceMissingAtURI', `No session ${req.params.id}.`);
    return reply.code(204).send();
  });

  return app;
}

/** Validates a PATCH body for a ComputerSystem: only Boot override properties may change. */
export function parseBootPatch(body: unknown, modes: string[]): Partial<BootOverride> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new RedfishError(400, 'MalformedJSON', 'The request body must be a JSON object.');
  }
  const unknown = Object.keys(body).filter((k) => k !== 'Boot');
  if (unknown.length) throw new RedfishError(400, 'PropertyNotWritable', `Only Boot can be changed here; not ${unknown.join(', ')}.`);
  const boot = (body as { Boot?: unknown }).Boot;
  if (!boot || typeof boot !== 'object') throw new RedfishError(400, 'PropertyValueTypeError', 'Boot must be an object.');
  const b = boot as Record<string, unknown>;
  const out: Partial<BootOverride> = {};
  const check = (key: string, allowed: readonly string[]) => {
    const v = b[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !allowed.includes(v)) {
      throw new RedfishError(400, 'PropertyValueNotInList', `${key} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}.`);
    }
    return v;
  };
  const extra = Object.keys(b).filter((k) => !['BootSourceOverrideTarget', 'BootSourceOverrideEnabled', 'BootSourceOverrideMode'].includes(k));
  if (extra.length) throw new RedfishError(400, 'PropertyNotWritable', `Boot properties that cannot be changed: ${extra.join(', ')}.`);
  const t = check('BootSourceOverrideTarget', BOOT_TARGETS);
  if (t) out.target = t as BootOverride['target'];
  const e = check('BootSourceOverrideEnabled', BOOT_ENABLED);
  if (e) out.enabled = e as BootOverride['enabled'];
  const m = check('BootSourceOverrideMode', ['Legacy', 'UEFI']);
  if (m) {
    if (!modes.includes(m)) throw new RedfishError(400, 'PropertyValueNotInList', `BootSourceOverrideMode ${m} is not supported; this lab's machines boot ${modes.join(', ')}.`);
    out.mode = m as BootOverride['mode'];
  }
  return out;
}
