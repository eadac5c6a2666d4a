// package-installs.yaml (or .json) of every element, squashed into the packages each phase installs
// and uninstalls, with each element's pkg-map applied — diskimage-builder's package-installs rules:
// a package's parameters may be one map or a list of maps; `phase` defaults to install.d;
// `uninstall` removes instead of installing; `build-only` installs and then removes; `arch` /
// `not-arch` (comma lists) filter on ARCH; `when: VAR=value` / `VAR!=value` (one or a list, all must
// hold; an unset variable is an error); `installtype` filters on DIB_INSTALLTYPE_<element>.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from '../common/errors.js';
import type { Element } from './elements.js';

export interface PhasePackages {
  install: string[];
  uninstall: string[];
}

type Env = Record<string, string | undefined>;

function asList<T>(v: T | T[] | null | undefined): T[] {
  if (v === null || v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function archMatches(list: string, arch: string): boolean {
  // Like diskimage-builder, entries are not trimmed: "amd64, i386" matches amd64 but not i386.
  return list.split(',').includes(arch);
}

function whenHolds(statements: unknown, env: Env, file: string): boolean {
  for (const s of asList(statements as string | string[])) {
    const m = /^(\w+)\s*(!=|=)\s*(.*)$/.exec(String(s));
    if (!m) throw new ValidationError(`malformed when: <${String(s)}>`, { file });
    const [, name, op, value] = m;
    const actual = env[name!];
    if (actual === undefined) throw new ValidationError(`when: the variable <${name}> is not set`, { file });
    if ((op === '=') !== (actual === value)) return false;
  }
  return true;
}

/** The element's pkg-map (JSON): distro, then family, then default mappings. */
function mapPackage(el: Element, pkg: string, env: Env): string[] {
  const file = join(el.path, 'pkg-map');
  if (!existsSync(file)) return [pkg];
  let map: Record<string, Record<string, Record<string, string>>>;
  try {
    map = JSON.parse(readFileSync(file, 'utf8')) as typeof map;
  } catch (err) {
    throw new ValidationError(`pkg-map is not valid JSON: ${(err as Error).message}`, { file }, { cause: err });
  }
  const distro = env.DISTRO_NAME ?? '';
  const family = distro === 'debian' || distro === 'ubuntu' ? 'debian' : distro;
  const release = env.DIB_RELEASE ?? '';
  const candidates = [
    map.release?.[distro]?.[release] as unknown as Record<string, string> | undefined,
    map.distro?.[distro],
    map.family?.[family],
    map.default as unknown as Record<string, string> | undefined,
  ];
  for (const c of candidates) {
    const hit = c?.[pkg];
    if (hit !== undefined) return hit.split(/\s+/).filter((p) => p);
  }
  return [pkg];
}

/** package-installs.json then .yaml (both, when both exist), each read as JSON or else YAML. */
function readPackageFiles(el: Element): Array<{ file: string; data: Record<string, unknown> }> {
  const found: Array<{ file: string; data: Record<string, unknown> }> = [];
  for (const name of ['package-installs.json', 'package-installs.yaml']) {
    const file = join(el.path, name);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    try {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        data = parseYaml(text);
      }
      if (data === null || data === undefined) continue;
      if (typeof data !== 'object' || Array.isArray(data)) throw new Error('expected a mapping of package names');
      found.push({ file, data: data as Record<string, unknown> });
    } catch (err) {
      throw new ValidationError((err as Error).message, { file }, { cause: err });
    }
  }
  return found;
}

export function squashPackageInstalls(
  elements: readonly Element[],
  env: Env,
  opts: { pkgMap?: boolean } = {},
): Map<string, PhasePackages> {
  const out = new Map<string, PhasePackages>();
  const arch = env.ARCH ?? 'amd64';
  const add = (phase: string, kind: keyof PhasePackages, pkgs: string[]) => {
    let entry = out.get(phase);
    if (!entry) out.set(phase, (entry = { install: [], uninstall: [] }));
    for (const p of pkgs) if (!entry[kind].includes(p)) entry[kind].push(p);
  };
  for (const { el, ...found } of elements.flatMap((e) => readPackageFiles(e).map((f) => ({ el: e, ...f })))) {
    const installType = env[`DIB_INSTALLTYPE_${el.name.replace(/-/g, '_')}`] ?? env.DIB_DEFAULT_INSTALLTYPE ?? 'source';
    for (const [pkg, raw] of Object.entries(found.data)) {
      const params = asList(raw as Record<string, unknown> | Record<string, unknown>[] | null);
      for (const p of params.length ? params : [{}]) {
        const phase = typeof p.phase === 'string' ? p.phase : 'install.d';
        if (p.installtype != null && p.installtype !== installType) continue;
        if (p.arch != null && p['not-arch'] != null) {
          throw new ValidationError(`${pkg}: both arch and not-arch given`, { file: found.file, path: pkg });
        }
        if (p.arch != null && !archMatches(String(p.arch), arch)) continue;
        if (p['not-arch'] != null && archMatches(String(p['not-arch']), arch)) continue;
        const pyVersion = p.dib_python_version == null ? '' : String(p.dib_python_version);
        if (pyVersion !== '' && pyVersion !== (env.DIB_PYTHON_VERSION ?? '')) continue;
        if (p.when != null && !whenHolds(p.when, env, found.file)) continue;
        const names = opts.pkgMap === false ? [pkg] : mapPackage(el, pkg, env);
        const kinds: Array<keyof PhasePackages> =
          'build-only' in p ? ['install', 'uninstall'] : 'uninstall' in p ? ['uninstall'] : ['install'];
        for (const kind of kinds) add(phase, kind, names);
      }
    }
  }
  return out;
}

/** Where diskimage-builder's package-installs element runs installs and uninstalls in each phase. */
export const PACKAGE_HOOK_NAMES: Record<string, { install: string; uninstall: string }> = {
  'pre-install.d': { install: '10-package-installs', uninstall: '99-package-uninstalls' },
  'install.d': { install: '01-package-installs', uninstall: '99-package-uninstalls' },
  'post-install.d': { install: '00-package-installs', uninstall: '95-package-uninstalls' },
};
