// os-apply-config: the original's command line, defaults and exit codes.
//   exit 0 success, 1 configuration error, 2 bad command line; --boolean-key: 0 true, 1 false,
//   255 (-1) not a boolean.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { type AgentIo, logLine } from '../common/io.js';
import { parseCommandLine, type OptionSpec } from '../common/argv.js';
import { type PyValue, isDict, parse, pyStr, dumps } from '../common/py-json.js';
import { collectMetadata, extractKey } from './metadata.js';
import { buildTree, templatePaths, writeTree, stripHash, pyJoin, type RenderedFile } from './apply.js';
import { matchesType } from './value-types.js';
import { ConfigError } from './errors.js';

export const DEFAULT_TEMPLATES_DIR = '/usr/libexec/os-apply-config/templates';
export const OS_CONFIG_FILES_PATH_OLD = '/var/run/os-collect-config/os_config_files.json';
const DEFAULT_FALLBACK = [
  '/var/cache/heat-cfntools/last_metadata',
  '/var/lib/heat-cfntools/cfn-init-data',
  '/var/lib/cloud/data/cfn-init-data',
];

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The templates root the original picks: $OS_CONFIG_APPLIER_TEMPLATES, else the first that exists. */
export function defaultTemplatesDir(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.OS_CONFIG_APPLIER_TEMPLATES;
  if (fromEnv !== undefined) return fromEnv;
  let dir = '/opt/stack/os-apply-config/templates';
  if (!isDir(dir)) dir = '/opt/stack/os-config-applier/templates';
  return isDir(dir) && !isDir(DEFAULT_TEMPLATES_DIR) ? dir : DEFAULT_TEMPLATES_DIR;
}

const SPECS: OptionSpec[] = [
  { names: ['-t', '--templates'], dest: 'templates', kind: 'one', metavar: 'TEMPLATE_ROOT', help: 'path to template root directory' },
  { names: ['-o', '--output'], dest: 'output', kind: 'one', metavar: 'OUT_DIR', help: 'root directory for output (default: /)' },
  { names: ['-m', '--metadata'], dest: 'metadata', kind: 'many', metavar: 'METADATA_FILE', help: 'overrides OS_CONFIG_FILES; later files merge over earlier' },
  { names: ['--fallback-metadata'], dest: 'fallback', kind: 'many', metavar: 'FALLBACK_METADATA', help: 'files read before the metadata files' },
  { names: ['-v', '--validate'], dest: 'validate', kind: 'flag', help: 'validate only, do not write files' },
  { names: ['--print-templates'], dest: 'printTemplates', kind: 'flag', help: 'print the templates root and exit' },
  { names: ['-s', '--subhash'], dest: 'subhash', kind: 'one', help: 'use the sub-hash named by this key' },
  { names: ['--key'], dest: 'key', kind: 'one', metavar: 'KEY', help: 'print the specified key and exit' },
  { names: ['--type'], dest: 'type', kind: 'one', help: 'int|default|netaddress|netdevice|dsn|swiftdevices|raw' },
  { names: ['--key-default'], dest: 'keyDefault', kind: 'one', help: 'print this if --key is not found' },
  { names: ['--boolean-key'], dest: 'booleanKey', kind: 'one', help: 'exit 0 if the key is true, 1 if false, -1 otherwise' },
  { names: ['--version'], dest: 'version', kind: 'flag', help: "show program's version number and exit" },
  { names: ['--os-config-files'], dest: 'osConfigFiles', kind: 'one', help: 'path to os_config_files.json' },
];

function loadList(path: string): string[] {
  if (!existsSync(path)) return [];
  const doc = parse(readFileSync(path, 'utf8'), path);
  if (!Array.isArray(doc)) throw new ConfigError(`No list defined in json file: ${path}`);
  return doc.map((x) => pyStr(x));
}

export async function main(argv: string[], io: AgentIo): Promise<number> {
  const a = parseCommandLine(argv, SPECS, io, 'os-apply-config', 'Renders templates from merged JSON metadata (OS_CONFIG_FILES).');
  if (typeof a === 'number') return a;
  if (a.version) {
    io.stdout('bootstack-os-apply-config 12.0.0\n');
    return 0;
  }
  const env = io.env;
  const osConfigFilesPath = env.OS_CONFIG_FILES_PATH ?? '/var/lib/os-collect-config/os_config_files.json';
  const templates = (a.templates as string | undefined) ?? defaultTemplatesDir(env);
  if (a.printTemplates) {
    io.stdout(`${templates}\n`);
    return 0;
  }
  const log = (level: string, msg: string) => io.stderr(logLine(level, msg));
  try {
    let metadata = (a.metadata as string[] | undefined) ?? [];
    if (metadata.length === 0) {
      if (env.OS_CONFIG_FILES !== undefined) metadata = env.OS_CONFIG_FILES.split(':');
      else {
        const listPath = (a.osConfigFiles as string | undefined) ?? osConfigFilesPath;
        metadata = loadList(listPath);
        if (metadata.length === 0 && listPath === osConfigFilesPath) {
          log('WARNING', `DEPRECATED: falling back to ${OS_CONFIG_FILES_PATH_OLD}`);
          metadata = loadList(OS_CONFIG_FILES_PATH_OLD);
        }
      }
    }
    const fallback = (a.fallback as string[] | undefined) ?? DEFAULT_FALLBACK;
    const key = a.key as string | undefined;
    const booleanKey = a.booleanKey as string | undefined;
    if (key && booleanKey) log('WARNING', '--key is not compatible with --boolean-key. --boolean-key ignored.');
    if (key) {
      const value = extractKey(collectMetadata(metadata, fallback), key);
      if (value === undefined) {
        if (a.keyDefault !== undefined) {
          io.stdout(`${a.keyDefault as string}\n`);
          return 0;
        }
        throw new ConfigError(`key ${key} does not exist in ${pyListRepr(metadata)}`);
      }
      const type = (a.type as string | undefined) ?? 'default';
      if (!matchesType(pyStr(value), type)) throw new ConfigError(`cannot interpret value '${pyStr(value)}' as type ${type}`);
      io.stdout(`${isDict(value) || Array.isArray(value) || typeof value === 'boolean' ? dumps(value) : pyStr(value)}\n`);
      return 0;
    }
    if (booleanKey) {
      const value: PyValue | undefined = extractKey(collectMetadata(metadata, fallback), booleanKey);
      if (typeof value !== 'boolean') return -1;
      return value ? 0 : 1;
    }
    const config = stripHash(collectMetadata(metadata, fallback), a.subhash as string | undefined);
    const tree = buildTree(templatePaths(templates), config, io.cwd);
    if (!a.validate) {
      const output = (a.output as string | undefined) ?? '/';
      const files = [...tree].map(([rel, file]): [string, RenderedFile] => [pyJoin(output, rel.replace(/^\//, '')), file]);
      for (const [path, outcome] of await writeTree(files)) {
        if (outcome === 'written') log('INFO', `writing ${path}`);
        else if (outcome === 'deleted') log('INFO', `deleting ${path}`);
      }
    }
    log('INFO', 'success');
    return 0;
  } catch (err) {
    // The original exits 1 on its ConfigException and (with a traceback) on anything else.
    log('ERROR', err instanceof Error ? err.message : String(err));
    return 1;
  }
}

function pyListRepr(items: string[]): string {
  return `[${items.map((s) => `'${s}'`).join(', ')}]`;
}
