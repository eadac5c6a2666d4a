// Resource types by name (one table, no import side effects). An entry carries the property
// schema used by validation and, for types we can build, the plugin that creates them.
// Types of other OpenStack services that this engine does not build (Neutron, Cinder, Swift,
// Keystone, AWS compatibility...) are "schema-only": templates using them validate (property
// names are not checked), but creating one fails with an error saying the type is not supported.
import type { Json, JsonMap } from './yaml-source.js';
import type { ComputeProvider } from './compute-provider.js';
import type { StackUsers } from './stack-users.js';
import type { NetworkProvider } from './network-provider.js';
import type { SoftwareStore } from './resources/software.js';

/** The resource_type Heat gives a stack's own events. */
export const STACK_EVENT_TYPE = 'OS::Heat::Stack';

export type PropType = 'string' | 'number' | 'integer' | 'boolean' | 'map' | 'list' | 'any';

export interface PropSchema {
  type: PropType;
  required?: boolean;
  default?: Json;
  /** Changes are applied in place; any other changed property replaces the resource. */
  updateAllowed?: boolean;
  allowed?: readonly Json[];
}

/** What a plugin sees of its resource and the engine while it runs. */
export interface RuntimeResource {
  /** The resource's uuid (its row), stable across updates and replacements. */
  id: string;
  name: string;
  type: string;
  stackId: string;
  stackName: string;
  projectId: string;
  /** The stack's user (null for stacks made before it was kept). */
  userId: string | null;
  physicalId: string | null;
  properties: JsonMap;
  metadata: JsonMap;
  /** Persistent plugin state; saved after every step. */
  data: JsonMap;
  /** Aborted when the operation is cancelled or times out. */
  signal: AbortSignal;
  engine: EngineServices;
  /** Saves data/physicalId (and metadata, when the plugin changed it) now, so a restart resumes from here. */
  save(): Promise<void>;
}

/** Nested stacks and outside services, as plugins may use them. */
export interface EngineServices {
  /** Creates or updates the child stack owned by this resource and waits for it. */
  applyNested(r: RuntimeResource, spec: NestedSpec): Promise<string>;
  deleteNested(r: RuntimeResource): Promise<void>;
  nestedOutputs(r: RuntimeResource): Promise<JsonMap>;
  nestedResourceIds(r: RuntimeResource): Promise<Record<string, string | null>>;
  /** Attributes of the members of a nested stack, by member name. */
  nestedMemberAttr(r: RuntimeResource, attr: string | null, path: Json[]): Promise<Record<string, Json>>;
  compute: ComputeProvider;
  /** Networks, subnets and ports (OS::Neutron::*), acting for the stack's project. */
  network: NetworkProvider;
  /** Software config and deployment records (configs of other projects are not found). */
  software: SoftwareStore;
  /** The signals a wait condition handle (by physical id) received; undefined if there is no such handle. */
  handleSignals(handleId: string): Promise<JsonMap[] | undefined>;
  /**
   * Resolves when the resource with this physical id is next signalled, after `ms` at the latest,
   * or at once when `signal` aborts (waiters are woken, not polling the database). Subscribe
   * before reading the state a signal would change, so a signal in between is not missed.
   */
  nextSignal(physicalId: string, ms: number, signal: AbortSignal): { changed: Promise<boolean>; cancel(): void };
  /** Keystone users for machines (fails with the reason when identity is not available). */
  stackUsers: StackUsers;
  /** Absolute URL on this server (for signal URLs). */
  publicUrl(path: string): string;
  /** Deployments targeting a server changed: update the server's metadata. */
  deploymentsChanged(serverId: string): Promise<void>;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface NestedSpec {
  /** The template as data, or as text (YAML/JSON) from the files map. */
  template: JsonMap | string;
  params: JsonMap;
  /** File key of the nested template, for relative get_file and error messages. */
  file?: string;
  /** Members to create/update at once (ResourceGroup batch_create / rolling_update). */
  batch?: { size: number; pauseMs: number; minInService?: number; rolling?: boolean };
}

export interface ResourcePlugin {
  create(r: RuntimeResource): Promise<void>;
  update?(r: RuntimeResource, oldProps: JsonMap, changed: string[]): Promise<void>;
  delete(r: RuntimeResource): Promise<void>;
  /** Attribute value; may be async for nested stacks. */
  attribute?(r: RuntimeResource, name: string | null): Json | Promise<Json>;
  /** What get_resource returns; the physical id by default. */
  reference?(r: RuntimeResource): Json;
  signal?(r: RuntimeResource, data: Json): Promise<void>;
  /** Called instead of create when the server restarted during the create. */
  resume?(r: RuntimeResource): Promise<void>;
}

export interface ResourceType {
  name: string;
  /** Undefined: property names are not checked (schema-only entries). */
  properties?: Record<string, PropSchema>;
  /** Undefined: any attribute name is accepted. */
  attributes?: readonly string[];
  plugin?: ResourcePlugin;
  /** Why create is refused, for schema-only types. */
  unsupported?: string;
  /**
   * Checks of property values (limits, one property against another): validation passes the
   * properties known then, the plugin runs it again at create with all of them.
   */
  check?(props: JsonMap, fail: (property: string | undefined, message: string) => never): void;
  description?: string;
  /**
   * The resource is a nested stack of its own making (a group): the engine revisits it on every
   * update (its members may have changed though its properties did not) and updates it in place.
   */
  nested?: boolean;
  /**
   * The resource makes `count` members from its `resource_def` property (with `index_var`), as
   * ResourceGroup does: validation checks the member definition and counts the members.
   */
  countedMembers?: boolean;
  /** The plugin reads the resource's `update_policy` (evaluated, in `data.update_policy`). */
  usesUpdatePolicy?: boolean;
  /** With the new properties of an update: true replaces the resource whatever changed. */
  replaceOnUpdate?(props: JsonMap): boolean;
}

export class ResourceRegistry {
  private readonly types = new Map<string, ResourceType>();
  private readonly schemaOnlyPrefixes: string[] = [];

  register(type: ResourceType): this {
    if (this.types.has(type.name)) throw new Error(`resource type ${type.name} registered twice`);
    this.types.set(type.name, type);
    return this;
  }

  /** Every type under this prefix validates loosely and cannot be created. */
  registerSchemaOnly(prefix: string, reason: string): this {
    this.schemaOnlyPrefixes.push(prefix);
    this.types.set(`${prefix}*`, { name: `${prefix}*`, unsupported: reason });
    return this;
  }

  get(name: string): ResourceType | undefined {
    const t = this.types.get(name);
    if (t) return t;
    const prefix = this.schemaOnlyPrefixes.find((p) => name.startsWith(p));
    if (!prefix) return undefined;
    const generic = this.types.get(`${prefix}*`)!;
    return { ...generic, name };
  }

  names(): string[] {
    return [...this.types.keys()].sort();
  }
}
