// os-collect-config's settings, from the command line (oslo.config style: --opt, --noopt for
// booleans, --<group>-<opt> for collector options, collectors as positional words) over the
// config file(s) (INI: [DEFAULT], [local], [request], [heat], [ec2]...) over the defaults.
import { readFileSync, existsSync } from 'node:fs';
import { parseArgs, type OptionSpec, type ParsedArgs } from '../common/argv.js';

export const DEFAULT_COLLECTORS = ['heat_local', 'ec2', 'cfn', 'heat', 'request', 'local', 'zaqar'];
export const DEFAULT_CONFIG_FILES = ['/etc/os-collect-config/os-collect-config.conf', '/etc/os-collect-config.conf'];

type Kind = 'str' | 'float' | 'bool' | 'multi';

interface Def {
  section: string;
  key: string;
  kind: Kind;
  short?: string;
  /** The long option name when it differs from --key (or --section-key for groups). */
  flag?: string;
  help?: string;
}

const DEFS: Def[] = [
  { section: 'DEFAULT', key: 'command', kind: 'str', short: '-c', help: 'command to run when metadata changes' },
  { section: 'DEFAULT', key: 'cachedir', kind: 'str', help: 'local cache of metadata (default /var/lib/os-collect-config)' },
  { section: 'DEFAULT', key: 'backup_cachedir', kind: 'str', help: 'copy of the cache (default /var/run/os-collect-config)' },
  { section: 'DEFAULT', key: 'collectors', kind: 'multi', help: 'collectors to use, in order' },
  { section: 'DEFAULT', key: 'one_time', kind: 'bool', help: 'run the command at most once and exit' },
  { section: 'DEFAULT', key: 'min_polling_interval', kind: 'float', help: 'minimum seconds between polls (default 1)' },
  { section: 'DEFAULT', key: 'polling_interval', kind: 'float', short: '-i', help: 'maximum seconds between polls (default 30)' },
  { section: 'DEFAULT', key: 'print_cachedir', kind: 'bool', help: 'print the cache directory and exit' },
  { section: 'DEFAULT', key: 'force', kind: 'bool', help: 'run the command even if nothing changed (implies --one-time)' },
  { section: 'DEFAULT', key: 'print_only', kind: 'bool', flag: 'print', help: 'print the collected data as JSON and exit' },
  { section: 'DEFAULT', key: 'deployment_key', kind: 'multi', help: 'keys holding deployments (default deployments)' },
  { section: 'DEFAULT', key: 'splay', kind: 'float', help: 'sleep up to this many seconds before the first collection' },
  { section: 'DEFAULT', key: 'debug', kind: 'bool', short: '-d', help: 'debug logging' },
  { section: 'local', key: 'path', kind: 'multi', help: 'directories of local JSON metadata' },
  { section: 'heat_local', key: 'path', kind: 'multi', help: 'cfn-init-data files' },
  { section: 'request', key: 'metadata_url', kind: 'str', help: 'URL of the metadata document' },
  { section: 'request', key: 'timeout', kind: 'float', help: 'seconds for connect and read (default 10)' },
  { section: 'request', key: 'long_poll_wait', kind: 'float', help: 'seconds a long-poll may be held (default 25, 0 disables)' },
  { section: 'ec2', key: 'metadata_url', kind: 'str', help: 'EC2 metadata URL' },
  { section: 'ec2', key: 'timeout', kind: 'float', help: 'seconds for connect and read (default 10)' },
  { section: 'heat', key: 'user_id', kind: 'str' },
  { section: 'heat', key: 'password', kind: 'str' },
  { section: 'heat', key: 'project_id', kind: 'str' },
  { section: 'heat', key: 'auth_url', kind: 'str' },
  { section: 'heat', key: 'stack_id', kind: 'str' },
  { section: 'heat', key: 'resource_name', kind: 'str' },
  { section: 'heat', key: 'region_name', kind: 'str' },
  { section: 'cfn', key: 'metadata_url', kind: 'str', help: 'not supported here' },
  { section: 'zaqar', key: 'queue_id', kind: 'str', help: 'not supported here' },
];

const dest = (d: Def) => `${d.section}.${d.key}`;

function longName(d: Def): string {
  const base = (d.flag ?? d.key).replace(/_/g, '-');
  return d.section === 'DEFAULT' ? `--${base}` : `--${d.section}-${base}`;
}

export const SPECS: OptionSpec[] = [
  ...DEFS.filter((d) => d.key !== 'collectors').flatMap((d): OptionSpec[] => {
    const names = [longName(d), ...(d.short ? [d.short] : [])];
    if (d.kind === 'bool') {
      return [
        { names, dest: dest(d), kind: 'flag', help: d.help },
        { names: [`--no${longName(d).slice(2)}`], dest: dest(d), kind: 'negflag' },
      ];
    }
    return [{ names, dest: dest(d), kind: d.kind === 'multi' ? 'append' : 'one', help: d.help }];
  }),
  { names: ['--config-file'], dest: 'config_file', kind: 'append', help: 'INI file(s) to read' },
  { names: ['--config-dir'], dest: 'config_dir', kind: 'one', help: 'directory of *.conf files' },
  { names: ['--version'], dest: 'version', kind: 'flag' },
  { names: ['--log-file'], dest: 'log_file', kind: 'one' },
  { names: ['--verbose', '-v'], dest: 'verbose', kind: 'flag' },
];

export type IniValues = Map<string, string[]>;

/** INI as oslo.config reads it: sections, key = value, repeated keys accumulate, # and ; comments. */
export function parseIni(text: string, into: IniValues = new Map()): IniValues {
  let section = 'DEFAULT';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^\s*([#;]|$)/.test(line)) continue;
    const sec = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (sec) {
      section = (sec[1] as string).trim();
      continue;
    }
    const kv = /^\s*([^=:]+?)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (!kv) continue;
    const k = `${section}.${(kv[1] as string).replace(/-/g, '_')}`;
    into.set(k, [...(into.get(k) ?? []), kv[2] as string]);
  }
  return into;
}

export interface CollectConfig {
  command?: string;
  cachedir: string;
  backupCachedir: string;
  collectors: string[];
  oneTime: boolean;
  minPollingInterval: number;
  pollingInterval: number;
  printCachedir: boolean;
  force: boolean;
  printOnly: boolean;
  deploymentKeys: string[];
  splay: number;
  debug: boolean;
  version: boolean;
  configFiles: string[];
  localPaths: string[];
  heatLocalPaths: string[];
  request: { metadataUrl?: string; timeout: number; longPollWait: number };
  ec2: { metadataUrl: string; timeout: number };
  heat: { userId?: string; password?: string; projectId?: string; authUrl?: string; stackId?: string; resourceName?: string; regionName?: string };
  unsupported: string[];
}

export function loadConfig(argv: string[], readFile: (p: string) => string | undefined = defaultRead): CollectConfig {
  const cli: ParsedArgs = parseArgs(argv, SPECS, true);
  const files = (cli.config_file as string[] | undefined) ?? DEFAULT_CONFIG_FILES.filter((f) => existsSync(f));
  const ini: IniValues = new Map();
  for (const f of files) {
    const text = readFile(f);
    if (text === undefined) throw new Error(`Failed to open configuration file ${f}`);
    parseIni(text, ini);
  }
  const get = (section: string, key: string): string[] | undefined => {
    const v = cli[`${section}.${key}`];
    if (v !== undefined) return Array.isArray(v) ? v : [String(v)];
    return ini.get(`${section}.${key}`);
  };
  // oslo.config interpolates $opt / ${opt} (and ${group.opt}) in values; $$ is a literal $.
  const interpolate = (v: string, depth = 0): string =>
    v.replace(/\$(\$|\{([A-Za-z0-9_.]+)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (all, _x: string, braced?: string, bare?: string) => {
      if (all === '$$') return '$';
      const name = (braced ?? bare) as string;
      const [sec, key] = name.includes('.') ? (name.split('.', 2) as [string, string]) : ['DEFAULT', name];
      const ref = get(sec, key)?.at(-1);
      if (ref === undefined || depth > 10) throw new Error(`no such option ${name} in group [${sec}]`);
      return interpolate(ref, depth + 1);
    });
  const str = (s: string, k: string) => {
    const v = get(s, k)?.at(-1);
    return v === undefined ? undefined : interpolate(v);
  };
  const num = (s: string, k: string, d: number) => {
    const v = str(s, k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`option ${k}: '${v}' is not a number`);
    return n;
  };
  const bool = (s: string, k: string) => {
    const v = cli[`${s}.${k}`];
    if (typeof v === 'boolean') return v;
    const f = ini.get(`${s}.${k}`)?.at(-1);
    return f !== undefined && /^(true|yes|on|1)$/i.test(f);
  };
  const collectors = (cli._ as string[] | undefined) ?? ini.get('DEFAULT.collectors') ?? DEFAULT_COLLECTORS;
  const force = bool('DEFAULT', 'force');
  return {
    command: str('DEFAULT', 'command'),
    cachedir: str('DEFAULT', 'cachedir') ?? '/var/lib/os-collect-config',
    backupCachedir: str('DEFAULT', 'backup_cachedir') ?? '/var/run/os-collect-config',
    collectors,
    oneTime: bool('DEFAULT', 'one_time') || force,
    minPollingInterval: num('DEFAULT', 'min_polling_interval', 1),
    pollingInterval: num('DEFAULT', 'polling_interval', 30),
    printCachedir: bool('DEFAULT', 'print_cachedir'),
    force,
    printOnly: bool('DEFAULT', 'print_only'),
    deploymentKeys: get('DEFAULT', 'deployment_key') ?? ['deployments'],
    splay: num('DEFAULT', 'splay', 0),
    debug: bool('DEFAULT', 'debug'),
    version: cli.version === true,
    configFiles: files,
    localPaths: get('local', 'path') ?? ['/var/lib/os-collect-config/local-data'],
    heatLocalPaths: get('heat_local', 'path') ?? ['/var/lib/heat-cfntools/cfn-init-data'],
    request: {
      metadataUrl: str('request', 'metadata_url'),
      timeout: num('request', 'timeout', 10),
      longPollWait: num('request', 'long_poll_wait', 25),
    },
    ec2: { metadataUrl: str('ec2', 'metadata_url') ?? 'http://169.254.169.254/latest/meta-data', timeout: num('ec2', 'timeout', 10) },
    heat: {
      userId: str('heat', 'user_id'),
      password: str('heat', 'password'),
      projectId: str('heat', 'project_id'),
      authUrl: str('heat', 'auth_url'),
      stackId: str('heat', 'stack_id'),
      resourceName: str('heat', 'resource_name'),
      regionName: str('heat', 'region_name'),
    },
    unsupported: [str('cfn', 'metadata_url') ? 'cfn' : '', str('zaqar', 'queue_id') ? 'zaqar' : ''].filter((x) => x),
  };
}

function defaultRead(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}
