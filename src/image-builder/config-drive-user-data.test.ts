// The config-drive element's user_data runner (`bootstack-config-drive --user-data`) against a
// directory standing in for the drive and a root prefix: once per instance uuid, scripts and the
// multipart MIME documents OS::Heat::MultipartMime writes (shell parts in order, base64 decoded,
// other parts skipped), its log and its console line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../common/child-process.js';
import { BUILTIN_ELEMENTS } from './build.js';

const SCRIPT = join(BUILTIN_ELEMENTS, 'config-drive', 'static', 'bootstack-config-drive');

function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'bootstack-user-data-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const latest = join(dir, 'drive', 'openstack', 'latest');
  const root = join(dir, 'root');
  mkdirSync(latest, { recursive: true });
  mkdirSync(root);
  const out = join(dir, 'out');
  const drive = (uuid: string | undefined, userData?: string) => {
    writeFileSync(join(latest, 'meta_data.json'), JSON.stringify({ uuid, hostname: 'ud-1' }));
    if (userData === undefined) rmSync(join(latest, 'user_data'), { force: true });
    else writeFileSync(join(latest, 'user_data'), userData);
  };
  const runIt = () => run(SCRIPT, ['--user-data'], { env: { ...process.env, CONFIG_DRIVE_DIR: join(dir, 'drive'), TARGET: root } });
  const outText = () => (existsSync(out) ? readFileSync(out, 'utf8') : '');
  const log = () => readFileSync(join(root, 'var', 'log', 'bootstack-user-data.log'), 'utf8');
  return { dir, root, out, drive, runIt, outText, log };
}

/** What OS::Heat::MultipartMime writes (src/orchestration/resources/software.ts), part by part. */
function multipart(parts: Array<{ subtype: string; content: string; encoding?: string }>): string {
  const boundary = '===============5f0c9a0d1e2b4c3a8f7e6d5c4b3a2910==';
  let s = `Content-Type: multipart/mixed; boundary="${boundary}"\nMIME-Version: 1.0\n\n`;
  for (const [i, p] of parts.entries()) {
    s += `--${boundary}\nContent-Type: text/${p.subtype}; charset="us-ascii"\nMIME-Version: 1.0\nContent-Transfer-Encoding: ${p.encoding ?? '7bit'}\nContent-Disposition: attachment; filename="part-${i}"\n\n${p.content}\n`;
  }
  return `${s}--${boundary}--\n`;
}

test('a plain script runs once per instance; a new uuid runs it again', async (t) => {
  const c = setup(t);
  c.drive('uuid-1', `#!/bin/bash\necho "run $(pwd)" >> ${c.out}\necho to-the-log\n`);
  const first = await c.runIt();
  assert.match(first.stdout, /^bootstack-config-drive: user_data=ran 1 for instance uuid-1$/m);
  assert.equal(c.outText(), 'run /\n');
  assert.match(c.log(), /to-the-log/);
  assert.equal(readFileSync(join(c.root, 'var', 'lib', 'bootstack', 'user-data.instance'), 'utf8'), 'uuid-1\n');

  const second = await c.runIt();
  assert.match(second.stdout, /user_data=none \(already run for instance uuid-1\)/);
  assert.equal(c.outText(), 'run /\n', 'the second boot runs nothing');

  c.drive('uuid-2', `#!/bin/sh\necho again >> ${c.out}\n`);
  const third = await c.runIt();
  assert.match(third.stdout, /user_data=ran 1 for instance uuid-2/);
  assert.equal(c.outText(), 'run /\nagain\n');
});

test('multipart: shell parts run in order (base64 decoded, CRLF accepted), cloud-config skipped with a line', async (t) => {
  const c = setup(t);
  const doc = multipart([
    { subtype: 'x-shellscript', content: `#!/bin/bash\necho one >> ${c.out}` },
    { subtype: 'cloud-config', content: '#cloud-config\nruncmd:\n  - touch /nope' },
    { subtype: 'x-shellscript', content: Buffer.from(`#!/bin/sh\necho "two $0" >> ${c.out}\n`).toString('base64').replace(/(.{60})/g, '$1\n'), encoding: 'base64' },
    { subtype: 'x-shellscript', content: `#!/bin/sh\necho three >> ${c.out}` },
  ]).replace(/\n/g, '\r\n');
  c.drive('uuid-m', doc);
  const r = await c.runIt();
  assert.match(r.stdout, /^bootstack-config-drive: user_data=ran 3 for instance uuid-m$/m);
  assert.match(r.stderr, /user_data part 2 \(text\/cloud-config\) skipped: only text\/x-shellscript parts are run/);
  assert.match(c.outText(), /^one\ntwo \S+part-002\nthree\n$/);
  assert.match(c.log(), /part 2 \(text\/cloud-config\) skipped/);
  assert.ok(!existsSync('/nope'));
});

test('a failing part is reported and the next still runs; the instance counts as done', async (t) => {
  const c = setup(t);
  c.drive('uuid-f', multipart([
    { subtype: 'x-shellscript', content: '#!/bin/sh\necho failing; exit 3' },
    { subtype: 'x-shellscript', content: `#!/bin/sh\necho after >> ${c.out}` },
  ]));
  const r = await c.runIt();
  assert.match(r.stdout, /user_data=ran 2 \(1 failed\) for instance uuid-f/);
  assert.match(r.stderr, /user_data part-001 failed with exit status 3/);
  assert.equal(c.outText(), 'after\n');
  assert.match(c.log(), /=== part-001 exit 3/);
  assert.match((await c.runIt()).stdout, /already run for instance uuid-f/);
});

test('cloud-config only, no user_data, no uuid: nothing runs and the line says which', async (t) => {
  const c = setup(t);
  c.drive('uuid-c', '#cloud-config\npackages: [vim]\n');
  assert.match((await c.runIt()).stdout, /user_data is neither a script \(#!\) nor multipart MIME \(#cloud-config\), not run[\s\S]*user_data=skipped \(no shell script in it\) for instance uuid-c/);
  c.drive('uuid-m2', multipart([{ subtype: 'cloud-config', content: '#cloud-config\n{}' }]));
  assert.match((await c.runIt()).stdout, /user_data=skipped \(no shell script in it\) for instance uuid-m2/);
  c.drive('uuid-n');
  assert.match((await c.runIt()).stdout, /^bootstack-config-drive: user_data=none$/m);
  c.drive(undefined, `#!/bin/sh\necho x >> ${c.out}\n`);
  assert.match((await c.runIt()).stdout, /user_data=skipped \(meta_data.json has no uuid/);
  assert.equal(c.outText(), '');
});

test('the user_data unit runs after the network is online, the apply unit before networkd', () => {
  const hook = readFileSync(join(BUILTIN_ELEMENTS, 'config-drive', 'install.d', '60-bootstack-config-drive'), 'utf8');
  const unit = /cat > \/etc\/systemd\/system\/bootstack-user-data\.service <<'UNIT'\n([\s\S]*?)\nUNIT/.exec(hook)?.[1];
  assert.ok(unit, 'no bootstack-user-data.service in the install hook');
  assert.match(unit, /^After=network-online\.target bootstack-config-drive\.service$/m);
  assert.match(unit, /^Wants=network-online\.target$/m);
  assert.match(unit, /^ExecStart=\/usr\/local\/sbin\/bootstack-config-drive --user-data$/m);
  assert.match(hook, /ln -sf \/etc\/systemd\/system\/bootstack-user-data\.service \/etc\/systemd\/system\/multi-user\.target\.wants\//);
});
