/**
 * The Kafka source against a real broker (Apache Kafka 4 in KRaft mode, test/support/kafka-harness.ts):
 * JSON and Protobuf events reach the online tiles and the offline history; undecodable and invalid
 * messages are dead-lettered, counted, and block nothing; and two server processes in one consumer
 * group, one of them killed with SIGKILL mid-stream, count every event exactly once online and offline.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Kafka, Message } from "kafkajs";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceClient } from "../../clients/typescript/src/index.js";
import { DEFAULT_CONFIG, type SluiceConfig } from "../../src/config/config.js";
import { type KafkaBroker, skipWithoutKafka, startKafka } from "../support/kafka-harness.js";
import { RedisProcess, skipWithoutRedis } from "../support/redis-harness.js";
import { type ServerProcess, spawnServer, stopServer } from "../support/server-process.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

// Skipped only where Java 17 or the fetched broker is missing (one line says so); CI sets
// REQUIRE_KAFKA_TESTS=1, which turns that skip into a failure.
const skip = skipWithoutKafka("kafka source e2e");

/** Consumer settings for tests: short polls, and a session the broker lets expire within seconds. */
const FAST_GROUP = {
  sessionTimeoutMs: 3000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 10_000,
  maxWaitTimeMs: 100,
  maxRetryDelayMs: 1000,
};

let broker: KafkaBroker;
let kafka: Kafka;

beforeAll(async () => {
  if (skip) return;
  // Sessions of 3 s (the broker's floor is 6 s by default): a killed replica's partitions move soon.
  broker = await startKafka({ properties: { "group.min.session.timeout.ms": 1000 } });
  kafka = broker.client();
}, 90_000);

afterAll(async () => {
  await broker?.stop();
});

async function createTopics(topics: Array<{ topic: string; numPartitions: number }>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: topics.map((t) => ({ ...t, replicationFactor: 1 })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function produce(topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

/** Reads `count` messages of `topic` from its beginning (a group of its own), or rejects after `timeoutMs`. */
async function readTopic(
  topic: string,
  count: number,
  timeoutMs = 15_000,
): Promise<Array<{ value: string; headers: Record<string, string> }>> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}`, maxWaitTimeInMs: 100 });
  const read: Array<{ value: string; headers: Record<string, string> }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${read.length} of ${count} messages of ${topic}`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
            read.push({ value: message.value?.toString("utf8") ?? "", headers });
            if (read.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return read;
}

/** Polls `read` until `done` holds for its result; fails with the last result after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`still ${JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v))} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Online values of `feature` for `ids` (one value per id), as numbers. */
async function onlineValues(client: SluiceClient, feature: string, key: string, ids: number[]): Promise<number[]> {
  const [column] = await client.getOnlineFeatures({ features: [feature], entities: { [key]: ids.map(BigInt) } });
  return (column?.values ?? []).map((v) => Number(v ?? 0));
}

/** Events stored offline per source and in all, from GetEventStreamStatus. */
async function offlineCounts(
  client: SluiceClient,
  stream: string,
): Promise<{ total: number; bySource: Record<string, number>; dead: number }> {
  const status = await client.getEventStreamStatus(stream);
  return {
    total: Number(status.eventCount),
    bySource: Object.fromEntries(status.sources.map((s) => [s.source, Number(s.eventCount)])),
    dead: Number(status.deadLetteredCount),
  };
}

/** A card event: ISO text or epoch milliseconds for its time, alternately. */
const cardEvent = (card: number, at: number, amount: number, iso: boolean) => ({
  key: String(card),
  value: JSON.stringify({ card_id: card, ts: iso ? new Date(at).toISOString() : at, amount, merchant: `m${amount % 4}` }),
});

describe.skipIf(skip)("the Kafka source in a server", () => {
  let t: TestServer;
  let protoFile: string;
  const base = Date.now() - 10 * 60_000;

  beforeAll(async () => {
    await createTopics([
      { topic: "txns", numPartitions: 2 },
      { topic: "ptxns", numPartitions: 1 },
    ]);
    protoFile = join(mkdtempSync(join(tmpdir(), "sluice-proto-")), "txn.proto");
    writeFileSync(
      protoFile,
      [
        'syntax = "proto3";',
        "package shop.v1;",
        'import "google/protobuf/timestamp.proto";',
        "message Transaction {",
        "  int64 card_id = 1;",
        "  google.protobuf.Timestamp ts = 2;",
        "  double amount = 3;",
        "}",
      ].join("\n"),
    );
    const kafkaConfig: SluiceConfig["kafka"] = {
      ...DEFAULT_CONFIG.kafka,
      ...FAST_GROUP,
      brokers: [broker.brokers],
      groupId: "sluice-e2e",
      sources: [
        { topic: "txns", project: "default", stream: "txn", format: "json", eventTimeUnit: "milliseconds", ignoreUnknownFields: false },
        {
          topic: "ptxns",
          project: "default",
          stream: "ptxn",
          format: "protobuf",
          protoFile,
          messageType: "shop.v1.Transaction",
          deadLetterTopic: "ptxns-dead",
          eventTimeUnit: "milliseconds",
          ignoreUnknownFields: false,
        },
      ],
    };
    t = await startTestServer({ kafka: kafkaConfig });
    const c = t.client;
    await c.applyEntity({ name: "card", joinKeys: [{ name: "card_id", type: "int64" }] });
    for (const [stream, fields] of [
      [
        "txn",
        [
          { name: "amount", type: "double" },
          { name: "merchant", type: "string" },
        ],
      ],
      ["ptxn", [{ name: "amount", type: "double" }]],
    ] as const) {
      await c.applyEventStream({ name: stream, entity: "card", eventTimeField: "ts", fields: [...fields], allowedLatenessSeconds: 3600 });
      await c.applyFeatureView({
        name: `${stream}_stats`,
        entity: "card",
        stream,
        features: [
          { name: "n", aggregation: { function: "count" } },
          { name: "amount_1h", aggregation: { function: "sum", field: "amount", windowSeconds: 3600 } },
        ],
      });
    }
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it("brings JSON events to the online aggregates and the offline history, times as ISO text or epoch milliseconds", async () => {
    const started = Date.now();
    const messages = Array.from({ length: 30 }, (_, i) => cardEvent(i % 3, base + i * 1000, i, i % 2 === 0));
    await produce("txns", messages);
    const counts = await eventually(
      () => onlineValues(t.client, "txn_stats:n", "card_id", [0, 1, 2]),
      (n) => n.every((v) => v === 10),
    );
    expect(counts).toEqual([10, 10, 10]);
    const sums = [0, 1, 2].map((card) => Array.from({ length: 10 }, (_, j) => card + 3 * j).reduce((a, b) => a + b, 0));
    expect(await onlineValues(t.client, "txn_stats:amount_1h", "card_id", [0, 1, 2])).toEqual(sums);

    const offline = await offlineCounts(t.client, "txn");
    expect(offline.total).toBe(30);
    for (const source of Object.keys(offline.bySource)) expect(["kafka:txns/0", "kafka:txns/1"]).toContain(source);
    // The history gives the same aggregates as of now.
    const rows = [];
    for await (const row of t.client.getHistoricalRows({
      features: ["txn_stats:n", "txn_stats:amount_1h"],
      spine: { rows: [0, 1, 2].map((card) => ({ entityKey: { card_id: BigInt(card) }, eventTime: new Date() })) },
    }))
      rows.push(row);
    expect(rows.map((row) => [Number(row.n), Number(row.amount_1h)])).toEqual(sums.map((sum) => [10, sum]));
    console.log(`JSON: 30 events online and offline in ${Date.now() - started} ms`);
  });

  it("decodes Protobuf events of a configured .proto file and message type", async () => {
    const started = Date.now();
    const type = new protobuf.Root().loadSync(protoFile, { keepCase: true }).lookupType("shop.v1.Transaction");
    const messages = Array.from({ length: 12 }, (_, i) => {
      const at = base + i * 1000;
      const message = type.fromObject({
        card_id: 100 + (i % 2),
        ts: { seconds: Math.floor(at / 1000), nanos: (at % 1000) * 1e6 },
        amount: i,
      });
      return { key: String(100 + (i % 2)), value: Buffer.from(type.encode(message).finish()) };
    });
    await produce("ptxns", messages);
    expect(
      await eventually(
        () => onlineValues(t.client, "ptxn_stats:n", "card_id", [100, 101]),
        (n) => n.every((v) => v === 6),
      ),
    ).toEqual([6, 6]);
    expect(await onlineValues(t.client, "ptxn_stats:amount_1h", "card_id", [100, 101])).toEqual([30, 36]);
    expect((await offlineCounts(t.client, "ptxn")).bySource).toEqual({ "kafka:ptxns/0": 12 });
    console.log(`Protobuf: 12 events online and offline in ${Date.now() - started} ms`);
  });

  it("dead-letters undecodable and invalid messages with their error and origin, counts them, and goes on", async () => {
    const started = Date.now();
    const before = await offlineCounts(t.client, "txn");
    const at = Date.now() - 60_000;
    const bad = [
      { value: "not json at all", reason: "UNDECODABLE", error: /^not JSON/ },
      { value: "[1, 2, 3]", reason: "UNDECODABLE", error: /not a JSON object/ },
      { value: JSON.stringify({ card_id: "abc", ts: at, amount: 1 }), reason: "INVALID_EVENT", error: /card_id: "abc" is not an integer/ },
      { value: JSON.stringify({ card_id: 7, amount: 1 }), reason: "INVALID_EVENT", error: /ts: is required/ },
      { value: JSON.stringify({ card_id: 7, ts: at, colour: "red" }), reason: "INVALID_EVENT", error: /colour: is not a join key/ },
      // Decoded, but the writer refuses it: a day in the future is beyond limits.maxFutureSkewMs.
      { value: JSON.stringify({ card_id: 7, ts: Date.now() + 86_400_000, amount: 1 }), reason: "INVALID_EVENT", error: /event_time/ },
    ];
    const good = Array.from({ length: 4 }, (_, i) => cardEvent(7, at + i, 1, false));
    // Bad and good messages interleaved on one partition (one key): the good ones after each bad one still arrive.
    const messages = bad.flatMap((b, i) => [{ key: "7", value: b.value }, ...(good[i] ? [good[i]] : [])]);
    await produce("txns", messages);
    await produce("ptxns", [{ key: "100", value: Buffer.from([0xff, 0xff, 0xff, 0x0f]) }]);

    expect(
      await eventually(
        () => onlineValues(t.client, "txn_stats:n", "card_id", [7]),
        (n) => n[0] === 4,
      ),
    ).toEqual([4]);
    // Dead letters are sent after their batch's events are stored, before its offset is committed.
    await eventually(
      () => offlineCounts(t.client, "txn"),
      (counts) => counts.dead === bad.length + 1,
    );
    const deadLetters = await readTopic("txns.dlq", bad.length);
    expect(deadLetters.map((d) => d.value)).toEqual(bad.map((b) => b.value));
    const offsets = deadLetters.map((d) => Number(d.headers["sluice-dlq-original-offset"]));
    bad.forEach((b, i) => {
      const headers = deadLetters[i]?.headers ?? {};
      expect(headers["sluice-dlq-reason"]).toBe(b.reason);
      expect(headers["sluice-dlq-error"]).toMatch(b.error);
      expect(headers["sluice-dlq-original-topic"]).toBe("txns");
      expect(headers["sluice-dlq-original-partition"]).toMatch(/^[01]$/);
      expect(headers["sluice-dlq-stream"]).toBe("default/txn");
    });
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    const [protoDead] = await readTopic("ptxns-dead", 1);
    expect(protoDead?.headers["sluice-dlq-reason"]).toBe("UNDECODABLE");
    expect(protoDead?.headers["sluice-dlq-error"]).toMatch(/^not a shop.v1.Transaction message/);

    // Only the good events are stored; the dead letters are counted in the API and in Prometheus.
    const after = await offlineCounts(t.client, "txn");
    expect(after.total - before.total).toBe(4);
    expect(after.dead).toBe(bad.length + 1);
    const metrics = await (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`)).text();
    expect(metrics).toContain('sluice_kafka_dead_lettered_total{topic="txns",reason="UNDECODABLE"} 2');
    expect(metrics).toContain('sluice_kafka_dead_lettered_total{topic="txns",reason="INVALID_EVENT"} 4');
    expect(metrics).toContain('sluice_kafka_dead_lettered_total{topic="ptxns",reason="UNDECODABLE"} 1');
    console.log(`dead letters: ${bad.length + 1} dead-lettered, 4 good events stored, in ${Date.now() - started} ms`);
  });
});

/**
 * A ClickHouse HTTP endpoint backed by chDB, in a process of its own (libchdb binds one data dir
 * per process): the shared offline store of server processes, as a ClickHouse server is for
 * replicas in production. It speaks as much of the HTTP interface as @clickhouse/client uses:
 * the query in the URL or the body, `param_*` parameters, settings as URL parameters (applied as
 * the query's SETTINGS clause, as chDB's own inserts do), and errors as status 500 with
 * ClickHouse's message. A client whose URL names the database "slow_inserts" hears of each insert
 * 300 ms after it is durable: a replica killed then has stored a batch it has not committed.
 */
const CLICKHOUSE_OVER_CHDB = `
import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "chdb";
const session = new Session(process.env.CHDB_DIR);
const NOT_SETTINGS = new Set(["query", "query_id", "database", "session_id", "role", "default_format", "wait_end_of_query",
  "send_progress_in_http_headers", "http_headers_progress_interval_ms", "enable_http_compression", "http_zlib_compression_level",
  "http_response_buffer_size"]);
const literal = (v) => (/^-?\\d+(\\.\\d+)?$/.test(v) ? v : "'" + v.replace(/\\\\/g, "\\\\\\\\").replace(/'/g, "\\\\'") + "'");
const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? "/", "http://chdb");
  if (url.pathname === "/ping") return response.end("Ok.\\n");
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString("utf8");
  const params = {};
  const settings = [];
  for (const [key, value] of url.searchParams) {
    if (key.startsWith("param_")) params[key.slice(6)] = value;
    else if (!NOT_SETTINGS.has(key)) settings.push(key + " = " + literal(value));
  }
  const inUrl = url.searchParams.get("query");
  let sql = inUrl ?? body;
  const clause = settings.length > 0 ? " SETTINGS " + settings.join(", ") : "";
  const format = /\\s+FORMAT\\s+(\\w+)\\s*$/i.exec(sql);
  let bodyFile;
  if (inUrl !== null && format && /^(Arrow|ArrowStream|Parquet)$/.test(format[1])) {
    // A binary insert body: chDB reads it from a file, as the store itself does.
    bodyFile = join(tmpdir(), "sluice-shared-chdb-" + randomUUID() + ".bin");
    writeFileSync(bodyFile, Buffer.concat(chunks));
    sql = sql.slice(0, format.index) + " SELECT * FROM file('" + bodyFile + "', '" + format[1] + "')" + clause;
  } else {
    sql = format ? sql.slice(0, format.index) + clause + sql.slice(format.index) : sql + clause;
    if (inUrl !== null && body.trim() !== "") sql += "\\n" + body;
  }
  const options = { format: url.searchParams.get("default_format") ?? "TabSeparated" };
  try {
    const result = Object.keys(params).length > 0 ? await session.queryBindAsync(sql, params, options) : await session.queryAsync(sql, options);
    // A client that names the database "slow_inserts" hears of each insert 300 ms after it is durable.
    if (url.searchParams.get("database") === "slow_inserts" && /^s*INSERT/i.test(sql)) await new Promise((r) => setTimeout(r, 300));
    response.writeHead(200, { "X-ClickHouse-Summary": "{}" });
    response.end(Buffer.from(result.bytes()));
  } catch (error) {
    const message = String(error?.message ?? error);
    response.writeHead(500, { "X-ClickHouse-Exception-Code": /Code: (\\d+)/.exec(message)?.[1] ?? "1000" });
    response.end(message);
  } finally {
    if (bodyFile) rmSync(bodyFile, { force: true });
  }
});
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: server.address().port }) + "\\n"));
`;

/** Starts {@link CLICKHOUSE_OVER_CHDB}; resolves with its URL and the process. */
async function startSharedClickHouse(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CLICKHOUSE_OVER_CHDB], {
    cwd: join(import.meta.dirname, "../.."),
    env: { ...process.env, CHDB_DIR: mkdtempSync(join(tmpdir(), "sluice-shared-chdb-")) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the shared ClickHouse exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (line) => resolve(JSON.parse(line).port));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

const skipReplicas = skip || skipWithoutRedis("kafka source replicas e2e");

describe.skipIf(skipReplicas)("two server processes in one consumer group", () => {
  const topic = "clicks";
  const partitions = 4;
  const users = 20;
  let redis: RedisProcess;
  let clickhouse: { url: string; child: ChildProcess };
  let env: Record<string, string>;
  const dataDirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), "sluice-kafka-replica-")));
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    [redis, clickhouse] = await Promise.all([
      RedisProcess.start(),
      startSharedClickHouse(),
      createTopics([{ topic, numPartitions: partitions }]),
    ]).then(([r, c]) => [r, c] as const);
    env = {
      SLUICE_REGISTRY_BACKEND: "redis",
      SLUICE_REGISTRY_REDIS_URL: redis.url,
      SLUICE_ONLINE_BACKEND: "redis",
      SLUICE_ONLINE_REDIS_URL: redis.url,
      SLUICE_OFFLINE_BACKEND: "clickhouse",
      SLUICE_OFFLINE_CLICKHOUSE_URL: clickhouse.url,
      SLUICE_KAFKA_BROKERS: broker.brokers,
      SLUICE_KAFKA_GROUP_ID: "sluice-replicas",
      SLUICE_KAFKA_SOURCES: JSON.stringify([{ topic, stream: "clicks" }]),
      ...Object.fromEntries(
        Object.entries(FAST_GROUP).map(([key, value]) => [`SLUICE_KAFKA_${key.replace(/([A-Z])/g, "_$1").toUpperCase()}`, String(value)]),
      ),
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => stopServer(s)));
    clickhouse?.child.kill("SIGKILL");
    await redis?.destroy();
  });

  const spawnReplica = (i: number, extraEnv: Record<string, string> = {}) =>
    spawnServer(["--data-dir", dataDirs[i] as string], { env: { ...env, ...extraEnv } });
  const logged = (processes: ServerProcess[], msg: string) => processes.flatMap((s) => s.logs).filter((line) => line.msg === msg);
  const replayedIn = (processes: ServerProcess[]) =>
    logged(processes, "kafka batch stored, replayed events counted once").reduce((sum, line) => sum + Number(line.replayed), 0);

  it("counts every event exactly once online and offline through a SIGKILL mid-batch, a restart and a replay of everything", async () => {
    const started = Date.now();
    // Replica A hears of its offline writes late (see CLICKHOUSE_OVER_CHDB) and logs each batch, so
    // that it can be killed between storing a batch and committing its offset.
    const [a, b] = (await Promise.all([
      spawnReplica(0, { SLUICE_OFFLINE_CLICKHOUSE_URL: `${clickhouse.url}/slow_inserts`, SLUICE_LOG_LEVEL: "debug" }),
      spawnReplica(1),
    ])) as [ServerProcess, ServerProcess];
    servers.push(a, b);
    const client = await SluiceClient.connect({ address: b.address });
    try {
      await client.applyEntity({ name: "user", joinKeys: [{ name: "user_id", type: "string" }] });
      await client.applyEventStream({
        name: "clicks",
        entity: "user",
        eventTimeField: "ts",
        fields: [{ name: "page", type: "string" }],
        allowedLatenessSeconds: 3600,
      });
      await client.applyFeatureView({
        name: "click_stats",
        entity: "user",
        stream: "clicks",
        features: [{ name: "n", aggregation: { function: "count" } }],
      });

      // Batches of 100 events, 100 ms apart, keyed by user over 4 partitions, until A has come back
      // and 2 s more. Meanwhile replica A is killed inside a batch, B takes its partitions once A's
      // session expires (and replays what A stored but did not commit), and A comes back (another
      // rebalance) while events still flow.
      const produced = new Map<string, number>();
      let total = 0;
      let producedUntil = Number.POSITIVE_INFINITY;
      const producing = (async () => {
        const producer = kafka.producer();
        await producer.connect();
        const base = Date.now() - 30 * 60_000;
        // At most 30 s, should the test fail before it sets an end.
        const deadline = Date.now() + 30_000;
        for (let batch = 0; Date.now() < Math.min(producedUntil, deadline); batch++) {
          total += 100;
          const messages = Array.from({ length: 100 }, (_, i) => {
            const seq = batch * 100 + i;
            const user = `u${seq % users}`;
            produced.set(user, (produced.get(user) ?? 0) + 1);
            return { key: user, value: JSON.stringify({ user_id: user, ts: base + seq, page: `/p/${seq % 7}` }) };
          });
          await producer.send({ topic, messages, acks: -1 });
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await producer.disconnect();
      })();
      await a.waitForLog("kafka batch stored");
      await new Promise((resolve) => setTimeout(resolve, 150));
      a.child.kill("SIGKILL");
      const killedAt = Date.now() - started;
      await eventually(
        async () => replayedIn([b]),
        (replayed) => replayed > 0,
      );
      const restarted = await spawnReplica(0);
      servers.push(restarted);
      producedUntil = Date.now() + 2000;
      await producing;
      const ids = [...produced.keys()].sort();
      const expected = ids.map((id) => produced.get(id));

      const online = await eventually(
        async () =>
          (await client.getOnlineFeatures({ features: ["click_stats:n"], entities: { user_id: ids } }))[0]?.values.map(Number) ?? [],
        (n) => n.reduce((x, y) => x + y, 0) >= total,
        30_000,
      );
      expect(online).toEqual(expected);
      const offline = await eventually(
        () => offlineCounts(client, "clicks"),
        (o) => o.total >= total,
      );
      expect(offline.total).toBe(total);
      const ends = await partitionEnds(topic);
      expect(offline.bySource).toEqual(Object.fromEntries(ends.map((end, p) => [`kafka:${topic}/${p}`, end])));
      await eventually(
        () => committedOffsets("sluice-replicas", topic),
        (committed) => committed.every((offset, p) => offset === ends[p]),
      );
      console.log(
        `replicas: ${total} events, A killed at ${killedAt} ms, all counted once in ${Date.now() - started} ms ` +
          `(${logged(servers, "kafka source joined its group").length} group joins; B replayed ${replayedIn([b])} events A had stored)`,
      );

      // Every offset again, through one replica: a replay of everything changes nothing.
      const replayStarted = Date.now();
      await Promise.all(servers.splice(0).map((s) => stopServer(s)));
      const admin = kafka.admin();
      await admin.connect();
      await admin.resetOffsets({ groupId: "sluice-replicas", topic, earliest: true });
      await admin.disconnect();
      const again = await spawnReplica(1);
      servers.push(again);
      const replayClient = await SluiceClient.connect({ address: again.address });
      try {
        await eventually(
          () => committedOffsets("sluice-replicas", topic),
          (committed) => committed.every((offset, p) => offset === ends[p]),
          30_000,
        );
        expect(
          (await replayClient.getOnlineFeatures({ features: ["click_stats:n"], entities: { user_id: ids } }))[0]?.values.map(Number),
        ).toEqual(expected);
        expect((await offlineCounts(replayClient, "clicks")).total).toBe(total);
        expect(replayedIn([again])).toBe(total);
      } finally {
        replayClient.close();
      }
      console.log(`replicas: all ${total} events replayed with no effect in ${Date.now() - replayStarted} ms`);
    } finally {
      client.close();
    }
  }, 120_000);
});

/** The end offset (next offset) of each partition of `topic`. */
async function partitionEnds(topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.sort((x, y) => x.partition - y.partition).map((p) => Number(p.high));
  } finally {
    await admin.disconnect();
  }
}

/** The committed offset of `groupId` per partition of `topic` (-1 for none). */
async function committedOffsets(groupId: string, topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).sort((x, y) => x.partition - y.partition).map((p) => Number(p.offset));
  } finally {
    await admin.disconnect();
  }
}
