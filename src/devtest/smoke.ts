// The overcloud demo's smoke test (devtest's last stage): every web URL answers GET / with a
// hostname of its own, and a random value written through the first web machine is read back
// through the second, so it went through the database machine. Each step retries a bounded
// number of times (the services may still be starting); a failure names the URL and what it
// answered.
import { randomBytes } from 'node:crypto';
import { BootstackError } from '../common/errors.js';
import { sleep } from '../common/sleep.js';

export interface SmokeOptions {
  /** Tries per step (default 30). */
  attempts?: number;
  /** Pause between tries, ms (default 2000). */
  delayMs?: number;
  /** Limit per request, ms (default 5000). */
  requestTimeoutMs?: number;
  /** For tests: the key and value to write (default `smoke-<random>` and a random value). */
  key?: string;
  value?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface SmokeReport {
  webs: Array<{ url: string; hostname: string }>;
  key: string;
  value: string;
  wroteThrough: string;
  readThrough: string;
  seconds: number;
}

export class SmokeError extends BootstackError {
  constructor(message: string, url: string, options: { cause?: unknown } = {}) {
    super(502, 'smoke_failed', message, { fields: { url }, cause: options.cause });
  }
}

/** A URL with exactly one slash before `path`. */
function at(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

interface Answer {
  status: number;
  body: string;
}

async function request(url: string, init: { method?: string; body?: string }, o: Required<Pick<SmokeOptions, 'requestTimeoutMs'>> & SmokeOptions): Promise<Answer> {
  const signals = [AbortSignal.timeout(o.requestTimeoutMs), ...(o.signal ? [o.signal] : [])];
  const res = await fetch(url, { method: init.method ?? 'GET', body: init.body, headers: init.body === undefined ? {} : { 'content-type': 'text/plain; charset=utf-8' }, signal: AbortSignal.any(signals) });
  return { status: res.status, body: await res.text() };
}

/** Why a try failed, for the final message. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (err.name === 'TimeoutError') return 'no answer in time';
    return cause?.code ? `${cause.code}${cause.message ? ` (${cause.message})` : ''}` : err.message;
  }
  return String(err);
}

/**
 * `step` until it returns an answer `accept` takes (returned) or the tries run out; then a
 * SmokeError naming `url` with the last answer or error.
 */
async function retry(what: string, url: string, step: () => Promise<Answer>, accept: (a: Answer) => string | undefined, o: Required<Pick<SmokeOptions, 'attempts' | 'delayMs'>> & SmokeOptions): Promise<Answer> {
  let last = '';
  for (let i = 1; i <= o.attempts; i++) {
    o.signal?.throwIfAborted();
    try {
      const a = await step();
      const problem = accept(a);
      if (problem === undefined) return a;
      last = problem;
    } catch (err) {
      if (o.signal?.aborted) throw err;
      last = describe(err);
    }
    if (i < o.attempts) {
      o.log?.(`${what}: try ${i}/${o.attempts} failed (${last}); again in ${o.delayMs / 1000} s`);
      await sleep(o.delayMs);
    }
  }
  throw new SmokeError(`${what} failed at ${url} after ${o.attempts} tries: ${last}`, url);
}

const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

export async function smokeTest(webUrls: readonly string[], options: SmokeOptions = {}): Promise<SmokeReport> {
  const started = Date.now();
  const o = { attempts: 30, delayMs: 2000, requestTimeoutMs: 5000, ...options };
  if (webUrls.length === 0) throw new SmokeError('no web URLs to test (the stack has no web_urls output, or it is empty)', '');
  for (const u of webUrls) {
    if (!/^https?:\/\/[^/]+/.test(u)) throw new SmokeError(`not an http(s) URL: ${JSON.stringify(u)}`, u);
  }

  // 1. Each web machine answers with its own hostname.
  const webs: SmokeReport['webs'] = [];
  for (const url of webUrls) {
    const a = await retry(
      'GET /',
      url,
      () => request(at(url, '/'), {}, o),
      (x) => (x.status !== 200 ? `HTTP ${x.status}: ${clip(x.body.trim())}` : x.body.trim() === '' ? 'an empty answer (expected the hostname)' : undefined),
      o,
    );
    const hostname = a.body.trim();
    const same = webs.find((w) => w.hostname === hostname);
    if (same) throw new SmokeError(`${url} and ${same.url} both answered hostname "${hostname}": each web URL should reach a machine of its own`, url);
    webs.push({ url, hostname });
    o.log?.(`${url} is ${hostname}`);
  }

  // 2. A value written through one web machine is read through another (or the same, if only one).
  const key = o.key ?? `smoke-${randomBytes(6).toString('hex')}`;
  const value = o.value ?? randomBytes(12).toString('base64url');
  const wroteThrough = webUrls[0]!;
  const readThrough = webUrls[1] ?? webUrls[0]!;
  if (webUrls.length === 1) o.log?.('only one web URL: the value is read back through the same machine');
  await retry(
    `PUT /kv/${key}`,
    wroteThrough,
    () => request(at(wroteThrough, `/kv/${key}`), { method: 'PUT', body: value }, o),
    (x) => (x.status >= 200 && x.status < 300 ? undefined : `HTTP ${x.status}: ${clip(x.body.trim())}`),
    o,
  );
  o.log?.(`wrote ${key} through ${wroteThrough}`);
  await retry(
    `GET /kv/${key}`,
    readThrough,
    () => request(at(readThrough, `/kv/${key}`), {}, o),
    (x) => (x.status !== 200 ? `HTTP ${x.status}: ${clip(x.body.trim())}` : x.body !== value ? `read ${JSON.stringify(clip(x.body))}, wrote ${JSON.stringify(value)}` : undefined),
    o,
  );
  o.log?.(`read ${key} back through ${readThrough}`);
  return { webs, key, value, wroteThrough, readThrough, seconds: (Date.now() - started) / 1000 };
}
