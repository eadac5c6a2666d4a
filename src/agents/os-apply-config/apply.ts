// Rendering a template tree into files, as os-apply-config does: every file under the templates
// root (except .oac control files) maps to the same relative path under the output root; an
// executable template is run with the metadata as JSON on stdin and its stdout is the content;
// all templates render before any file is written, so one bad template changes nothing.
// Beyond the original, a file whose content, mode and owner already match is left untouched.
import { readdirSync, readFileSync, statSync, existsSync, accessSync, constants, unlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { open, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type PyDict, type PyValue, isDict, dumps } from '../common/py-json.js';
import { render, MustacheSyntaxError } from './mustache.js';
import { parseControl, type OacControl } from './oac-file.js';
import { ConfigError } from './errors.js';

export const CONTROL_SUFFIX = '.oac';

/** os.path.join for two parts. */
export function pyJoin(a: string, b: string): string {
  if (b.startsWith('/')) return b;
  if (a === '' || a.endsWith('/')) return a + b;
  return `${a}/${b}`;
}

function stripPrefix(prefix: string, s: string): string {
  return s.startsWith(prefix) ? s.slice(prefix.length) : s;
}

/** [template path, output path relative to the output root] for every template under root. */
export function templatePaths(root: string): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const subdirs: string[] = [];
    for (const e of entries) {
      const full = pyJoin(dir, e.name);
      let isDir = e.isDirectory();
      // Like os.walk: a symlink to a directory is a directory (and is not descended into).
      if (e.isSymbolicLink()) {
        try {
          isDir = statSync(full).isDirectory();
        } catch {
          isDir = false;
        }
        if (isDir) continue;
      }
      if (isDir) subdirs.push(full);
      else if (!e.name.endsWith(CONTROL_SUFFIX)) out.push([full, pyJoin(stripPrefix(root, dir), e.name)]);
    }
    for (const d of subdirs) walk(d);
  };
  walk(root);
  return out;
}

export interface RenderedFile {
  template: string;
  body: Buffer;
  control: OacControl;
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function renderTemplate(path: string, config: PyValue, cwd?: string): Buffer {
  if (isExecutable(path)) {
    const r = spawnSync(path, [], { input: dumps(config), maxBuffer: 256 * 1024 * 1024 });
    if (r.error || r.status !== 0) {
      const output = Buffer.concat([r.stdout ?? Buffer.alloc(0), r.stderr ?? Buffer.alloc(0)]).toString('utf8');
      throw new ConfigError(`config script failed: ${path}\n\nwith output:\n\n${r.error?.message ?? output}`);
    }
    // The original decodes the output as UTF-8 and writes it back encoded: invalid bytes fail.
    return r.stdout;
  }
  let text: string;
  try {
    // Python reads templates in text mode: universal newlines.
    text = readFileSync(path, 'utf8').replace(/\r\n?/g, '\n');
    return Buffer.from(render(text, config, { partialsDir: cwd }), 'utf8');
  } catch (err) {
    const detail = err instanceof MustacheSyntaxError ? `: ${err.message}` : '';
    throw new ConfigError(`could not render moustache template ${path}${detail}`, { cause: err });
  }
}

export function buildTree(templates: [string, string][], config: PyValue, cwd?: string): Map<string, RenderedFile> {
  const tree = new Map<string, RenderedFile>();
  for (const [template, out] of templates) {
    const body = renderTemplate(template, config, cwd);
    const ctlPath = template + CONTROL_SUFFIX;
    let control: OacControl = { allowEmpty: true };
    if (existsSync(ctlPath) && statSync(ctlPath).isFile()) control = parseControl(readFileSync(ctlPath, 'utf8'), template);
    tree.set(out, { template, body: control.body !== undefined ? Buffer.from(control.body) : body, control });
  }
  return tree;
}

export type WriteOutcome = 'written' | 'unchanged' | 'deleted' | 'skipped-empty';

interface PlannedWrite {
  path: string;
  body: Buffer;
  mode: number;
  uid?: number;
  gid?: number;
}

/** Decides what to do with one output file; deletions happen here, writes are returned. */
function plan(path: string, file: RenderedFile): WriteOutcome | PlannedWrite {
  const { body, control } = file;
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (!control.allowEmpty && body.length === 0) {
    if (st) {
      unlinkSync(path);
      return 'deleted';
    }
    return 'skipped-empty';
  }
  // mode 0 in a control file means "keep", as `obj.mode or mode` does in the original.
  const mode = control.mode || (st ? Number(st.mode) & 0o7777 : 0o644);
  if (st?.isFile()) {
    const sameMeta =
      (Number(st.mode) & 0o7777) === mode &&
      (control.uid === undefined || Number(st.uid) === control.uid) &&
      (control.gid === undefined || Number(st.gid) === control.gid);
    if (sameMeta && st.size === body.length && readFileSync(path).equals(body)) return 'unchanged';
  }
  const uid = control.uid ?? (st ? Number(st.uid) : undefined);
  const gid = control.gid ?? (st ? Number(st.gid) : undefined);
  return { path, body, mode, uid, gid };
}

/**
 * Writes the tree atomically per file (temporary file, fsync, rename, as common/atomic-write
 * does) but with every file's write and fsync in flight at once: a hundred sequential fsyncs cost
 * more than the whole render, concurrent ones share journal commits.
 */
export async function writeTree(files: [string, RenderedFile][]): Promise<Map<string, WriteOutcome>> {
  const outcomes = new Map<string, WriteOutcome>();
  const writes: PlannedWrite[] = [];
  for (const [path, file] of files) {
    const p = plan(path, file);
    if (typeof p === 'string') outcomes.set(path, p);
    else writes.push(p);
  }
  const temps = await Promise.all(
    writes.map(async (w) => {
      const dir = dirname(w.path);
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${basename(w.path)}.${randomBytes(6).toString('hex')}.tmp`);
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(w.body);
        await handle.chmod(w.mode);
        if (w.uid !== undefined || w.gid !== undefined) await handle.chown(w.uid ?? -1, w.gid ?? -1);
        await handle.sync();
      } catch (err) {
        await handle.close();
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      await handle.close();
      return tmp;
    }),
  );
  for (const [i, w] of writes.entries()) {
    await rename(temps[i] as string, w.path);
    outcomes.set(w.path, 'written');
  }
  return outcomes;
}

export function stripHash(config: PyDict, subhash: string | undefined): PyDict {
  if (!subhash) return config;
  let h: PyDict = config;
  for (const k of subhash.split('.')) {
    const next = Object.prototype.hasOwnProperty.call(h, k) ? h[k] : undefined;
    if (!isDict(next)) throw new ConfigError(`key '${subhash}' does not correspond to a hash in the metadata file`);
    h = next;
  }
  return h;
}
