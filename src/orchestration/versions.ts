// One function table per HOT version (Heat's hot/template.py keeps one class per version; here a
// version is data: its functions, which names it removed, and which sections it allows).
import * as F from './functions.js';

export interface HotVersion {
  version: string;
  functions: F.FunctionTable;
  /** Functions allowed inside the conditions section (and in a resource's condition). */
  conditionFunctions: string[];
  sections: string[];
}

const CFN_ADVICE: Record<string, string> = {
  'Fn::GetAZs': '',
  'Fn::Join': 'use list_join',
  'Fn::Split': 'use str_split',
  'Fn::Replace': 'use str_replace',
  'Fn::Base64': '',
  'Fn::MemberListToMap': '',
  'Fn::ResourceFacade': 'use resource_facade',
  Ref: 'use get_resource or get_param',
  'Fn::GetAtt': 'use get_attr',
  'Fn::FindInMap': '',
};

const BASE_SECTIONS = ['heat_template_version', 'description', 'parameter_groups', 'parameters', 'resources', 'outputs'];

const v20130523: Record<string, F.FnDef> = {
  get_param: F.getParam,
  get_resource: F.getResource,
  get_attr: F.getAttr(false),
  get_file: F.getFile,
  str_replace: F.strReplace('plain', false),
  resource_facade: F.resourceFacade,
  'Fn::Select': F.cfnSelect,
  'Fn::Join': F.cfnJoin,
  'Fn::Split': F.cfnSplit,
  'Fn::Replace': F.cfnReplace,
  'Fn::Base64': F.cfnBase64,
  'Fn::MemberListToMap': F.cfnMemberListToMap,
  'Fn::ResourceFacade': F.cfnResourceFacade,
  'Fn::GetAZs': F.cfnGetAZs,
  'Fn::GetAtt': F.cfnGetAtt,
  Ref: F.cfnRef,
};

function without(table: Record<string, F.FnDef>, names: string[]): Record<string, F.FnDef> {
  const out = { ...table };
  for (const n of names) delete out[n];
  return out;
}

const cfnRemoved = Object.keys(CFN_ADVICE).filter((k) => k !== 'Fn::FindInMap');
const v20141016 = {
  ...without(v20130523, cfnRemoved),
  list_join: F.listJoin(false),
};
const v20150430 = { ...v20141016, digest: F.digest, repeat: F.repeat };
const v20151015 = {
  ...v20150430,
  get_attr: F.getAttr(true),
  list_join: F.listJoin(true),
  str_replace: F.strReplace('plain', true),
  str_split: F.strSplit,
};
const v20160408 = { ...without(v20151015, ['Fn::Select']), map_merge: F.mapMerge };
const v20161014 = {
  ...v20160408,
  yaql: F.yaqlRefused,
  map_replace: F.mapReplace,
  if: F.ifFn,
  equals: F.equals,
  not: F.notFn,
  and: F.logical('and'),
  or: F.logical('or'),
  str_replace_strict: F.strReplace('strict', true),
};
const v20170224 = {
  ...v20161014,
  filter: F.filter,
  make_url: F.makeUrl,
  list_concat: F.listConcat(false),
  str_replace_vstrict: F.strReplace('vstrict', true),
};
const v20170901 = { ...v20170224, list_concat_unique: F.listConcat(true), contains: F.contains };

function table(functions: Record<string, F.FnDef>): F.FunctionTable {
  const removed: Record<string, string> = {};
  for (const [k, advice] of Object.entries(CFN_ADVICE)) if (!(k in functions)) removed[k] = advice;
  if (!('Fn::Select' in functions)) removed['Fn::Select'] = 'use get_attr/get_param with a path, or str_split with an index';
  return { functions, removed };
}

function make(version: string, fns: Record<string, F.FnDef>, conditions: boolean, condFns: string[] = []): HotVersion {
  return {
    version,
    functions: table(fns),
    conditionFunctions: condFns,
    sections: conditions ? [...BASE_SECTIONS, 'conditions'] : BASE_SECTIONS,
  };
}

const COND_2016 = ['equals', 'get_param', 'not', 'and', 'or'];
const COND_2017 = [...COND_2016, 'contains'];
const COND_2018 = [...COND_2017, 'yaql', 'if'];

export const HOT_VERSIONS: Record<string, HotVersion> = {
  '2013-05-23': make('2013-05-23', v20130523, false),
  '2014-10-16': make('2014-10-16', v20141016, false),
  '2015-04-30': make('2015-04-30', v20150430, false),
  '2015-10-15': make('2015-10-15', v20151015, false),
  '2016-04-08': make('2016-04-08', v20160408, false),
  '2016-10-14': make('2016-10-14', v20161014, true, COND_2016),
  '2017-02-24': make('2017-02-24', v20170224, true, COND_2016),
  '2017-09-01': make('2017-09-01', v20170901, true, COND_2017),
  '2018-03-02': make('2018-03-02', v20170901, true, COND_2018),
  '2018-08-31': make('2018-08-31', v20170901, true, COND_2018),
  '2021-04-16': make('2021-04-16', v20170901, true, COND_2018),
};

/** Release names Heat accepts for the dated versions. */
export const VERSION_ALIASES: Record<string, string> = {
  newton: '2016-10-14',
  ocata: '2017-02-24',
  pike: '2017-09-01',
  queens: '2018-03-02',
  rocky: '2018-08-31',
  wallaby: '2021-04-16',
};

export function hotVersion(raw: unknown): HotVersion | undefined {
  const key = String(raw);
  return HOT_VERSIONS[VERSION_ALIASES[key] ?? key];
}
