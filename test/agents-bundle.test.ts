// The bundled single-file agents (scripts/bundle-agents.mjs) run on their own with node, outside
// the repository: each answers its command line, and the bundled os-apply-config writes the same
// file as Debian's for the same template and metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/common/child-process.js';

test('bundled agents run standalone and behave like the originals', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agents-bundle-'));
  try {
    const out = join(dir, 'bin');
    await run(process.execPath, ['scripts/bundle-agents.mjs', '--outdir', out], { timeoutMs: 120_000 });
    for (const tool of ['os-apply-config', 'os-refresh-config', 'os-collect-config', 'os-net-config', 'heat-config']) {
      assert.equal(readFileSync(join(out, tool), 'utf8').split('\n')[0], '#!/usr/bin/env node', tool);
      const help = await run(join(out, tool), ['--help'], { cwd: dir, timeoutMs: 30_000 });
      assert.match(help.stdout, /usage:/, tool);
    }
    assert.equal((await run(join(out, 'os-refresh-config'), ['--print-phases'], { cwd: dir })).stdout, 'pre-configure\tconfigure\tpost-configure\tmigration\n');
    assert.equal((await run(join(out, 'os-collect-config'), ['--print-cachedir', '--config-file', '/dev/null'], { cwd: dir })).stdout, '/var/lib/os-collect-config\n');
    const t = join(dir, 'templates', 'etc');
    mkdirSync(t, { recursive: true });
    writeFileSync(join(t, 'app.conf'), '[db]\n{{#db}}\nurl={{url}}\n{{/db}}\nports={{ports}}\n');
    writeFileSync(join(dir, 'md.json'), JSON.stringify({ db: { url: 'mysql://a@b/c' }, ports: [80, 443] }));
    const args = (o: string) => ['-t', join(dir, 'templates'), '-o', join(dir, o), '-m', join(dir, 'md.json')];
    await run(join(out, 'os-apply-config'), args('ours'), { cwd: dir });
    await run('/usr/bin/os-apply-config', args('theirs'), { cwd: dir });
    assert.equal(readFileSync(join(dir, 'ours/etc/app.conf'), 'utf8'), readFileSync(join(dir, 'theirs/etc/app.conf'), 'utf8'));
    const bad = await run(join(out, 'os-apply-config'), ['--no-such-flag'], { cwd: dir, allowFailure: true });
    assert.equal(bad.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
