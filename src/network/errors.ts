// Errors with Neutron's exception type names (the `type` of a NeutronError fault body, which
// neutronclient and openstacksdk show and some callers match on: IpAddressAlreadyAllocated,
// IpAddressGenerationFailure, NetworkNotFound...). The code of the error is that type name; the
// 'neutron' fault style renders it (src/common/http-fault.ts).
import { BootstackError, type ErrorOptions } from '../common/errors.js';

export class NeutronError extends BootstackError {
  constructor(status: number, type: string, message: string, options: ErrorOptions = {}) {
    super(status, type, message, options);
  }

  /** 400 naming the field, in Neutron's wording ("Invalid input for <field>. Reason: ..."). */
  static invalidInput(field: string, reason: string): NeutronError {
    return new NeutronError(400, 'InvalidInput', `Invalid input for ${field}. Reason: ${reason}.`, { fields: { path: field } });
  }

  /** 404 for a record that is missing or that the caller may not see (the same answer for both). */
  static notFound(kind: 'Network' | 'Subnet' | 'Port', id: string): NeutronError {
    return new NeutronError(404, `${kind}NotFound`, `${kind} ${id} could not be found.`, { fields: { kind, id } });
  }

  static conflict(type: string, message: string, fields: Record<string, unknown> = {}): NeutronError {
    return new NeutronError(409, type, message, { fields });
  }
}
