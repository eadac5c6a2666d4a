// What the API tells about the template language: the versions accepted, the functions each
// version's table holds (versions.ts, so the list is what the engine runs), and a starting
// template for a resource type. The descriptions are this project's own words.
import { BadRequestError, NotFoundError } from '../common/errors.js';
import { HOT_VERSIONS, VERSION_ALIASES } from './versions.js';
import type { PropType, ResourceType } from './registry.js';
import type { JsonMap } from './yaml-source.js';

const HOT_KEY = 'heat_template_version';

/** Functions in a table that the engine refuses at validation: not listed as supported. */
const NOT_SUPPORTED = new Set(['yaql']);

const DESCRIPTIONS: Record<string, string> = {
  get_param: 'Value of a template parameter, optionally followed by keys or indexes into it.',
  get_resource: 'Reference (usually the id) of another resource in the same template.',
  get_attr: 'Attribute of a resource, optionally followed by keys or indexes into it.',
  get_file: 'Text of a file sent with the template (the files map), by name or URL.',
  str_replace: 'Text with each key of params replaced by its value.',
  str_replace_strict: 'str_replace that fails when a key of params is absent from the text.',
  str_replace_vstrict: 'str_replace_strict that also fails on an empty key or value.',
  list_join: 'Lists joined into one string with a delimiter.',
  str_split: 'A string split on a delimiter into a list, or one item of it.',
  digest: 'Hex digest of a string with a hashlib algorithm (md5, sha1, sha256, sha512...).',
  repeat: 'A template fragment repeated for each value (or combination) of lists.',
  resource_facade: 'Metadata, deletion policy or update policy of the resource this nested stack implements.',
  map_merge: 'Maps merged in order; later keys win.',
  map_replace: 'A map with keys and/or values renamed by lookup maps.',
  if: 'One of two values chosen by a named condition.',
  equals: 'True when two values are equal.',
  not: 'Negation of a condition.',
  and: 'True when every condition holds.',
  or: 'True when any condition holds.',
  contains: 'True when a value is an item of a sequence.',
  filter: 'A list without the given values.',
  make_url: 'A URL assembled from scheme, host, port, path, query and fragment.',
  list_concat: 'Lists concatenated into one.',
  list_concat_unique: 'Lists concatenated into one, keeping the first of duplicate items.',
  Ref: 'CloudFormation-style: a parameter value or a resource reference.',
  'Fn::GetAtt': 'CloudFormation-style: an attribute of a resource.',
  'Fn::Join': 'CloudFormation-style: a list joined with a delimiter.',
  'Fn::Select': 'CloudFormation-style: one item of a list or map by index or key.',
  'Fn::Split': 'CloudFormation-style: a string split on a delimiter.',
  'Fn::Replace': 'CloudFormation-style: text with keys replaced by values.',
  'Fn::Base64': 'CloudFormation-style: the value unchanged (kept for compatibility).',
  'Fn::MemberListToMap': 'CloudFormation-style: a map built from a list of "Key.N=..." member strings.',
  'Fn::ResourceFacade': 'CloudFormation-style: the facade resource\'s Metadata, DeletionPolicy or UpdatePolicy.',
  'Fn::GetAZs': 'CloudFormation-style: the availability zones (one, "nova", here).',
};

export function functionDescription(name: string): string {
  return DESCRIPTIONS[name] ?? '';
}

/** GET /template_versions: every accepted version (HOT only: CloudFormation templates are refused). */
export function templateVersions(): { version: string; type: string; aliases: string[] }[] {
  return Object.keys(HOT_VERSIONS).map((v) => ({
    version: `${HOT_KEY}.${v}`,
    type: 'hot',
    aliases: Object.entries(VERSION_ALIASES)
      .filter(([, target]) => target === v)
      .map(([alias]) => `${HOT_KEY}.${alias}`),
  }));
}

/** GET /template_versions/{version}/functions; `conditions`: the functions of the conditions section. */
export function templateFunctions(version: string, conditions: boolean): { functions: string; description: string }[] {
  const [key, value] = [version.slice(0, version.indexOf('.')), version.slice(version.indexOf('.') + 1)];
  const hot = key === HOT_KEY ? HOT_VERSIONS[VERSION_ALIASES[value] ?? value] : undefined;
  if (!hot) throw new NotFoundError('Template version', version);
  const names = conditions ? hot.conditionFunctions : Object.keys(hot.functions.functions);
  return names.filter((n) => !NOT_SUPPORTED.has(n)).map((n) => ({ functions: n, description: functionDescription(n) }));
}

const PARAM_TYPES: Record<PropType, string> = { string: 'string', number: 'number', integer: 'number', boolean: 'boolean', map: 'json', list: 'comma_delimited_list', any: 'json' };

/**
 * GET /resource_types/{type}/template: one resource of the type, each property a parameter of
 * the same name and each attribute an output. HOT only: this engine refuses CloudFormation
 * templates, so it does not hand one out (Heat's default template_type is cfn; ours is hot).
 */
export function resourceTypeTemplate(t: ResourceType, kind: string | undefined): JsonMap {
  if (kind !== undefined && kind !== 'hot') throw new BadRequestError(`template_type: "${kind}" is not offered; only "hot" (CloudFormation templates are not accepted by this engine)`);
  const resName = t.name.split('::').pop() || 'resource';
  const parameters: JsonMap = {};
  const properties: JsonMap = {};
  for (const [k, s] of Object.entries(t.properties ?? {})) {
    const p: JsonMap = { type: PARAM_TYPES[s.type] ?? 'string', description: `${k} of the ${t.name}` };
    if (s.default !== undefined) p.default = s.default;
    if (s.allowed) p.constraints = [{ allowed_values: [...s.allowed] }];
    parameters[k] = p;
    properties[k] = { get_param: k };
  }
  const outputs: JsonMap = {};
  for (const a of t.attributes ?? []) outputs[a] = { description: `${a} of the ${t.name}`, value: { get_attr: [resName, a] } };
  return { heat_template_version: '2016-10-14', description: `Initial template of ${t.name}`, parameters, resources: { [resName]: { type: t.name, properties } }, outputs };
}
