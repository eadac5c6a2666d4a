// Glance v2's JSON for an image: the fixed attributes, then custom properties at top level.
import type { Image } from './store.js';

/** Glance prints times without fractions. */
export function glanceTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

export function imageView(i: Image): Record<string, unknown> {
  return {
    ...i.properties,
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected,
    os_hidden: i.os_hidden,
    owner: i.owner,
    disk_format: i.disk_format,
    container_format: i.container_format,
    size: i.size,
    virtual_size: i.virtual_size,
    checksum: i.checksum,
    os_hash_algo: i.os_hash_algo,
    os_hash_value: i.os_hash_value,
    min_disk: i.min_disk,
    min_ram: i.min_ram,
    tags: i.tags,
    created_at: glanceTime(i.created_at),
    updated_at: glanceTime(i.updated_at),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}
