// The Redfish layer over a fake backend: auth, sessions, ETags, validation, error shapes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRedfishApp } from './redfish.js';
import { FakeSystems } from '../../test/support/lab/fake-systems.js';
import type { MachineRecord } from './spec.js';

const machine = (i: number): MachineRecord => ({
  name: `lab-${i}`,
  index: i,
  systemId: `0000000${i}-0000-4000-8000-000000000000`,
  mac: `52:54:00:00:00:0${i}`,
  tap: `tap${i}`,
  cpus: 1,
  memoryMiB: 512,
  diskGiB: 2,
});

function setup() {
  const backend = new FakeSystems([machine(0), machine(1)]);
  const app = buildRedfishApp({ backend, username: 'admin', password: 's3cret', serviceUuid: '11111111-2222-4333-8444-555555555555' });
  const basic = { authorization: 'Basic ' + Buffer.from('admin:s3cret').toString('base64') };
  return { app, backend, basic };
}

const sys0 = '/redfish/v1/Systems/00000000-0000-4000-8000-000000000000';

test('the service root is open, everything else needs credentials', async () => {
  const { app, basic } = setup();
  const root = await app.inject({ url: '/redfish/v1/' });
  assert.equal(root.statusCode, 200);
  assert.equal(root.json().Links.Sessions['@odata.id'], '/redfish/v1/SessionService/Sessions');
  for (const url of ['/redfish/v1/Systems', sys0, '/redfish/v1/Managers', '/redfish/v1/SessionService']) {
    const r = await app.inject({ url });
    assert.equal(r.statusCode, 401, url);
    assert.match(r.json().error.code, /Base\.1\.8\./);
  }
  const wrong = await app.inject({ url: '/redfish/v1/Systems', headers: { authorization: 'Basic ' + Buffer.from('admin:nope').toString('base64') } });
  assert.equal(wrong.statusCode, 401);
  const ok = await app.inject({ url: '/redfish/v1/Systems', headers: basic });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json()['Members@odata.count'], 2);
});

test('sessions: login returns X-Auth-Token and Location; the token works until deleted', async () => {
  const { app } = setup();
  const bad = await app.inject({ method: 'POST', url: '/redfish/v1/SessionService/Sessions', payload: { UserName: 'admin', Password: 'x' } });
  assert.equal(bad.statusCode, 401);
  const login = await app.inject({ method: 'POST', url: '/redfish/v1/SessionService/Sessions', payload: { UserName: 'admin', Password: 's3cret' } });
  assert.equal(login.statusCode, 201);
  const token = login.headers['x-auth-token'] as string;
  const location = login.headers.location as string;
  assert.ok(token && location.startsWith('/redfish/v1/SessionService/Sessions/'));
  const list = await app.inject({ url: '/redfish/v1/SessionService/Sessions', headers: { 'x-auth-token': token } });
  assert.deepEqual(list.json().Members, [{ '@odata.id': location }]);
  assert.equal((await app.inject({ method: 'DELETE', url: location, headers: { 'x-auth-token': token } })).statusCode, 204);
  assert.equal((await app.inject({ url: sys0, headers: { 'x-auth-token': token } })).statusCode, 401);
});

test('ComputerSystem has power, boot override with allowable values, and the Reset action', async () => {
  const { app, basic } = setup();
  const r = await app.inject({ url: sys0, headers: basic });
  const body = r.json();
  assert.equal(body.PowerState, 'Off');
  assert.deepEqual(body.Boot['BootSourceOverrideTarget@Redfish.AllowableValues'], ['None', 'Pxe', 'Hdd']);
  assert.deepEqual(body.Boot['BootSourceOverrideEnabled@Redfish.AllowableValues'], ['Disabled', 'Once', 'Continuous']);
  assert.deepEqual(body.Boot['BootSourceOverrideMode@Redfish.AllowableValues'], ['Legacy']);
  assert.ok(body.Actions['#ComputerSystem.Reset']['ResetType@Redfish.AllowableValues'].includes('ForceRestart'));
  assert.match(String(r.headers.etag), /^W\/"[0-9a-f]+"$/);
  const mgr = await app.inject({ url: '/redfish/v1/Managers/BMC', headers: basic });
  assert.equal(mgr.json().Links.ManagerForServers.length, 2);
  const nic = await app.inject({ url: `${sys0}/EthernetInterfaces/nic0`, headers: basic });
  assert.equal(nic.json().MACAddress, '52:54:00:00:00:00');
});

test('PATCH honours If-Match: a stale ETag gets 412, the current one (weak or strong) succeeds', async () => {
  const { app, basic, backend } = setup();
  const etag = String((await app.inject({ url: sys0, headers: basic })).headers.etag);
  const stale = await app.inject({
    method: 'PATCH',
    url: sys0,
    headers: { ...basic, 'if-match': 'W/"0000"' },
    payload: { Boot: { BootSourceOverrideTarget: 'Pxe' } },
  });
  assert.equal(stale.statusCode, 412);
  const strong = etag.replace(/^W\//, '');
  const ok = await app.inject({
    method: 'PATCH',
    url: sys0,
    headers: { ...basic, 'if-match': strong },
    payload: { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Continuous' } },
  });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().Boot.BootSourceOverrideTarget, 'Pxe');
  assert.equal(backend.boot.get('00000000-0000-4000-8000-000000000000')?.enabled, 'Continuous');
  assert.notEqual(String(ok.headers.etag), etag, 'the ETag changes with the resource');
});

test('bad input: unknown values, properties, systems and reset types are refused', async () => {
  const { app, basic, backend } = setup();
  const cases: Array<[string, string, unknown, number]> = [
    ['PATCH', sys0, { Boot: { BootSourceOverrideTarget: 'Floppy' } }, 400],
    ['PATCH', sys0, { Boot: { BootSourceOverrideMode: 'UEFI' } }, 400],
    ['PATCH', sys0, { AssetTag: 'x' }, 400],
    ['PATCH', sys0, { Boot: { BootOrder: [] } }, 400],
    ['GET', '/redfish/v1/Systems/nope', undefined, 404],
    ['POST', `${sys0}/Actions/ComputerSystem.Reset`, { ResetType: 'Explode' }, 400],
    ['POST', `${sys0}/Actions/ComputerSystem.Reset`, {}, 400],
    ['POST', '/redfish/v1/Systems/nope/Actions/ComputerSystem.Reset', { ResetType: 'On' }, 404],
  ];
  for (const [method, url, payload, status] of cases) {
    const r = await app.inject({ method: method as 'GET', url, headers: basic, ...(payload ? { payload: payload as object } : {}) });
    assert.equal(r.statusCode, status, `${method} ${url} ${JSON.stringify(payload)}: ${r.body}`);
    assert.ok(r.json().error.message, 'Redfish error body');
  }
  assert.equal(backend.calls.length, 0);
  const on = await app.inject({ method: 'POST', url: `${sys0}/Actions/ComputerSystem.Reset`, headers: basic, payload: { ResetType: 'On' } });
  assert.equal(on.statusCode, 204);
  assert.deepEqual(backend.calls, [{ id: '00000000-0000-4000-8000-000000000000', type: 'On' }]);
});

test('OEM serial console: linked from the system, read-only, under auth, ?tail bounded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bsl-console-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // lab-0 has 100 KiB of console (ending in a 3-byte character), lab-1 has not written any yet.
  const log = 'x'.repeat(100 * 1024 - 9) + 'boot \u20ac\n';
  writeFileSync(join(dir, 'lab-0.log'), log);
  const backend = new FakeSystems([machine(0), machine(1)]);
  const app = buildRedfishApp({ backend, username: 'admin', password: 's3cret', serviceUuid: '11111111-2222-4333-8444-555555555555', consoleLog: (m) => join(dir, `${m.name}.log`) });
  const basic = { authorization: 'Basic ' + Buffer.from('admin:s3cret').toString('base64') };
  const url = `${sys0}/Oem/Bootstack/SerialConsole`;

  const sys = (await app.inject({ url: sys0, headers: basic })).json();
  assert.deepEqual(sys.Oem.Bootstack.SerialConsole, { '@odata.id': url });
  assert.equal((await app.inject({ url })).statusCode, 401);
  assert.equal((await app.inject({ url, headers: { authorization: 'Basic ' + Buffer.from('admin:x').toString('base64') } })).statusCode, 401);
  const login = await app.inject({ method: 'POST', url: '/redfish/v1/SessionService/Sessions', payload: { UserName: 'admin', Password: 's3cret' } });
  const viaSession = await app.inject({ url: `${url}?tail=4`, headers: { 'x-auth-token': login.headers['x-auth-token'] as string } });
  assert.equal(viaSession.statusCode, 200);
  assert.deepEqual([viaSession.json().Data, viaSession.json().Bytes], ['\u20ac\n', 102400]);

  const dflt = (await app.inject({ url, headers: basic })).json();
  assert.equal(dflt.Bytes, 102400);
  assert.equal(Buffer.byteLength(dflt.Data), 64 * 1024, 'default tail is 64 KiB');
  assert.ok(dflt.Data.endsWith('boot \u20ac\n'));
  // A tail that starts inside the euro sign drops its partial bytes rather than garbling them.
  assert.equal((await app.inject({ url: `${url}?tail=3`, headers: basic })).json().Data, '\n');
  const all = (await app.inject({ url: `${url}?tail=1048576`, headers: basic })).json();
  assert.equal(all.Data, log);
  for (const bad of ['0', '-1', '1048577', 'abc', '1.5', '1&tail=2']) {
    const r = await app.inject({ url: `${url}?tail=${bad}`, headers: basic });
    assert.equal(r.statusCode, 400, bad);
    assert.match(r.json().error.code, /QueryParameterOutOfRange/);
  }
  const empty = await app.inject({ url: '/redfish/v1/Systems/00000001-0000-4000-8000-000000000000/Oem/Bootstack/SerialConsole', headers: basic });
  assert.deepEqual([empty.json().Data, empty.json().Bytes], ['', 0]);
  assert.equal((await app.inject({ url: '/redfish/v1/Systems/nope/Oem/Bootstack/SerialConsole', headers: basic })).statusCode, 404);
  for (const method of ['PATCH', 'POST', 'DELETE'] as const) {
    assert.equal((await app.inject({ method, url, headers: basic, payload: {} })).statusCode, 404, method);
  }

  // Without a console log source there is neither link nor resource.
  const plain = setup();
  assert.equal((await plain.app.inject({ url: sys0, headers: plain.basic })).json().Oem, undefined);
  assert.equal((await plain.app.inject({ url, headers: plain.basic })).statusCode, 404);
});
