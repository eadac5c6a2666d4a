// The seed's side of the deploy agent protocol: the bare-metal conductor queues commands for a
// node, the agent (which has no listening port) pulls them one at a time and reports results.
// The queue lives in memory (the conductor waits on it) and, given a DeployStateStore, is written
// through to the database so that a restarted seed knows the agent's session (its token's
// digest) and which commands had finished: see docs/boot-deploy.md, "Seed restarts".
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, UnauthorizedError } from '../common/errors.js';
import { hashSecret, randomToken, sameDigest } from './boot-secrets.js';
import type { AgentCommandName, CommandReport } from '../common/agent-protocol.js';

// The command names and the agent's report are the protocol's (src/common/agent-protocol.ts).
export type { AgentCommandName };

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
  /** The seed restarted while this command was queued or running. */
  interrupted?: boolean;
}

export type AgentReport = CommandReport;

export interface AgentSession {
  nodeId: string;
  /** Last heartbeat, command pull or result. */
  lastHeartbeat: Date;
  /** Last sign of the agent working: lookup, a command started or finished, a heartbeat naming a running command. */
  lastActivity: Date;
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
  /**
   * After a seed restart: the node's command `name` from before the restart (once; undefined
   * when there is none), so the conductor can skip what had finished instead of repeating it.
   */
  claimRestored(nodeId: string, name: AgentCommandName): CommandRecord | undefined;
  // agent side
  openSession(nodeId: string): string;
  authenticate(nodeId: string, agentToken: string): void;
  heartbeat(nodeId: string, status?: Record<string, unknown>): void;
  next(nodeId: string): CommandRecord | null;
  report(nodeId: string, commandId: string, report: AgentReport): CommandRecord;
  /** Resolves when every change so far is in the store (the routes answer the agent after it). */
  flush(): Promise<void>;
  /** Loads the previous process's sessions and commands (implementations with a store). */
  restore?(): Promise<{ sessions: number; commands: number }>;
}

interface Session extends AgentSession {
  tokenHash: string;
  openedAt: Date;
}

/** The durable copy (src/boot/deploy-store.ts over the boot tables). */
export interface DeployStateStore {
  loadSessions(): Promise<Array<{ nodeId: string; tokenHash: string; openedAt: Date; lastSeen: Date; lastActivity: Date }>>;
  loadCommands(): Promise<Array<CommandRecord & { seq: number }>>;
  putSession(s: { nodeId: string; tokenHash: string; openedAt: Date; lastSeen: Date; lastActivity: Date }): Promise<void>;
  putCommand(c: CommandRecord, seq: number): Promise<void>;
  deleteNode(nodeId: string): Promise<void>;
}

export class MemoryDeployCommands implements DeployCommands {
  private readonly commands = new Map<string, CommandRecord>();
  private readonly seqs = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();
  private readonly waiters = new Map<string, Array<(c: CommandRecord) => void>>();
  /** Ids of commands loaded from the store at start, not yet claimed by the conductor. */
  private readonly restored = new Set<string>();
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly hooks: {
      onStarted?: (c: CommandRecord) => void;
      onFinished?: (c: CommandRecord) => void;
      /** A write to the store failed (the in-memory state goes on). */
      onStoreError?: (err: unknown) => void;
    } = {},
    private readonly store?: DeployStateStore,
  ) {}

  /** Store writes happen in call order, one after the other. */
  private persist(write: (s: DeployStateStore) => Promise<void>): void {
    const store = this.store;
    if (!store) return;
    this.chain = this.chain.then(() => write(store)).catch((err: unknown) => this.hooks.onStoreError?.(err));
  }

  flush(): Promise<void> {
    return this.chain;
  }

  private saveSession(s: Session): void {
    const copy = { nodeId: s.nodeId, tokenHash: s.tokenHash, openedAt: s.openedAt, lastSeen: s.lastHeartbeat, lastActivity: s.lastActivity };
    this.persist((st) => st.putSession(copy));
  }

  private saveCommand(c: CommandRecord): void {
    const copy = { ...c };
    const seq = this.seqs.get(c.id) ?? 0;
    this.persist((st) => st.putCommand(copy, seq));
  }

  /**
   * Loads what the previous process left (call once at start, before the routes answer). A
   * command that was queued can no longer be handed out as it was (its image URL's token was
   * not stored), so it fails as interrupted; one that was running stays running: the agent may
   * still report it, and a failure then names the restart.
   */
  async restore(): Promise<{ sessions: number; commands: number }> {
    if (!this.store) return { sessions: 0, commands: 0 };
    for (const s of await this.store.loadSessions()) {
      this.sessions.set(s.nodeId, { nodeId: s.nodeId, tokenHash: s.tokenHash, openedAt: s.openedAt, lastHeartbeat: s.lastSeen, lastActivity: s.lastActivity });
    }
    const loaded = await this.store.loadCommands();
    for (const c of loaded.sort((a, b) => a.seq - b.seq)) {
      const { seq, ...record } = c;
      this.seq = Math.max(this.seq, seq);
      this.seqs.set(record.id, seq);
      this.commands.set(record.id, record);
      this.restored.add(record.id);
      if (record.status === 'queued') {
        record.status = 'failed';
        record.finishedAt = new Date();
        record.error = `the seed restarted before the agent took ${record.name}`;
        record.interrupted = true;
        this.saveCommand(record);
      } else if (record.status === 'running' && !record.interrupted) {
        record.interrupted = true;
        this.saveCommand(record);
      }
    }
    await this.flush();
    return { sessions: this.sessions.size, commands: loaded.length };
  }

  claimRestored(nodeId: string, name: AgentCommandName): CommandRecord | undefined {
    const found = this.list(nodeId).filter((c) => c.name === name && this.restored.has(c.id)).at(-1);
    if (found) this.restored.delete(found.id);
    return found;
  }

  enqueue(nodeId: string, name: AgentCommandName, params: Record<string, unknown> = {}): CommandRecord {
    const record: CommandRecord = { id: randomUUID(), nodeId, name, params, status: 'queued', queuedAt: new Date() };
    this.commands.set(record.id, record);
    this.seqs.set(record.id, ++this.seq);
    this.saveCommand(record);
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
    return s && { nodeId: s.nodeId, lastHeartbeat: s.lastHeartbeat, lastActivity: s.lastActivity, agentStatus: s.agentStatus };
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
      this.seqs.delete(id);
      this.restored.delete(id);
    }
    this.persist((st) => st.deleteNode(nodeId));
  }

  openSession(nodeId: string): string {
    const token = randomToken();
    const at = new Date();
    const s: Session = { nodeId, tokenHash: hashSecret(token), openedAt: at, lastHeartbeat: at, lastActivity: at };
    this.sessions.set(nodeId, s);
    this.saveSession(s);
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
    // A heartbeat while a command runs (a long write_image) is progress; an idle one is not.
    if (status?.command || this.list(nodeId).some((c) => c.status === 'running')) s.lastActivity = s.lastHeartbeat;
    this.saveSession(s);
  }

  private touch(nodeId: string): void {
    const s = this.sessions.get(nodeId);
    if (!s) return;
    s.lastHeartbeat = s.lastActivity = new Date();
    this.saveSession(s);
  }

  next(nodeId: string): CommandRecord | null {
    // One command at a time: a running one is handed out again (the agent restarted mid-command).
    const mine = this.list(nodeId);
    const running = mine.find((c) => c.status === 'running');
    if (running) return running;
    const queued = mine.find((c) => c.status === 'queued');
    if (!queued) return null;
    queued.status = 'running';
    queued.startedAt = new Date();
    this.saveCommand(queued);
    this.touch(nodeId);
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
    if (report.error !== undefined) c.error = maskImageTokens(report.error);
    if (c.status === 'failed' && c.interrupted) c.error = `the seed restarted during ${c.name}: ${c.error ?? 'no reason given'}`;
    this.saveCommand(c);
    this.touch(nodeId);
    this.hooks.onFinished?.(c);
    for (const w of this.waiters.get(commandId) ?? []) w(c);
    this.waiters.delete(commandId);
    return c;
  }
}

/**
 * The agent's errors may quote the image URL it was given (`writing http://…/images/<token> to
 * /dev/vda`): the token is a download credential, so it is masked before the error is kept,
 * stored, recorded on the node's timeline or shown in last_error.
 */
export function maskImageTokens(text: string): string {
  return text.replace(/\/images\/[A-Za-z0-9_-]{16,}/g, '/images/***');
}
