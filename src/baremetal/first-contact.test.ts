// First contact against a real (in-memory SQLite) bare-metal database: only an answered DHCPACK
// to a port of a node carrying the mark makes a row, once; a node that left "active" loses the
// mark without a row; concurrent ACKs make one row. The DHCP path through the seed's real
// dnsmasq is test/boot-first-contact.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { fromJson, migrate, now, openDatabase } from '../common/db.js';
import { migrations, typed, type NodeRow } from './db.js';
import { FirstContact, armFirstContact, AWAITING_FIRST_CONTACT } from './first-contact.js';

const row = (uuid: string, state: string, info: string): NodeRow => ({
  uuid, name: uuid, driver: 'fake-hardware', driver_info: '{}', driver_internal_info: info, extra: '{}', instance_info: '{}', instance_uuid: null,
  properties: '{}', traits: '[]', conductor_group: '', last_error: null, maintenance: 0, maintenance_reason: null, fault: null,
  power_state: null, target_power_state: null, provision_state: state, target_provision_state: null, provision_updated_at: null,
  reservation: null, operation: null, resource_class: null, owner: null, lessee: null, protected: 0, protected_reason: null, retired: 0,
  retired_reason: null, boot_interface: 'ipxe', deploy_interface: 'direct', inspect_interface: 'no-inspect', management_interface: 'fake', power_interface: 'fake',
  automated_clean: null, description: null, allocation_uuid: null, boot_mode: null, clean_step: '{}', deploy_step: '{}', network_data: '{}',
  inspection_started_at: null, inspection_finished_at: null, chassis_uuid: null, created_at: now(), updated_at: null,
});

test('one row for the first answered DHCPACK of an awaiting active node; none otherwise', async () => {
  const database = openDatabase(':memory:');
  await migrate(database.db, { baremetal: migrations });
  const db = typed(database.db);
  try {
    const ended = new Date(Date.now() - 42_000);
    const add = async (uuid: string, state: string, info: string, mac: string) => {
      await db.insertInto('baremetal_nodes').values(row(uuid, state, info)).execute();
      await db
        .insertInto('baremetal_ports')
        .values({ uuid: `p-${uuid}`, address: mac, node_uuid: uuid, extra: '{}', local_link_connection: '{}', pxe_enabled: 1, physical_network: null, internal_info: '{}', is_smartnic: 0, created_at: now(), updated_at: null })
        .execute();
    };
    await add('active-1', 'active', armFirstContact('{"keep":1}', ended), '52:54:00:00:00:01');
    await add('plain', 'active', '{}', '52:54:00:00:00:02');
    await add('redeploying', 'wait call-back', armFirstContact('{}', ended), '52:54:00:00:00:03');
    const fc = new FirstContact(db, pino({ level: 'silent' }), 'test');
    const at = new Date();
    const ack = (mac: string, extra: Record<string, unknown> = {}) => ({ kind: 'dhcp', at, mac, detail: { message: 'DHCPACK', ip: '10.0.0.9', hostname: 'web-1', ...extra } });
    fc.observe({ ...ack('52:54:00:00:00:01'), detail: { message: 'DHCPOFFER', ip: '10.0.0.9' } }); // not an ACK
    fc.observe(ack('52:54:00:00:00:01', { ignored: true })); // dnsmasq did not answer
    fc.observe(ack('52:54:00:00:00:01'));
    fc.observe(ack('52:54:00:00:00:01', { hostname: 'second' })); // same burst: not a second row
    fc.observe(ack('52:54:00:00:00:02'));
    fc.observe(ack('52:54:00:00:00:03'));
    fc.observe(ack('52:54:00:00:00:99')); // no port
    await fc.flush();
    const hist = await db.selectFrom('baremetal_node_history').select(['node_uuid', 'event', 'event_type']).execute();
    assert.deepEqual(hist, [
      { node_uuid: 'active-1', event: "deployed system's first contact: DHCPACK 10.0.0.9 hostname web-1 from 52:54:00:00:00:01, 42.0 s after the deploy ended", event_type: 'boot' },
    ]);
    const info = async (uuid: string) => fromJson<Record<string, unknown>>((await db.selectFrom('baremetal_nodes').select('driver_internal_info').where('uuid', '=', uuid).executeTakeFirstOrThrow()).driver_internal_info, {});
    assert.deepEqual(await info('active-1'), { keep: 1 }, 'the mark is cleared, the rest kept');
    assert.equal((await info('redeploying'))[AWAITING_FIRST_CONTACT], undefined, 'a node no longer active loses the mark without a row');
  } finally {
    await database.close();
  }
});
