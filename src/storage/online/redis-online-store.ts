/**
 * The online store on Redis or Redis Cluster. Each entity row is one string holding the record in
 * the encoding every backend shares (two big-endian float64 times, then the values). A write
 * batch is one pipeline of a Lua compare-and-set per row (per node on a cluster, the pipelines
 * run concurrently), so the event-time rule is enforced inside Redis in one round trip, never by
 * read-then-write from Node. A read is one MGET on a single server, one pipeline per node on a
 * cluster.
 */
import { createHash } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import { Cluster, type ClusterNode, Redis } from "ioredis";
import { StoreUnavailableError } from "../../common/errors.js";
import type { FeatureValue } from "../../common/feature-value.js";
import type { Receipt } from "./online-store.js";
import {
  type OnlineLookup,
  type OnlineReadResult,
  type OnlineRecord,
  type OnlineStore,
  type OnlineWrite,
  RECEIPT_RETENTION_SECONDS,
  type TileUpdate,
} from "./online-store.js";
import { decodeRecord, decodeValues, encodeRecord, encodeValues } from "./record-codec.js";

/**
 * Sets the row (ARGV[1], an encoded record) when it is newer by (event time, ingestion time) than
 * the stored one, whose times are the first 16 bytes; returns 1 when written. Times are
 * microseconds below 2^53, exact as the doubles Lua compares.
 */
const SET_IF_NEWER = `
local stored = redis.call('GETRANGE', KEYS[1], 0, 15)
if #stored == 16 then
  local storedEvent, storedIngest = struct.unpack('>d>d', stored)
  local event, ingest = struct.unpack('>d>d', ARGV[1])
  if storedEvent > event or (storedEvent == event and storedIngest >= ingest) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/**
 * Sets KEYS[1] to ARGV[2] only when its stored value's SHA-1 is still ARGV[1] ("" for no value):
 * a compare-and-set of a tile record inside Redis, atomic per key. ARGV[3] is an expiry in
 * milliseconds (0: none). Returns 1 when written.
 */
const COMPARE_AND_SET = `
local stored = redis.call('GET', KEYS[1])
local current = ''
if stored then current = redis.sha1hex(stored) end
if current ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
`;

type Client = Redis | Cluster;
type SetIfNewer = { sluiceSetIfNewer(key: string, record: Buffer): unknown };
type CompareAndSet = { sluiceCompareAndSet(key: string, expectedSha1: string, next: Buffer, expireMs: number): unknown };

/** Connection settings of the Redis backends. */
export interface RedisConnection {
  /** redis://host:port for a single server. */
  url?: string;
  /** host:port seeds of a cluster. */
  clusterNodes?: string[];
  /** Prefix of every key, so several deployments can share one Redis. */
  keyPrefix: string;
  /** Per-command timeout. */
  commandTimeoutMs: number;
}

/** Connects to a single Redis server; rejects when it cannot be reached. */
export async function openRedisOnlineStore(connection: RedisConnection & { url: string }): Promise<RedisOnlineStore> {
  const client = new Redis(connection.url, {
    // Fail fast while Redis is down rather than queueing writes nobody will acknowledge;
    // the client keeps reconnecting in the background and calls succeed again once it is back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: connection.commandTimeoutMs,
    lazyConnect: true,
  });
  return connectStore(new RedisOnlineStore("redis", client, connection.keyPrefix, `redis at ${connection.url}`), client);
}

/** Connects to a Redis Cluster through any of its nodes; rejects when the cluster cannot be reached. */
export async function openRedisClusterOnlineStore(connection: RedisConnection & { clusterNodes: string[] }): Promise<RedisOnlineStore> {
  const seeds: ClusterNode[] = connection.clusterNodes.map((address) => {
    const colon = address.lastIndexOf(":");
    return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
  });
  const client = new Cluster(seeds, {
    enableOfflineQueue: false,
    lazyConnect: true,
    redisOptions: { maxRetriesPerRequest: 1, commandTimeout: connection.commandTimeoutMs },
  });
  const description = `redis cluster at ${connection.clusterNodes.join(",")}`;
  return connectStore(new RedisOnlineStore("redis-cluster", client, connection.keyPrefix, description), client);
}

async function connectStore(store: RedisOnlineStore, client: Client): Promise<RedisOnlineStore> {
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new StoreUnavailableError(store.description, error);
  }
  return store;
}

/** {@link OnlineStore} on Redis or Redis Cluster. */
export class RedisOnlineStore implements OnlineStore {
  constructor(
    readonly backend: string,
    private readonly client: Client,
    private readonly keyPrefix: string,
    /** Names the store in errors and logs. */
    readonly description: string,
  ) {
    client.defineCommand("sluiceSetIfNewer", { numberOfKeys: 1, lua: SET_IF_NEWER });
    client.defineCommand("sluiceCompareAndSet", { numberOfKeys: 1, lua: COMPARE_AND_SET });
    // Connection errors surface on the calls that hit them; this keeps them out of the unhandled-error path.
    client.on("error", () => undefined);
  }

  async write(table: string, rows: OnlineWrite[]): Promise<void> {
    const commands = rows.map(({ key, record }) => ({
      key: this.redisKey(table, key),
      add: (pipeline: SetIfNewer, redisKey: string) => pipeline.sluiceSetIfNewer(redisKey, encodeRecord(record)),
    }));
    await this.runPipelined(commands);
  }

  async read(lookups: OnlineLookup[]): Promise<Array<Array<OnlineRecord | undefined>>> {
    return (await this.readWithTiles(lookups, [])).records;
  }

  async compareAndSetTiles(table: string, updates: TileUpdate[], expireAfterMs: number): Promise<string[]> {
    const commands = updates.map(({ key, expected, next }) => ({
      key: this.redisKey(table, key),
      add: (pipeline: CompareAndSet, redisKey: string) =>
        pipeline.sluiceCompareAndSet(
          redisKey,
          expected ? createHash("sha1").update(expected).digest("hex") : "",
          Buffer.from(next.buffer, next.byteOffset, next.byteLength),
          expireAfterMs,
        ),
    }));
    const replies = await this.runPipelined(commands);
    return updates.flatMap(({ key }, i) => (replies[i] === 1 ? [] : [key]));
  }

  async readWithTiles(lookups: OnlineLookup[], tileLookups: OnlineLookup[]): Promise<OnlineReadResult> {
    const all = [...lookups, ...tileLookups];
    const keys = all.flatMap(({ table, keys }) => keys.map((key) => this.redisKey(table, key)));
    let replies: Array<Buffer | null>;
    if (this.client instanceof Cluster || keys.length === 0) {
      // A cluster's MGET must stay within one slot: one GET per key, pipelined per node.
      type Get = { getBuffer(key: string): unknown };
      replies = (await this.runPipelined(
        keys.map((key) => ({ key, add: (pipeline: Get, redisKey: string) => pipeline.getBuffer(redisKey) })),
      )) as Array<Buffer | null>;
    } else {
      const client = this.client;
      replies = await this.run(() => client.mgetBuffer(keys));
    }
    let next = 0;
    const records = lookups.map(({ keys }) =>
      keys.map(() => {
        const stored = replies[next++];
        return stored ? decodeRecord(stored) : undefined;
      }),
    );
    const tiles = tileLookups.map(({ keys }) => keys.map(() => replies[next++] ?? undefined));
    return { records, tiles };
  }

  async getReceipt(key: string): Promise<Receipt | undefined> {
    const [stored] = (await this.runPipelined([
      { key: this.receiptKey(key), add: (pipeline: { getBuffer(key: string): unknown }, redisKey: string) => pipeline.getBuffer(redisKey) },
    ])) as Array<Buffer | null>;
    return stored ? (decodeValues(stored) as unknown as Receipt) : undefined;
  }

  async putReceipt(key: string, receipt: Receipt): Promise<void> {
    const encoded = encodeValues(receipt as unknown as Record<string, FeatureValue>);
    await this.runPipelined([
      {
        key: this.receiptKey(key),
        add: (pipeline: { set(key: string, value: Buffer, mode: "EX", seconds: number): unknown }, redisKey: string) =>
          pipeline.set(redisKey, encoded, "EX", RECEIPT_RETENTION_SECONDS),
      },
    ]);
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private receiptKey(key: string): string {
    return `${this.keyPrefix}receipt|${key}`;
  }

  private redisKey(table: string, key: string): string {
    return `${this.keyPrefix}${table}|${key}`;
  }

  /**
   * Runs one command per key in pipelines and returns the replies in command order. On a cluster
   * the commands are grouped by the node owning their slot (a cluster pipeline must stay on one
   * node) and the groups run concurrently, so the call still costs one round trip.
   */
  private async runPipelined<P>(commands: Array<{ key: string; add: (pipeline: P, key: string) => unknown }>): Promise<unknown[]> {
    if (commands.length === 0) return [];
    const [only] = commands;
    // One command (a single-entity read, a receipt) goes directly, with no pipeline to build.
    if (commands.length === 1 && only) return [await this.run(() => only.add(this.client as P, only.key) as Promise<unknown>)];
    const groups = new Map<string, number[]>();
    commands.forEach(({ key }, index) => {
      const group = this.client instanceof Cluster ? (this.client.slots[calculateSlot(key)]?.join(",") ?? "") : "";
      groups.set(group, [...(groups.get(group) ?? []), index]);
    });
    const replies = new Array<unknown>(commands.length);
    await this.run(() =>
      Promise.all(
        [...groups.values()].map(async (indexes) => {
          const pipeline = this.client.pipeline();
          for (const index of indexes) {
            const command = commands[index];
            if (command) command.add(pipeline as P, command.key);
          }
          const results = (await pipeline.exec()) ?? [];
          results.forEach(([error, reply], i) => {
            if (error) throw error;
            replies[indexes[i] as number] = reply;
          });
        }),
      ),
    );
    return replies;
  }

  /** Runs a store operation; any failure means the store is unavailable to this call. */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new StoreUnavailableError(this.description, error);
    }
  }
}
