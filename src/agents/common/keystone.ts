// Keystone v3 password authentication scoped to a project, and an endpoint from the catalog:
// what os-collect-config's heat collector and the deployment hook's HEAT_SIGNAL need.
import { http } from './http.js';

export interface KeystoneCredentials {
  authUrl: string;
  userId: string;
  password: string;
  projectId: string;
}

/** The Keystone v3 URL for an auth_url that may name v2.0 or no version at all. */
export function v3AuthUrl(authUrl: string): string {
  const trimmed = authUrl.replace(/\/+$/, '');
  if (/\/v2\.0$/.test(trimmed)) return trimmed.replace(/\/v2\.0$/, '/v3');
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}

interface CatalogEntry {
  type?: string;
  endpoints?: { interface?: string; region?: string; region_id?: string; url?: string }[];
}

/** Authenticates and returns the token and the public endpoint of `serviceType`. */
export async function authenticate(
  c: KeystoneCredentials,
  serviceType: string,
  opts: { regionName?: string; timeoutMs: number },
): Promise<{ token: string; endpoint: string; expiresAt?: number }> {
  const auth = await http(`${v3AuthUrl(c.authUrl)}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { id: c.userId, password: c.password } } },
        scope: { project: { id: c.projectId } },
      },
    }),
    timeoutMs: opts.timeoutMs,
  });
  const token = auth.headers['x-subject-token'];
  if (auth.status !== 201 && auth.status !== 200) throw new Error(`Keystone answered ${auth.status}`);
  if (typeof token !== 'string') throw new Error('Keystone gave no X-Subject-Token');
  const body = (JSON.parse(auth.body) as { token?: { catalog?: CatalogEntry[]; expires_at?: string } }).token;
  const catalog = body?.catalog ?? [];
  const expires = body?.expires_at ? Date.parse(body.expires_at) : NaN;
  const endpoint = catalog
    .filter((s) => s.type === serviceType)
    .flatMap((s) => s.endpoints ?? [])
    .find((e) => e.interface === 'public' && (!opts.regionName || e.region === opts.regionName || e.region_id === opts.regionName))?.url;
  if (!endpoint) throw new Error(`no public ${serviceType} endpoint in the service catalog`);
  return { token, endpoint: endpoint.replace(/\/+$/, ''), ...(Number.isNaN(expires) ? {} : { expiresAt: expires }) };
}
