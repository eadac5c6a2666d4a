// The heat and ec2 collectors against HTTP servers on 127.0.0.1 playing Keystone v3 + Heat and an
// EC2 metadata service; the config drive through an injected blkid/mounts view over a directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { HeatCollector } from './heat.js';
import { Ec2Collector } from './ec2.js';
import { RequestCollector } from './request.js';
import { configDriveMetadata, parseBlkidExport, type DriveSystem } from './config-drive.js';
import { SourceNotAvailable, SourceNotConfigured } from '../errors.js';
import { toPlain } from '../../common/py-json.js';
import { LongPollDocument, serveLongPoll } from '../../../../test/support/agents/long-poll-server.js';

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse, base: string) => void) {
  let base = '';
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res, base));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, base };
}

test('heat collector: Keystone v3 password auth, catalog lookup, resource metadata, deployments', async () => {
  const seen: string[] = [];
  const { server, base } = await serve((req, body, res, b) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/identity/v3/auth/tokens') {
      const auth = JSON.parse(body) as { auth: { identity: { password: { user: { id: string; password: string } } }; scope: { project: { id: string } } } };
      if (auth.auth.identity.password.user.password !== 'pw' || auth.auth.scope.project.id !== 'proj') {
        res.statusCode = 401;
        return res.end('{}');
      }
      res.statusCode = 201;
      res.setHeader('x-subject-token', 'tok-1');
      return res.end(JSON.stringify({ token: { catalog: [{ type: 'orchestration', endpoints: [{ interface: 'internal', url: 'http://wrong' }, { interface: 'public', region: 'r1', url: `${b}/orchestration/v1/proj` }] }] } }));
    }
    if (req.url === '/orchestration/v1/proj/stacks/st/id1/resources/server%201/metadata' && req.headers['x-auth-token'] === 'tok-1') {
      return res.end(JSON.stringify({ metadata: { a: 1, deployments: [{ name: 'd1', group: 'os-apply-config', config: { k: 'v' } }] } }));
    }
    res.statusCode = 404;
    res.end('{}');
  });
  try {
    const opts = { authUrl: `${base}/identity/v2.0`, userId: 'u', password: 'pw', projectId: 'proj', stackId: 'st/id1', resourceName: 'server 1', regionName: 'r1', timeout: 5, deploymentKeys: ['deployments'] };
    const got = await new HeatCollector(opts, log).collect();
    assert.deepEqual(
      got.map(([n, v]) => [n, toPlain(v)]),
      [
        ['heat', { a: 1, deployments: [{ name: 'd1', group: 'os-apply-config', config: { k: 'v' } }] }],
        ['d1', { k: 'v' }],
      ],
    );
    await assert.rejects(new HeatCollector({ ...opts, password: 'bad' }, log).collect(), SourceNotAvailable);
    await assert.rejects(new HeatCollector({ ...opts, stackId: undefined }, log).collect(), SourceNotConfigured);
    assert.ok(seen.includes('POST /identity/v3/auth/tokens'));
  } finally {
    server.close();
  }
});

test('heat collector: keeps its token (new one on 401 or near expiry) and long-polls the metadata', async () => {
  const doc = new LongPollDocument(JSON.stringify({ metadata: { v: 1 } }));
  let issued = 0;
  let valid = new Set<string>();
  const gets: Record<string, string | undefined>[] = [];
  const expires = Date.parse('2030-01-01T00:00:00Z');
  const { server, base } = await serve((req, _body, res, b) => {
    if (req.url === '/identity/v3/auth/tokens') {
      const tok = `tok-${++issued}`;
      valid.add(tok);
      res.statusCode = 201;
      res.setHeader('x-subject-token', tok);
      return res.end(JSON.stringify({ token: { expires_at: new Date(expires).toISOString(), catalog: [{ type: 'orchestration', endpoints: [{ interface: 'public', url: `${b}/orchestration/v1/proj` }] }] } }));
    }
    if (req.url === '/orchestration/v1/proj/stacks/st/id1/resources/srv/metadata') {
      if (!valid.has(String(req.headers['x-auth-token']))) {
        res.statusCode = 401;
        return res.end('{}');
      }
      gets.push({ prefer: req.headers.prefer as string | undefined, inm: req.headers['if-none-match'] as string | undefined });
      return serveLongPoll(doc, req, res);
    }
    res.statusCode = 404;
    res.end('{}');
  });
  let now = Date.parse('2029-12-31T00:00:00Z');
  try {
    const c = new HeatCollector({ authUrl: `${base}/identity/v3`, userId: 'u', password: 'pw', projectId: 'proj', stackId: 'st/id1', resourceName: 'srv', timeout: 5, longPollWait: 20, deploymentKeys: ['deployments'] }, log, () => now);
    assert.deepEqual(toPlain((await c.collect())[0]![1]), { v: 1 });
    assert.equal(c.longPolling, true, 'the server said it holds requests');
    assert.deepEqual(gets[0], { prefer: 'wait=20', inm: undefined });
    // Held: the change arrives as soon as the document changes, long before the wait passes.
    const firstTag = doc.etag;
    const t0 = Date.now();
    const held = c.collect();
    await new Promise((r) => setTimeout(r, 200));
    doc.set(JSON.stringify({ metadata: { v: 2 } }));
    assert.deepEqual(toPlain((await held)[0]![1]), { v: 2 });
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual(gets[1], { prefer: 'wait=20', inm: firstTag });
    assert.equal(issued, 1, 'one token for both requests');
    // Revoked (401): authenticate again and carry on.
    valid = new Set();
    const again = c.collect();
    doc.set(JSON.stringify({ metadata: { v: 3 } }));
    assert.deepEqual(toPlain((await again)[0]![1]), { v: 3 });
    assert.equal(issued, 2);
    // Close to expiry: a new token before the request.
    now = expires - 60_000;
    doc.set(JSON.stringify({ metadata: { v: 4 } }));
    assert.deepEqual(toPlain((await c.collect())[0]![1]), { v: 4 });
    assert.equal(issued, 3);
    // Without a wait, no Prefer header and no If-None-Match (the original's behaviour).
    const plain = new HeatCollector({ authUrl: `${base}/identity/v3`, userId: 'u', password: 'pw', projectId: 'proj', stackId: 'st/id1', resourceName: 'srv', timeout: 5, deploymentKeys: [] }, log, () => now);
    await plain.collect();
    assert.deepEqual(gets.at(-1), { prefer: undefined, inm: undefined });
    assert.equal(plain.longPolling, false);
  } finally {
    server.close();
  }
});

test('ec2 collector: walks the metadata tree, then reads its cache', async () => {
  const tree: Record<string, string> = {
    '/latest/meta-data/': 'instance-id\nlocal-ipv4\npublic-keys/\nplacement/',
    '/latest/meta-data/instance-id': 'i-123',
    '/latest/meta-data/local-ipv4': '192.0.2.9',
    '/latest/meta-data/public-keys/': '0=mykey',
    '/latest/meta-data/public-keys/0/': 'openssh-key',
    '/latest/meta-data/public-keys/0/openssh-key': 'ssh-ed25519 AAAA',
    '/latest/meta-data/placement/': 'availability-zone',
    '/latest/meta-data/placement/availability-zone': 'nova',
  };
  let hits = 0;
  const { server, base } = await serve((req, _b, res) => {
    hits++;
    const body = tree[req.url ?? ''];
    res.statusCode = body === undefined ? 404 : 200;
    res.end(body ?? 'not found');
  });
  const dir = mkdtempSync(join(tmpdir(), 'ec2-'));
  const noDrive: DriveSystem = { blkidExport: async () => '', procMounts: () => '', mount: async () => undefined, umount: async () => undefined };
  try {
    const c = new Ec2Collector({ metadataUrl: `${base}/latest/meta-data`, timeout: 5, cachePath: join(dir, 'ec2.json'), drive: noDrive }, log);
    const [[name, value]] = (await c.collect()) as [[string, unknown]];
    assert.equal(name, 'ec2');
    assert.deepEqual(toPlain(value as never), {
      'instance-id': 'i-123',
      'local-ipv4': '192.0.2.9',
      'public-keys': { '0': { 'openssh-key': 'ssh-ed25519 AAAA' } },
      placement: { 'availability-zone': 'nova' },
    });
    writeFileSync(join(dir, 'ec2.json'), '{"cached": true}');
    const before = hits;
    assert.deepEqual(toPlain((await c.collect())[0]?.[1] as never), { cached: true });
    assert.equal(hits, before, 'the cache is used, no request made');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config drive: found by label and type, read where it is mounted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-2-'));
  try {
    mkdirSync(join(dir, 'ec2/latest'), { recursive: true });
    writeFileSync(join(dir, 'ec2/latest/meta-data.json'), '{"instance-id": "i-cd"}');
    const blkid = 'DEVNAME=/dev/vda1\nTYPE=ext4\nLABEL=root\n\nDEVNAME=/dev/sr0\nLABEL=config-2\nTYPE=iso9660\n\nDEVNAME=/dev/vdb\nLABEL=config-2\nTYPE=ext4\n';
    assert.equal(parseBlkidExport(blkid)[1]?.devname, '/dev/sr0');
    const mounted: string[] = [];
    const sys: DriveSystem = {
      blkidExport: async () => blkid,
      procMounts: () => `/dev/vda1 / ext4 rw 0 0\n/dev/sr0 ${dir} iso9660 ro 0 0\n`,
      mount: async (d) => void mounted.push(d),
      umount: async () => undefined,
    };
    assert.deepEqual(toPlain(await configDriveMetadata(log, sys) as never), { 'instance-id': 'i-cd' });
    assert.deepEqual(mounted, [], 'already mounted: not mounted again');
    assert.deepEqual(toPlain(await configDriveMetadata(log, { ...sys, blkidExport: async () => 'DEVNAME=/dev/vdb\nLABEL=config-2\nTYPE=ext4\n' }) as never), {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('request collector (polling): probes Last-Modified with HEAD, downloads once per change, and logs no query strings', async () => {
  const seen: string[] = [];
  let status = 200;
  const { server, base } = await serve((req, _b, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.statusCode = status;
    res.setHeader('last-modified', 'Mon, 02 Jan 2023 03:04:05 GMT');
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ a: 1 }));
  });
  const warnings: string[] = [];
  const wlog = { ...log, warn: (m: string) => void warnings.push(m) };
  try {
    const url = `${base}/v1/AUTH_x/c/o?temp_url_sig=SECRET&temp_url_expires=1`;
    const c = new RequestCollector({ metadataUrl: url, timeout: 5, longPollWait: 0, deploymentKeys: ['deployments'] }, wlog);
    assert.deepEqual(toPlain((await c.collect())[0]![1]), { a: 1 });
    assert.deepEqual(seen, ['HEAD /v1/AUTH_x/c/o?temp_url_sig=SECRET&temp_url_expires=1', 'GET /v1/AUTH_x/c/o?temp_url_sig=SECRET&temp_url_expires=1']);
    // Unchanged Last-Modified: only the HEAD, the document is not downloaded again.
    assert.deepEqual(toPlain((await c.collect())[0]![1]), { a: 1 });
    assert.equal(seen.length, 3);
    assert.match(seen[2]!, /^HEAD /);
    status = 404;
    await assert.rejects(new RequestCollector({ metadataUrl: url, timeout: 5, longPollWait: 0, deploymentKeys: [] }, wlog).collect(), SourceNotAvailable);
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(new RequestCollector({ metadataUrl: url, timeout: 5, longPollWait: 0, deploymentKeys: [] }, wlog).collect(), SourceNotAvailable);
    assert.ok(warnings.some((w) => w === `404 Error for url: ${base}/v1/AUTH_x/c/o`), warnings.join('\n'));
    assert.ok(warnings.some((w) => w.startsWith(`GET ${base}/v1/AUTH_x/c/o: `)), warnings.join('\n'));
    assert.ok(!warnings.some((w) => w.includes('SECRET')), warnings.join('\n'));
  } finally {
    server.close();
  }
});
