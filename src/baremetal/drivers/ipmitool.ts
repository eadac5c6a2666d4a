// Runs ipmitool over IPMI 2.0 (lanplus) for one node. The password goes through the
// environment (-E reads IPMI_PASSWORD), never the command line, where `ps` would show it.
import { run } from '../../common/child-process.js';
import { BootstackError, CommandError, ValidationError } from '../../common/errors.js';
import { infoString, type DriverContext, type DriverNode } from './interfaces.js';

export interface IpmitoolOptions {
  /** ipmitool's own retransmissions (-R) and per-try timeout in seconds (-N). */
  retries: number;
  timeoutSeconds: number;
  /** The binary, for tests. */
  command: string;
}

export const DEFAULT_IPMITOOL: IpmitoolOptions = { retries: 3, timeoutSeconds: 2, command: 'ipmitool' };

export class IpmiError extends BootstackError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(503, 'ipmi_error', message, options);
  }
}

export interface IpmiTarget {
  address: string;
  port: number;
  username?: string;
  password?: string;
  cipherSuite?: string;
}

export function ipmiTarget(node: DriverNode): IpmiTarget {
  const address = infoString(node, 'ipmi_address');
  if (!address) throw new ValidationError('is required for the ipmitool interfaces', { path: 'driver_info.ipmi_address' });
  const portText = infoString(node, 'ipmi_port') ?? '623';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`"${portText}" is not a port number`, { path: 'driver_info.ipmi_port' });
  }
  return {
    address,
    port,
    username: infoString(node, 'ipmi_username'),
    password: infoString(node, 'ipmi_password'),
    cipherSuite: infoString(node, 'ipmi_cipher_suite'),
  };
}

export async function ipmitool(node: DriverNode, args: string[], options: IpmitoolOptions, ctx: DriverContext): Promise<string> {
  const t = ipmiTarget(node);
  const argv = ['-I', 'lanplus', '-H', t.address, '-p', String(t.port), '-R', String(options.retries), '-N', String(options.timeoutSeconds)];
  if (t.username !== undefined) argv.push('-U', t.username);
  if (t.cipherSuite !== undefined) argv.push('-C', t.cipherSuite);
  argv.push('-E', ...args);
  // Total time: ipmitool retries itself; allow for all of them plus process start-up.
  const timeoutMs = (options.retries + 1) * options.timeoutSeconds * 1000 * 2 + 5000;
  try {
    const res = await run(options.command, argv, {
      env: { ...process.env, IPMI_PASSWORD: t.password ?? '' },
      timeoutMs,
      signal: ctx.signal,
    });
    return res.stdout;
  } catch (err) {
    if (err instanceof CommandError) {
      const why = err.stderr.trim().split('\n').filter(Boolean).slice(-2).join('; ') || err.message;
      const hint = /RAKP|password|Unauthorized|invalid user/i.test(why)
        ? ' (check driver_info ipmi_username and ipmi_password)'
        : /Unable to establish|No response|timeout/i.test(why)
          ? ` (is the BMC at ${t.address}:${t.port} reachable, and are the credentials right?)`
          : '';
      throw new IpmiError(`IPMI command "${args.join(' ')}" to ${t.address}:${t.port} failed: ${why}${hint}`, { cause: err });
    }
    throw err;
  }
}
