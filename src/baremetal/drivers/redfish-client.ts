// A small DMTF Redfish client: basic or session authentication, timeouts, retries with backoff
// on connection errors and 5xx answers, ETags for PATCH, and error messages an operator can act
// on ("authentication failed", "unreachable", "timed out", the BMC's own message).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type * as Undici from 'undici';
import type { Agent, Dispatcher } from 'undici';
import { BootstackError, ValidationError } from '../../common/errors.js';
import { sleep } from '../../common/sleep.js';
import { infoString, type DriverNode } from './interfaces.js';
import { maskSecretText } from '../secrets.js';

export interface RedfishSettings {
  /** Base URL of the BMC: https://10.0.0.5 or http://127.0.0.1:8000 */
  address: string;
  username?: string;
  password?: string;
  systemId?: string;
  /** basic, session, or auto (session when the service offers it, else basic). */
  authType: 'basic' | 'session' | 'auto';
  verifyTls: boolean;
  /** CA bundle to verify the BMC's certificate with (redfish_verify_ca given as a path). */
  caFile?: string;
}

export interface RedfishTuning {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
}

export const DEFAULT_TUNING: RedfishTuning = { timeoutMs: 10_000, retries: 3, backoffMs: 500 };

/** A Redfish problem with the BMC address in the message; 503 for the API, last_error for nodes. */
export class RedfishError extends BootstackError {
  /** Worth retrying: no answer, or a 5xx other than 501. */
  readonly transient: boolean;
  constructor(message: string, readonly httpStatus: number | null, options: { cause?: unknown; transient?: boolean } = {}) {
    super(503, 'redfish_error', message, { cause: options.cause, fields: { httpStatus } });
    this.transient = options.transient ?? (httpStatus === null || (httpStatus >= 500 && httpStatus !== 501));
  }
}

/** driver_info → settings, refusing missing or malformed fields by name. */
export function redfishSettings(node: DriverNode): RedfishSettings {
  let address = infoString(node, 'redfish_address');
  if (!address) throw new ValidationError('is required for the redfish interfaces', { path: 'driver_info.redfish_address' });
  if (!/^https?:\/\//.test(address)) address = `https://${address}`;
  try {
    new URL(address);
  } catch (err) {
    throw new ValidationError(`"${maskSecretText(address)}" is not a valid URL`, { path: 'driver_info.redfish_address' }, { cause: err });
  }
  const auth = infoString(node, 'redfish_auth_type') ?? 'auto';
  if (auth !== 'basic' && auth !== 'session' && auth !== 'auto') {
    throw new ValidationError('must be one of basic, session, auto', { path: 'driver_info.redfish_auth_type' });
  }
  const verify = node.driver_info.redfish_verify_ca;
  const verifyTls = !(verify === false || verify === 'false' || verify === 'False' || verify === '0');
  let caFile: string | undefined;
  if (typeof verify === 'string' && verifyTls && !['true', 'True', '1', ''].includes(verify)) {
    if (!existsSync(verify)) throw new ValidationError(`CA bundle "${verify}" does not exist`, { path: 'driver_info.redfish_verify_ca' });
    caFile = verify;
  }
  return {
    address: address.replace(/\/+$/, ''),
    username: infoString(node, 'redfish_username'),
    password: infoString(node, 'redfish_password'),
    systemId: infoString(node, 'redfish_system_id'),
    authType: auth,
    verifyTls,
    ...(caFile ? { caFile } : {}),
  };
}

export interface RedfishResponse {
  status: number;
  body: Record<string, unknown>;
  etag?: string;
  headers: Record<string, string | string[] | undefined>;
}

// undici (its own, not Node's: TLS options per BMC) is loaded on the first Redfish request: a
// server without Redfish nodes never evaluates it, which keeps it out of start-up time.
let undici: Promise<typeof Undici> | undefined;
const agents = new Map<string, Agent>();

async function agentFor(settings: RedfishSettings): Promise<{ dispatcher: Dispatcher; request: typeof Undici.request }> {
  const { Agent: AgentClass, request } = await (undici ??= import('undici'));
  const key = !settings.verifyTls ? 'insecure' : settings.caFile ? `ca:${settings.caFile}` : 'secure';
  let agent = agents.get(key);
  if (!agent) {
    if (!settings.verifyTls) agent = new AgentClass({ connect: { rejectUnauthorized: false } });
    else if (settings.caFile) agent = new AgentClass({ connect: { ca: readFileSync(settings.caFile) } });
    else agent = new AgentClass();
    agents.set(key, agent);
  }
  return { dispatcher: agent, request };
}

function retryable(status: number): boolean {
  return status >= 500 && status !== 501;
}

/** The BMC's own explanation from a Redfish error body, when it gave one. */
function bmcMessage(body: Record<string, unknown>): string | undefined {
  const err = body.error as { message?: string; '@Message.ExtendedInfo'?: Array<{ Message?: string }> } | undefined;
  const ext = err?.['@Message.ExtendedInfo']?.map((e) => e.Message).filter(Boolean);
  return ext?.length ? ext.join('; ') : err?.message;
}

export class RedfishClient {
  private sessionToken: string | undefined;
  private sessionUri: string | undefined;
  private systemPathCache: string | undefined;

  constructor(readonly settings: RedfishSettings, readonly tuning: RedfishTuning = DEFAULT_TUNING) {}

  /** The address for messages (last_error, history, logs): a password in the URL is masked. */
  private get shownAddress(): string {
    return maskSecretText(this.settings.address);
  }

  private basicHeader(): string | undefined {
    if (this.settings.username === undefined) return undefined;
    return 'Basic ' + Buffer.from(`${this.settings.username}:${this.settings.password ?? ''}`).toString('base64');
  }

  /** One HTTP exchange with timeout; connection problems become RedfishError with the reason. */
  private async once(method: string, path: string, body: unknown, headers: Record<string, string>, signal?: AbortSignal): Promise<RedfishResponse> {
    const url = this.settings.address + path;
    const timeout = AbortSignal.timeout(this.tuning.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const { dispatcher, request } = await agentFor(this.settings);
      const res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher,
        signal: combined,
      });
      const text = await res.body.text();
      let parsed: Record<string, unknown> = {};
      if (text) {
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { raw: text.slice(0, 200) };
        }
      }
      const etag = res.headers.etag;
      return { status: res.statusCode, body: parsed, etag: typeof etag === 'string' ? etag : (parsed['@odata.etag'] as string | undefined), headers: res.headers };
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timeout.aborted) {
        throw new RedfishError(`Redfish BMC at ${this.shownAddress} did not answer ${method} ${path} within ${this.tuning.timeoutMs} ms`, null, { cause: err });
      }
      const code = (err as { code?: string; cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
      if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
        throw new RedfishError(
          `Redfish BMC at ${this.shownAddress} presented a TLS certificate that was not accepted (${code}); set driver_info redfish_verify_ca to its CA bundle, or to false to skip verification`,
          null,
          { cause: err, transient: false },
        );
      }
      throw new RedfishError(
        `Redfish BMC at ${this.shownAddress} is unreachable (${code ?? maskSecretText((err as Error).message)})`,
        null,
        { cause: err },
      );
    }
  }

  private async authHeaders(signal?: AbortSignal): Promise<Record<string, string>> {
    const mode = this.settings.authType;
    if (mode === 'basic' || this.settings.username === undefined) {
      const b = this.basicHeader();
      return b ? { authorization: b } : {};
    }
    if (!this.sessionToken) await this.login(signal, mode === 'auto');
    if (this.sessionToken) return { 'x-auth-token': this.sessionToken };
    const b = this.basicHeader();
    return b ? { authorization: b } : {};
  }

  /** Opens a session; in auto mode a BMC without a session service falls back to basic auth. */
  private async login(signal: AbortSignal | undefined, fallback: boolean): Promise<void> {
    const root = await this.once('GET', '/redfish/v1/', undefined, {}, signal);
    const sessions = ((root.body.Links as Record<string, unknown> | undefined)?.Sessions as { '@odata.id'?: string } | undefined)?.['@odata.id']
      ?? '/redfish/v1/SessionService/Sessions';
    const res = await this.once('POST', sessions, { UserName: this.settings.username, Password: this.settings.password ?? '' }, {}, signal);
    if (res.status === 401 || res.status === 403) throw this.authFailed(res.status);
    if (res.status >= 400) {
      if (fallback && res.status !== 500) return;
      throw new RedfishError(`Redfish BMC at ${this.shownAddress} refused to open a session (HTTP ${res.status}${bmcMessage(res.body) ? `: ${bmcMessage(res.body)}` : ''})`, res.status);
    }
    const token = res.headers['x-auth-token'];
    this.sessionToken = typeof token === 'string' ? token : undefined;
    const loc = res.headers.location;
    this.sessionUri = typeof loc === 'string' ? loc.replace(/^https?:\/\/[^/]+/, '') : undefined;
    if (!this.sessionToken && !fallback) {
      throw new RedfishError(`Redfish BMC at ${this.shownAddress} opened a session without an X-Auth-Token`, res.status);
    }
  }

  private authFailed(status: number): RedfishError {
    return new RedfishError(
      `Redfish BMC at ${this.shownAddress} rejected the credentials (HTTP ${status}); check driver_info redfish_username and redfish_password`,
      status,
    );
  }

  /** A request with auth, one re-login on an expired session, and retries with backoff. */
  async call(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}, signal?: AbortSignal): Promise<RedfishResponse> {
    let attempt = 0;
    let relogged = false;
    for (;;) {
      let res: RedfishResponse;
      try {
        res = await this.once(method, path, body, { ...(await this.authHeaders(signal)), ...extraHeaders }, signal);
      } catch (err) {
        // Connection failures and 5xx while logging in are retried like any other request.
        const transient = err instanceof RedfishError && err.transient;
        if (signal?.aborted || !transient || attempt >= this.tuning.retries) {
          if (transient && attempt > 0) throw new RedfishError(`${(err as Error).message} after ${attempt + 1} attempts`, (err as RedfishError).httpStatus, { cause: err });
          throw err;
        }
        await sleep(this.tuning.backoffMs * 2 ** attempt++, signal);
        continue;
      }
      if (res.status === 401 && this.sessionToken && !relogged) {
        this.sessionToken = undefined;
        relogged = true;
        continue;
      }
      if (res.status === 401 || res.status === 403) throw this.authFailed(res.status);
      if (retryable(res.status) && attempt < this.tuning.retries) {
        await sleep(this.tuning.backoffMs * 2 ** attempt++, signal);
        continue;
      }
      if (res.status >= 400) {
        const msg = bmcMessage(res.body);
        throw new RedfishError(
          `Redfish BMC at ${this.shownAddress} answered ${method} ${path} with HTTP ${res.status}${msg ? `: ${msg}` : ''}${attempt ? ` (after ${attempt + 1} attempts)` : ''}`,
          res.status,
        );
      }
      return res;
    }
  }

  /** The ComputerSystem: by redfish_system_id, or the only one the BMC has. */
  async systemPath(signal?: AbortSignal): Promise<string> {
    if (this.systemPathCache) return this.systemPathCache;
    if (this.settings.systemId) {
      const id = this.settings.systemId;
      this.systemPathCache = id.startsWith('/') ? id : `/redfish/v1/Systems/${id}`;
      return this.systemPathCache;
    }
    const root = await this.call('GET', '/redfish/v1/', undefined, {}, signal);
    const systems = (root.body.Systems as { '@odata.id'?: string } | undefined)?.['@odata.id'] ?? '/redfish/v1/Systems';
    const coll = await this.call('GET', systems, undefined, {}, signal);
    const members = (coll.body.Members as Array<{ '@odata.id': string }> | undefined) ?? [];
    if (members.length !== 1) {
      throw new RedfishError(
        `Redfish BMC at ${this.shownAddress} has ${members.length} systems (${members.map((m) => m['@odata.id']).join(', ')}); set driver_info redfish_system_id`,
        null,
      );
    }
    this.systemPathCache = members[0]!['@odata.id'].replace(/\/$/, '');
    return this.systemPathCache;
  }

  async getSystem(signal?: AbortSignal): Promise<RedfishResponse> {
    return this.call('GET', await this.systemPath(signal), undefined, {}, signal);
  }

  /** Ends the session, if we opened one (best effort). */
  async logout(): Promise<void> {
    if (this.sessionToken && this.sessionUri) {
      await this.once('DELETE', this.sessionUri, undefined, { 'x-auth-token': this.sessionToken }).catch(() => undefined);
    }
    this.sessionToken = undefined;
  }
}

/**
 * One client per BMC and credentials, so sessions are reused between calls. Keyed without the
 * password in clear (a changed password gives a new key through its hash).
 */
export class RedfishClientPool {
  private readonly clients = new Map<string, RedfishClient>();
  constructor(readonly tuning: RedfishTuning = DEFAULT_TUNING) {}

  get(node: DriverNode): RedfishClient {
    const s = redfishSettings(node);
    const key = JSON.stringify([s.address, s.username, hash(s.password ?? ''), s.systemId, s.authType, s.verifyTls, s.caFile]);
    let c = this.clients.get(key);
    if (!c) {
      c = new RedfishClient(s, this.tuning);
      this.clients.set(key, c);
    }
    return c;
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
