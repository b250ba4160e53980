/**
 * The learning store on Redis, shared by every replica. Per learner, under the key prefix: a
 * counter and a hash of entries by position (appended by one Lua script, so positions are dense and
 * an append is all or nothing), a hash of cursors, checkpoint strings, and the lease as a string
 * with a TTL (SET NX PX; extended and released by scripts that check the holder). A checkpoint is
 * written by a script that checks the lease in the same step: a replica that lost its lease
 * cannot overwrite the new leader's state. Durability is Redis's: run it with AOF (appendfsync
 * everysec or always) for learning that survives a Redis restart.
 */
import { Redis } from "ioredis";
import { StoreUnavailableError } from "../../common/errors.js";
import type { CursorMove, LearningStore, LeaseOutcome, LogEntry } from "./learning-store.js";

// KEYS: last, log, cursors. ARGV: cursor name ("" for none), "1" when the cursor must be absent,
// the expected cursor value, the new value, entries... Returns -1, writing nothing, when the cursor moved.
const APPEND = `
if ARGV[1] ~= '' then
  local current = redis.call('HGET', KEYS[3], ARGV[1])
  if ARGV[2] == '1' then
    if current then return -1 end
  elseif current ~= ARGV[3] then
    return -1
  end
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
end
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 5, #ARGV do
  last = last + 1
  redis.call('HSET', KEYS[2], last, ARGV[i])
end
redis.call('SET', KEYS[1], last)
return last`;

// KEYS: lease, checkpoint. ARGV: holder ("" for unfenced), bytes.
const PUT_CHECKPOINT = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

// KEYS: lease. ARGV: holder, ttl ms. Returns 0 refused, 1 taken (no live lease), 2 extended.
const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if current then return 2 end
return 1`;

// KEYS: lease. ARGV: holder.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

/** Entries deleted per HDEL when trimming. */
const TRIM_CHUNK = 1000;

type Scripts = {
  sluiceAppend(
    last: string,
    log: string,
    cursors: string,
    cursorName: string,
    mustBeAbsent: string,
    expected: string,
    value: string,
    ...entries: Buffer[]
  ): Promise<number>;
  sluicePutCheckpoint(lease: string, checkpoint: string, holder: string, bytes: Buffer): Promise<number>;
  sluiceAcquire(lease: string, holder: string, ttlMs: number): Promise<number>;
  sluiceRelease(lease: string, holder: string): Promise<number>;
};

/** Connects to the learning store on Redis at `url` (keys under `keyPrefix`). */
export async function openRedisLearningStore(url: string, keyPrefix: string): Promise<RedisLearningStore> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: false });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new StoreUnavailableError(`redis learning store at ${url}`, error);
  }
  return new RedisLearningStore(client, keyPrefix);
}

/** {@link LearningStore} on Redis. */
export class RedisLearningStore implements LearningStore {
  readonly backend = "redis";
  private readonly scripts: Scripts;

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {
    client.defineCommand("sluiceAppend", { numberOfKeys: 3, lua: APPEND });
    client.defineCommand("sluicePutCheckpoint", { numberOfKeys: 2, lua: PUT_CHECKPOINT });
    client.defineCommand("sluiceAcquire", { numberOfKeys: 1, lua: ACQUIRE });
    client.defineCommand("sluiceRelease", { numberOfKeys: 1, lua: RELEASE });
    this.scripts = client as unknown as Scripts;
    client.on("error", () => undefined);
  }

  async append(learner: string, entries: readonly Uint8Array[]): Promise<number> {
    return this.runAppend(learner, entries, undefined);
  }

  async appendMovingCursor(learner: string, entries: readonly Uint8Array[], cursor: CursorMove): Promise<number | undefined> {
    const last = await this.runAppend(learner, entries, cursor);
    return last < 0 ? undefined : last;
  }

  private async runAppend(learner: string, entries: readonly Uint8Array[], cursor: CursorMove | undefined): Promise<number> {
    const last = await this.scripts.sluiceAppend(
      this.key(learner, "last"),
      this.key(learner, "log"),
      this.key(learner, "cursors"),
      cursor?.name ?? "",
      cursor?.expected === undefined ? "1" : "0",
      cursor?.expected ?? "",
      cursor?.value ?? "",
      ...entries.map((entry) => Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength)),
    );
    return Number(last);
  }

  async read(learner: string, after: number, limit: number): Promise<LogEntry[]> {
    const [last, trimmed] = await Promise.all([this.lastPosition(learner), this.client.get(this.key(learner, "trimmed"))]);
    const positions: number[] = [];
    for (let p = Math.max(after, Number(trimmed ?? 0)) + 1; p <= last && positions.length < limit; p++) positions.push(p);
    if (positions.length === 0) return [];
    const values = await this.client.hmgetBuffer(this.key(learner, "log"), ...positions.map(String));
    return positions.map((position, i) => {
      const value = values[i];
      if (!value) throw new Error(`example log of ${learner} has no entry at ${position} (below its last, ${last})`);
      return { position, value: new Uint8Array(value) };
    });
  }

  async trim(learner: string, through: number): Promise<number> {
    const from = Number((await this.client.get(this.key(learner, "trimmed"))) ?? 0) + 1;
    const to = Math.min(through, await this.lastPosition(learner));
    if (to < from) return 0;
    let deleted = 0;
    for (let start = from; start <= to; start += TRIM_CHUNK) {
      const positions = Array.from({ length: Math.min(TRIM_CHUNK, to - start + 1) }, (_, i) => String(start + i));
      deleted += await this.client.hdel(this.key(learner, "log"), ...positions);
    }
    // The mark last: after a crash midway, the next trim deletes from the old mark again (deleting
    // nothing twice), and nothing below a checkpoint is ever read, so the gap meanwhile is harmless.
    await this.client.set(this.key(learner, "trimmed"), String(to));
    return deleted;
  }

  async lastPosition(learner: string): Promise<number> {
    return Number((await this.client.get(this.key(learner, "last"))) ?? 0);
  }

  async cursor(learner: string, name: string): Promise<string | undefined> {
    return (await this.client.hget(this.key(learner, "cursors"), name)) ?? undefined;
  }

  async putCheckpoint(learner: string, slot: string, bytes: Uint8Array, holder?: string): Promise<boolean> {
    const written = await this.scripts.sluicePutCheckpoint(
      this.key(learner, "lease"),
      this.key(learner, `checkpoint:${slot}`),
      holder ?? "",
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    );
    return Number(written) === 1;
  }

  async getCheckpoint(learner: string, slot: string): Promise<Uint8Array | undefined> {
    const value = await this.client.getBuffer(this.key(learner, `checkpoint:${slot}`));
    return value ? new Uint8Array(value) : undefined;
  }

  async acquireLease(learner: string, holder: string, ttlMs: number): Promise<LeaseOutcome> {
    const outcome = Number(await this.scripts.sluiceAcquire(this.key(learner, "lease"), holder, ttlMs));
    return outcome === 2 ? "extended" : outcome === 1 ? "taken" : "refused";
  }

  async releaseLease(learner: string, holder: string): Promise<void> {
    await this.scripts.sluiceRelease(this.key(learner, "lease"), holder);
  }

  async leaseHolder(learner: string): Promise<string | undefined> {
    return (await this.client.get(this.key(learner, "lease"))) ?? undefined;
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }

  private key(learner: string, part: string): string {
    // The hash tag keeps one learner's keys in one Redis Cluster slot, which the scripts need.
    return `${this.prefix}learner:{${learner}}:${part}`;
  }
}
