// The pivot service: how a seed hands every record it owns to the undercloud it deployed, and how
// the undercloud receives them (docs/pivot.md). One side of each step is an HTTP route here; the
// steps are driven by `bootstack pivot` (run.ts), and each is idempotent, so the whole pivot can be
// killed at any point and run again.
//
// Source side (Keystone admin): begin (read-only from here on; background work paused, so DHCP
// stops), export (every moved row), blobs (image bytes), complete (counts confirmed by the
// receiver). Receiver side (X-Pivot-Token, config pivot.token): blobs (verified on arrival),
// import (one transaction: all rows or none), state.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { BadRequestError, BootstackError, ConflictError, ForbiddenError, NotFoundError } from '../common/errors.js';
import { requireAuth, type ApiService, type ServiceContext } from '../common/service.js';
import type { AnyDB } from '../common/db.js';
import type { PivotConfig } from './config.js';
import { countRows, insertMovedRows, MOVED_TABLES, readMovedRows, type MovedTable, type Row } from './tables.js';
import { now, pivotMigrations, readPivotState, writePivotState, type PivotState } from './state.js';
import { crashPoint } from './fault.js';

/** Where image bytes live (the image service's file store satisfies it). */
export interface BlobStore {
  path(id: string): string;
  receive(id: string, source: Readable, cap: number, expected?: number): Promise<{ tmpPath: string; size: number; sha512: string }>;
  commit(tmpPath: string, id: string): Promise<void>;
  discard(tmpPath: string): Promise<void>;
}

export interface PivotDeps {
  /** Records in the middle of an operation ("node n1 is deploying"); a pivot starts with none. */
  busy(): Promise<string[]>;
  blobs?: BlobStore;
  /** The boot service's files (deploy kernel and ramdisk): moved as they are, by name. */
  filesDir?: string;
}

/** What the source exports: the rows, and what the receiver checks them against. */
export interface PivotBundle {
  pivot_id: string;
  from: string;
  /** Applied migrations: both sides must run the same schema. */
  migrations: string[];
  counts: Record<MovedTable, number>;
  /** Active images whose bytes travel separately (PUT .../blobs/{id}). */
  images: { id: string; size: number; sha512: string }[];
  /** The boot service's files (deploy kernel, ramdisk), sent like images (PUT .../files/{name}). */
  files: { name: string; size: number; sha512: string }[];
  rows: Record<MovedTable, Row[]>;
}

export interface PivotService extends ApiService {
  /** A source that began or finished a pivot accepts no changes; the reason names the new owner. */
  readOnlyReason(): string | undefined;
  /** True once init() found this server handing over or handed over (background work stays off). */
  frozen(): boolean;
  /** Receiver: whether a pivot has been imported (read from the database). */
  received(): Promise<boolean>;
  /** Receiver: resolves when an import commits. */
  whenReceived(): Promise<void>;
}

/** Largest import body: every moved row as JSON (templates and events are the bulk). */
const IMPORT_BODY_LIMIT = 512 * 1024 * 1024;
/** Largest image a pivot moves (as the image service's own default cap). */
const BLOB_CAP = 1024 ** 4;
const ID_RE = /^[0-9a-f-]{36}$/;

export function createPivotService(ctx: ServiceContext, config: PivotConfig, deps: PivotDeps): PivotService {
  let state: PivotState | undefined;
  let onReceived: () => void = () => undefined;
  const received = new Promise<void>((resolve) => (onReceived = resolve));
  /** sha512 each blob was verified against on arrival (import checks it matches the row's). */
  const verified = new Map<string, string>();

  // Machines keep the URLs they were given (os-collect-config's auth_url, signal URLs): a source
  // that handed over serves them the receiver's, and a receiver serves its own in place of the
  // source's, so each machine follows its records to their new home at its next poll.
  ctx.movedUrls = (text) => {
    if (!state || (state.role === 'source' && state.status !== 'handed_over')) return text;
    const [from, to] = state.role === 'source' ? [ctx.publicUrl(), state.peer_url] : [state.peer_url, ctx.publicUrl()];
    return from && to && from !== to ? text.split(`${from}/`).join(`${to}/`) : text;
  };

  const readOnlyReason = () => {
    if (state?.role !== 'source') return undefined;
    return state.status === 'handed_over'
      ? `This cloud's records were handed over to ${state.peer_url} (pivot ${state.pivot_id}, ${state.finished_at}); this copy is read-only. Use ${state.peer_url}.`
      : `This cloud is handing its records over to ${state.peer_url} (pivot ${state.pivot_id}); it accepts no changes until the pivot completes.`;
  };

  const requireReceiverToken = (request: FastifyRequest) => {
    if (!config.token) throw new ForbiddenError('This server is not configured to receive a pivot (pivot.token is not set).');
    const given = request.headers['x-pivot-token'];
    const digest = (s: string) => createHash('sha256').update(s).digest();
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), digest(config.token))) {
      throw new BootstackError(401, 'unauthorized', 'The pivot token (X-Pivot-Token) is missing or wrong.');
    }
  };

  const sourceRoutes = (app: FastifyInstance) => {
    const admin = (request: FastifyRequest) => ctx.policy.enforce('pivot:source', requireAuth(request));

    app.get('/v1', async (request) => {
      admin(request);
      return { pivot: (await readPivotState(ctx.db)) ?? null };
    });

    app.post('/v1/begin', { schema: { body: { type: 'object', required: ['to'], additionalProperties: false, properties: { to: { type: 'string', pattern: '^https?://' } } } } }, async (request) => {
      admin(request);
      const to = (request.body as { to: string }).to.replace(/\/+$/, '');
      const current = await readPivotState(ctx.db);
      if (current?.role === 'receiver') throw new ConflictError(`This server received its records from ${current.peer_url}; it cannot hand them over by a pivot that began elsewhere.`);
      if (current && current.peer_url !== to) {
        throw new ConflictError(`A pivot to ${current.peer_url} (${current.pivot_id}) is ${current.status === 'handed_over' ? 'complete' : 'under way'}; this server's records cannot also go to ${to}.`);
      }
      if (!current) {
        // Read-only first (the state row turns the API's writes away), then the busy check, so no
        // operation can start between the check and the freeze.
        state = { role: 'source', pivot_id: randomUUID(), status: 'handing_over', peer_url: to, counts: await countRows(ctx.db), bytes: 0, started_at: now(), finished_at: null };
        await writePivotState(ctx.db, state);
        const busy = await deps.busy();
        if (busy.length) {
          await sql`delete from pivot_state`.execute(ctx.db);
          state = undefined;
          throw new ConflictError(`A pivot waits until nothing is in progress: ${busy.slice(0, 10).join('; ')}${busy.length > 10 ? ` (and ${busy.length - 10} more)` : ''}. Try again when they finish.`, { fields: { busy } });
        }
        ctx.log.warn({ pivot: state.pivot_id, to }, 'pivot: handing over; this server is read-only and its background work (conductor, DHCP) stops');
      } else {
        state = current;
      }
      await ctx.background?.pause();
      return { pivot: state };
    });

    app.get('/v1/export', async (request): Promise<PivotBundle> => {
      admin(request);
      const current = await sourceState();
      const busy = await deps.busy();
      if (busy.length) throw new ConflictError(`Records became busy after the pivot began: ${busy.slice(0, 10).join('; ')}.`);
      const rows = await readMovedRows(ctx.db);
      const counts = Object.fromEntries(MOVED_TABLES.map((t) => [t, rows[t].length])) as Record<MovedTable, number>;
      const images = rows.images_images
        // Images with bytes: active, and deactivated ones (their data is only withheld).
        .filter((r) => r.status === 'active' || r.status === 'deactivated')
        .map((r) => ({ id: String(r.id), size: Number(r.size ?? 0), sha512: String(r.os_hash_value ?? '') }));
      return { pivot_id: current.pivot_id, from: ctx.publicUrl(), migrations: await appliedMigrations(ctx.db), counts, images, files: await listFiles(deps.filesDir), rows };
    });

    app.get('/v1/files/:name', async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
      admin(request);
      await sourceState();
      const path = filePath(deps.filesDir, request.params.name);
      const size = await stat(path).then((s) => s.size, () => undefined);
      if (size === undefined) throw new NotFoundError('Boot file', request.params.name);
      return reply.header('content-type', 'application/octet-stream').header('content-length', size).send(createReadStream(path));
    });

    app.get('/v1/blobs/:id', async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      admin(request);
      await sourceState();
      if (!deps.blobs) throw new NotFoundError('image store', 'images');
      const id = request.params.id;
      if (!ID_RE.test(id)) throw new BadRequestError(`invalid image id ${id}`);
      const path = deps.blobs.path(id);
      const size = await stat(path).then((s) => s.size, () => undefined);
      if (size === undefined) throw new NotFoundError('Image data', id);
      return reply.header('content-type', 'application/octet-stream').header('content-length', size).send(createReadStream(path));
    });

    app.post('/v1/complete', { schema: { body: { type: 'object', required: ['pivot_id', 'counts'], properties: { pivot_id: { type: 'string' }, counts: { type: 'object' }, bytes: { type: 'integer' } } } } }, async (request) => {
      admin(request);
      const body = request.body as { pivot_id: string; counts: Record<string, number>; bytes?: number };
      const current = await sourceState();
      if (body.pivot_id !== current.pivot_id) throw new ConflictError(`The receiver holds pivot ${body.pivot_id}, not this server's ${current.pivot_id}.`);
      if (current.status === 'handed_over') return { pivot: current };
      const mine = await countRows(ctx.db);
      const differ = MOVED_TABLES.filter((t) => mine[t] !== body.counts[t]).map((t) => `${t}: ${mine[t]} here, ${body.counts[t] ?? 'none'} there`);
      if (differ.length) throw new ConflictError(`The receiver's records differ from this server's: ${differ.join('; ')}.`, { fields: { differ } });
      state = { ...current, status: 'handed_over', counts: mine, bytes: body.bytes ?? 0, finished_at: now() };
      await writePivotState(ctx.db, state);
      ctx.log.warn({ pivot: state.pivot_id, to: state.peer_url, counts: mine }, 'pivot: handed over; this server keeps a read-only copy');
      return { pivot: state };
    });
  };

  const sourceState = async (): Promise<PivotState> => {
    const current = await readPivotState(ctx.db);
    if (current?.role !== 'source') throw new ConflictError('No pivot has begun on this server (POST /pivot/v1/begin first).');
    return current;
  };

  const receiverRoutes = (app: FastifyInstance) => {
    const pub = { config: { public: true } };
    app.get('/v1/receiver', pub, async (request) => {
      requireReceiverToken(request);
      const current = await readPivotState(ctx.db);
      return { receiving: current?.role !== 'receiver', pivot: current?.role === 'receiver' ? current : null };
    });

    app.head('/v1/receiver/blobs/:id', pub, async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      requireReceiverToken(request);
      const size = deps.blobs ? await stat(deps.blobs.path(request.params.id)).then((s) => s.size, () => undefined) : undefined;
      if (size === undefined) return reply.status(404).send();
      return reply.status(200).header('content-length', size).send();
    });

    app.put('/v1/receiver/blobs/:id', pub, async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      requireReceiverToken(request);
      if (!deps.blobs) throw new NotFoundError('image store', 'images');
      const id = request.params.id;
      const expected = String(request.headers['x-image-sha512'] ?? '');
      const size = Number(request.headers['x-image-size']);
      if (!/^[0-9a-f]{128}$/.test(expected)) throw new BadRequestError('X-Image-Sha512 must be the image\'s sha512 (128 hex digits).');
      if (!Number.isSafeInteger(size) || size < 0) throw new BadRequestError('X-Image-Size must be the image\'s size in bytes.');
      if ((await readPivotState(ctx.db))?.role === 'receiver') throw new ConflictError('This server has already received its pivot; it takes no more image data by this route.');
      const got = await deps.blobs.receive(id, request.raw, BLOB_CAP, size);
      if (got.sha512 !== expected) {
        await deps.blobs.discard(got.tmpPath);
        throw new BadRequestError(`Image ${id} arrived with sha512 ${got.sha512.slice(0, 16)}…, not ${expected.slice(0, 16)}…: refused, nothing kept.`);
      }
      await deps.blobs.commit(got.tmpPath, id);
      verified.set(id, expected);
      return reply.status(204).send();
    });

    app.head('/v1/receiver/files/:name', pub, async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
      requireReceiverToken(request);
      const size = await stat(filePath(deps.filesDir, request.params.name)).then((s) => s.size, () => undefined);
      if (size === undefined) return reply.status(404).send();
      return reply.status(200).header('content-length', size).send();
    });

    app.put('/v1/receiver/files/:name', pub, async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
      requireReceiverToken(request);
      const path = filePath(deps.filesDir, request.params.name);
      const expected = String(request.headers['x-image-sha512'] ?? '');
      if (!/^[0-9a-f]{128}$/.test(expected)) throw new BadRequestError('X-Image-Sha512 must be the file\'s sha512 (128 hex digits).');
      if ((await readPivotState(ctx.db))?.role === 'receiver') throw new ConflictError('This server has already received its pivot; it takes no more files by this route.');
      await receiveFile(path, request.raw, expected);
      return reply.status(204).send();
    });

    app.post('/v1/receiver/import', { ...pub, bodyLimit: IMPORT_BODY_LIMIT }, async (request) => {
      requireReceiverToken(request);
      const bundle = request.body as PivotBundle;
      if (!bundle || typeof bundle !== 'object' || typeof bundle.pivot_id !== 'string' || !bundle.rows) throw new BadRequestError('The body must be a pivot export (pivot_id, migrations, counts, images, rows).');
      const current = await readPivotState(ctx.db);
      if (current?.role === 'receiver') {
        if (current.pivot_id === bundle.pivot_id) return { pivot: current, already: true };
        throw new ConflictError(`This server already received pivot ${current.pivot_id} from ${current.peer_url}.`);
      }
      const mine = await appliedMigrations(ctx.db);
      if (JSON.stringify(mine) !== JSON.stringify([...bundle.migrations].sort())) {
        const missing = bundle.migrations.filter((m) => !mine.includes(m));
        const extra = mine.filter((m) => !bundle.migrations.includes(m));
        throw new ConflictError(`The two servers run different schemas (missing here: ${missing.join(', ') || 'none'}; only here: ${extra.join(', ') || 'none'}): run the same Bootstack version on both.`);
      }
      const bytes = (await checkBlobs(bundle.images)) + (await checkFiles(bundle.files ?? []));
      const counts = await ctx.db.transaction().execute(async (trx) => {
        const before = await countRows(trx);
        const held = MOVED_TABLES.filter((t) => before[t] > 0);
        if (held.length) throw new ConflictError(`This server already holds records (${held.map((t) => `${t}: ${before[t]}`).join(', ')}); a pivot moves records only into an empty server, so that nothing is owned twice.`);
        await insertMovedRows(trx, bundle.rows, (table) => table === 'baremetal_nodes' && crashPoint('receiver-mid-import'));
        const after = await countRows(trx);
        const differ = MOVED_TABLES.filter((t) => after[t] !== (bundle.counts[t] ?? 0));
        if (differ.length) throw new BadRequestError(`The export's counts do not match its rows: ${differ.join(', ')}.`);
        await writePivotState(trx, { role: 'receiver', pivot_id: bundle.pivot_id, status: 'received', peer_url: bundle.from, counts: after, bytes, started_at: now(), finished_at: now() });
        return after;
      });
      state = await readPivotState(ctx.db);
      ctx.log.warn({ pivot: bundle.pivot_id, from: bundle.from, counts }, 'pivot: records received');
      onReceived();
      return { pivot: await readPivotState(ctx.db), already: false };
    });
  };

  /** Every active image's bytes are here, verified against the sha512 its row carries. */
  const checkBlobs = async (images: PivotBundle['images']): Promise<number> => {
    let bytes = 0;
    const missing: string[] = [];
    for (const image of images) {
      const size = deps.blobs ? await stat(deps.blobs.path(image.id)).then((s) => s.size, () => undefined) : undefined;
      // A blob verified by an earlier run of this process is in `verified`; after a restart the
      // file alone says little, so it is hashed again.
      const ok = size === image.size && (verified.get(image.id) ?? (await sha512Of(deps.blobs!.path(image.id)))) === image.sha512;
      if (!ok) missing.push(image.id);
      else bytes += image.size;
    }
    if (missing.length) throw new ConflictError(`Image data missing or different for ${missing.join(', ')}: send it (PUT /pivot/v1/receiver/blobs/{id}) before the import.`, { fields: { missing } });
    return bytes;
  };

  /** Every boot file is here with the sha512 the export gave. */
  const checkFiles = async (files: PivotBundle['files']): Promise<number> => {
    const wrong: string[] = [];
    let bytes = 0;
    for (const f of files) {
      if ((await sha512Of(filePath(deps.filesDir, f.name))) === f.sha512) bytes += f.size;
      else wrong.push(f.name);
    }
    if (wrong.length) throw new ConflictError(`Boot files missing or different: ${wrong.join(', ')}: send them (PUT /pivot/v1/receiver/files/{name}) before the import.`, { fields: { missing: wrong } });
    return bytes;
  };

  return {
    name: 'pivot',
    prefix: '/pivot',
    faultStyle: 'plain',
    migrations: pivotMigrations,
    policy: { 'pivot:source': { roles: ['admin'] } },
    routes(app) {
      // Image data stays a stream for the handler (never buffered, not bound by the body limit).
      app.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null, undefined));
      sourceRoutes(app);
      receiverRoutes(app);
    },
    async init() {
      state = await readPivotState(ctx.db);
      if (state?.role === 'source') ctx.log.warn({ pivot: state.pivot_id, to: state.peer_url, status: state.status }, 'pivot: this server is read-only (its records are handed over or being handed over); background work stays off');
    },
    readOnlyReason,
    frozen: () => state?.role === 'source',
    received: async () => (await readPivotState(ctx.db))?.role === 'receiver',
    whenReceived: () => received,
  };
}

async function appliedMigrations(db: AnyDB): Promise<string[]> {
  const rows = (await db.selectFrom('kysely_migration').select('name').execute()) as { name: string }[];
  return rows.map((r) => r.name).filter((n) => !n.startsWith('pivot/')).sort();
}

async function sha512Of(path: string): Promise<string | undefined> {
  const hash = createHash('sha512');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

/** A boot file's path: a plain name inside the files directory, nothing else. */
function filePath(dir: string | undefined, name: string): string {
  if (!dir) throw new NotFoundError('boot files directory', 'boot');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) throw new BadRequestError(`invalid boot file name ${JSON.stringify(name)}`);
  return join(dir, name);
}

/** The regular files of the boot files directory, with their sizes and sha512. */
async function listFiles(dir: string | undefined): Promise<PivotBundle['files']> {
  if (!dir) return [];
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: PivotBundle['files'] = [];
  for (const name of names) {
    // stat follows symlinks: a seed's deploy kernel is often a link into the image cache.
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile() || name.startsWith('.')) continue;
    out.push({ name, size: st.size, sha512: (await sha512Of(path))! });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Streams into a temp file beside `path`, hashing; renamed into place only when the sha512 matches. */
async function receiveFile(path: string, source: Readable, expected: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.part`;
  const hash = createHash('sha512');
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(tmp, { flags: 'wx', mode: 0o644 }),
    );
    const got = hash.digest('hex');
    if (got !== expected) throw new BadRequestError(`${basename(path)} arrived with sha512 ${got.slice(0, 16)}…, not ${expected.slice(0, 16)}…: refused, nothing kept.`);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
