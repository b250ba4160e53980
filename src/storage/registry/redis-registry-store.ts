/**
 * The registry on Redis, shared by every server replica. Each compare-and-set is one Lua script,
 * so it is atomic inside Redis, and the script itself PUBLISHes the change: every replica's
 * subscriber invalidates its definition cache within milliseconds. When a subscriber reconnects
 * it may have missed changes, so it announces a reset and the replica drops its whole cache.
 */
import { EventEmitter } from "node:events";
import { Redis } from "ioredis";
import { StoreUnavailableError } from "../../common/errors.js";
import type { DefinitionHead, DefinitionState, Entity, Project } from "../../registry/model.js";
import type {
  DocumentKind,
  NamedHead,
  PageQuery,
  RegistryChange,
  RegistryStore,
  StoredDocument,
  VersionedKind,
  VersionedKinds,
} from "./registry-store.js";

const CHANGE_EVENT = "change";

/** Creates a record under a hash field unless present; KEYS: hash, index, channel. ARGV: field, json, change. */
const CREATE_IF_ABSENT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1
`;

/** Writes an entity if its stored revision is ARGV[3] ('' = absent). KEYS: hash, index, channel. ARGV: field, json, expected, change. */
const PUT_ENTITY = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local revision = ''
if current then revision = tostring(cjson.decode(current).revision) end
if revision ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[4])
return 1
`;

/**
 * Appends version ARGV[3] if the latest is ARGV[2]. KEYS: heads hash, heads index, versions hash, channel.
 * ARGV: name, expected latest, version, record json, head json, change.
 */
const APPEND_VERSION = `
local head = redis.call('HGET', KEYS[1], ARGV[1])
local latest = 0
if head then latest = cjson.decode(head).latestVersion end
if latest ~= tonumber(ARGV[2]) or tonumber(ARGV[3]) ~= latest + 1 then return 0 end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('PUBLISH', KEYS[4], ARGV[6])
return 1
`;

/** Sets a head's state; returns the new head json, or false when absent. KEYS: heads hash, channel. ARGV: name, state, time, change. */
const SET_STATE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return false end
local head = cjson.decode(current)
if head.state == ARGV[2] then return current end
head.state = ARGV[2]
if ARGV[2] == 'deprecated' then head.deprecateTime = ARGV[3] else head.deprecateTime = nil end
local encoded = cjson.encode(head)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
redis.call('PUBLISH', KEYS[2], ARGV[4])
return encoded
`;

/**
 * Writes a document if its stored revision is ARGV[2] ('0' = absent); returns the new revision or 0.
 * KEYS: hash, index, channel. ARGV: id, expected revision, value json, change.
 */
const PUT_DOCUMENT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local revision = 0
if current then revision = cjson.decode(current).revision end
if revision ~= tonumber(ARGV[2]) then return 0 end
revision = revision + 1
redis.call('HSET', KEYS[1], ARGV[1], '{"id":' .. cjson.encode(ARGV[1]) .. ',"revision":' .. revision .. ',"value":' .. ARGV[3] .. '}')
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[4])
return revision
`;

type Scripts = {
  sluicePutDocument(
    hash: string,
    index: string,
    channel: string,
    id: string,
    expected: string,
    value: string,
    change: string,
  ): Promise<number>;
  sluiceCreateIfAbsent(hash: string, index: string, channel: string, field: string, json: string, change: string): Promise<number>;
  sluicePutEntity(
    hash: string,
    index: string,
    channel: string,
    field: string,
    json: string,
    expected: string,
    change: string,
  ): Promise<number>;
  sluiceAppendVersion(
    heads: string,
    index: string,
    versions: string,
    channel: string,
    name: string,
    expected: string,
    version: string,
    record: string,
    head: string,
    change: string,
  ): Promise<number>;
  sluiceSetState(heads: string, channel: string, name: string, state: string, time: string, change: string): Promise<string | null>;
};

/** Connects to the Redis registry at `url` (keys under `keyPrefix`). */
export async function openRedisRegistryStore(url: string, keyPrefix: string): Promise<RedisRegistryStore> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: false };
  const client = new Redis(url, options);
  const subscriber = new Redis(url, { ...options, enableOfflineQueue: true });
  const store = new RedisRegistryStore(client, subscriber, keyPrefix, `redis registry at ${url}`);
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
    await store.subscribe();
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    throw new StoreUnavailableError(`redis registry at ${url}`, error);
  }
  return store;
}

/** {@link RegistryStore} on Redis. */
export class RedisRegistryStore implements RegistryStore {
  readonly backend = "redis";
  private readonly changes = new EventEmitter();
  private readonly scripts: Scripts;
  private readonly channel: string;

  constructor(
    private readonly client: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly description: string,
  ) {
    this.changes.setMaxListeners(0);
    this.channel = `${prefix}registry:changes`;
    client.defineCommand("sluiceCreateIfAbsent", { numberOfKeys: 3, lua: CREATE_IF_ABSENT });
    client.defineCommand("sluicePutEntity", { numberOfKeys: 3, lua: PUT_ENTITY });
    client.defineCommand("sluiceAppendVersion", { numberOfKeys: 4, lua: APPEND_VERSION });
    client.defineCommand("sluiceSetState", { numberOfKeys: 2, lua: SET_STATE });
    client.defineCommand("sluicePutDocument", { numberOfKeys: 3, lua: PUT_DOCUMENT });
    this.scripts = client as unknown as Scripts;
    client.on("error", () => undefined);
    subscriber.on("error", () => undefined);
  }

  /**
   * Starts listening. After a reconnect, changes may have been missed: once the subscription is
   * confirmed again (not merely the connection), a reset is announced so caches refill from Redis.
   */
  async subscribe(): Promise<void> {
    this.subscriber.on("message", (_channel: string, message: string) => {
      try {
        this.changes.emit(CHANGE_EVENT, JSON.parse(message) as RegistryChange);
      } catch {
        this.announceReset();
      }
    });
    let first = true;
    this.subscriber.on("ready", () => {
      if (first) {
        first = false;
        return;
      }
      this.subscriber.subscribe(this.channel).then(
        () => this.announceReset(),
        () => this.announceReset(),
      );
    });
    await this.subscriber.subscribe(this.channel);
  }

  private announceReset(): void {
    this.changes.emit(CHANGE_EVENT, { kind: "reset", project: "", name: "" } satisfies RegistryChange);
  }

  async getProject(project: string): Promise<Project | undefined> {
    return this.read(() => this.client.hget(this.key("projects"), project));
  }

  async createProject(project: Project): Promise<boolean> {
    const change = this.change({ kind: "project", project: project.project, name: project.project });
    return this.run(
      async () =>
        (await this.scripts.sluiceCreateIfAbsent(
          this.key("projects"),
          this.key("projects:index"),
          this.channel,
          project.project,
          JSON.stringify(project),
          change,
        )) === 1,
    );
  }

  async listProjects(page: PageQuery<string>): Promise<Project[]> {
    return this.scanIndex<Project>(this.key("projects:index"), this.key("projects"), page);
  }

  async getEntity(project: string, name: string): Promise<Entity | undefined> {
    return this.read(() => this.client.hget(this.key(`entities:${project}`), name));
  }

  async putEntity(entity: Entity, expectedRevision: number | undefined): Promise<boolean> {
    const change = this.change({ kind: "entity", project: entity.project, name: entity.name });
    return this.run(
      async () =>
        (await this.scripts.sluicePutEntity(
          this.key(`entities:${entity.project}`),
          this.key(`entities:${entity.project}:index`),
          this.channel,
          entity.name,
          JSON.stringify(entity),
          expectedRevision === undefined ? "" : String(expectedRevision),
          change,
        )) === 1,
    );
  }

  async listEntities(project: string, page: PageQuery<string>): Promise<Entity[]> {
    return this.scanIndex<Entity>(this.key(`entities:${project}:index`), this.key(`entities:${project}`), page);
  }

  async getHead(kind: VersionedKind, project: string, name: string): Promise<DefinitionHead | undefined> {
    return this.read(() => this.client.hget(this.key(`heads:${kind}:${project}`), name));
  }

  async getVersion<K extends VersionedKind>(
    kind: K,
    project: string,
    name: string,
    version: number,
  ): Promise<VersionedKinds[K] | undefined> {
    return this.read(() => this.client.hget(this.key(`versions:${kind}:${project}:${name}`), String(version)));
  }

  async listVersions<K extends VersionedKind>(
    kind: K,
    project: string,
    name: string,
    page: PageQuery<number>,
  ): Promise<Array<VersionedKinds[K]>> {
    const head = await this.getHead(kind, project, name);
    if (!head) return [];
    // Versions are numbered 1..latest without gaps, so a page is a computed range of fields.
    const newest = Math.min(head.latestVersion, page.after === undefined ? head.latestVersion : page.after - 1);
    const numbers = Array.from({ length: Math.max(0, Math.min(page.limit, newest)) }, (_, i) => String(newest - i));
    if (numbers.length === 0) return [];
    const values = await this.run(() => this.client.hmget(this.key(`versions:${kind}:${project}:${name}`), ...numbers));
    return values.flatMap((value) => (value ? [revive<VersionedKinds[K]>(value)] : []));
  }

  async listHeads(kind: VersionedKind, project: string, page: PageQuery<string>): Promise<NamedHead[]> {
    const names = await this.indexPage(this.key(`heads:${kind}:${project}:index`), page);
    if (names.length === 0) return [];
    const values = await this.run(() => this.client.hmget(this.key(`heads:${kind}:${project}`), ...names));
    return names.flatMap((name, i) => {
      const value = values[i];
      return value ? [{ name, head: revive<DefinitionHead>(value) }] : [];
    });
  }

  async appendVersion<K extends VersionedKind>(kind: K, record: VersionedKinds[K], expectedLatest: number): Promise<boolean> {
    const change = this.change({ kind, project: record.project, name: record.name });
    const head: DefinitionHead = { latestVersion: record.version, state: "active" };
    return this.run(
      async () =>
        (await this.scripts.sluiceAppendVersion(
          this.key(`heads:${kind}:${record.project}`),
          this.key(`heads:${kind}:${record.project}:index`),
          this.key(`versions:${kind}:${record.project}:${record.name}`),
          this.channel,
          record.name,
          String(expectedLatest),
          String(record.version),
          JSON.stringify(record),
          JSON.stringify(head),
          change,
        )) === 1,
    );
  }

  async setState(
    kind: VersionedKind,
    project: string,
    name: string,
    state: DefinitionState,
    at: Date,
  ): Promise<DefinitionHead | undefined> {
    const change = this.change({ kind, project, name });
    const encoded = await this.run(() =>
      this.scripts.sluiceSetState(this.key(`heads:${kind}:${project}`), this.channel, name, state, at.toISOString(), change),
    );
    return encoded ? revive<DefinitionHead>(encoded) : undefined;
  }

  async getDocument<T>(kind: DocumentKind, project: string, id: string): Promise<StoredDocument<T> | undefined> {
    return this.read(() => this.client.hget(this.key(`documents:${kind}:${project}`), id));
  }

  async putDocument<T>(kind: DocumentKind, project: string, id: string, value: T, expectedRevision: number): Promise<number | undefined> {
    const hash = this.key(`documents:${kind}:${project}`);
    const change = this.change({ kind: "document", project, name: `${kind}/${id}` });
    const revision = await this.run(() =>
      this.scripts.sluicePutDocument(hash, `${hash}:index`, this.channel, id, String(expectedRevision), JSON.stringify(value), change),
    );
    return revision === 0 ? undefined : revision;
  }

  async listDocuments<T>(
    kind: DocumentKind,
    project: string,
    page: PageQuery<string> & { prefix?: string },
  ): Promise<Array<StoredDocument<T>>> {
    const hash = this.key(`documents:${kind}:${project}`);
    const prefix = page.prefix ?? "";
    const start = page.after !== undefined && page.after >= prefix ? `(${page.after}` : `[${prefix}`;
    const ids = await this.run(() => this.client.zrangebylex(`${hash}:index`, start, `[${prefix}\xff`, "LIMIT", 0, page.limit));
    if (ids.length === 0) return [];
    const values = await this.run(() => this.client.hmget(hash, ...ids));
    return values.flatMap((value) => (value ? [revive<StoredDocument<T>>(value)] : []));
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    this.changes.on(CHANGE_EVENT, listener);
    return () => this.changes.off(CHANGE_EVENT, listener);
  }

  async close(): Promise<void> {
    this.changes.removeAllListeners();
    await Promise.all([
      this.client.quit().catch(() => this.client.disconnect()),
      this.subscriber.quit().catch(() => this.subscriber.disconnect()),
    ]);
  }

  private key(suffix: string): string {
    return `${this.prefix}registry:${suffix}`;
  }

  private change(change: RegistryChange): string {
    return JSON.stringify(change);
  }

  private async indexPage(index: string, page: PageQuery<string>): Promise<string[]> {
    const start = page.after === undefined ? "-" : `(${page.after}`;
    return this.run(() => this.client.zrangebylex(index, start, "+", "LIMIT", 0, page.limit));
  }

  private async scanIndex<T>(index: string, hash: string, page: PageQuery<string>): Promise<T[]> {
    const names = await this.indexPage(index, page);
    if (names.length === 0) return [];
    const values = await this.run(() => this.client.hmget(hash, ...names));
    return values.flatMap((value) => (value ? [revive<T>(value)] : []));
  }

  private async read<T>(operation: () => Promise<string | null>): Promise<T | undefined> {
    const value = await this.run(operation);
    return value === null ? undefined : revive<T>(value);
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new StoreUnavailableError(this.description, error);
    }
  }
}

/** Parses stored JSON, turning the ISO strings of `...Time` fields back into Dates. */
function revive<T>(json: string): T {
  return JSON.parse(json, (key, value) =>
    key.endsWith("Time") && typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : value,
  ) as T;
}
