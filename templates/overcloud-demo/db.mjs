// The overcloud demo's database: a small HTTP key-value store that keeps its data in one JSON file.
// Runs on Debian 12's Node 18 with nothing but Node's own modules (the managed image has no more).
//
//   GET    /kv/<key>   200 with the value, 404 when there is none
//   PUT    /kv/<key>   stores the request body (UTF-8 text, at most 64 KiB) as the value: 204
//   DELETE /kv/<key>   204, or 404 when there was none
//   GET    /health     200 "ok"
//   GET    /           200 {"service", "hostname", "keys"} as JSON
//
// Keys are 1-128 characters of A-Z a-z 0-9 . _ -. Every change is written to DB_FILE before it is
// answered (a temporary file, fsync, rename), so a restart or a power cut keeps what was answered.
// Environment: PORT (8081), HOST (0.0.0.0), DB_FILE (/var/lib/overcloud-demo/kv.json).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PORT = Number(process.env.PORT || 8081);
const HOST = process.env.HOST || '0.0.0.0';
const FILE = process.env.DB_FILE || '/var/lib/overcloud-demo/kv.json';
const MAX_VALUE = 64 * 1024;
const KEY = /^[A-Za-z0-9._-]{1,128}$/;

/** The stored data; a file that is there but unreadable stops the service rather than be overwritten. */
function load() {
  let text;
  try {
    text = fs.readFileSync(FILE, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return new Map();
    throw err;
  }
  const doc = JSON.parse(text);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${FILE} does not hold a JSON object`);
  return new Map(Object.entries(doc).filter(([, v]) => typeof v === 'string'));
}

function persist(data) {
  const dir = path.dirname(FILE);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${FILE}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(Object.fromEntries(data)));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, FILE);
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

function send(res, status, body, type = 'text/plain; charset=utf-8') {
  res.writeHead(status, body === undefined ? {} : { 'content-type': type });
  res.end(body);
}

/** The request body as text; undefined (after answering 413) when it is larger than MAX_VALUE. */
function readBody(req, res) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let over = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_VALUE) over = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (!over) return resolve(Buffer.concat(chunks).toString('utf8'));
      send(res, 413, `a value is at most ${MAX_VALUE} bytes\n`);
      resolve(undefined);
    });
    req.on('error', reject);
  });
}

let data;
try {
  data = load();
} catch (err) {
  console.error(`overcloud-demo-db: cannot read ${FILE}: ${err.message}`);
  process.exit(1);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://db');
    if (url.pathname === '/health' && req.method === 'GET') return send(res, 200, 'ok\n');
    if (url.pathname === '/' && req.method === 'GET') {
      return send(res, 200, JSON.stringify({ service: 'overcloud-demo-db', hostname: os.hostname(), keys: data.size }) + '\n', 'application/json');
    }
    const m = /^\/kv\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(res, 404, 'not found: the store answers /kv/<key>, /health and /\n');
    let key;
    try {
      key = decodeURIComponent(m[1]);
    } catch {
      key = '';
    }
    if (!KEY.test(key)) return send(res, 400, 'a key is 1-128 characters of A-Z a-z 0-9 . _ -\n');
    if (req.method === 'GET') return data.has(key) ? send(res, 200, data.get(key)) : send(res, 404, `no value for ${key}\n`);
    if (req.method === 'PUT') {
      const value = await readBody(req, res);
      if (value === undefined) return;
      data.set(key, value);
      persist(data);
      return send(res, 204);
    }
    if (req.method === 'DELETE') {
      if (!data.delete(key)) return send(res, 404, `no value for ${key}\n`);
      persist(data);
      return send(res, 204);
    }
    res.setHeader('allow', 'GET, PUT, DELETE');
    return send(res, 405, `${req.method} is not supported on /kv/<key>\n`);
  } catch (err) {
    console.error(`overcloud-demo-db: ${req.method} ${req.url}: ${err.stack || err}`);
    if (!res.headersSent) send(res, 500, `internal error: ${err.message}\n`);
    else res.destroy();
  }
});

server.listen(PORT, HOST, () => {
  const a = server.address();
  console.log(`overcloud-demo-db listening on ${a.address}:${a.port}, data in ${FILE}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
