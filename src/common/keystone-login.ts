// Logging in to a Keystone (ours or anyone's) as python-openstackclient does: password or token,
// project-scoped; the catalog tells where each service is. Used by the CLI's commands and the pivot.
import { BootstackError, ConfigError } from './errors.js';

export interface CloudAuth {
  auth_url: string;
  username?: string;
  password?: string;
  project_name?: string;
  user_domain_name?: string;
  project_domain_name?: string;
  token?: string;
}

interface Catalog {
  type: string;
  endpoints: Array<{ interface: string; url: string }>;
}

export interface KeystoneSession {
  token: string;
  /** The catalog's URL for a service type (without a trailing slash), or a ConfigError naming it. */
  endpoint(type: string, iface?: string): string;
}

/** Password (or token) authentication at auth_url, project-scoped, as python-openstackclient does it. */
export async function keystoneLogin(auth: CloudAuth): Promise<KeystoneSession> {
  const base = auth.auth_url.replace(/\/+$/, '').replace(/\/v3$/, '');
  const scope = { project: { name: auth.project_name, domain: { name: auth.project_domain_name ?? 'Default' } } };
  const body = auth.token
    ? { auth: { identity: { methods: ['token'], token: { id: auth.token } }, scope } }
    : { auth: { identity: { methods: ['password'], password: { user: { name: auth.username, domain: { name: auth.user_domain_name ?? 'Default' }, password: auth.password } } }, scope } };
  const res = await fetch(`${base}/v3/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new BootstackError(res.status, 'auth_failed', `authentication at ${base} failed (HTTP ${res.status}): ${(await res.text()).slice(0, 300)}`);
  const token = res.headers.get('x-subject-token')!;
  const catalog = ((await res.json()) as { token: { catalog?: Catalog[] } }).token.catalog ?? [];
  return {
    token,
    endpoint(type, iface = 'public') {
      const url = catalog.find((c) => c.type === type)?.endpoints.find((e) => e.interface === iface)?.url;
      if (!url) throw new ConfigError(`the service catalog at ${base} has no ${iface} ${type} endpoint`);
      return url.replace(/\/+$/, '');
    },
  };
}

