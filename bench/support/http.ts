// The benches' HTTP client and port picker: one JSON call shape for every API they drive.
import { createServer } from 'node:net';

export interface JsonReply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- API JSON, checked where used
}

/** A request with a JSON body (a string or Buffer goes as is); the answer parsed when it is JSON, kept as text otherwise. */
export async function callJson(url: string, method: string, body: unknown, headers: Record<string, string>): Promise<JsonReply> {
  const res = await fetch(url, {
    method,
    headers: { ...(body !== undefined && body !== null ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined || body === null ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (an HTML or text error page): kept as text for the error message
  }
  return { status: res.status, body: parsed };
}

/** A port free on 127.0.0.1 now (the server started next binds it). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}
