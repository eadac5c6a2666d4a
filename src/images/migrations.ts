// The images table. Sizes are bigint (images pass 2 GiB); PostgreSQL returns bigint as text, so
// the store converts it back to a number.
import type { AnyDB, ServiceMigration } from '../common/db.js';

export const imagesMigrations: ServiceMigration[] = [
  {
    name: '0001_images',
    async up(db: AnyDB) {
      await db.schema
        .createTable('images_images')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('visibility', 'text', (c) => c.notNull())
        .addColumn('owner', 'text')
        .addColumn('disk_format', 'text')
        .addColumn('container_format', 'text')
        .addColumn('size', 'bigint')
        .addColumn('virtual_size', 'bigint')
        .addColumn('checksum', 'text')
        .addColumn('os_hash_algo', 'text')
        .addColumn('os_hash_value', 'text')
        .addColumn('min_disk', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('min_ram', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('os_hidden', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('images_images_owner').on('images_images').column('owner').execute();
      await db.schema.createIndex('images_images_status').on('images_images').column('status').execute();
    },
  },  {
    // Image members: the projects an image of visibility "shared" is offered to, and their answer.
    name: '0002_image_members',
    async up(db: AnyDB) {
      await db.schema
        .createTable('images_members')
        .addColumn('image_id', 'text', (c) => c.notNull().references('images_images.id').onDelete('cascade'))
        .addColumn('member_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('images_members_pk', ['image_id', 'member_id'])
        .execute();
      await db.schema.createIndex('images_members_member').on('images_members').column('member_id').execute();
    },
  },
];
