// What the pivot service needs from the others: which records are mid-operation (a pivot starts
// with none, so no half-done deploy or stack changes hands), and where image bytes are.
import { sql } from 'kysely';
import type { AnyDB } from '../common/db.js';
import type { ApiService } from '../common/service.js';
import type { ImagesApiService } from '../images/index.js';
import type { PivotDeps } from '../pivot/index.js';
import type { BootService } from '../boot/index.js';
import { TRANSIENT_STATES, WAITING_STATES } from '../baremetal/states.js';

export function pivotDeps(db: AnyDB, services: ApiService[]): PivotDeps {
  const images = services.find((s): s is ImagesApiService => s.name === 'images');
  const boot = services.find((s): s is BootService => s.name === 'boot');
  return {
    blobs: images?.fileStore,
    filesDir: boot?.filesDir,
    busy: () => busyRecords(db, services),
  };
}

/** "node n1 is deploying", "stack web is UPDATE_IN_PROGRESS", ... for enabled services' tables. */
async function busyRecords(db: AnyDB, services: ApiService[]): Promise<string[]> {
  const has = (name: string) => services.some((s) => s.name === name);
  const out: string[] = [];
  if (has('baremetal')) {
    const moving = [...TRANSIENT_STATES, ...WAITING_STATES];
    const nodes = (await sql<{ uuid: string; name: string | null; provision_state: string; reservation: string | null }>`
      select uuid, name, provision_state, reservation from baremetal_nodes
      where provision_state in (${sql.join(moving)}) or reservation is not null`.execute(db)).rows;
    for (const n of nodes) out.push(`node ${n.name ?? n.uuid} is ${n.reservation && !moving.includes(n.provision_state as never) ? `reserved by ${n.reservation}` : n.provision_state}`);
  }
  if (has('orchestration')) {
    const stacks = (await sql<{ name: string; action: string; status: string }>`
      select name, action, status from orchestration_stacks where status = 'IN_PROGRESS' and deleted_at is null`.execute(db)).rows;
    for (const s of stacks) out.push(`stack ${s.name} is ${s.action}_${s.status}`);
  }
  if (has('compute')) {
    const servers = (await sql<{ name: string; id: string; task_state: string }>`
      select name, id, task_state from compute_servers where task_state is not null`.execute(db)).rows;
    for (const s of servers) out.push(`server ${s.name} (${s.id}) is ${s.task_state}`);
  }
  if (has('images')) {
    const saving = (await sql<{ name: string | null; id: string; status: string }>`
      select name, id, status from images_images where status in ('saving', 'importing')`.execute(db)).rows;
    for (const i of saving) out.push(`image ${i.name ?? i.id} is ${i.status}`);
  }
  return out;
}
