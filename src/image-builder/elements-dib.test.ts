// Differential tests: our element resolution and hook order against Debian's diskimage-builder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveElements } from './elements.js';
import { mergeHooks, phaseDirs, phaseHooks } from './hooks.js';
import { dibResolve, DIB_ELEMENTS } from '../../test/support/image-builder/dib-oracle.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const TEST_ELEMENTS = join(here, 'testdata', 'elements');
const CORPUS = resolve(process.env.BOOTSTACK_CORPUS ?? join(here, '..', '..', '..', 'shared', 'corpus'));
const TRIPLEO = join(CORPUS, 'tripleo-image-elements', 'elements');

type Ours = { ok: true; elements: string[]; hooks: Record<string, string[]> } | { ok: false; error: string };

function ours(elements: string[], path: string[]): Ours {
  const work = mkdtempSync(join(tmpdir(), 'bootstack-hooks-'));
  try {
    const resolved = resolveElements(elements, path);
    const set = mergeHooks(resolved, join(work, 'hooks'));
    const hooks: Record<string, string[]> = {};
    for (const dir of phaseDirs(set)) hooks[dir] = phaseHooks(set, dir).map((h) => h.name);
    return { ok: true, elements: resolved.map((e) => e.name).sort(), hooks };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function compare(elements: string[], path: string[]): Promise<Ours> {
  const theirs = await dibResolve(elements, path);
  // An oracle that cannot run at all must not pass as "both failed".
  assert.ok(theirs.ok || !/unbound variable|No such file|command not found/.test(theirs.error), theirs.ok ? '' : theirs.error);
  const mine = ours(elements, path);
  assert.equal(mine.ok, theirs.ok, `${elements.join(' ')}: ours ${JSON.stringify(mine)} vs DIB ${JSON.stringify(theirs)}`);
  if (mine.ok && theirs.ok) {
    assert.deepEqual(mine.elements, theirs.elements, `expanded set of ${elements.join(' ')}`);
    // DIB keeps an (empty) directory for every phase directory it saw; compare the non-empty ones.
    const nonEmpty = (h: Record<string, string[]>) => Object.fromEntries(Object.entries(h).filter(([, v]) => v.length));
    assert.deepEqual(nonEmpty(mine.hooks), nonEmpty(theirs.hooks), `hook order of ${elements.join(' ')}`);
  }
  return mine;
}

test('test elements: deps, provides, diamond, hook order — same as diskimage-builder', async () => {
  const path = [TEST_ELEMENTS];
  const diamond = await compare(['test-os', 'diamond-top'], path);
  assert.ok(diamond.ok && diamond.elements.includes('diamond-bottom'));
  assert.ok(diamond.ok && diamond.hooks['post-install.d']!.length === 7);
  await compare(['test-os', 'bd-user'], path); // real element block-device-x
  await compare(['test-os', 'bd-user', 'bd-gpt'], path); // virtual block-device-x provided
  await compare(['test-os', 'linker', 'diamond-left'], path);
  await compare(['test-os', 'replaces-base'], path); // test-base provided, so not pulled in by test-os
});

test('test elements: the same failures as diskimage-builder', async () => {
  const path = [TEST_ELEMENTS];
  const failures: Array<[string[], RegExp]> = [
    [['diamond-top'], /operating system/],
    [['test-os', 'nope'], /'nope' not found/],
    [['test-os', 'needs-missing'], /'does-not-exist' not found/],
    [['test-os', 'bd-gpt', 'bd-mbr'], /already provided/],
    [['test-os', 'bd-gpt', 'block-device-x'], /already provided/],
    [['test-os', 'dup-a', 'dup-b'], /duplicated hook/],
  ];
  for (const [set, message] of failures) {
    const r = await compare(set, path);
    assert.ok(!r.ok && message.test(r.error), `${set.join(' ')}: ${JSON.stringify(r)}`);
    const theirs = await dibResolve(set, path);
    const dibMessage = message.source === 'duplicated hook' ? /duplicated hook/ : message;
    assert.ok(!theirs.ok && (dibMessage.test(theirs.error) || /AlreadyProvided|MissingOS/.test(theirs.error)), JSON.stringify(theirs));
  }
});

test('test elements overridden by an earlier ELEMENTS_PATH entry, and DIB built-ins after them', async () => {
  await compare(['test-os', 'diamond-top'], [TEST_ELEMENTS, DIB_ELEMENTS]);
});

test('real TripleO element graph (corpus) with DIB built-in elements: same expansion and hook order', async (t) => {
  assert.ok(existsSync(TRIPLEO), `corpus not found at ${TRIPLEO} (set BOOTSTACK_CORPUS)`);
  const path = [TRIPLEO, DIB_ELEMENTS];
  const sets = [
    ['nova-compute', 'debian'],
    ['heat-cfntools', 'debian'],
    ['boot-stack', 'debian'],
    ['neutron-openvswitch-agent', 'debian', 'vm'],
    ['swift-storage', 'keystone', 'debian-minimal'],
    ['os-collect-config', 'os-refresh-config', 'os-apply-config', 'ubuntu'],
    ['ironic-conductor', 'nova-ironic', 'debian'],
    ['seed-stack-config', 'boot-stack', 'fedora'],
    ['mysql', 'mariadb', 'debian'],
    ['undercloud-stack-config', 'debian'],
  ];
  let resolvedOk = 0;
  for (const set of sets) {
    await t.test(set.join(' '), async () => {
      const r = await compare(set, path);
      if (r.ok) resolvedOk++;
    });
  }
  assert.ok(resolvedOk >= 6, `only ${resolvedOk} corpus sets resolved`);
});
