// A Redfish BMC made from a vendor fixture (fixtures/redfish-*.json), for tests: serves the
// resources, keeps PowerState and Boot up to date, applies the vendor's quirks (If-Match
// required, redundant resets refused, no session service), and can be told to misbehave
// (answer 500, hang, fail the first N requests) so failure handling can be tested. With
// `serialConsole` set it also offers the lab BMC's OEM serial console log (docs/lab.md).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface RedfishFixture {
  vendor: string;
  systemPath: string;
  quirks: { sessions: boolean; requireIfMatch: boolean; rejectRedundantReset: boolean; etagHeader: boolean };
  resources: Record<string, Record<string, unknown>>;
}

export type FixtureName = 'dell-idrac' | 'hpe-ilo' | 'supermicro';
export const FIXTURES: readonly FixtureName[] = ['dell-idrac', 'hpe-ilo', 'supermicro'];

export function loadFixture(name: FixtureName): RedfishFixture {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
  return JSON.parse(readFileSync(join(dir, `redfish-${name}.json`), 'utf8')) as RedfishFixture;
}

/** "none": behave; "error500": every request fails; "hang": never answer; "flaky": the next `flakyCount` requests fail with 503. */
export type FaultMode = 'none' | 'error500' | 'hang' | 'flaky';

const norm = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);

function errorBody(messageId: string, message: string) {
  return { error: { code: `Base.1.8.${messageId}`, message, '@Message.ExtendedInfo': [{ MessageId: `Base.1.8.${messageId}`, Message: message }] } };
}

export class FixtureBmc {
  readonly resources = new Map<string, Record<string, unknown>>();
  readonly resets: string[] = [];
  readonly patches: Array<{ body: unknown; ifMatch: string | undefined }> = [];
  fault: FaultMode = 'none';
  flakyCount = 0;
  requests = 0;
  private server: Server | undefined;
  private readonly sessions = new Map<string, string>();
  private readonly hanging = new Set<ServerResponse>();
  private consoleText: string | undefined;
  url = '';

  constructor(
    readonly fixture: RedfishFixture,
    readonly username = 'root',
    readonly password = 'calvin',
  ) {
    for (const [path, body] of Object.entries(structuredClone(fixture.resources))) this.resources.set(norm(path), body);
  }

  get system(): Record<string, unknown> {
    return this.resources.get(norm(this.fixture.systemPath))!;
  }

  get powerState(): string {
    return String(this.system.PowerState);
  }

  set powerState(v: string) {
    this.system.PowerState = v;
  }

  /** The serial console text; setting it advertises Oem.Bootstack.SerialConsole on the system. */
  get serialConsole(): string | undefined {
    return this.consoleText;
  }

  set serialConsole(text: string | undefined) {
    this.consoleText = text;
    const oem = { ...((this.system.Oem ?? {}) as Record<string, unknown>) };
    if (text === undefined) delete oem.Bootstack;
    else oem.Bootstack = { SerialConsole: { '@odata.id': this.serialConsolePath } };
    if (Object.keys(oem).length) this.system.Oem = oem;
    else delete this.system.Oem;
  }

  private get serialConsolePath(): string {
    return `${norm(this.fixture.systemPath)}/Oem/Bootstack/SerialConsole`;
  }

  get boot(): Record<string, unknown> {
    return this.system.Boot as Record<string, unknown>;
  }

  /** Listens on 127.0.0.1 (HTTPS when given a key and certificate). */
  async start(tls?: { key: Buffer; cert: Buffer }): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = tls ? createTlsServer(tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private etag(body: unknown): string {
    return `W/"${createHash('sha1').update(JSON.stringify(body)).digest('hex').slice(0, 12)}"`;
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(text);
  }

  private authorized(req: IncomingMessage): boolean {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && this.sessions.has(token)) return true;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      return u === this.username && p.join(':') === this.password;
    }
    return false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.fault === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (this.fault === 'error500') return this.send(res, 500, errorBody('InternalError', 'The request failed due to an internal service error.'));
    if (this.fault === 'flaky' && this.flakyCount > 0) {
      this.flakyCount--;
      return this.send(res, 503, errorBody('ServiceTemporarilyUnavailable', 'The service is temporarily unavailable.'));
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const path = norm(url.pathname);
    const method = req.method ?? 'GET';
    let body: Record<string, unknown> = {};
    try {
      body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
    } catch {
      return this.send(res, 400, errorBody('MalformedJSON', 'The request body submitted was malformed JSON.'));
    }
    const root = this.resources.get('/redfish/v1')!;
    const sessionsPath = norm(String(((root.Links as Record<string, { '@odata.id': string }> | undefined)?.Sessions ?? { '@odata.id': '/redfish/v1/SessionService/Sessions' })['@odata.id']));

    if (method === 'POST' && path === sessionsPath) {
      if (!this.fixture.quirks.sessions) return this.send(res, 405, errorBody('OperationNotAllowed', 'Sessions are not supported.'));
      if (body.UserName !== this.username || body.Password !== this.password) {
        return this.send(res, 401, errorBody('NoValidSession', 'Invalid user name or password.'));
      }
      const token = randomBytes(16).toString('hex');
      const id = randomBytes(4).toString('hex');
      this.sessions.set(token, id);
      return this.send(res, 201, { Id: id, UserName: this.username }, { 'x-auth-token': token, location: `${sessionsPath}/${id}` });
    }
    if (path !== '/redfish/v1' && !this.authorized(req)) {
      return this.send(res, 401, errorBody('NoValidSession', 'There is no valid session established with the implementation.'));
    }
    if (method === 'DELETE' && path.startsWith(`${sessionsPath}/`)) {
      for (const [t, id] of this.sessions) if (path.endsWith(`/${id}`)) this.sessions.delete(t);
      return this.send(res, 204);
    }
    const system = this.system;
    const actions = system.Actions as Record<string, { target: string }>;
    const resetTarget = norm(actions['#ComputerSystem.Reset']!.target);
    if (method === 'POST' && path === resetTarget) return this.reset(res, body);
    if (method === 'PATCH' && path === norm(this.fixture.systemPath)) return this.patch(req, res, body);
    if (method === 'GET' && this.consoleText !== undefined && path === this.serialConsolePath) {
      const all = Buffer.from(this.consoleText, 'utf8');
      const tail = Number(url.searchParams.get('tail') ?? 65536);
      if (!Number.isInteger(tail) || tail < 1 || tail > 1048576) return this.send(res, 400, errorBody('QueryParameterOutOfRange', 'tail must be 1..1048576.'));
      return this.send(res, 200, { '@odata.id': this.serialConsolePath, Id: 'SerialConsole', Bytes: all.length, Data: all.subarray(Math.max(0, all.length - tail)).toString('utf8') });
    }
    const resource = this.resources.get(path);
    if (method !== 'GET' || !resource) return this.send(res, 404, errorBody('ResourceMissingAtURI', `The resource at the URI ${url.pathname} was not found.`));
    const etag = this.etag(resource);
    const out = this.fixture.quirks.etagHeader ? resource : { ...resource, '@odata.etag': etag };
    return this.send(res, 200, out, this.fixture.quirks.etagHeader ? { etag } : {});
  }

  private allowedResets(): string[] {
    const reset = (this.system.Actions as Record<string, Record<string, unknown>>)['#ComputerSystem.Reset']!;
    const inline = reset['ResetType@Redfish.AllowableValues'];
    if (Array.isArray(inline)) return inline as string[];
    const info = this.resources.get(norm(String(reset['@Redfish.ActionInfo'])));
    return ((info?.Parameters as Array<{ Name: string; AllowableValues: string[] }>) ?? []).find((p) => p.Name === 'ResetType')?.AllowableValues ?? [];
  }

  private reset(res: ServerResponse, body: Record<string, unknown>): void {
    const type = String(body.ResetType);
    if (!this.allowedResets().includes(type)) {
      return this.send(res, 400, errorBody('ActionParameterValueNotInList', `The value ${type} for the parameter ResetType is not in the list of acceptable values.`));
    }
    const on = this.powerState === 'On';
    if (this.fixture.quirks.rejectRedundantReset && ((type === 'On' && on) || (type === 'ForceOff' && !on))) {
      return this.send(res, 400, errorBody('InvalidOperationForSystemState', `The operation ${type} is not allowed in the current power state.`));
    }
    this.resets.push(type);
    if (['ForceOff', 'GracefulShutdown'].includes(type)) this.powerState = 'Off';
    else if (type !== 'Nmi') this.powerState = 'On';
    this.send(res, 204);
  }

  private patch(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    const ifMatch = req.headers['if-match'];
    const current = this.etag(this.system);
    this.patches.push({ body, ifMatch: typeof ifMatch === 'string' ? ifMatch : undefined });
    if (this.fixture.quirks.requireIfMatch && !ifMatch) return this.send(res, 428, errorBody('PreconditionRequired', 'An If-Match header is required.'));
    if (ifMatch && ifMatch !== current && ifMatch !== '*') {
      return this.send(res, 412, errorBody('PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'));
    }
    const boot = (body.Boot ?? {}) as Record<string, unknown>;
    const allowed = this.boot['BootSourceOverrideTarget@Redfish.AllowableValues'] as string[];
    if (boot.BootSourceOverrideTarget !== undefined && !allowed.includes(String(boot.BootSourceOverrideTarget))) {
      return this.send(res, 400, errorBody('PropertyValueNotInList', `The value ${String(boot.BootSourceOverrideTarget)} for BootSourceOverrideTarget is not in the list of acceptable values.`));
    }
    if (boot.BootSourceOverrideEnabled !== undefined && !['Once', 'Continuous', 'Disabled'].includes(String(boot.BootSourceOverrideEnabled))) {
      return this.send(res, 400, errorBody('PropertyValueNotInList', 'Bad BootSourceOverrideEnabled.'));
    }
    if (boot.BootSourceOverrideMode !== undefined && !['UEFI', 'Legacy'].includes(String(boot.BootSourceOverrideMode))) {
      return this.send(res, 400, errorBody('PropertyValueNotInList', 'Bad BootSourceOverrideMode.'));
    }
    Object.assign(this.boot, boot);
    this.send(res, 204);
  }
}
