// OS::Heat::None, OS::Heat::TestResource, OS::Heat::RandomString, OS::Heat::Value.
import { randomBytes, randomUUID } from 'node:crypto';
import { MAX_RANDOM_STRING_LENGTH } from '../limits.js';
import type { ResourceType, RuntimeResource } from '../registry.js';
import { isMapping, type Json, type JsonMap } from '../yaml-source.js';

export const noneType: ResourceType = {
  name: 'OS::Heat::None',
  // Accepts any properties: it stands in for any type mapped to it in the registry.
  plugin: {
    async create(r) {
      r.physicalId = randomUUID();
    },
    async update() {},
    async delete() {},
    attribute: () => null,
  },
};

/** Waits `secs`, waking early when the operation is cancelled. */
async function wait(r: RuntimeResource, secs: unknown): Promise<void> {
  const ms = Math.max(0, Number(secs ?? 0) * 1000);
  if (ms > 0) await r.engine.sleep(ms, r.signal);
}

function failIf(r: RuntimeResource, action: string): void {
  if (r.properties.fail === true || r.properties.fail === 'true') {
    throw new Error(`Test Resource failed ${r.name} during ${action}`);
  }
}

export const testResourceType: ResourceType = {
  name: 'OS::Heat::TestResource',
  // update_replace: true replaces the resource on any update (Heat's functional tests use it).
  replaceOnUpdate: (props) => props.update_replace === true,
  properties: {
    value: { type: 'string', default: 'test_string', updateAllowed: true },
    update_replace: { type: 'boolean', default: false, updateAllowed: true },
    update_replace_value: { type: 'string', updateAllowed: false },
    fail: { type: 'boolean', default: false, updateAllowed: true },
    client_name: { type: 'string', updateAllowed: true },
    entity_name: { type: 'string', updateAllowed: true },
    wait_secs: { type: 'number', default: 0, updateAllowed: true },
    action_wait_secs: { type: 'map', updateAllowed: true },
    attr_wait_secs: { type: 'number', default: 0, updateAllowed: true },
    constraint_prop_secs: { type: 'number', default: 0, updateAllowed: true },
  },
  attributes: ['output', 'show'],
  plugin: {
    async create(r) {
      r.physicalId = r.physicalId ?? randomUUID();
      // Persist the id before waiting, so a restart sees a resource in progress with an id.
      r.data.started = Date.now();
      await r.save();
      const aws = (r.properties.action_wait_secs ?? {}) as Record<string, Json>;
      await wait(r, aws.create ?? r.properties.wait_secs);
      failIf(r, 'create');
      r.data.value = r.properties.value ?? 'test_string';
    },
    async resume(r) {
      // The create was interrupted by a restart: wait whatever remained, then finish.
      const aws = (r.properties.action_wait_secs ?? {}) as Record<string, Json>;
      const total = Number(aws.create ?? r.properties.wait_secs ?? 0) * 1000;
      const left = Math.max(0, Number(r.data.started ?? 0) + total - Date.now());
      await r.engine.sleep(left, r.signal);
      failIf(r, 'create');
      r.data.value = r.properties.value ?? 'test_string';
    },
    async update(r) {
      const aws = (r.properties.action_wait_secs ?? {}) as Record<string, Json>;
      await wait(r, aws.update ?? r.properties.wait_secs);
      failIf(r, 'update');
      r.data.value = r.properties.value ?? 'test_string';
    },
    async delete(r) {
      const aws = (r.properties.action_wait_secs ?? {}) as Record<string, Json>;
      await wait(r, aws.delete);
    },
    attribute(r, name) {
      if (name === 'output') return (r.data.value ?? r.properties.value ?? 'test_string') as Json;
      return { value: (r.data.value ?? null) as Json };
    },
  },
};

const CHAR_CLASSES: Record<string, string> = {
  lettersdigits: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  letters: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
  lowercase: 'abcdefghijklmnopqrstuvwxyz',
  uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  hexdigits: '0123456789abcdef',
  octdigits: '01234567',
};

function randomFrom(chars: string, n: number): string {
  const bytes = randomBytes(n * 2);
  let s = '';
  for (let i = 0; i < n; i++) s += chars[bytes.readUInt16BE(i * 2) % chars.length];
  return s;
}

/**
 * Heat's limits: length 1..512, each class or sequence min 1..512, and their mins together no
 * more than the length. Without them one resource could ask for gigabytes of random text.
 */
function checkRandomString(props: JsonMap, fail: (property: string | undefined, message: string) => never): void {
  const count = (v: Json | undefined, path: string, what: string): number => {
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_RANDOM_STRING_LENGTH) {
      fail(path, `${what} must be an integer from 1 to ${MAX_RANDOM_STRING_LENGTH}, not ${JSON.stringify(v)?.slice(0, 40)}`);
    }
    return n;
  };
  const length = 'length' in props ? count(props.length, 'length', 'length') : undefined;
  let mins = 0;
  for (const prop of ['character_classes', 'character_sequences']) {
    const list = props[prop];
    if (!Array.isArray(list)) continue;
    list.forEach((c, i) => {
      mins += isMapping(c) && c.min !== undefined ? count(c.min, `${prop}.${i}.min`, 'min') : 1;
      if (mins > MAX_RANDOM_STRING_LENGTH) fail(prop, `the minimum counts of character_classes and character_sequences add up to more than ${MAX_RANDOM_STRING_LENGTH}`);
    });
  }
  // Without a length (unknown at validation, or left to its default) create checks it.
  if (length !== undefined && mins > length) fail('length', `length ${length} is shorter than the minimum counts of character_classes and character_sequences (${mins})`);
}

export const randomStringType: ResourceType = {
  name: 'OS::Heat::RandomString',
  check: checkRandomString,
  properties: {
    length: { type: 'integer', default: 32 },
    sequence: { type: 'string', allowed: Object.keys(CHAR_CLASSES) },
    character_classes: { type: 'list' },
    character_sequences: { type: 'list' },
    salt: { type: 'string' },
  },
  attributes: ['value', 'show'],
  plugin: {
    async create(r) {
      checkRandomString(r.properties, (property, message) => {
        throw new Error(`Property error: ${property ?? 'properties'}: ${message}`);
      });
      const length = Number(r.properties.length ?? 32);
      const classes = Array.isArray(r.properties.character_classes) ? (r.properties.character_classes as Json[]) : [];
      const seqs = Array.isArray(r.properties.character_sequences) ? (r.properties.character_sequences as Json[]) : [];
      let pool = '';
      let value = '';
      for (const c of classes) {
        const m = c as Record<string, Json>;
        const chars = CHAR_CLASSES[String(m.class ?? 'lettersdigits')] ?? CHAR_CLASSES.lettersdigits!;
        pool += chars;
        value += randomFrom(chars, Number(m.min ?? 1));
      }
      for (const s of seqs) {
        const m = s as Record<string, Json>;
        pool += String(m.sequence ?? '');
        value += randomFrom(String(m.sequence ?? 'x'), Number(m.min ?? 1));
      }
      if (!pool) pool = CHAR_CLASSES[String(r.properties.sequence ?? 'lettersdigits')] ?? CHAR_CLASSES.lettersdigits!;
      value += randomFrom(pool, length - value.length);
      // Shuffle so the required characters are not always first.
      const arr = [...value];
      const rnd = randomBytes(arr.length * 2);
      for (let i = arr.length - 1; i > 0; i--) {
        const j = rnd.readUInt16BE(i * 2) % (i + 1);
        [arr[i], arr[j]] = [arr[j]!, arr[i]!];
      }
      r.data.value = arr.join('');
      r.physicalId = r.data.value;
    },
    async delete() {},
    attribute: (r) => (r.data.value ?? null) as Json,
  },
};

export const valueType: ResourceType = {
  name: 'OS::Heat::Value',
  properties: {
    value: { type: 'any', required: true, updateAllowed: true },
    type: { type: 'string', allowed: ['string', 'number', 'json', 'comma_delimited_list', 'boolean'], updateAllowed: true },
  },
  attributes: ['value', 'show'],
  plugin: {
    async create(r) {
      r.physicalId = randomUUID();
    },
    async update() {},
    async delete() {},
    attribute: (r) => (r.properties.value ?? null) as Json,
  },
};
