// Test support: snapshots of a directory tree (paths, bytes, modes, owners) so that a tool's output
// can be compared with what Debian's Python original produced for the same input.
import { readdirSync, readFileSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface TreeEntry {
  path: string;
  mode: string;
  uid: number;
  gid: number;
  content: string;
}

export function snapshotTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push({ path: `${r}/`, mode, uid: st.uid, gid: st.gid, content: '' });
        walk(full, r);
      } else if (st.isSymbolicLink()) {
        out.push({ path: r, mode: 'link', uid: st.uid, gid: st.gid, content: readlinkSync(full) });
      } else {
        out.push({ path: r, mode, uid: st.uid, gid: st.gid, content: readFileSync(full).toString('base64') });
      }
    }
  };
  walk(root, '');
  return out;
}

/** Decodes snapshot contents for readable assertion diffs. */
export function readable(entries: TreeEntry[]): TreeEntry[] {
  return entries.map((e) => ({ ...e, content: e.mode === 'link' ? e.content : Buffer.from(e.content, 'base64').toString('utf8') }));
}

/** Runs `fn` over `items` with at most `limit` in flight (oracle processes on a 2-core machine). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
