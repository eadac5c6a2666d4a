// Request body schemas of regions, services, endpoints and domain updates. The resources take
// other attributes too (Keystone's extra attributes, bounded in catalog-routes.ts); their own
// fields are checked here with Keystone's limits: ids, types, names and descriptions of regions
// and services 255 characters, a domain's name 64.
const text255 = { type: ['string', 'null'], maxLength: 255 } as const;
const name255 = { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' } as const;
/** Keystone's URL: a scheme, a colon, something after it. */
const url = { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z][A-Za-z0-9+.-]*:.+' } as const;

export const REGION_FIELDS = ['id', 'description', 'parent_region_id'] as const;
export const SERVICE_FIELDS = ['id', 'type', 'name', 'description', 'enabled'] as const;
export const ENDPOINT_FIELDS = ['id', 'service_id', 'interface', 'url', 'region_id', 'region', 'enabled'] as const;

const wrap = (key: string, props: Record<string, unknown>, required: string[] = []) => ({
  type: 'object', additionalProperties: false, required: [key],
  properties: { [key]: { type: 'object', additionalProperties: true, required, properties: props } },
}) as const;

const regionProps = { id: { type: 'string', minLength: 1, maxLength: 255 }, description: text255, parent_region_id: { type: ['string', 'null'], maxLength: 255 } };
export const regionCreateSchema = wrap('region', regionProps);
export const regionUpdateSchema = wrap('region', regionProps);

const serviceProps = { id: { type: 'string' }, type: name255, name: text255, description: text255, enabled: { type: 'boolean' } };
export const serviceCreateSchema = wrap('service', serviceProps, ['type']);
export const serviceUpdateSchema = wrap('service', serviceProps);

const endpointProps = {
  id: { type: 'string' }, service_id: { type: 'string', minLength: 1, maxLength: 64 },
  interface: { type: 'string', enum: ['public', 'internal', 'admin'] }, url,
  region_id: { type: ['string', 'null'], maxLength: 255 }, region: { type: ['string', 'null'], maxLength: 255 }, enabled: { type: 'boolean' },
};
export const endpointCreateSchema = wrap('endpoint', endpointProps, ['service_id', 'interface', 'url']);
export const endpointUpdateSchema = wrap('endpoint', endpointProps);

const tags = { type: 'array', maxItems: 80, items: { type: 'string', minLength: 1, maxLength: 255 } } as const;
export const domainUpdateSchema = {
  type: 'object', additionalProperties: false, required: ['domain'],
  properties: {
    domain: {
      type: 'object', additionalProperties: false,
      properties: {
        id: { type: 'string' }, name: { type: 'string', minLength: 1, maxLength: 64, pattern: '\\S' },
        description: { type: ['string', 'null'], maxLength: 65535 }, enabled: { type: 'boolean' }, tags, options: { type: 'object' },
      },
    },
  },
} as const;
