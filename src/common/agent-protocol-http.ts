// The agent protocol's HTTP exchanges under the boot service's /boot (the commands themselves are
// in agent-protocol.ts). The agent has no listening port, so every exchange starts on the
// machine: lookup (boot secret → agent token), then heartbeat, pull the next command, report its
// result, each with the token in X-Agent-Token. The boot routes use the body schemas below; the
// agent builds the same bodies from the types. Field names are the wire format (see
// agent-protocol.ts on compatibility).
import type { CommandReport, WriteProgress } from './agent-protocol.js';
import type { RamdiskStage } from './ramdisk-stages.js';

/** Header carrying the per-deploy agent token (Node's HTTP lower-cases header names). */
export const AGENT_TOKEN_HEADER = 'x-agent-token';

/** The routes relative to the boot service's base URL (…/boot), in Fastify's `:param` form. */
export const AGENT_ROUTES = {
  lookup: '/agent/lookup',
  heartbeat: '/agent/nodes/:nodeId/heartbeat',
  next: '/agent/nodes/:nodeId/commands/next',
  result: '/agent/nodes/:nodeId/commands/:commandId/result',
} as const;

/** A route with its `:params` filled in (URI-encoded), as the agent calls it. */
export function agentPath(route: string, params: Record<string, string> = {}): string {
  return route.replace(/:([A-Za-z]+)/g, (_, key: string) => {
    const v = params[key];
    if (v === undefined) throw new Error(`agentPath: ${key} is required for ${route}`);
    return encodeURIComponent(v);
  });
}

export interface LookupRequest {
  macs: string[];
  boot_secret: string;
  /** Guest uptimes for the timeline; the seed checks each (checkRamdiskStages), so none refuses a lookup. A seed older than them refuses the field. */
  ramdisk_stages?: Partial<Record<RamdiskStage, number>>;
}

export interface LookupResponse {
  node_id: string;
  agent_token: string;
  heartbeat_interval_s: number;
}

/** What the agent says in a heartbeat: the command it runs (null when idle) and a write's progress. */
export interface AgentStatus {
  command: string | null;
  progress: WriteProgress | null;
}

export interface HeartbeatRequest {
  /** Any object is accepted and kept (an older or newer agent may say more). */
  status?: Record<string, unknown>;
}

export interface HeartbeatResponse {
  heartbeat_interval_s: number;
}

/**
 * A queued command as the agent pulls it. The name is read as a plain string: a newer seed may
 * send a command this agent does not know, which it reports failed (`unknown command x`).
 */
export interface WireCommand {
  id: string;
  name: string;
  params: Record<string, unknown>;
}

export interface NextCommandResponse {
  command: WireCommand | null;
}

export type ResultRequest = CommandReport;

export interface ResultResponse {
  id: string;
  status: string;
}

// JSON schemas of the request bodies, as the boot routes validate them (Fastify's ajv).
export const LOOKUP_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['macs', 'boot_secret'],
  properties: {
    macs: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', maxLength: 32 } },
    boot_secret: { type: 'string', minLength: 1, maxLength: 256 },
    // Guest uptimes for the timeline; each value is checked (and dropped with a reason)
    // by checkRamdiskStages, so a bad figure never refuses the lookup.
    ramdisk_stages: { type: 'object', maxProperties: 16 },
  },
} as const;

export const HEARTBEAT_BODY_SCHEMA = { type: 'object', additionalProperties: false, properties: { status: { type: 'object' } } } as const;

export const RESULT_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['succeeded', 'failed'] },
    result: {},
    error: { type: 'string', maxLength: 65536 },
  },
} as const;
