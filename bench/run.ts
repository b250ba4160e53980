/**
 * `npm run bench [online|ingest|import|serving|training|streaming|auth|learning|peers|peers-large]`: the benchmarks of ingestion, online
 * reads, model serving and training data, and (`peers`, only when named) Sluice beside Feast. Every figure is printed
 * beside a floor measured in the same run on the same machine (a raw grpc-js echo, a raw store
 * read, a raw chDB insert) and written as JSON under bench/results/, which docs/benchmarks.md quotes.
 * Servers run as child processes from the compiled build, as in production (`npm run bench`
 * builds first). Sizes can be reduced for a quick look with BENCH_QUICK=1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";
import { fileWriter, ParquetWriter } from "hyparquet-writer";
import { Redis } from "ioredis";
import { type BatchInput, type ColumnarBatchInput, SluiceClient, typed } from "../clients/typescript/src/index.js";
import { GetOnlineFeaturesRequest, OnlineResponseLayout } from "../src/gen/sluice/v1/online.pb.js";
import { decodeRecord, encodeRecord } from "../src/storage/online/record-codec.js";
import { RedisProcess } from "../test/support/redis-harness.js";
import { spawnServer } from "../test/support/server-process.js";
import { authBenchmark } from "./auth.js";
import { FEATURES, prepareView, rawLmdbRead, rawUnary, startEcho } from "./floors.js";
import { learningBenchmark } from "./learning.js";
import { peersBenchmark, peersLargeBenchmark } from "./peers.js";
import { servingBenchmark } from "./serving.js";
import { streamingBenchmark } from "./streaming.js";
import { median, pairedLatency, peakRssMb, saveResult, sequentialLatency, throughput } from "./support.js";
import { trainingBenchmark } from "./training.js";

const QUICK = process.env.BENCH_QUICK === "1";

async function main(): Promise<void> {
  const which = process.argv[2];
  if (!which || which === "online") await onlineReadBenchmark();
  if (!which || which === "ingest") await ingestBenchmark();
  if (!which || which === "import") await importBenchmark();
  if (!which || which === "serving") await servingBenchmark(QUICK);
  if (!which || which === "training") await trainingBenchmark(QUICK);
  if (!which || which === "streaming") await streamingBenchmark(QUICK);
  if (!which || which === "auth") await authBenchmark(QUICK);
  if (!which || which === "learning") await learningBenchmark(QUICK);
  // Only when asked by name: it installs Feast in a virtualenv of its own and takes a while.
  if (which === "peers") await peersBenchmark(QUICK);
  if (which === "peers-large") await peersLargeBenchmark(QUICK);
}

async function onlineReadBenchmark(): Promise<void> {
  const iterations = QUICK ? 500 : 5000;
  const seconds = QUICK ? 1 : 5;
  const results: Record<string, unknown> = {};
  for (const backend of ["lmdb", "redis"] as const) {
    const redis = backend === "redis" ? await RedisProcess.start() : undefined;
    const env: Record<string, string> = redis ? { SLUICE_ONLINE_BACKEND: "redis", SLUICE_ONLINE_REDIS_URL: redis.url } : {};
    const server = await spawnServer(["--data-dir", mkdtempSync(join(tmpdir(), "sluice-bench-")), "--log-level", "info"], {
      env,
      built: true,
    });
    const client = await SluiceClient.connect({ address: server.address });
    await prepareView(client, 1000);
    const refs = FEATURES.map((f) => `stats:${f}`);
    const request = (ids: ReturnType<typeof typed.int64>[]) =>
      Buffer.from(
        GetOnlineFeaturesRequest.encode({
          project: "projects/default",
          features: refs,
          featureService: "",
          entities: { customer_id: { values: ids } },
          fullFeatureNames: false,
          layout: OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_COLUMNS,
        }).finish(),
      );
    // Raw bytes on both sides of the comparison (no client-side protobuf work, no SDK conversions,
    // no retry policy), and the echo answers with as many bytes as Sluice does: the difference is
    // what the Sluice server does.
    const sluice = rawUnary(server.address, "/sluice.v1.OnlineService/GetOnlineFeatures");
    const onePayload = request([typed.int64(7)]);
    const hundredPayload = request(Array.from({ length: 100 }, (_, i) => typed.int64(i)));
    const one = () => sluice.call(onePayload);
    const hundred = () => sluice.call(hundredPayload);
    const responseBytes = (await one()).length;
    const echo = await startEcho(responseBytes);

    const floorStore = redis ? await rawRedisRead(redis.url) : await rawLmdbRead();
    const [sequential, echoSequential] = await pairedLatency(one, () => echo.call(onePayload), iterations);
    const concurrent = await throughput(one, 64, seconds * 1000);
    const echoConcurrent = await throughput(() => echo.call(onePayload), 64, seconds * 1000);
    const sequential100 = await sequentialLatency(hundred, Math.ceil(iterations / 5));
    const target = backend === "lmdb" ? echoSequential.p50Us * 1.3 : echoSequential.p50Us + 1.5 * floorStore.p50Us;
    results[backend] = {
      oneEntityTenFeatures: { sequential, callsPerSecondAt64: concurrent },
      hundredEntitiesTenFeatures: { sequential: sequential100 },
      floors: { grpcEcho: { sequential: echoSequential, callsPerSecondAt64: echoConcurrent }, rawStoreRead: floorStore },
      target: { p50UsAtMost: Math.round(target), met: sequential.p50Us <= target },
      ratioToEchoP50: Number((sequential.p50Us / echoSequential.p50Us).toFixed(2)),
      responseBytes,
    };
    sluice.close();
    echo.close();
    client.close();
    server.child.kill("SIGTERM");
    await server.exited;
    await redis?.destroy();
  }
  saveResult("online-read", results);
}

async function rawRedisRead(url: string) {
  const redis = new Redis(url);
  const record = encodeRecord({ eventTime: 1, ingestTime: 1, values: Object.fromEntries(FEATURES.map((f, i) => [f, i / 3])) });
  await redis.set("bench", record);
  const latency = await sequentialLatency(async () => decodeRecord((await redis.getBuffer("bench")) as Buffer), QUICK ? 500 : 5000);
  redis.disconnect();
  return latency;
}

/** Rows of the ingest benchmark: 10 double features per row. */
function ingestRows(batch: number, size: number) {
  return Array.from({ length: size }, (_, i) => ({
    entityKey: { customer_id: typed.int64(batch * size + i) },
    eventTime: new Date(),
    features: Object.fromEntries(FEATURES.map((f, j) => [f, typed.double(i + j)])),
  }));
}

/** The same rows as columns: one Float64Array per feature. */
function ingestColumns(batch: number, size: number): ColumnarBatchInput {
  return {
    featureView: "stats",
    eventTimes: Array.from({ length: size }, () => new Date()),
    entityKey: { customer_id: BigInt64Array.from({ length: size }, (_, i) => BigInt(batch * size + i)) },
    features: Object.fromEntries(FEATURES.map((f, j) => [f, Float64Array.from({ length: size }, (_, i) => i + j)])),
  };
}

/** Streams `batches` through one WriteFeatures call into a fresh server; rows/s and the server's peak RSS. */
async function streamIntoFreshServer(batches: Array<BatchInput | ColumnarBatchInput>, rows: number) {
  const server = await spawnServer(["--data-dir", mkdtempSync(join(tmpdir(), "sluice-bench-")), "--log-level", "info"], { built: true });
  const client = await SluiceClient.connect({ address: server.address });
  await prepareView(client, 0);
  const stream = client.openWriteStream();
  const started = performance.now();
  // Up to 4 batches in flight: acks come back in order, so the stream stays full.
  const inFlight: Array<Promise<unknown>> = [];
  for (const batch of batches) {
    inFlight.push(stream.write(batch));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const rowsPerSecond = Math.round(rows / ((performance.now() - started) / 1000));
  await stream.close();
  const serverPeakRssMb = peakRssMb(server.child.pid as number);
  client.close();
  server.child.kill("SIGTERM");
  await server.exited;
  return { rowsPerSecond, serverPeakRssMb };
}

/**
 * Floors: the same rows inserted into chDB directly in this process, in batches of the same size,
 * (a) as a developer would with @clickhouse/client (JSONEachRow objects) and (b) as pre-formatted
 * text handed to chDB's raw insert, which is the engine's own cost with no client work at all.
 */
async function rawInsertFloors(batches: number, batchSize: number) {
  const connection = createChdbConnection({ path: mkdtempSync(join(tmpdir(), "sluice-bench-chdb-")) });
  const raw = createClient({ connection: connection as unknown as NonNullable<Parameters<typeof createClient>[0]>["connection"] });
  const columns = FEATURES.map((f) => `${f} Nullable(Float64)`).join(", ");
  for (const table of ["client_insert", "passthrough"]) {
    await raw.command({
      query: `CREATE TABLE ${table} (customer_id Int64, event_time DateTime64(6, 'UTC'), ingestion_time DateTime64(6, 'UTC'), write_id String, ${columns}) ENGINE = MergeTree ORDER BY (customer_id, event_time)`,
    });
  }
  const objects = Array.from({ length: batches }, (_, b) =>
    Array.from({ length: batchSize }, (_, i) => ({
      customer_id: String(b * batchSize + i),
      event_time: "2026-01-01 00:00:00.000000",
      ingestion_time: "2026-01-01 00:00:00.000000",
      write_id: `w${b}`,
      ...Object.fromEntries(FEATURES.map((f, j) => [f, i + j])),
    })),
  );
  const rate = async (insert: (b: number) => Promise<unknown>) => {
    const started = performance.now();
    for (let b = 0; b < batches; b++) await insert(b);
    return Math.round((batches * batchSize) / ((performance.now() - started) / 1000));
  };
  const clientInsert = await rate((b) => raw.insert({ table: "client_insert", values: objects[b] ?? [], format: "JSONEachRow" }));
  const texts = objects.map((rows) => Buffer.from(rows.map((row) => JSON.stringify(Object.values(row))).join("\n")));
  const names = Object.keys(objects[0]?.[0] ?? {});
  const passthrough = await rate((b) =>
    connection.chdb.rawInsert({ table: "passthrough", columns: names, values: texts[b] ?? Buffer.alloc(0), format: "JSONCompactEachRow" }),
  );
  await raw.close();
  return { clientInsert, passthrough };
}

async function ingestBenchmark(): Promise<void> {
  const batches = QUICK ? 30 : 300;
  const batchSize = 1000;
  const rounds = QUICK ? 1 : 3;
  const rowBatches = Array.from({ length: batches }, (_, b) => ({ featureView: "stats", rows: ingestRows(b, batchSize) }));
  const columnBatches = Array.from({ length: batches }, (_, b) => ingestColumns(b, batchSize));
  // Rounds interleave Sluice and the floors, so a noisy neighbour hurts both alike; medians are reported.
  const measured: Array<{ rows: number; columns: number; rssRows: number; rssColumns: number; clientInsert: number; passthrough: number }> =
    [];
  for (let round = 0; round < rounds; round++) {
    const rowForm = await streamIntoFreshServer(rowBatches, batches * batchSize);
    const columnForm = await streamIntoFreshServer(columnBatches, batches * batchSize);
    const floors = await rawInsertFloors(batches, batchSize);
    measured.push({
      rows: rowForm.rowsPerSecond,
      columns: columnForm.rowsPerSecond,
      rssRows: rowForm.serverPeakRssMb,
      rssColumns: columnForm.serverPeakRssMb,
      ...floors,
    });
    process.stderr.write(`ingest round ${round + 1}/${rounds}: ${JSON.stringify(measured.at(-1))}\n`);
  }
  const medianOf = (pick: (m: (typeof measured)[number]) => number) => median(measured.map(pick));
  const columns = medianOf((m) => m.columns);
  const floor = medianOf((m) => m.clientInsert);
  saveResult("ingest", {
    rows: batches * batchSize,
    batchSize,
    features: FEATURES.length,
    rounds,
    writeFeaturesRowsPerSecond: { columns, rows: medianOf((m) => m.rows) },
    floor: { rawChdbInsertRowsPerSecond: floor, rawChdbPassthroughInsertRowsPerSecond: medianOf((m) => m.passthrough) },
    ratioToRawInsert: { columns: Number((columns / floor).toFixed(2)), rows: Number((medianOf((m) => m.rows) / floor).toFixed(2)) },
    ratioToPassthroughInsert: { columns: Number((columns / medianOf((m) => m.passthrough)).toFixed(2)) },
    serverPeakRssMb: { columns: medianOf((m) => m.rssColumns), rows: medianOf((m) => m.rssRows) },
    target: { rowsPerSecondAtLeast: 100_000, ratioAtLeast: 0.6, met: columns >= 100_000 && columns / floor >= 0.6 },
    perRound: measured,
  });
}

async function importBenchmark(): Promise<void> {
  const rows = QUICK ? 200_000 : 5_000_000;
  const groupSize = 100_000;
  const directory = mkdtempSync(join(tmpdir(), "sluice-bench-import-"));
  const path = join(directory, "stats.parquet");
  const base = Date.UTC(2026, 0, 1);
  const writer = new ParquetWriter({
    writer: fileWriter(path),
    schema: [
      { name: "root", num_children: 2 + FEATURES.length },
      { name: "customer_id", type: "INT64", repetition_type: "REQUIRED" },
      {
        name: "event_time",
        type: "INT64",
        repetition_type: "REQUIRED",
        logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" },
      },
      ...FEATURES.map((name) => ({ name, type: "DOUBLE" as const, repetition_type: "OPTIONAL" as const })),
    ],
  });
  for (let start = 0; start < rows; start += groupSize) {
    const n = Math.min(groupSize, rows - start);
    writer.write({
      rowGroupSize: groupSize,
      columnData: [
        { name: "customer_id", data: BigInt64Array.from({ length: n }, (_, i) => BigInt((start + i) % 1_000_000)) },
        { name: "event_time", data: BigInt64Array.from({ length: n }, (_, i) => BigInt(base + start + i) * 1000n) },
        ...FEATURES.map((name, j) => ({ name, data: Float64Array.from({ length: n }, (_, i) => i + j) })),
      ],
    });
  }
  writer.finish();

  const server = await spawnServer(
    ["--data-dir", join(directory, "data"), "--log-level", "info", "--set", `imports.allowedDirs=${directory}`],
    { built: true },
  );
  const client = await SluiceClient.connect({ address: server.address });
  await prepareView(client, 0);
  const started = performance.now();
  const summary = await client.importFeatures({ featureView: "stats", format: "parquet", serverPath: path, materializeOnline: false });
  const seconds = (performance.now() - started) / 1000;
  const serverRssMb = peakRssMb(server.child.pid as number);
  client.close();
  server.child.kill("SIGTERM");
  await server.exited;
  rmSync(directory, { recursive: true, force: true });
  saveResult("import", {
    rows,
    rowGroupSize: groupSize,
    rowsWritten: Number(summary.rowsWritten),
    seconds: Number(seconds.toFixed(1)),
    rowsPerSecond: Math.round(rows / seconds),
    serverPeakRssMb: serverRssMb,
    target: { serverRssMbBelow: 600, met: serverRssMb < 600 },
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
