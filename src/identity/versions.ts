// Version discovery, as keystoneauth does it: GET <auth_url> lists the versions (300 Multiple
// Choices, like Keystone), GET <auth_url>/v3 describes v3.
export const V3_ID = 'v3.14';
const UPDATED = '2020-04-07T00:00:00Z';

function v3(base: string) {
  return {
    id: V3_ID,
    status: 'stable',
    updated: UPDATED,
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

export function versionsDocument(base: string) {
  return { versions: { values: [v3(base)] } };
}

export function versionDocument(base: string) {
  return { version: v3(base) };
}
