// One error hierarchy for the whole program. Every error carries the HTTP status a client should
// see, a stable machine code, structured fields (which field, file, line, node, state...) and the
// original `cause`. Rendering into each OpenStack service's fault format lives in http-fault.ts.

export type ErrorFields = Record<string, unknown>;

export interface ErrorOptions {
  fields?: ErrorFields;
  cause?: unknown;
}

export class BootstackError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: ErrorFields;

  constructor(status: number, code: string, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.fields = options.fields ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, status: this.status, code: this.code, message: this.message, ...this.fields };
  }
}

/** Where in an input document a problem is: file, 1-based line and column, and a dotted path. */
export interface SourceLocation {
  file?: string;
  line?: number;
  column?: number;
  path?: string;
}

/** Formats "file:line:column: path: message", omitting whatever is unknown. */
export function formatLocation(loc: SourceLocation): string {
  let head = '';
  if (loc.file) head += loc.file;
  if (loc.line !== undefined) head += `${head ? ':' : 'line '}${loc.line}`;
  if (loc.column !== undefined && loc.line !== undefined) head += `:${loc.column}`;
  const parts = [head, loc.path].filter((p) => p);
  return parts.join(': ');
}

/** 400: the request or a document is wrong. Names the field (and file/line where there is one). */
export class ValidationError extends BootstackError {
  readonly location: SourceLocation;
  constructor(message: string, location: SourceLocation = {}, options: ErrorOptions = {}) {
    const where = formatLocation(location);
    super(400, 'validation_failed', where ? `${where}: ${message}` : message, {
      ...options,
      fields: { ...location, ...options.fields },
    });
    this.location = location;
  }
}

export class BadRequestError extends BootstackError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(400, 'bad_request', message, options);
  }
}

export class UnauthorizedError extends BootstackError {
  constructor(message = 'The request you have made requires authentication.', options: ErrorOptions = {}) {
    super(401, 'unauthorized', message, options);
  }
}

export class ForbiddenError extends BootstackError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(403, 'forbidden', message, options);
  }
}

export class NotFoundError extends BootstackError {
  constructor(kind: string, id: string, options: ErrorOptions = {}) {
    super(404, 'not_found', `${kind} ${id} could not be found.`, {
      ...options,
      fields: { kind, id, ...options.fields },
    });
  }
}

export class ConflictError extends BootstackError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(409, 'conflict', message, options);
  }
}

export class PayloadTooLargeError extends BootstackError {
  constructor(limit: number, options: ErrorOptions = {}) {
    super(413, 'payload_too_large', `Request body is larger than the limit of ${limit} bytes.`, {
      ...options,
      fields: { limit, ...options.fields },
    });
  }
}

/** A state machine refused an event: names the current state and what is allowed from it. */
export class InvalidStateError extends BootstackError {
  constructor(
    readonly machine: string,
    readonly state: string,
    readonly event: string,
    readonly allowed: readonly string[],
    options: ErrorOptions = {},
  ) {
    super(
      409,
      'invalid_state',
      `Cannot do "${event}" on ${machine} in state "${state}"; allowed from "${state}": ${
        allowed.length ? allowed.map((a) => `"${a}"`).join(', ') : 'nothing'
      }.`,
      { ...options, fields: { machine, state, event, allowed, ...options.fields } },
    );
  }
}

/** The graph has a cycle; `cycle` lists the nodes in order, first repeated at the end. */
export class CycleError extends BootstackError {
  constructor(
    readonly cycle: readonly string[],
    options: ErrorOptions = {},
  ) {
    super(400, 'dependency_cycle', `Dependency cycle: ${cycle.join(' -> ')}`, {
      ...options,
      fields: { cycle, ...options.fields },
    });
  }
}

/** A child process failed or timed out; stderr's tail is in the message. */
export class CommandError extends BootstackError {
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    options: ErrorOptions = {},
  ) {
    super(500, 'command_failed', message, {
      ...options,
      fields: { command, exitCode, ...options.fields },
    });
  }
}

/** A dependency outside our process (BMC, dnsmasq, database) is unreachable or failing. */
export class ServiceUnavailableError extends BootstackError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(503, 'service_unavailable', message, options);
  }
}

export class ConfigError extends BootstackError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(400, 'config_invalid', message, options);
  }
}

/** Wraps anything thrown into a BootstackError, keeping it as the cause. */
export function asBootstackError(err: unknown): BootstackError {
  if (err instanceof BootstackError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BootstackError(500, 'internal_error', message, { cause: err });
}
