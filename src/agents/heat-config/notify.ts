// Signals a deployment's result to where its deploy_signal_transport says (what heat-config-notify
// did): CFN_SIGNAL POSTs the JSON to the pre-signed deploy_signal_id URL, TEMP_URL_SIGNAL PUTs
// (or deploy_signal_verb) it to the temp URL, HEAT_SIGNAL authenticates to Keystone with the
// deploy_* credentials and POSTs to the resource's signal endpoint, NO_SIGNAL does nothing.
// Failed attempts are retried with backoff; a signal that never lands is reported as an error so
// the deployment stays pending and runs (and signals) again next time.
import { http, redactUrl } from '../common/http.js';
import { authenticate } from '../common/keystone.js';
import { type PyDict, dumps } from '../common/py-json.js';
import { type Deployment, input } from './deployment.js';
import { sleep } from '../../common/sleep.js';

export interface NotifyOptions {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export class SignalError extends Error {}

async function send(url: string, method: string, body: string, headers: Record<string, string>, o: NotifyOptions): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < o.attempts; attempt++) {
    if (attempt > 0) await sleep(o.backoffMs * 2 ** (attempt - 1));
    try {
      const r = await http(url, { method, body, headers: { 'content-type': 'application/json', ...headers }, timeoutMs: o.timeoutMs });
      if (r.status < 300) return;
      last = `${method} ${redactUrl(url)} answered ${r.status}`;
      if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) break;
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new SignalError(last);
}

/** Returns the transport used; throws SignalError when the signal could not be delivered. */
export async function notify(d: Deployment, response: PyDict, o: NotifyOptions): Promise<string> {
  const transport = input(d, 'deploy_signal_transport') ?? (input(d, 'deploy_signal_id') ? 'CFN_SIGNAL' : 'NO_SIGNAL');
  const body = dumps(response);
  switch (transport) {
    case 'NO_SIGNAL':
      return transport;
    case 'CFN_SIGNAL':
    case 'TEMP_URL_SIGNAL': {
      const url = input(d, 'deploy_signal_id');
      if (!url) throw new SignalError(`${transport} without deploy_signal_id`);
      const verb = input(d, 'deploy_signal_verb') ?? (transport === 'CFN_SIGNAL' ? 'POST' : 'PUT');
      await send(url, verb, body, {}, o);
      return transport;
    }
    case 'HEAT_SIGNAL': {
      const need = ['deploy_auth_url', 'deploy_user_id', 'deploy_password', 'deploy_project_id', 'deploy_stack_id', 'deploy_resource_name'];
      const missing = need.filter((n) => input(d, n) === undefined);
      if (missing.length) throw new SignalError(`HEAT_SIGNAL without ${missing.join(', ')}`);
      const creds = {
        authUrl: input(d, 'deploy_auth_url') as string,
        userId: input(d, 'deploy_user_id') as string,
        password: input(d, 'deploy_password') as string,
        projectId: input(d, 'deploy_project_id') as string,
      };
      let auth;
      try {
        auth = await authenticate(creds, 'orchestration', { regionName: input(d, 'deploy_region_name'), timeoutMs: o.timeoutMs });
      } catch (err) {
        throw new SignalError(`HEAT_SIGNAL: ${(err as Error).message}`);
      }
      const url = `${auth.endpoint}/stacks/${input(d, 'deploy_stack_id') as string}/resources/${encodeURIComponent(input(d, 'deploy_resource_name') as string)}/signal`;
      await send(url, 'POST', body, { 'x-auth-token': auth.token }, o);
      return transport;
    }
    default:
      throw new SignalError(`signal transport ${transport} is not supported here`);
  }
}
