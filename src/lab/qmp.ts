// A minimal QMP (QEMU Machine Protocol) client over a unix socket: one connection per command.
// The BMC asks rarely (a power read, a reset), so a short-lived connection is simpler than
// keeping one open and reconnecting when QEMU restarts under it.
import { createConnection } from 'node:net';
import { BootstackError } from '../common/errors.js';

export class QmpError extends BootstackError {
  constructor(message: string, options: { cause?: unknown; fields?: Record<string, unknown> } = {}) {
    super(502, 'qmp_failed', message, options);
  }
}

/** Runs one QMP command (after the capabilities handshake) and resolves with its `return` value. */
export function qmpCommand(
  socketPath: string,
  execute: string,
  args?: Record<string, unknown>,
  timeoutMs = 3000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buffer = '';
    let stage: 'greeting' | 'caps' | 'command' = 'greeting';
    let settled = false;
    const finish = (err: Error | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () => finish(new QmpError(`QMP ${execute} on ${socketPath} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('error', (err) => finish(new QmpError(`QMP socket ${socketPath}: ${err.message}`, { cause: err })));
    sock.on('close', () => finish(new QmpError(`QMP socket ${socketPath} closed before "${execute}" answered`)));
    sock.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch (err) {
          finish(new QmpError(`QMP sent a line that is not JSON: ${line.slice(0, 200)}`, { cause: err }));
          return;
        }
        if ('event' in msg) continue; // asynchronous events (RESET, POWERDOWN...) are not answers
        if (stage === 'greeting' && 'QMP' in msg) {
          stage = 'caps';
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if ('error' in msg) {
          const e = msg.error as { class?: string; desc?: string };
          finish(new QmpError(`QMP ${stage === 'caps' ? 'qmp_capabilities' : execute}: ${e.desc ?? e.class ?? 'error'}`));
        } else if (stage === 'caps' && 'return' in msg) {
          stage = 'command';
          sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
        } else if (stage === 'command' && 'return' in msg) {
          finish(null, msg.return);
        }
      }
    });
  });
}

export interface QmpStatus {
  running: boolean;
  /** QEMU's run state: running, paused, shutdown, internal-error, guest-panicked... */
  status: string;
}

export async function queryStatus(socketPath: string, timeoutMs?: number): Promise<QmpStatus> {
  const r = (await qmpCommand(socketPath, 'query-status', undefined, timeoutMs)) as QmpStatus;
  return { running: Boolean(r.running), status: String(r.status) };
}
