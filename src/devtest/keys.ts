// The run's SSH key (<dir>/id_ed25519) and the key pair `devtest` holding its public half in a
// cloud, so that root on every machine the stacks make accepts it.
import { existsSync } from 'node:fs';
import type { CloudName, Clients } from './clients.js';
import type { DevtestLayout } from './layout.js';
import type { StageIo } from './stage-io.js';

export const KEYPAIR_NAME = 'devtest';

export async function ensureKeypair(clients: Clients, cloud: CloudName, layout: DevtestLayout, io: StageIo): Promise<string> {
  if (!existsSync(layout.key)) {
    await clients.command('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bootstack-devtest', '-f', layout.key], { signal: io.signal });
  }
  const shown = await clients.openstack(cloud, ['keypair', 'show', KEYPAIR_NAME], { allowFailure: true, signal: io.signal });
  if (shown.code !== 0) {
    io.progress(`openstack --os-cloud ${cloud} keypair create --public-key ${layout.key}.pub ${KEYPAIR_NAME}`);
    await clients.openstack(cloud, ['keypair', 'create', '--public-key', `${layout.key}.pub`, KEYPAIR_NAME], { signal: io.signal });
  }
  return KEYPAIR_NAME;
}
