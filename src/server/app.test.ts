// The HTTP shell every service shares: request ids, strict body validation with the field
// named, fault formats per service, authentication by default, and secrets kept out of logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { Ajv } from 'ajv';
import { buildApp } from './app.js';
import type { ApiService } from '../common/service.js';
import { requireAuth } from '../common/service.js';
import { UnauthorizedError, NotFoundError } from '../common/errors.js';
import type { AuthContext } from '../common/auth.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

const alice: AuthContext = {
  userId: 'u1', userName: 'alice', domainId: 'default', projectId: 'p1', projectName: 'demo',
  roles: ['member', 'reader'], tokenExpiresAt: '2999-01-01T00:00:00Z',
};

// A named fake identity for tests: accepts exactly one token.
const fakeIdentity: ApiService = {
  name: 'identity', prefix: '/identity', faultStyle: 'keystone', migrations: [],
  tokenValidator: {
    async validate(token) {
      if (token !== 'good-token') throw new UnauthorizedError('The request you have made requires authentication.');
      return alice;
    },
  },
  routes(app) {
    app.get('/', { config: { public: true } }, async () => ({ version: 'v3' }));
  },
};

const widgets: ApiService = {
  name: 'widgets', prefix: '/widgets', faultStyle: 'ironic', migrations: [],
  routes(app) {
    app.post(
      '/v1/widgets',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: { type: 'string' }, size: { type: 'integer' }, kind: { enum: ['a', 'b'] } },
          },
        },
      },
      async (request) => ({ ok: true, by: requireAuth(request).userName, body: request.body }),
    );
    app.post('/v1/signal/:id/:token', { config: { public: true } }, async () => ({ signalled: true }));
    // Body-less actions (a role grant, a delete): report what the handler was given.
    app.put('/v1/widgets/:id/tags/:tag', async (request) => ({ hadBody: request.body !== undefined }));
    app.delete('/v1/widgets/:id', async (request) => ({ hadBody: request.body !== undefined }));
    app.get('/v1/widgets/:id', async (request) => {
      throw new NotFoundError('Widget', (request.params as { id: string }).id);
    });
  },
};

async function app() {
  const { lines, log } = capture();
  const a = await buildApp({ services: [fakeIdentity, widgets], log, bodyLimit: 1024 });
  return { a, lines };
}

const auth = { 'x-auth-token': 'good-token', 'content-type': 'application/json' };

test('every response carries a request id; public routes need no token', async () => {
  const { a } = await app();
  const r = await a.inject({ method: 'GET', url: '/identity' });
  assert.equal(r.statusCode, 200);
  assert.match(String(r.headers['x-openstack-request-id']), /^req-[0-9a-f-]{36}$/);
});

test('missing or invalid token is 401 in the service fault format', async () => {
  const { a } = await app();
  const missing = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', payload: { name: 'x' } });
  assert.equal(missing.statusCode, 401);
  const bad = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: { ...auth, 'x-auth-token': 'nope' }, payload: { name: 'x' } });
  assert.equal(bad.statusCode, 401);
  assert.match(JSON.parse(bad.json().error_message).faultstring, /requires authentication/);
});

test('valid body reaches the handler with the caller', async () => {
  const { a } = await app();
  const r = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload: { name: 'x', size: 3 } });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { ok: true, by: 'alice', body: { name: 'x', size: 3 } });
});

test('bad bodies are 400 naming the field', async () => {
  const { a } = await app();
  const cases: Array<[unknown, RegExp]> = [
    [{ name: 'x', colour: 'red' }, /body\.colour: is not an allowed field/],
    [{ name: 'x', size: '3' }, /body\.size: must be integer/],
    [{ size: 3 }, /body\.name: is required/],
    [{ name: 'x', kind: 'c' }, /body\.kind: must be one of a, b/],
  ];
  for (const [payload, expected] of cases) {
    const r = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload: payload as object });
    assert.equal(r.statusCode, 400, JSON.stringify(payload));
    assert.match(JSON.parse(r.json().error_message).faultstring, expected);
  }
});

test('schemas are compiled on a route\'s first request, once: a bad first body is the same 400', async () => {
  // Count Ajv compilations of the widget body schema: none while the server starts, one at most.
  const compile = Ajv.prototype.compile;
  let compiles = 0;
  Ajv.prototype.compile = function (this: Ajv, schema: unknown, meta?: boolean) {
    if ((schema as { required?: string[] }).required?.includes('name')) compiles++;
    return compile.call(this, schema as object, meta);
  } as typeof compile;
  try {
    const { a } = await app();
    await a.ready();
    assert.equal(compiles, 0, 'no schema is compiled before a request needs it');
    const first = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload: { name: 'x', colour: 'red' } });
    assert.equal(first.statusCode, 400);
    assert.equal(JSON.parse(first.json().error_message).faultcode, 'Client');
    assert.match(JSON.parse(first.json().error_message).faultstring, /body\.colour: is not an allowed field/);
    const second = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload: { size: 3 } });
    assert.match(JSON.parse(second.json().error_message).faultstring, /body\.name: is required/);
    const good = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload: { name: 'x' } });
    assert.equal(good.statusCode, 200);
    assert.equal(compiles, 1, 'the schema is compiled once, not per request');
  } finally {
    Ajv.prototype.compile = compile;
  }
});

test('query strings are still coerced and checked on a route\'s first request', async () => {
  const lister: ApiService = {
    name: 'lister', prefix: '/lister', faultStyle: 'ironic', migrations: [],
    routes(r) {
      r.get(
        '/items',
        { config: { public: true }, schema: { querystring: { type: 'object', properties: { limit: { type: 'integer', default: 10 } } } } },
        async (request) => request.query,
      );
    },
  };
  const { log } = capture();
  const fresh = async () => buildApp({ services: [lister], log, bodyLimit: 1024 });
  const bad = await (await fresh()).inject({ method: 'GET', url: '/lister/items?limit=ten' });
  assert.equal(bad.statusCode, 400);
  assert.match(JSON.parse(bad.json().error_message).faultstring, /querystring\.limit: must be integer/);
  const a = await fresh();
  assert.deepEqual((await a.inject({ method: 'GET', url: '/lister/items?limit=5' })).json(), { limit: 5 });
  assert.deepEqual((await a.inject({ method: 'GET', url: '/lister/items' })).json(), { limit: 10 });
});

test('malformed JSON is 400 and an oversized body is 413', async () => {
  const { a } = await app();
  const broken = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload: '{"name": ' });
  assert.equal(broken.statusCode, 400);
  assert.match(JSON.parse(broken.json().error_message).faultstring, /JSON/);
  const big = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload: JSON.stringify({ name: 'x'.repeat(5000) }) });
  assert.equal(big.statusCode, 413);
});

test('an empty or blank body with a JSON content type is no body; a route that needs one still says so', async () => {
  const { a } = await app();
  for (const [method, url] of [['PUT', '/widgets/v1/widgets/w1/tags/t'], ['DELETE', '/widgets/v1/widgets/w1']] as const) {
    for (const [payload, extra] of [['', { 'content-length': '0' }], ['  \r\n\t', {}]] as const) {
      for (const type of ['application/json', 'application/json; charset=UTF-8']) {
        const r = await a.inject({ method, url, headers: { ...auth, 'content-type': type, ...extra }, payload });
        assert.equal(r.statusCode, 200, `${method} ${type} ${JSON.stringify(payload)}: ${r.body}`);
        assert.deepEqual(r.json(), { hadBody: false });
      }
    }
    // And with the header but no payload at all.
    const none = await a.inject({ method, url, headers: auth });
    assert.equal(none.statusCode, 200, `${method} without payload: ${none.body}`);
  }
  // A non-empty body is still parsed (and a broken one refused) on the same routes.
  const put = await a.inject({ method: 'PUT', url: '/widgets/v1/widgets/w1/tags/t', headers: auth, payload: '{}' });
  assert.deepEqual(put.json(), { hadBody: true });
  const broken = await a.inject({ method: 'DELETE', url: '/widgets/v1/widgets/w1', headers: auth, payload: '{' });
  assert.equal(broken.statusCode, 400);
  // A route whose schema requires a body: an empty one is a 400 naming the body, as before.
  for (const payload of ['', '   ']) {
    const r = await a.inject({ method: 'POST', url: '/widgets/v1/widgets', headers: auth, payload });
    assert.equal(r.statusCode, 400, JSON.stringify(payload));
    assert.match(JSON.parse(r.json().error_message).faultstring, /^body: must be object/);
  }
});

test('not found is 404 in the owning service style, unknown paths too', async () => {
  const { a } = await app();
  const r = await a.inject({ method: 'GET', url: '/widgets/v1/widgets/w9', headers: auth });
  assert.equal(r.statusCode, 404);
  assert.match(JSON.parse(r.json().error_message).faultstring, /Widget w9 could not be found/);
  const unknown = await a.inject({ method: 'GET', url: '/identity/nowhere' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error.code, 404);
});

test('tokens in query strings and headers never reach the access log', async () => {
  const { a, lines } = await app();
  await a.inject({ method: 'GET', url: '/widgets/v1/widgets/w1?token=supersecret', headers: auth });
  const text = lines.join('');
  assert.ok(text.includes('"url":"/widgets/v1/widgets/w1?token=***"'), text);
  assert.ok(!text.includes('supersecret') && !text.includes('good-token'));
});

test('a credential carried in the path as a route parameter never reaches the access log', async () => {
  const { a, lines } = await app();
  const r = await a.inject({ method: 'POST', url: '/widgets/v1/signal/w1/Zm9vYmFyc2VjcmV0', payload: {} });
  assert.equal(r.statusCode, 200);
  const text = lines.join('');
  assert.ok(text.includes('"url":"/widgets/v1/signal/w1/***"'), text);
  assert.ok(!text.includes('Zm9vYmFyc2VjcmV0'));
});

test('HEAD is answered by the GET route without its body, over the network; a declared HEAD route wins; auth still applies', async () => {
  let streamClosedUnread = false;
  const heads: ApiService = {
    name: 'heads', prefix: '/heads', faultStyle: 'ironic', migrations: [],
    routes(app) {
      app.get('/v1/things/:id', async (request) => ({ id: (request.params as { id: string }).id, seen: request.method }));
      app.get('/v1/file', async (_request, reply) => {
        let reads = 0;
        const body = new Readable({
          read() {
            reads++;
            this.push(Buffer.alloc(64 * 1024));
          },
        });
        body.on('close', () => (streamClosedUnread = reads <= 2));
        return reply.header('content-length', 1 << 30).send(body);
      });
      app.head('/v1/checks/:id', async (_request, reply) => reply.status(204).header('x-checked', 'yes').send());
      app.post('/v1/only-post', async () => ({}));
    },
  };
  const { lines, log } = capture();
  const a = await buildApp({ services: [fakeIdentity, heads], log, bodyLimit: 1024 });
  const url = await a.listen({ port: 0, host: '127.0.0.1' });
  try {
    const headers = { 'x-auth-token': 'good-token' };
    const got = await fetch(`${url}/heads/v1/things/t1`, { headers });
    const gotBody = await got.text();
    assert.deepEqual(JSON.parse(gotBody), { id: 't1', seen: 'GET' });
    const head = await fetch(`${url}/heads/v1/things/t1`, { method: 'HEAD', headers });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(gotBody.replace('"GET"', '"HEAD"'))));
    assert.equal(await head.text(), '');
    assert.ok(head.headers.get('x-openstack-request-id'));
    // The access log names the method the client sent.
    const access = lines.find((l) => l.includes('"method":"HEAD"') && l.includes('/heads/v1/things/t1'));
    assert.ok(access, 'access log line for HEAD');
    assert.equal(access.match(/"reqId"/g)?.length, 1, 'the request id once per line');
    assert.equal(JSON.parse(access).reqId, head.headers.get('x-openstack-request-id'));

    const file = await fetch(`${url}/heads/v1/file`, { method: 'HEAD', headers });
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-length'), String(1 << 30));
    assert.equal(await file.text(), '');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(streamClosedUnread, 'the GET route\'s stream was closed without being read through');

    const check = await fetch(`${url}/heads/v1/checks/c1`, { method: 'HEAD', headers });
    assert.equal(check.status, 204);
    assert.equal(check.headers.get('x-checked'), 'yes');
    assert.equal((await fetch(`${url}/heads/v1/checks/c1`, { headers })).status, 404, 'a HEAD-only route has no GET');

    assert.equal((await fetch(`${url}/heads/v1/only-post`, { method: 'HEAD', headers })).status, 404);
    assert.equal((await fetch(`${url}/heads/v1/things/t1`, { method: 'HEAD' })).status, 401);
  } finally {
    await a.close();
  }
});
