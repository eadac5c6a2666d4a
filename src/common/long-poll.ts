// The server side of the long-poll protocol (docs/agents.md "Long-poll protocol"), for any service
// that serves a document machines poll (orchestration's resource metadata, the metadata service):
//
//   * every answer carries `ETag: "<hash of the document>"`;
//   * `Prefer: wait=N` (capped at MAX_WAIT_S) is answered with `Preference-Applied: wait=N`;
//   * a GET whose `If-None-Match` is the current ETag and whose wait is > 0 is held until the
//     document changes (200 with the new document) or the wait passes (304);
//   * a held request is released when its client goes away.
//
// Nothing here knows HTTP frameworks or databases: the caller says how to read the document and
// how to learn that it may have changed (a ChangeNotifier keyed by whatever identifies the
// document). No timers or promises are left behind by a released or answered request.
import { createHash } from 'node:crypto';

export const MAX_WAIT_S = 120;

/** `Prefer: wait=N` → N seconds (capped at MAX_WAIT_S), or undefined when not asked. */
export function preferredWait(header: string | readonly string[] | undefined): number | undefined {
  const text = Array.isArray(header) ? header.join(',') : (header as string | undefined) ?? '';
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d+)/i.exec(text);
  return m ? Math.min(Number(m[1]), MAX_WAIT_S) : undefined;
}

/** A strong ETag derived from the document's text. */
export function etagOf(text: string): string {
  return `"${createHash('sha256').update(text).digest('hex').slice(0, 32)}"`;
}

export interface Subscription {
  /** True when notified, false when the time passed or the signal aborted. */
  changed: Promise<boolean>;
  cancel(): void;
}

/**
 * In-process wake-ups keyed by document: whoever changes a document calls notify(key), and every
 * request held on that key is answered at once.
 */
export class ChangeNotifier {
  private readonly waiters = new Map<string, Set<(changed: boolean) => void>>();

  notify(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const wake of [...set]) wake(true);
  }

  /** Held requests (for tests and diagnostics). */
  waiting(key?: string): number {
    if (key !== undefined) return this.waiters.get(key)?.size ?? 0;
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  subscribe(key: string, ms: number, signal?: AbortSignal): Subscription {
    let finish: (changed: boolean) => void = () => undefined;
    const changed = new Promise<boolean>((resolve) => {
      let done = false;
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), Math.max(0, ms));
      finish = (value: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.waiters.get(key);
        if (set) {
          set.delete(finish);
          if (set.size === 0) this.waiters.delete(key);
        }
        resolve(value);
      };
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      set.add(finish);
      if (signal?.aborted) finish(false);
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    return { changed, cancel: () => finish(false) };
  }
}

export interface LongPollRequest {
  method: string;
  prefer?: string | readonly string[];
  ifNoneMatch?: string | readonly string[];
  /** Aborted when the client goes away. */
  closed: AbortSignal;
}

export interface LongPollDocumentVersion {
  body: string;
  etag: string;
}

export interface LongPollAnswer {
  status: 200 | 304;
  headers: Record<string, string>;
  /** The document (200 only). */
  body?: string;
}

/**
 * Answers one request of the protocol. `current` reads the document (it may throw, e.g. a 404
 * when it no longer exists); `subscribe` registers for a change of it. Resolves undefined when the
 * client went away while held (nothing must be sent).
 */
export async function longPoll(
  req: LongPollRequest,
  current: () => Promise<LongPollDocumentVersion>,
  subscribe: (ms: number, signal: AbortSignal) => Subscription,
): Promise<LongPollAnswer | undefined> {
  const wait = preferredWait(req.prefer);
  const inm = Array.isArray(req.ifNoneMatch) ? req.ifNoneMatch[0] : (req.ifNoneMatch as string | undefined);
  const answer = (doc: LongPollDocumentVersion): LongPollAnswer => {
    const headers: Record<string, string> = { etag: doc.etag };
    if (wait !== undefined) headers['preference-applied'] = `wait=${wait}`;
    return inm !== undefined && inm === doc.etag ? { status: 304, headers } : { status: 200, headers, body: doc.body };
  };
  const holdable = wait !== undefined && wait > 0 && inm !== undefined && req.method === 'GET';
  if (!holdable) return answer(await current());
  const deadline = Date.now() + wait * 1000;
  for (;;) {
    // Subscribe before reading, so a change between the read and the wait is not missed.
    const sub = subscribe(deadline - Date.now(), req.closed);
    let doc: LongPollDocumentVersion;
    try {
      doc = await current();
    } catch (err) {
      sub.cancel();
      throw err;
    }
    if (doc.etag !== inm || Date.now() >= deadline) {
      sub.cancel();
      return answer(doc);
    }
    const changed = await sub.changed;
    if (req.closed.aborted) return undefined;
    // Time is up: answer with what is there now (304 if it is still the same).
    if (!changed) return answer(await current());
    // Notified: read again; a notification without a change (same ETag) keeps waiting.
  }
}
