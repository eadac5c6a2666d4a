// The agent loop: look ourselves up by MAC with the one-time boot secret, then heartbeat and pull
// commands until told nothing more (no listening port on the machine: every exchange starts here).
import { http, type HttpResponse } from '../common/http.js';
import { COMMANDS, type AgentContext } from './commands.js';
import type { CommandReport } from '../../common/agent-protocol.js';
import {
  AGENT_ROUTES,
  AGENT_TOKEN_HEADER,
  agentPath,
  type AgentStatus,
  type LookupRequest,
  type LookupResponse,
  type NextCommandResponse,
  type WireCommand,
} from '../../common/agent-protocol-http.js';
import { readInterfaces } from './inspect.js';
import { sleep } from '../../common/sleep.js';
import { stamp, type BootStages } from './boot-stages.js';

export interface AgentOptions {
  /** Base URL of the seed's boot service, e.g. http://192.0.2.1:6385/boot. */
  apiUrl: string;
  bootSecret: string;
  root?: string;
  /** Defaults to every Ethernet MAC under <root>/sys/class/net. */
  macs?: string[];
  pollMs?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Stop after this many commands (tests); default: run until the signal aborts. */
  maxCommands?: number;
  /** The ramdisk's start on the guest clock (boot-stages.ts), sent with the lookup; lookup_s is added per attempt. */
  stages?: BootStages;
  /** The guest clock (seconds of /proc/uptime) for lookup_s; without it no lookup_s is sent. */
  uptime?: () => number | undefined;
}

export class AgentApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The seed revoked this agent's token: its deploy, clean or inspect is over. Not a failure. */
export class SessionEndedError extends AgentApiError {}

interface Session {
  nodeId: string;
  token: string;
  heartbeatMs: number;
}

export class AgentClient {
  constructor(readonly apiUrl: string) {}

  private async call(method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers[AGENT_TOKEN_HEADER] = token;
    const res: HttpResponse = await http(`${this.apiUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: 30_000,
    });
    if (res.status >= 400) throw new AgentApiError(`${method} ${path}: HTTP ${res.status}: ${res.body.slice(0, 500)}`, res.status);
    return res.body ? JSON.parse(res.body) : null;
  }

  async lookup(macs: string[], bootSecret: string, stages?: BootStages): Promise<Session> {
    const body: LookupRequest = { macs, boot_secret: bootSecret, ...(stages ? { ramdisk_stages: stages } : {}) };
    let r: LookupResponse;
    try {
      r = (await this.call('POST', AGENT_ROUTES.lookup, body)) as LookupResponse;
    } catch (err) {
      // A seed older than the stages refuses the unknown field (400): they are only figures for
      // the timeline, so ask again without them rather than fail the deploy. The secret is not
      // used up by a refused request.
      if (!stages || !(err instanceof AgentApiError) || err.status !== 400 || !/ramdisk_stages/.test(err.message)) throw err;
      r = (await this.call('POST', AGENT_ROUTES.lookup, { macs, boot_secret: bootSecret } satisfies LookupRequest)) as LookupResponse;
    }
    return { nodeId: r.node_id, token: r.agent_token, heartbeatMs: r.heartbeat_interval_s * 1000 };
  }

  heartbeat(s: Session, status: AgentStatus): Promise<unknown> {
    return this.call('POST', agentPath(AGENT_ROUTES.heartbeat, { nodeId: s.nodeId }), { status }, s.token);
  }

  async next(s: Session): Promise<WireCommand | null> {
    const r = (await this.call('GET', agentPath(AGENT_ROUTES.next, { nodeId: s.nodeId }), undefined, s.token)) as NextCommandResponse;
    return r.command;
  }

  report(s: Session, id: string, report: CommandReport): Promise<unknown> {
    return this.call('POST', agentPath(AGENT_ROUTES.result, { nodeId: s.nodeId, commandId: id }), report, s.token);
  }
}

/** Runs the agent; resolves with the number of commands executed. */
export async function runAgent(o: AgentOptions): Promise<number> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const root = o.root ?? '/';
  const client = new AgentClient(o.apiUrl.replace(/\/$/, ''));
  const macs = o.macs ?? (await readInterfaces(root)).map((i) => i.mac_address);
  // The network may still be coming up: retry the lookup, but not a refusal (401/404 are final).
  let session: Session | undefined;
  for (let attempt = 0; !session; attempt++) {
    try {
      const lookupS = o.stages && o.uptime ? stamp(o.uptime()) : undefined;
      session = await client.lookup(macs, o.bootSecret, o.stages && { ...o.stages, ...(lookupS === undefined ? {} : { lookup_s: lookupS }) });
    } catch (err) {
      if (err instanceof AgentApiError && err.status < 500) throw err;
      if (o.signal?.aborted) throw err;
      log(`lookup failed (${(err as Error).message}); retrying`);
      await sleep(Math.min(1000 * 2 ** attempt, 10_000), o.signal).catch(() => undefined); // an abort ends the next try
    }
  }
  const s = session;
  log(`looked up as node ${s.nodeId}`);
  const ctx: AgentContext = { root, signal: o.signal };
  let current: string | null = null;
  const beat = () => {
    client
      .heartbeat(s, { command: current, progress: ctx.progress ?? null })
      .catch((err: unknown) => log(`heartbeat failed: ${(err as Error).message}`));
  };
  beat();
  const timer = setInterval(beat, s.heartbeatMs);
  let done = 0;
  try {
    while (!o.signal?.aborted && (o.maxCommands === undefined || done < o.maxCommands)) {
      let cmd;
      try {
        cmd = await client.next(s);
      } catch (err) {
        if (err instanceof AgentApiError && err.status === 401) throw new SessionEndedError(err.message, 401); // the deploy is over
        log(`polling failed: ${(err as Error).message}`);
        await sleep(o.pollMs ?? 2000, o.signal).catch(() => undefined); // the loop checks the signal
        continue;
      }
      if (!cmd) {
        await sleep(o.pollMs ?? 2000, o.signal).catch(() => undefined); // the loop checks the signal
        continue;
      }
      current = cmd.name;
      ctx.progress = undefined;
      log(`running ${cmd.name} (${cmd.id})`);
      const handler = COMMANDS[cmd.name];
      let report: CommandReport;
      try {
        if (!handler) throw new Error(`unknown command ${cmd.name}`);
        report = { status: 'succeeded', result: await handler(cmd.params, ctx) };
      } catch (err) {
        report = { status: 'failed', error: (err as Error).message };
      }
      log(`${cmd.name} ${report.status}${report.error ? `: ${report.error}` : ''}`);
      await reportUntilHeard(client, s, cmd.id, report, log, o.signal);
      current = null;
      done++;
    }
  } finally {
    clearInterval(timer);
  }
  return done;
}

/**
 * A result must not be lost because the seed is restarting: retried (backoff up to 10 s) while
 * the seed is unreachable or answers 5xx. A 4xx is final: 401 ends the agent (the deploy is
 * over), 404/409 mean the seed no longer waits for this result, so the agent pulls the next.
 */
async function reportUntilHeard(
  client: AgentClient,
  s: Session,
  id: string,
  report: CommandReport,
  log: (l: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.report(s, id, report);
      return;
    } catch (err) {
      if (err instanceof AgentApiError && err.status === 401) throw new SessionEndedError(err.message, 401);
      if (err instanceof AgentApiError && err.status < 500) {
        log(`result of ${id} not accepted: ${err.message}`);
        return;
      }
      if (signal?.aborted) throw err;
      log(`reporting ${id} failed (${(err as Error).message}); retrying`);
      await sleep(Math.min(500 * 2 ** attempt, 10_000), signal).catch(() => undefined); // an abort ends the next try
    }
  }
}
