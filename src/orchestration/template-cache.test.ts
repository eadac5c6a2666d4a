// Parsed templates are shared by content and file name, bounded, and failures are not kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTemplate } from './template.js';
import { cachedTemplate, templateCacheSize, TEMPLATE_CACHE_ENTRIES } from './template-cache.js';

const TEXT = 'heat_template_version: 2015-04-30\nresources:\n  a: {type: OS::Heat::None}\n';

test('the same text under the same name is parsed once; another name or text is parsed again', () => {
  const first = loadTemplate(TEXT, 'member.yaml');
  assert.equal(loadTemplate(TEXT, 'member.yaml'), first);
  const other = loadTemplate(TEXT, 'other.yaml');
  assert.notEqual(other, first);
  // Errors name the file: a parse found under another name would name the wrong one.
  assert.equal(other.doc.file, 'other.yaml');
  assert.notEqual(loadTemplate(TEXT.replace('a:', 'b:'), 'member.yaml'), first);
});

test('a template that fails to parse fails every time (failures are not cached)', () => {
  const bad = 'heat_template_version: 2015-04-30\nresources:\n  a: {type: OS::Heat::None, bogus: 1}\n';
  for (let i = 0; i < 2; i++) assert.throws(() => loadTemplate(bad, 'bad.yaml'), /bad\.yaml:3/);
});

test('a map is parsed each time: it is the caller\'s object and may change', () => {
  const map = { heat_template_version: '2015-04-30', resources: { a: { type: 'OS::Heat::None' } } };
  assert.notEqual(loadTemplate(map, 'm'), loadTemplate(map, 'm'));
});

test('the cache keeps at most TEMPLATE_CACHE_ENTRIES parses, dropping the least recently used', () => {
  const keep = loadTemplate(TEXT, 'keep.yaml');
  for (let i = 0; i < TEMPLATE_CACHE_ENTRIES + 10; i++) {
    loadTemplate(TEXT, 'keep.yaml'); // used often: stays
    cachedTemplate('test', `f${i}`, String(i), () => keep);
  }
  assert.ok(templateCacheSize().entries <= TEMPLATE_CACHE_ENTRIES);
  assert.equal(loadTemplate(TEXT, 'keep.yaml'), keep);
  let parsed = 0;
  cachedTemplate('test', 'f0', '0', () => (parsed++, keep));
  assert.equal(parsed, 1, 'the oldest entry was dropped');
});
