// The server side of the long-poll protocol (docs/agents.md), as a reference for the metadata
// service and for tests and benchmarks: a document with an ETag; a GET with
// `If-None-Match: <current ETag>` and `Prefer: wait=<s>` is held until the document changes
// (200, new ETag) or the wait passes (304); every answer to a request with `Prefer: wait` carries
// `Preference-Applied: wait=<s>` so the client knows it may rely on being held.
// The header parsing and ETags are src/common/long-poll.ts's, which the orchestration service
// serves resource metadata with; this file stays a dependency-free node:http reference.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { etagOf, preferredWait } from '../../../src/common/long-poll.js';

export { MAX_WAIT_S, preferredWait } from '../../../src/common/long-poll.js';

export class LongPollDocument {
  private body = '';
  private tag = '';
  private readonly waiters = new Set<() => void>();

  constructor(body: string) {
    this.set(body);
  }

  get etag(): string {
    return this.tag;
  }

  get content(): string {
    return this.body;
  }

  set(body: string): void {
    this.body = body;
    this.tag = etagOf(body);
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves true when the ETag moves away from `etag`, false after `ms` or on abort. */
  waitForChange(etag: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (etag !== this.tag) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', abort);
        resolve(changed);
      };
      const wake = () => done(true);
      const abort = () => done(false);
      const timer = setTimeout(abort, ms);
      this.waiters.add(wake);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }
}

export function serveLongPoll(doc: LongPollDocument, req: IncomingMessage, res: ServerResponse, opts: { longPoll?: boolean } = {}): void {
  const prefer = req.headers.prefer;
  const wait = opts.longPoll === false ? undefined : preferredWait(prefer);
  const inm = req.headers['if-none-match'];
  const reply = () => {
    if (wait !== undefined) res.setHeader('preference-applied', `wait=${wait}`);
    res.setHeader('etag', doc.etag);
    if (inm === doc.etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(req.method === 'HEAD' ? undefined : doc.content);
  };
  if (wait !== undefined && wait > 0 && inm === doc.etag && req.method === 'GET') {
    // A client that goes away releases its wait (and its timer) at once.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    void doc.waitForChange(inm, wait * 1000, gone.signal).then(() => {
      if (!gone.signal.aborted) reply();
    });
    return;
  }
  reply();
}
