// The Redfish layer over a fake backend: auth, sessions, ETags, validation, error shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRedfishApp } from './redfish.js';
import { FakeSystems } from './fake-systems.js';
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
