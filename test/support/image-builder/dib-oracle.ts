// Asks Debian's python3-diskimage-builder (the compatibility oracle) how it resolves elements and
// orders hooks, so tests can compare our answers with its answers. Test-only helper: it runs DIB's
// own element_dependencies module and its generate_hooks + `dib-run-parts --list`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/common/child-process.js';

export const DIB_ROOT = '/usr/lib/python3/dist-packages/diskimage_builder';
export const DIB_ELEMENTS = `${DIB_ROOT}/elements`;

export type OracleResult =
  | { ok: true; elements: string[]; hooks: Record<string, string[]> }
  | { ok: false; error: string };

const SCRIPT = `
set -e
export _LIB="$DIB_ROOT/lib"
env_out=$(/usr/bin/python3 -m diskimage_builder.element_dependencies --env "$@")
eval "$env_out"
export TMP_HOOKS_PATH="$WORK/hooks"
source "$DIB_ROOT/lib/common-functions" >/dev/null
( generate_hooks ) > "$WORK/generate.log" 2>&1 || { grep -v "^Copying" "$WORK/generate.log"; exit 1; }
echo "ELEMENTS $IMAGE_ELEMENT"
for d in "$TMP_HOOKS_PATH"/*.d; do
  [ -d "$d" ] || continue
  p=$(basename "$d")
  [ "$p" = environment.d ] && continue
  bash "$DIB_ROOT/lib/dib-run-parts" --list "$d" | sed "s|^$d/|HOOK $p |"
done
`;

export async function dibResolve(elements: readonly string[], elementsPath: readonly string[]): Promise<OracleResult> {
  const work = mkdtempSync(join(tmpdir(), 'dib-oracle-'));
  try {
    const r = await run('bash', ['-c', SCRIPT, 'oracle', ...elements], {
      env: { PATH: process.env.PATH, HOME: tmpdir(), ELEMENTS_PATH: elementsPath.join(':'), WORK: work, DIB_ROOT, LANG: 'C' },
      allowFailure: true,
      timeoutMs: 60_000,
    });
    if (r.code !== 0) return { ok: false, error: `${r.stdout}\n${r.stderr}`.trim() };
    const hooks: Record<string, string[]> = {};
    let names: string[] = [];
    for (const line of r.stdout.split('\n')) {
      const [kind, a, b] = line.split(' ');
      if (kind === 'ELEMENTS') names = line.slice('ELEMENTS '.length).split(' ').filter((x) => x);
      else if (kind === 'HOOK' && a && b) (hooks[a] ??= []).push(b);
    }
    return { ok: true, elements: names.sort(), hooks };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
