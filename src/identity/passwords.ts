// Password hashing with scrypt (node:crypto): a random salt per password, parameters stored with
// the hash so they can be raised later without invalidating existing passwords.
//
// scrypt is the callback variant, never scryptSync: it runs on libuv's thread pool, not on the
// event loop. That pool (4 threads unless UV_THREADPOOL_SIZE says otherwise) is shared with file
// I/O, so every hash goes through `passwordSlots`, which lets only half of it hash at a time: a
// flood of logins queues here instead of stalling image uploads and downloads.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ServiceUnavailableError } from '../common/errors.js';

const KEYLEN = 32;
const DEFAULTS = { N: 16384, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Runs at most `size` jobs at once; beyond `maxWaiting` queued jobs it refuses with 503. */
export class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly size: number,
    readonly maxWaiting: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.size) this.active++;
    else {
      // A bounded queue: an unbounded one would only turn a flood into memory and latency.
      if (this.waiting.length >= this.maxWaiting) throw new ServiceUnavailableError('Too many password checks are in progress; try again shortly.');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next job, so a newcomer cannot overtake the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
/** Every scrypt call of the process goes through here (callers of verifyPassword too). */
export const passwordSlots = new Slots(Math.max(1, Math.floor(poolSize / 2)), 256);

interface Parsed { N: number; r: number; p: number; salt: Buffer; hash: Buffer }

/** "scrypt$N$r$p$<salt b64>$<hash b64>", or undefined when `stored` is not one. */
function parse(stored: string | null | undefined): Parsed | undefined {
  const parts = stored?.split('$');
  if (!parts || parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  return { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

function rawHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  return scrypt(password, salt, KEYLEN, DEFAULTS).then((key) =>
    ['scrypt', DEFAULTS.N, DEFAULTS.r, DEFAULTS.p, salt.toString('base64'), key.toString('base64')].join('$'));
}

async function matches(password: string, h: Parsed): Promise<boolean> {
  const key = await scrypt(password, h.salt, h.hash.length, { N: h.N, r: h.r, p: h.p, maxmem: 64 * 1024 * 1024 });
  return key.length === h.hash.length && timingSafeEqual(key, h.hash);
}

/** "scrypt$N$r$p$<salt b64>$<hash b64>" */
export function hashPassword(password: string): Promise<string> {
  return passwordSlots.run(() => rawHash(password));
}

// A hash of a random password nobody knows, with today's parameters.
let dummy: Promise<Parsed> | undefined;

/**
 * Whether `password` matches `stored`. Without a usable hash (unknown user, user without a
 * password) it hashes against a dummy all the same and answers false, so that the time taken
 * does not tell those cases from a wrong password. Callers run it inside `passwordSlots.run`
 * (not done here, so a caller can make other steps part of the same slot).
 */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const h = parse(stored);
  if (h) return matches(password, h);
  dummy ??= rawHash(generatePassword()).then((s) => parse(s)!);
  await matches(password, await dummy);
  return false;
}

/** A password for generated accounts: 24 random bytes, URL-safe. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
