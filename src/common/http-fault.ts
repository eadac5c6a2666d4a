// Renders errors in the fault format each OpenStack client parses, so that `openstack ...`
// prints our message instead of a generic HTTP error.
import type { BootstackError } from './errors.js';

export type FaultStyle = 'keystone' | 'glance' | 'ironic' | 'heat' | 'neutron' | 'nova' | 'plain';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

/** The JSON body for an error in a service's style. */
export function renderFault(style: FaultStyle, err: BootstackError): Record<string, unknown> {
  const title = statusTitle(err.status);
  switch (style) {
    case 'keystone':
    case 'glance':
      // keystoneauth and openstacksdk read error.message (and error.title/code).
      return { error: { code: err.status, title, message: err.message } };
    case 'ironic':
      // python-ironicclient decodes error_message, which Ironic sends as a JSON string.
      return {
        error_message: JSON.stringify({
          faultstring: err.message,
          faultcode: err.status < 500 ? 'Client' : 'Server',
          debuginfo: null,
        }),
      };
    case 'heat':
      // heatclient prints error.message; "type" is Heat's exception class name.
      return {
        explanation: err.message,
        code: err.status,
        title,
        error: { message: err.message, traceback: null, type: heatType(err) },
      };
    case 'neutron':
      // openstacksdk and neutronclient print NeutronError.message; "type" is Neutron's exception
      // name (src/network/errors.ts sets it as the error's code), else one named after the status.
      return { NeutronError: { type: neutronType(err), message: err.message, detail: '' } };
    case 'nova':
      // novaclient and openstacksdk read the one top-level key's message: {"itemNotFound": {...}}.
      return { [novaFaultName(err.status)]: { code: err.status, message: err.message } };
    case 'plain':
      return { code: err.status, title, message: err.message, ...err.fields };
  }
}

function neutronType(err: BootstackError): string {
  if (/^[A-Z][A-Za-z]+$/.test(err.code)) return err.code;
  if (err.status === 403) return 'PolicyNotAuthorized';
  return `HTTP${statusTitle(err.status).replace(/ /g, '')}`;
}

function heatType(err: BootstackError): string {
  if (err.status === 404) return 'EntityNotFound';
  if (err.status === 409) return 'Conflict';
  if (err.status === 403) return 'Forbidden';
  if (err.status === 401) return 'NotAuthenticated';
  if (err.status === 400) return 'StackValidationFailed';
  return 'HTTPInternalServerError';
}

/** Nova's fault names by status (nova/api/openstack/wsgi.py); anything else is computeFault. */
function novaFaultName(status: number): string {
  const names: Record<number, string> = {
    400: 'badRequest',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'itemNotFound',
    405: 'badMethod',
    409: 'conflictingRequest',
    413: 'overLimit',
    415: 'badMediaType',
    429: 'overLimit',
    501: 'notImplemented',
    503: 'serviceUnavailable',
  };
  return names[status] ?? 'computeFault';
}
