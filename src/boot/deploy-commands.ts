// The seed's side of the deploy agent protocol: the bare-metal conductor queues commands for a
// node, the agent (which has no listening port) pulls them one at a time and reports results.
// This in-memory queue is what the conductor drives; see docs/boot-deploy.md for the protocol.
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, UnauthorizedError } from '../common/errors.js';
import { hashSecret, randomToken, sameDigest } from './boot-secrets.js';

export type AgentCommandName = 'inspect' | 'erase' | 'write_image' | 'write_config_drive' | 'sync';

export interface AgentCommand {
  id: string;
  name: AgentCommandName;
  params: Record<string, unknown>;
}

export type CommandStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface CommandRecord extends AgentCommand {
  nodeId: string;
  status: CommandStatus;
  queuedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  result?: unknown;
  error?: string;
}

export interface AgentReport {
  status: 'succeeded' | 'failed';
  result?: unknown;
  error?: string;
}

export interface AgentSession {
  nodeId: string;
  lastHeartbeat: Date;
  agentStatus?: Record<string, unknown>;
}

/** The interface the bare-metal conductor uses (conductor side) and the /boot/agent routes use (agent side). */
export interface DeployCommands {
  // conductor side
  enqueue(nodeId: string, name: AgentCommandName, params?: Record<string, unknown>): CommandRecord;
  get(commandId: string): CommandRecord | undefined;
  list(nodeId: string): CommandRecord[];
  /** Resolves when the command has succeeded or failed (or rejects after timeoutMs). */
  wait(commandId: string, timeoutMs: number): Promise<CommandRecord>;
  session(nodeId: string): AgentSession | undefined;
  /** Ends the deploy: the agent token stops working; unfinished commands fail (waiters resolve) and all the node's commands are dropped. */
  end(nodeId: string): void;
  // agent side
  openSession(nodeId: string): string;
  authenticate(nodeId: string, agentToken: string): void;
  heartbeat(nodeId: string, status?: Record<string, unknown>): void;
  next(nodeId: string): CommandRecord | null;
  report(nodeId: string, commandId: string, report: AgentReport): CommandRecord;
}

interface Session extends AgentSession {
  tokenHash: string;
}

export class MemoryDeployCommands implements DeployCommands {
  private readonly commands = new Map<string, CommandRecord>();
  private readonly sessions = new Map<string, Session>();
  private readonly waiters = new Map<string, Array<(c: CommandRecord) => void>>();

  constructor(
    private readonly hooks: {
      onStarted?: (c: CommandRecord) => void;
      onFinished?: (c: CommandRecord) => void;
    } = {},
  ) {}

  enqueue(nodeId: string, name: AgentCommandName, params: Record<string, unknown> = {}): CommandRecord {
    const record: CommandRecord = { id: randomUUID(), nodeId, name, params, status: 'queued', queuedAt: new Date() };
    this.commands.set(record.id, record);
    return record;
  }

  get(commandId: string): CommandRecord | undefined {
    return this.commands.get(commandId);
  }

  list(nodeId: string): CommandRecord[] {
    return [...this.commands.values()].filter((c) => c.nodeId === nodeId);
  }

  wait(commandId: string, timeoutMs: number): Promise<CommandRecord> {
    const c = this.commands.get(commandId);
    if (!c) return Promise.reject(new NotFoundError('Agent command', commandId));
    if (c.status === 'succeeded' || c.status === 'failed') return Promise.resolve(c);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(commandId) ?? [];
        this.waiters.set(commandId, list.filter((w) => w !== done));
        reject(new ConflictError(`Agent command ${c.name} (${commandId}) did not finish within ${timeoutMs} ms; it is ${c.status}.`));
      }, timeoutMs);
      const done = (r: CommandRecord) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiters.set(commandId, [...(this.waiters.get(commandId) ?? []), done]);
    });
  }

  session(nodeId: string): AgentSession | undefined {
    const s = this.sessions.get(nodeId);
    return s && { nodeId: s.nodeId, lastHeartbeat: s.lastHeartbeat, agentStatus: s.agentStatus };
  }

  end(nodeId: string): void {
    this.sessions.delete(nodeId);
    for (const [id, c] of this.commands) {
      if (c.nodeId !== nodeId) continue;
      // Nothing of this deploy may reach the node's next one: a command still queued or running
      // fails (whoever waits on it learns so now) and every command of the node is dropped.
      if (c.status === 'queued' || c.status === 'running') {
        c.status = 'failed';
        c.finishedAt = new Date();
        c.error = 'the deploy ended before the agent finished this command';
        for (const w of this.waiters.get(id) ?? []) w(c);
      }
      this.waiters.delete(id);
      this.commands.delete(id);
    }
  }

  openSession(nodeId: string): string {
    const token = randomToken();
    this.sessions.set(nodeId, { nodeId, tokenHash: hashSecret(token), lastHeartbeat: new Date() });
    return token;
  }

  authenticate(nodeId: string, agentToken: string): void {
    const s = this.sessions.get(nodeId);
    if (!s || !sameDigest(s.tokenHash, hashSecret(agentToken))) throw new UnauthorizedError('Invalid agent token for this node.');
  }

  heartbeat(nodeId: string, status?: Record<string, unknown>): void {
    const s = this.sessions.get(nodeId);
    if (!s) throw new UnauthorizedError('No agent session for this node.');
    s.lastHeartbeat = new Date();
    if (status) s.agentStatus = status;
  }

  next(nodeId: string): CommandRecord | null {
    // One command at a time: a running one is handed out again (the agent restarted mid-command).
    const mine = [...this.commands.values()].filter((c) => c.nodeId === nodeId);
    const running = mine.find((c) => c.status === 'running');
    if (running) return running;
    const queued = mine.find((c) => c.status === 'queued');
    if (!queued) return null;
    queued.status = 'running';
    queued.startedAt = new Date();
    this.hooks.onStarted?.(queued);
    return queued;
  }

  report(nodeId: string, commandId: string, report: AgentReport): CommandRecord {
    const c = this.commands.get(commandId);
    if (!c || c.nodeId !== nodeId) throw new NotFoundError('Agent command', commandId);
    if (c.status !== 'running') throw new ConflictError(`Agent command ${commandId} is ${c.status}, not running.`);
    c.status = report.status;
    c.finishedAt = new Date();
    if (report.result !== undefined) c.result = report.result;
    if (report.error !== undefined) c.error = report.error;
    this.hooks.onFinished?.(c);
    for (const w of this.waiters.get(commandId) ?? []) w(c);
    this.waiters.delete(commandId);
    return c;
  }
}
