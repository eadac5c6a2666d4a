// How OS::Nova::Server reaches machines. Orchestration declares this interface; src/server
// implements it over the bare-metal service (allocation by resource class/traits/profile, then
// deploy with image, config drive and user data). FakeComputeProvider is the named fake used by
// the tests and, until the real adapter is wired, by the server (it is labelled as such).
import { randomUUID } from 'node:crypto';

export interface ServerSpec {
  /**
   * The project the server belongs to (the stack's). The provider places it only on machines
   * that project may use and resolves its image with that project's visibility.
   */
  projectId: string;
  name: string;
  image: string;
  /** Flavor name: mapped to a bare-metal resource class (and traits/profile via flavor extra specs). */
  flavor: string;
  keyName?: string;
  userData?: string;
  metadata: Record<string, string>;
  /** Deployment metadata for os-collect-config (POLL_SERVER_HEAT / POLL_TEMP_URL). */
  softwareConfigTransport: string;
  stackId: string;
  resourceName: string;
  /**
   * For os-collect-config on the machine (what Heat puts in the server's metadata under
   * "os-collect-config"): where to poll for deployments. Credentials for a stack user are not
   * created yet; the adapter must supply them (or a token) until they are.
   */
  collectConfig?: Record<string, unknown>;
}

export interface ServerStatus {
  /** BUILD while deploying, ACTIVE when done, ERROR with a reason. */
  status: 'BUILD' | 'ACTIVE' | 'ERROR' | 'DELETED';
  reason?: string;
  addresses: Record<string, { addr: string; version: number }[]>;
  firstAddress?: string;
  name: string;
}

/**
 * Every call carries the project it acts for: a server of another project is answered as one
 * that does not exist (status DELETED, delete a no-op), so an id learnt from elsewhere gives
 * nothing away and changes nothing.
 */
export interface ComputeProvider {
  readonly name: string;
  /** Starts building a server and returns its id at once. */
  create(spec: ServerSpec): Promise<string>;
  status(id: string, projectId: string): Promise<ServerStatus>;
  delete(id: string, projectId: string): Promise<void>;
}

/** In-memory servers that become ACTIVE after `buildMs`. For tests and for the unwired seed. */
export class FakeComputeProvider implements ComputeProvider {
  readonly name = 'fake';
  private readonly servers = new Map<string, { spec: ServerSpec; readyAt: number; ip: string }>();
  private counter = 10;

  constructor(private readonly options: { buildMs?: number; failImages?: string[] } = {}) {}

  async create(spec: ServerSpec): Promise<string> {
    const id = randomUUID();
    this.servers.set(id, { spec, readyAt: Date.now() + (this.options.buildMs ?? 0), ip: `192.0.2.${this.counter++ % 250}` });
    return id;
  }

  async status(id: string, projectId: string): Promise<ServerStatus> {
    const s = this.servers.get(id);
    if (!s || s.spec.projectId !== projectId) return { status: 'DELETED', addresses: {}, name: '' };
    if (this.options.failImages?.includes(s.spec.image)) return { status: 'ERROR', reason: `image ${s.spec.image} failed to deploy (fake)`, addresses: {}, name: s.spec.name };
    const active = Date.now() >= s.readyAt;
    return {
      status: active ? 'ACTIVE' : 'BUILD',
      addresses: { ctlplane: [{ addr: s.ip, version: 4 }] },
      firstAddress: s.ip,
      name: s.spec.name,
    };
  }

  async delete(id: string, projectId: string): Promise<void> {
    if (this.servers.get(id)?.spec.projectId === projectId) this.servers.delete(id);
  }

  /** For tests: the specs of the servers that exist. */
  list(): ServerSpec[] {
    return [...this.servers.values()].map((s) => s.spec);
  }
}
