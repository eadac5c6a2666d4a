// The overcloud demo's web service: answers GET / with the machine's hostname (so a client sees
// which web machine answered) and passes /kv/<key> through to the database machine. Runs on
// Debian 12's Node 18 with nothing but Node's own modules.
//
//   GET /            200, the hostname and a newline (text/plain)
//   GET /health      200 "ok"
//   GET|PUT|DELETE /kv/<key>
//                    forwarded to DB_URL/kv/<key> with the body; the database's status and body come
//                    back with an X-Served-By header naming this machine; 502 naming DB_URL when
//                    the database cannot be reached
//
// Environment: DB_URL (required, e.g. http://192.168.24.10:8081), PORT (8080), HOST (0.0.0.0),
// OVERCLOUD_DEMO_NAME (the name to answer with; default the hostname).
import http from 'node:http';
import os from 'node:os';

const PORT = Number(process.env.PORT || 8080);
const HOST = process.env.HOST || '0.0.0.0';
const NAME = process.env.OVERCLOUD_DEMO_NAME || os.hostname();
const DB_URL = process.env.DB_URL;
const UPSTREAM_TIMEOUT_MS = 10_000;

if (!DB_URL || !/^http:\/\/[^/]+/.test(DB_URL)) {
  console.error(`overcloud-demo-web: DB_URL must be the database's http:// URL (got ${JSON.stringify(DB_URL ?? '')})`);
  process.exit(2);
}
const db = new URL(DB_URL);

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-served-by': NAME });
  res.end(body);
}

function forward(req, res, pathname) {
  const headers = { 'x-forwarded-for': req.socket.remoteAddress ?? '' };
  for (const h of ['content-type', 'content-length']) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
  const upstream = http.request(
    { protocol: db.protocol, hostname: db.hostname, port: db.port || 80, method: req.method, path: pathname, headers, timeout: UPSTREAM_TIMEOUT_MS },
    (up) => {
      const out = { 'x-served-by': NAME };
      for (const h of ['content-type', 'content-length']) if (up.headers[h] !== undefined) out[h] = up.headers[h];
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error(`no answer within ${UPSTREAM_TIMEOUT_MS / 1000} s`)));
  upstream.on('error', (err) => {
    if (!res.headersSent) send(res, 502, `the database at ${DB_URL} could not be reached: ${err.message}\n`);
    else res.destroy();
  });
  req.pipe(upstream);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://web');
  if (url.pathname === '/' && req.method === 'GET') return send(res, 200, `${NAME}\n`);
  if (url.pathname === '/health' && req.method === 'GET') return send(res, 200, 'ok\n');
  if (/^\/kv\/[^/]+$/.test(url.pathname)) {
    if (!['GET', 'PUT', 'DELETE'].includes(req.method)) {
      res.setHeader('allow', 'GET, PUT, DELETE');
      return send(res, 405, `${req.method} is not supported on /kv/<key>\n`);
    }
    return forward(req, res, url.pathname);
  }
  return send(res, 404, 'not found: this service answers /, /health and /kv/<key>\n');
});

server.listen(PORT, HOST, () => {
  const a = server.address();
  console.log(`overcloud-demo-web ${NAME} listening on ${a.address}:${a.port}, database ${DB_URL}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
