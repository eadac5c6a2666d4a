// The network service's tables. IP allocations are their own table with UNIQUE (subnet_id,
// ip_address): the database, not the code, guarantees that one address is never handed out
// twice, whatever the concurrency (several requests, several processes on PostgreSQL).
// ip_int is the address as an integer (bigint: IPv4 passes 2^31), indexed per subnet so that
// the lowest free address is found by walking the index (src/network/ipam.ts).
import type { AnyDB, ServiceMigration } from '../common/db.js';

export const networkMigrations: ServiceMigration[] = [
  {
    name: '0001_networks',
    async up(db: AnyDB) {
      await db.schema
        .createTable('network_networks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('router_external', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('network_type', 'text', (c) => c.notNull())
        .addColumn('physical_network', 'text')
        .addColumn('segmentation_id', 'integer')
        .addColumn('mtu', 'integer', (c) => c.notNull())
        .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('network_networks_project').on('network_networks').column('project_id').execute();
      await db.schema.createIndex('network_networks_name').on('network_networks').column('name').execute();

      await db.schema
        .createTable('network_subnets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('network_id', 'text', (c) => c.notNull().references('network_networks.id'))
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('cidr', 'text', (c) => c.notNull())
        .addColumn('ip_version', 'integer', (c) => c.notNull())
        .addColumn('gateway_ip', 'text')
        .addColumn('allocation_pools', 'text', (c) => c.notNull())
        .addColumn('dns_nameservers', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('host_routes', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('enable_dhcp', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('network_subnets_network').on('network_subnets').column('network_id').execute();

      await db.schema
        .createTable('network_ports')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('network_id', 'text', (c) => c.notNull().references('network_networks.id'))
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('mac_address', 'text', (c) => c.notNull())
        .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('device_id', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('device_owner', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('host_id', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('profile', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('vnic_type', 'text', (c) => c.notNull().defaultTo('normal'))
        .addColumn('dns_name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        // Neutron's MacAddressInUse: one MAC once per network, enforced by the database.
        .addUniqueConstraint('network_ports_network_mac', ['network_id', 'mac_address'])
        .execute();
      await db.schema.createIndex('network_ports_project').on('network_ports').column('project_id').execute();
      await db.schema.createIndex('network_ports_device').on('network_ports').column('device_id').execute();

      await db.schema
        .createTable('network_ip_allocations')
        .addColumn('subnet_id', 'text', (c) => c.notNull().references('network_subnets.id'))
        .addColumn('ip_address', 'text', (c) => c.notNull())
        .addColumn('ip_int', 'bigint', (c) => c.notNull())
        .addColumn('port_id', 'text', (c) => c.notNull().references('network_ports.id'))
        .addColumn('network_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('network_ip_allocations_pk', ['subnet_id', 'ip_address'])
        .execute();
      await db.schema.createIndex('network_ip_allocations_walk').on('network_ip_allocations').columns(['subnet_id', 'ip_int']).unique().execute();
      await db.schema.createIndex('network_ip_allocations_port').on('network_ip_allocations').column('port_id').execute();
      await db.schema.createIndex('network_ip_allocations_ip').on('network_ip_allocations').column('ip_address').execute();
    },
  },
];
