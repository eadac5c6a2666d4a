// `bootstack pivot`: drives a pivot from a seed to a receiver, step by step. Every step is
// idempotent on the servers (begin finds the pivot already begun, a blob already there is skipped,
// an import already committed answers with what it received, complete finds it complete), and the
// state lives on the two servers, not here: killed at any point, the same command finishes it.
import { BootstackError } from '../common/errors.js';
import { keystoneLogin, type CloudAuth } from '../common/keystone-login.js';
import type { PivotBundle } from './index.js';
import type { PivotState } from './state.js';
import type { MovedTable } from './tables.js';
import { crashPoint } from './fault.js';

export interface PivotOptions {
  /** The seed's admin credentials (clouds.yaml entry or OS_* variables). */
  from: CloudAuth;
  /** The receiver's URL and its pivot token (pivot.token in its configuration). */
  to: { url: string; token: string };
  onProgress?: (step: string, detail?: string) => void;
}

export interface PivotReport {
  pivot_id: string;
  from: string;
  to: string;
  /** Rows handed over per table. */
  counts: Record<string, number>;
  images: number;
  /** Image bytes sent by this run (0 when a re-run found them all there). */
  bytes_sent: number;
  /** Image bytes the receiver holds for the pivot. */
  bytes: number;
  seconds: number;
  steps: { step: string; ms: number }[];
}

export async function runPivot(options: PivotOptions): Promise<PivotReport> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  const steps: PivotReport['steps'] = [];
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    progress(name);
    const out = await work();
    steps.push({ step: name, ms: Math.round(performance.now() - t0) });
    return out;
  };
  const to = options.to.url.replace(/\/+$/, '');
  const seedBase = options.from.auth_url.replace(/\/+$/, '').replace(/\/identity(\/v3)?$/, '');
  const session = await step('login', () => keystoneLogin(options.from));
  const seed = (method: string, path: string, body?: unknown) => call(`${seedBase}/pivot/v1${path}`, method, { 'x-auth-token': session.token }, body);
  const receiver = (method: string, path: string, body?: unknown) => call(`${to}/pivot/v1/receiver${path}`, method, { 'x-pivot-token': options.to.token }, body);

  const there = (await step('receiver', () => receiver('GET', ''))) as { pivot: PivotState | null };
  const begun = (await step('begin', () => seed('POST', '/begin', { to }))) as { pivot: PivotState };
  crashPoint('after-begin');
  if (begun.pivot.status === 'handed_over') {
    progress('complete', `already handed over to ${to} at ${begun.pivot.finished_at}`);
    return report(begun.pivot, to, seedBase, 0, steps, started);
  }
  if (there.pivot?.pivot_id === begun.pivot.pivot_id) {
    // Imported by an earlier run that died before the seed heard of it: only completion is left.
    progress('import', 'the receiver already holds this pivot');
    const done = (await step('complete', () => seed('POST', '/complete', { pivot_id: there.pivot!.pivot_id, counts: there.pivot!.counts, bytes: there.pivot!.bytes }))) as { pivot: PivotState };
    return report(done.pivot, to, seedBase, 0, steps, started);
  }
  const bundle = (await step('export', () => seed('GET', '/export'))) as PivotBundle;
  progress('export', `${Object.values(bundle.counts).reduce((a, b) => a + b, 0)} records, ${bundle.images.length} images`);
  crashPoint('after-export');

  let sent = 0;
  await step('images', async () => {
    for (const [i, image] of bundle.images.entries()) {
      const head = await fetch(`${to}/pivot/v1/receiver/blobs/${image.id}`, { method: 'HEAD', headers: { 'x-pivot-token': options.to.token } });
      if (head.ok && Number(head.headers.get('content-length')) === image.size) {
        progress('images', `${i + 1}/${bundle.images.length} ${image.id}: already there`);
        continue;
      }
      sent += await sendBlob(`${seedBase}/pivot/v1/blobs/${image.id}`, session.token, `${to}/pivot/v1/receiver/blobs/${image.id}`, options.to.token, image, (n) =>
        progress('images', `${i + 1}/${bundle.images.length} ${image.id}: ${Math.floor((100 * n) / Math.max(1, image.size))}%`),
      );
      crashPoint('after-first-blob');
    }
  });

  // Boot files (deploy kernel and ramdisk) are small and always sent: the import checks them by
  // sha512, so a file of the right size but other content cannot slip through.
  await step('files', async () => {
    for (const file of bundle.files ?? []) {
      sent += await sendBlob(`${seedBase}/pivot/v1/files/${encodeURIComponent(file.name)}`, session.token, `${to}/pivot/v1/receiver/files/${encodeURIComponent(file.name)}`, options.to.token, { id: file.name, ...file }, (n) =>
        progress('files', `${file.name}: ${Math.floor((100 * n) / Math.max(1, file.size))}%`),
      );
    }
  });

  const imported = (await step('import', () => receiver('POST', '/import', bundle))) as { pivot: PivotState; already: boolean };
  progress('import', imported.already ? 'the receiver already had this pivot' : 'committed on the receiver');
  crashPoint('after-import');
  const done = (await step('complete', () => seed('POST', '/complete', { pivot_id: imported.pivot.pivot_id, counts: imported.pivot.counts, bytes: imported.pivot.bytes }))) as { pivot: PivotState };
  return report(done.pivot, to, seedBase, sent, steps, started, bundle.images.length);
}

function report(state: PivotState, to: string, from: string, sent: number, steps: PivotReport['steps'], started: number, images?: number): PivotReport {
  return {
    pivot_id: state.pivot_id,
    from,
    to,
    counts: state.counts as Record<MovedTable, number>,
    images: images ?? state.counts.images_images ?? 0,
    bytes_sent: sent,
    bytes: state.bytes,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    steps,
  };
}

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new BootstackError(503, 'unreachable', `${method} ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok) throw new BootstackError(res.status, 'pivot_step_failed', `${method} ${url} (HTTP ${res.status}): ${faultMessage(text)}`);
  return text ? JSON.parse(text) : null;
}

function faultMessage(text: string): string {
  try {
    const v = JSON.parse(text) as { message?: string; error?: { message?: string } };
    return v.message ?? v.error?.message ?? text.slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}

/** Streams one image from the seed to the receiver (never held in memory); returns bytes sent. */
async function sendBlob(from: string, token: string, to: string, pivotToken: string, image: { id: string; size: number; sha512: string }, onBytes: (n: number) => void): Promise<number> {
  const src = await fetch(from, { headers: { 'x-auth-token': token } });
  if (!src.ok || !src.body) throw new BootstackError(src.status, 'pivot_step_failed', `GET ${from} (HTTP ${src.status}): ${faultMessage(await src.text())}`);
  let n = 0;
  let last = 0;
  const counted = src.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        n += chunk.byteLength;
        if (n - last >= 64 * 1024 * 1024 || n === image.size) {
          last = n;
          onBytes(n);
        }
        controller.enqueue(chunk);
      },
    }),
  );
  const res = await fetch(to, {
    method: 'PUT',
    headers: { 'x-pivot-token': pivotToken, 'content-type': 'application/octet-stream', 'content-length': String(image.size), 'x-image-sha512': image.sha512, 'x-image-size': String(image.size) },
    body: counted,
    duplex: 'half',
  } as RequestInit);
  if (!res.ok) throw new BootstackError(res.status, 'pivot_step_failed', `PUT ${to} (HTTP ${res.status}): ${faultMessage(await res.text())}`);
  return n;
}
