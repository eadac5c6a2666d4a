// Structured logs (pino). Secrets never reach a log line: every key that names a secret is
// redacted wherever it appears, at any depth we expect requests and records to have.
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Field names whose values are always secret. Kept in one place so every service agrees. */
export const SECRET_KEYS = [
  'password',
  'pm_password',
  'redfish_password',
  'ipmi_password',
  'token',
  'auth_token',
  'x-auth-token',
  'x-subject-token',
  'authorization',
  'secret',
  'agent_token',
  'temp_url_key',
  'private_key',
  // Keystone credential blobs (EC2 secrets, TOTP seeds).
  'blob',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of SECRET_KEYS) {
    const k = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : `["${key}"]`;
    const sep = k.startsWith('[') ? '' : '.';
    paths.push(k.startsWith('[') ? k : key, `*${sep}${k}`, `*.*${sep}${k}`, `*.*.*${sep}${k}`);
  }
  return paths;
}

export interface LogOptions {
  level?: string;
  /** Where lines go; default stderr so that stdout stays machine-readable for CLI output. */
  destination?: pino.DestinationStream;
  name?: string;
}

export function createLogger(options: LogOptions = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.BOOTSTACK_LOG_LEVEL ?? 'info',
    name: options.name,
    redact: { paths: redactPaths(), censor: '***' },
  };
  return pino(config, options.destination ?? pino.destination(2));
}

/** Replaces secret values in a plain object tree (for API output and error fields). */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEYS.includes(k.toLowerCase()) && v !== null && v !== undefined ? '******' : redactSecrets(v);
    }
    return out as T;
  }
  return value;
}
