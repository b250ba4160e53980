/**
 * The streaming benchmark (issue 11, part 8), every figure beside its floor in the same run:
 *
 * 1. events/s through WriteEvents (columnar batches, several in flight) into a stream whose
 *    aggregation view has 3 windows x 4 aggregations, beside WriteFeatures of the same entities
 *    and event times into a plain view of as many (12) features;
 * 2. GetOnlineFeatures of 10 aggregated features beside a plain 10-feature read of the same
 *    entities (paired sequential latencies, and calls/s at 64 in flight);
 * 3. GetHistoricalFeatures of the 12 aggregates for a 100k-row spine over 10M raw events, time and
 *    server peak RSS, beside the plain point-in-time join of the same size (12 features, 10M rows);
 * 4. events/s from the Kafka source beside a bare kafkajs consumer on the same topic (skipped, with
 *    the reason recorded, where Java 17 or the broker's jars are missing).
 *
 * Servers run from the compiled build as child processes; rounds alternate the compared forms and
 * medians are reported. The large histories of part 3 are generated straight into the server's
 * embedded ClickHouse while it is stopped, by this file run as a script in a process of its own
 * (chDB binds one data directory per process):
 *
 *   generate <offlineDir> <events> <cards> <spineRows> <endMicros>
 *
 * Part 3's size is BENCH_STREAMING_EVENTS raw events (10 million, the issue's size, unless set).
 * Each part is exported, to be run or profiled alone; {@link streamingSection} renders the JSON as
 * the section of docs/benchmarks.md.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Session } from "chdb";
import type { Kafka } from "kafkajs";
import { type ColumnarBatchInput, type ColumnarEventBatchInput, SluiceClient, typed } from "../clients/typescript/src/index.js";
import { GetOnlineFeaturesRequest, OnlineResponseLayout } from "../src/gen/sluice/v1/online.pb.js";
import { spawnServer } from "../test/support/server-process.js";
import { rawUnary } from "./floors.js";
import { median, pairedLatency, peakRssMb, ratio, saveResult, throughput } from "./support.js";

const STREAM = "txn";
const AGGREGATION_VIEW = "txn_stats";
const PLAIN_VIEW = "card_plain";
const WINDOWS = [
  { label: "10m", seconds: 600 },
  { label: "1h", seconds: 3600 },
  { label: "1d", seconds: 86_400 },
] as const;
const FUNCTIONS = ["count", "sum", "mean", "max"] as const;
/** The aggregation view's 12 features: count, sum, mean and max of `amount` over 10m, 1h and 1d. */
const AGGREGATES = WINDOWS.flatMap((window) =>
  FUNCTIONS.map((fn) => ({ name: `amount_${fn}_${window.label}`, function: fn, windowSeconds: window.seconds })),
);
/** The plain view's 12 double features. */
const PLAIN_FEATURES = AGGREGATES.map((_, i) => `p${i}`);
/** The 10 features of each online read: the first 10 of each view (10m and 1h whole, count and sum of 1d). */
const READ_FEATURES = 10;
/** How far behind the newest event an event may be and still count online. */
const ALLOWED_LATENESS_SECONDS = 3600;
/** WriteEvents/WriteFeatures batches of this many rows, this many in flight (as the ingest benchmark). */
const BATCH_SIZE = 1000;
const IN_FLIGHT = 4;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** Runs the streaming benchmark and saves bench/results/streaming.json. */
export async function streamingBenchmark(quick: boolean): Promise<void> {
  const writeEvents = await writeEventsBenchmark(quick);
  const onlineRead = await onlineReadBenchmark(quick);
  const pointInTime = await pointInTimeBenchmark(quick);
  const kafka = await kafkaBenchmark(quick);
  saveResult("streaming", {
    aggregations: { windows: WINDOWS.map((w) => w.label), functions: FUNCTIONS, field: "amount (double)", granularity: "1m" },
    writeEvents,
    onlineRead,
    pointInTime,
    kafka,
  });
}

// ---- 1. WriteEvents beside WriteFeatures ----

/** Events of the benchmark as columns: card, event time (µs), amount and merchant. */
interface EventColumns {
  cards: BigInt64Array;
  times: BigInt64Array;
  amounts: Float64Array;
  merchants: BigInt64Array;
}

/**
 * `count` events of `cards` cards (uniform, seeded) arriving in event-time order with a few
 * seconds of jitter, spanning `spanMs` up to `endMs`: a replay of the last minutes of a stream.
 */
function generateEvents(count: number, cards: number, spanMs: number, endMs: number, seed: number, firstCard = 0): EventColumns {
  const random = mulberry32(seed);
  const start = endMs - spanMs;
  const events: EventColumns = {
    cards: new BigInt64Array(count),
    times: new BigInt64Array(count),
    amounts: new Float64Array(count),
    merchants: new BigInt64Array(count),
  };
  for (let i = 0; i < count; i++) {
    const jitterMs = (random() - 0.5) * 10_000;
    const ms = Math.min(endMs - 1, Math.max(start, start + (spanMs * i) / count + jitterMs));
    events.cards[i] = BigInt(firstCard + Math.floor(random() * cards));
    events.times[i] = BigInt(Math.floor(ms * 1000));
    events.amounts[i] = Math.round(random() * 50_000) / 100;
    events.merchants[i] = BigInt(Math.floor(random() * 5000));
  }
  return events;
}

/** Rows [from, to) of the events as a WriteEvents batch. */
function eventBatch(events: EventColumns, from: number, to: number): ColumnarEventBatchInput {
  return {
    eventStream: STREAM,
    eventTimes: events.times.slice(from, to),
    entityKey: { card_id: events.cards.slice(from, to) },
    fields: { amount: events.amounts.slice(from, to), merchant_id: events.merchants.slice(from, to) },
  };
}

/** The same rows as a WriteFeatures batch of the plain view: 12 doubles derived from the amount. */
function plainBatch(events: EventColumns, from: number, to: number): ColumnarBatchInput {
  const amounts = events.amounts.slice(from, to);
  return {
    featureView: PLAIN_VIEW,
    eventTimes: events.times.slice(from, to),
    entityKey: { card_id: events.cards.slice(from, to) },
    features: Object.fromEntries(PLAIN_FEATURES.map((name, j) => [name, amounts.map((a) => a + j)])),
  };
}

/** Card, stream, aggregation view and plain view, through the SDK. */
async function applyDefinitions(client: SluiceClient): Promise<void> {
  await client.applyEntity({ name: "card", joinKeys: [{ name: "card_id", type: "int64" }] });
  await client.applyEventStream({
    name: STREAM,
    entity: "card",
    fields: [
      { name: "amount", type: "double" },
      { name: "merchant_id", type: "int64" },
    ],
    allowedLatenessSeconds: ALLOWED_LATENESS_SECONDS,
  });
  await client.applyFeatureView({
    name: AGGREGATION_VIEW,
    entity: "card",
    stream: STREAM,
    features: AGGREGATES.map((a) => ({
      name: a.name,
      aggregation: { function: a.function, ...(a.function === "count" ? {} : { field: "amount" }), windowSeconds: a.windowSeconds },
    })),
  });
  await client.applyFeatureView({
    name: PLAIN_VIEW,
    entity: "card",
    features: PLAIN_FEATURES.map((name) => ({ name, type: "double" as const })),
  });
}

/** What one acknowledged batch says; every row must have been accepted (and no event too late). */
interface Ack {
  acceptedCount: number;
  rejectedRows: unknown[];
  tooLateCount?: number;
}

/** Writes `batches` through one write stream, `IN_FLIGHT` at a time; rows/s. */
async function streamBatches<B>(stream: { write(batch: B): Promise<Ack>; close(): Promise<void> }, batches: B[], rows: number) {
  let accepted = 0;
  let tooLate = 0;
  const check = (ack: Ack) => {
    if (ack.rejectedRows.length > 0) throw new Error(`the server rejected ${ack.rejectedRows.length} rows of a batch`);
    accepted += ack.acceptedCount;
    tooLate += ack.tooLateCount ?? 0;
  };
  const started = performance.now();
  // Acks come back in order, so waiting for the oldest keeps IN_FLIGHT batches in the stream.
  const inFlight: Array<Promise<Ack>> = [];
  for (const batch of batches) {
    inFlight.push(stream.write(batch));
    if (inFlight.length >= IN_FLIGHT) check(await (inFlight.shift() as Promise<Ack>));
  }
  for (const ack of await Promise.all(inFlight)) check(ack);
  const seconds = (performance.now() - started) / 1000;
  await stream.close();
  if (accepted !== rows || tooLate > 0) throw new Error(`${accepted} of ${rows} rows accepted, ${tooLate} too late`);
  return Math.round(rows / seconds);
}

/** A fresh server (on `dataDir`, or a temporary one removed after); `work` gets the client, its pid and address. */
async function withFreshServer<T>(work: (client: SluiceClient, pid: number, address: string) => Promise<T>, dataDir?: string): Promise<T> {
  const directory = dataDir ?? mkdtempSync(join(tmpdir(), "sluice-bench-streaming-"));
  const server = await spawnServer(["--data-dir", directory, "--log-level", "info"], { built: true });
  const client = await SluiceClient.connect({ address: server.address, deadlineMs: 600_000 });
  try {
    return await work(client, server.child.pid as number, server.address);
  } finally {
    client.close();
    server.child.kill("SIGTERM");
    await server.exited;
    if (!dataDir) rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * One round of part 1 for `cards` cards: the same events written through WriteEvents and, as
 * WriteFeatures rows, into the plain view, each into a fresh server; rows/s and peak RSS of each.
 */
export async function writeRound(events: number, cards: number, spanMs: number, round: number) {
  // Fresh data each round, so its event times are minutes old when written.
  const data = generateEvents(events, cards, spanMs, Date.now(), 100 + round);
  const starts = Array.from({ length: Math.ceil(events / BATCH_SIZE) }, (_, b) => b * BATCH_SIZE);
  const eventBatches = starts.map((from) => eventBatch(data, from, Math.min(events, from + BATCH_SIZE)));
  const plainBatches = starts.map((from) => plainBatch(data, from, Math.min(events, from + BATCH_SIZE)));
  const writeEventsRound = () =>
    withFreshServer(async (client, pid) => {
      await applyDefinitions(client);
      const rate = await streamBatches(client.openEventWriteStream(), eventBatches, events);
      return { rate, rss: peakRssMb(pid) };
    });
  const writeFeaturesRound = () =>
    withFreshServer(async (client, pid) => {
      await applyDefinitions(client);
      const rate = await streamBatches(client.openWriteStream(), plainBatches, events);
      return { rate, rss: peakRssMb(pid) };
    });
  // Alternate which goes first, so a trend in the machine's load hurts both alike.
  let e: { rate: number; rss: number };
  let f: { rate: number; rss: number };
  if (round % 2 === 0) {
    e = await writeEventsRound();
    f = await writeFeaturesRound();
  } else {
    f = await writeFeaturesRound();
    e = await writeEventsRound();
  }
  return { writeEvents: e.rate, writeFeatures: f.rate, rssEvents: e.rss, rssFeatures: f.rss };
}

/**
 * Part 1 for two populations: many cards with a few events each (small tile records), and fewer,
 * busier cards whose records carry about 30 tiles and the positions of the last 64 writes.
 */
export async function writeEventsBenchmark(quick: boolean) {
  const events = quick ? 50_000 : 300_000;
  const populations = { manyCards: 50_000, busyCards: 5_000 };
  const spanMs = 30 * MINUTE_MS;
  const rounds = quick ? 1 : 3;
  const measured: Record<string, Array<Awaited<ReturnType<typeof writeRound>>>> = { manyCards: [], busyCards: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [population, cards] of Object.entries(populations)) {
      measured[population]?.push(await writeRound(events, cards, spanMs, round));
      process.stderr.write(
        `streaming write round ${round + 1}/${rounds} (${cards} cards): ${JSON.stringify(measured[population]?.at(-1))}\n`,
      );
    }
  }
  const summary = (population: keyof typeof populations) => {
    const rows = measured[population] ?? [];
    const eventsPerSecond = median(rows.map((m) => m.writeEvents));
    const floor = median(rows.map((m) => m.writeFeatures));
    return {
      cards: populations[population],
      eventsPerCard: events / populations[population],
      eventsPerSecond,
      floor: { writeFeaturesRowsPerSecond: floor },
      ratioToWriteFeatures: ratio(eventsPerSecond, floor),
      serverPeakRssMb: { writeEvents: median(rows.map((m) => m.rssEvents)), writeFeatures: median(rows.map((m) => m.rssFeatures)) },
      target: { eventsPerSecondAtLeast: 100_000, met: eventsPerSecond >= 100_000 },
      perRound: rows,
    };
  };
  return {
    events,
    eventTimesSpanMinutes: spanMs / MINUTE_MS,
    batchSize: BATCH_SIZE,
    batchesInFlight: IN_FLIGHT,
    form: "columns",
    plainViewFeatures: PLAIN_FEATURES.length,
    rounds,
    manyCards: summary("manyCards"),
    busyCards: summary("busyCards"),
  };
}

// ---- 2. Online reads of aggregated features beside plain ones ----

/** A raw GetOnlineFeatures caller of `features` for one card a call, cycling through `cards`. */
function onlineCaller(address: string, features: string[], cards: bigint[]): { call: () => Promise<Buffer>; close: () => void } {
  const raw = rawUnary(address, "/sluice.v1.OnlineService/GetOnlineFeatures");
  const payloads = cards.map((card) =>
    Buffer.from(
      GetOnlineFeaturesRequest.encode({
        project: "projects/default",
        features,
        featureService: "",
        entities: { card_id: { values: [typed.int64(card)] } },
        fullFeatureNames: false,
        layout: OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_COLUMNS,
      }).finish(),
    ),
  );
  let next = 0;
  return { call: () => raw.call(payloads[next++ % payloads.length] as Buffer), close: raw.close };
}

/** Per card, the number of distinct 1-minute tiles its events fall in (the size of its online state). */
function tilesPerCard(events: EventColumns): number {
  const tiles = new Map<bigint, Set<bigint>>();
  for (let i = 0; i < events.cards.length; i++) {
    const card = events.cards[i] as bigint;
    const set = tiles.get(card) ?? new Set<bigint>();
    tiles.set(card, set);
    set.add((events.times[i] as bigint) / 60_000_000n);
  }
  return Math.round([...tiles.values()].reduce((sum, set) => sum + set.size, 0) / tiles.size);
}

/** Part 2: aggregated beside plain online reads, for a population of quiet cards and one of busy cards. */
export async function onlineReadBenchmark(quick: boolean) {
  const iterations = quick ? 500 : 5000;
  const durationMs = quick ? 1000 : 4000;
  const rounds = quick ? 1 : 3;
  // Two populations: cards with a few events in the last 30 minutes, and busy cards with 100
  // events each over the last day (a tile record of about 100 tiles to merge on every read).
  const recentCards = 10_000;
  const busyCards = 1000;
  const now = Date.now();
  const busy = sortByTime(generateEvents(busyCards * 100, busyCards, DAY_MS - 10 * MINUTE_MS, now - 30 * MINUTE_MS, 7, 1_000_000));
  const recent = generateEvents(recentCards * 5, recentCards, 30 * MINUTE_MS, now, 8);
  return withFreshServer(async (client, pid, address) => {
    await applyDefinitions(client);
    // Oldest first, so that nothing is behind the watermark.
    for (const events of [busy, recent]) {
      const batches = Array.from({ length: Math.ceil(events.cards.length / BATCH_SIZE) }, (_, b) =>
        eventBatch(events, b * BATCH_SIZE, Math.min(events.cards.length, (b + 1) * BATCH_SIZE)),
      );
      await streamBatches(client.openEventWriteStream(), batches, events.cards.length);
      // The plain view gets each card's rows too (its latest wins), so both reads find every card.
      const plain = Array.from({ length: Math.ceil(events.cards.length / BATCH_SIZE) }, (_, b) =>
        plainBatch(events, b * BATCH_SIZE, Math.min(events.cards.length, (b + 1) * BATCH_SIZE)),
      );
      await streamBatches(client.openWriteStream(), plain, events.cards.length);
    }
    const aggregatedRefs = AGGREGATES.slice(0, READ_FEATURES).map((a) => `${AGGREGATION_VIEW}:${a.name}`);
    const plainRefs = PLAIN_FEATURES.slice(0, READ_FEATURES).map((f) => `${PLAIN_VIEW}:${f}`);
    const cardsOf = (from: number, count: number) => Array.from({ length: count }, (_, i) => BigInt(from + i));
    const populations = { recent: cardsOf(0, recentCards), busy: cardsOf(1_000_000, busyCards) };
    const results: Record<string, unknown> = {};
    const callers: Array<{ close: () => void }> = [];
    try {
      for (const [population, cards] of Object.entries(populations)) {
        const aggregated = onlineCaller(address, aggregatedRefs, cards);
        const plain = onlineCaller(address, plainRefs, cards);
        callers.push(aggregated, plain);
        const responseBytes = { aggregated: (await aggregated.call()).length, plain: (await plain.call()).length };
        const [aggregatedLatency, plainLatency] = await pairedLatency(aggregated.call, plain.call, iterations);
        const samples = { aggregated: [] as number[], plain: [] as number[] };
        for (let round = 0; round < rounds; round++) {
          samples.aggregated.push(await throughput(aggregated.call, 64, durationMs));
          samples.plain.push(await throughput(plain.call, 64, durationMs));
        }
        const at64 = { aggregated: median(samples.aggregated), plain: median(samples.plain) };
        results[population] = {
          cards: cards.length,
          eventsPerCard: population === "recent" ? 5 : 100,
          tilesPerCard: tilesPerCard(population === "recent" ? recent : busy),
          sequential: { aggregated: aggregatedLatency, plain: plainLatency },
          p50RatioToPlain: ratio(aggregatedLatency.p50Us, plainLatency.p50Us),
          callsPerSecondAt64: at64,
          callsRatioToPlainAt64: ratio(at64.aggregated, at64.plain),
          responseBytes,
          target: { p50RatioAtMost: 1.2, met: aggregatedLatency.p50Us <= 1.2 * plainLatency.p50Us },
        };
        process.stderr.write(`streaming online read (${population}): ${JSON.stringify(results[population])}\n`);
      }
    } finally {
      for (const caller of callers) caller.close();
    }
    return { features: READ_FEATURES, entitiesPerCall: 1, iterations, rounds, serverPeakRssMb: peakRssMb(pid), ...results };
  });
}

/** The events sorted by event time (the order a stream delivers them). */
function sortByTime(events: EventColumns): EventColumns {
  const order = Array.from(events.times.keys()).sort((a, b) => Number((events.times[a] as bigint) - (events.times[b] as bigint)));
  return {
    cards: BigInt64Array.from(order, (i) => events.cards[i] as bigint),
    times: BigInt64Array.from(order, (i) => events.times[i] as bigint),
    amounts: Float64Array.from(order, (i) => events.amounts[i] as number),
    merchants: BigInt64Array.from(order, (i) => events.merchants[i] as bigint),
  };
}

// ---- 3. Point-in-time retrieval of the aggregates beside the plain point-in-time join ----

const run = promisify(execFile);
const SPINE_TABLE = "bench_card_spine";
/** Days of history the generated events and rows span, ending at generation time. */
const HISTORY_DAYS = 7;

/**
 * The size of part 3: BENCH_STREAMING_EVENTS raw events (and as many plain history rows), 10
 * million unless set (1 million with BENCH_QUICK=1).
 */
function pointInTimeEvents(quick: boolean): number {
  const configured = Number(process.env.BENCH_STREAMING_EVENTS ?? "");
  return Number.isSafeInteger(configured) && configured > 0 ? configured : quick ? 1_000_000 : 10_000_000;
}

/** Part 3: point-in-time retrieval of the 12 aggregates beside the plain join of the same size. */
export async function pointInTimeBenchmark(quick: boolean) {
  const events = pointInTimeEvents(quick);
  const cards = 100_000;
  const spineRows = quick ? 20_000 : 100_000;
  const rounds = quick ? 1 : 3;
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-bench-streaming-pit-"));
  try {
    // Definitions through the API (which creates the events and history tables), then rows straight into the engine.
    await withFreshServer(async (client) => applyDefinitions(client), dataDir);
    const generated = performance.now();
    await run(
      process.execPath,
      [
        "--import",
        "tsx",
        import.meta.filename,
        "generate",
        join(dataDir, "offline"),
        String(events),
        String(cards),
        String(spineRows),
        String(Date.now() * 1000),
      ],
      { maxBuffer: 1 << 20 },
    );
    process.stderr.write(
      `streaming: generated ${events} events and ${events} plain rows in ${((performance.now() - generated) / 1000).toFixed(1)} s\n`,
    );

    const retrieve = (features: string[]) =>
      withFreshServer(async (client, pid) => {
        const started = performance.now();
        let bytes = 0;
        for await (const part of client.streamHistoricalArrow({ features, spine: { table: SPINE_TABLE }, emitSpineIndex: true })) {
          bytes += part.length;
        }
        return { seconds: (performance.now() - started) / 1000, bytes, serverPeakRssMb: peakRssMb(pid) };
      }, dataDir);
    const aggregatedRefs = AGGREGATES.map((a) => `${AGGREGATION_VIEW}:${a.name}`);
    const plainRefs = PLAIN_FEATURES.map((f) => `${PLAIN_VIEW}:${f}`);
    // Each retrieval in a server of its own, so each peak RSS is that retrieval's; rounds alternate the order.
    const measured: Array<{ aggregated: number; plain: number; rssAggregated: number; rssPlain: number; bytesAggregated: number }> = [];
    for (let round = 0; round < rounds; round++) {
      const first = round % 2 === 0 ? aggregatedRefs : plainRefs;
      const a = await retrieve(first);
      const b = await retrieve(first === aggregatedRefs ? plainRefs : aggregatedRefs);
      const [aggregated, plain] = first === aggregatedRefs ? [a, b] : [b, a];
      measured.push({
        aggregated: round2(aggregated.seconds),
        plain: round2(plain.seconds),
        rssAggregated: aggregated.serverPeakRssMb,
        rssPlain: plain.serverPeakRssMb,
        bytesAggregated: aggregated.bytes,
      });
      process.stderr.write(`streaming point-in-time round ${round + 1}/${rounds}: ${JSON.stringify(measured.at(-1))}\n`);
    }
    const seconds = { aggregated: median(measured.map((m) => m.aggregated)), plain: median(measured.map((m) => m.plain)) };
    return {
      events,
      plainHistoryRows: events,
      cards,
      historyDays: HISTORY_DAYS,
      spineRows,
      aggregates: AGGREGATES.length,
      plainFeatures: PLAIN_FEATURES.length,
      fullSize: events === 10_000_000 && spineRows === 100_000,
      rounds,
      seconds,
      ratioToPlain: ratio(seconds.aggregated, seconds.plain),
      serverPeakRssMb: {
        aggregated: Math.max(...measured.map((m) => m.rssAggregated)),
        plain: Math.max(...measured.map((m) => m.rssPlain)),
      },
      perRound: measured,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Fills the stream's events table and the plain view's history table with `events` rows each
 * (the same cards, spread over HISTORY_DAYS up to `endMicros`), and a spine of `spineRows` rows
 * at times at least a day after the history starts, so every window is full.
 */
async function generateHistories(session: Session, events: number, cards: number, spineRows: number, endMicros: number): Promise<void> {
  const spanMicros = HISTORY_DAYS * DAY_MS * 1000;
  const start = endMicros - spanMicros;
  const time = (salt: number) => `fromUnixTimestamp64Micro(toInt64(${start} + cityHash64(number, ${salt}) % ${spanMicros}), 'UTC')`;
  const amount = "(cityHash64(number, 4) % 50000) / 100.0";
  const query = (sql: string) => session.queryAsync(sql, { format: "CSV" });
  await query(
    `INSERT INTO sluice_default.${STREAM}__events_v1 (card_id, event_time, ingestion_time, write_id, amount, merchant_id, source, position, too_late) ` +
      `SELECT toInt64(cityHash64(number, 1) % ${cards}) AS card_id, ${time(2)} AS event_time, ` +
      `event_time + toIntervalMicrosecond(cityHash64(number, 3) % 5000000) AS ingestion_time, 'bench' AS write_id, ` +
      `${amount} AS amount, toInt64(cityHash64(number, 5) % 5000) AS merchant_id, 'api' AS source, toInt64(number) AS position, 0 AS too_late ` +
      `FROM numbers(${events})`,
  );
  await query(
    `INSERT INTO sluice_default.${PLAIN_VIEW}__v1 (card_id, event_time, ingestion_time, write_id, ${PLAIN_FEATURES.join(", ")}) ` +
      `SELECT toInt64(cityHash64(number, 1) % ${cards}) AS card_id, ${time(2)} AS event_time, ` +
      `event_time + toIntervalMicrosecond(cityHash64(number, 3) % 5000000) AS ingestion_time, 'bench' AS write_id, ` +
      `${PLAIN_FEATURES.map((f, j) => `${amount} + ${j} AS ${f}`).join(", ")} FROM numbers(${events})`,
  );
  await query(
    `CREATE TABLE IF NOT EXISTS sluice_default.${SPINE_TABLE} (card_id Int64, event_time DateTime64(6, 'UTC'), label UInt8) ENGINE = MergeTree ORDER BY tuple()`,
  );
  await query(
    `INSERT INTO sluice_default.${SPINE_TABLE} SELECT toInt64(cityHash64(number, 20) % ${cards}), ` +
      `fromUnixTimestamp64Micro(toInt64(${start + DAY_MS * 1000} + cityHash64(number, 21) % ${spanMicros - DAY_MS * 1000}), 'UTC'), ` +
      `cityHash64(number, 22) % 2 FROM numbers(${spineRows})`,
  );
  for (const table of [`${STREAM}__events_v1`, `${PLAIN_VIEW}__v1`, SPINE_TABLE])
    await query(`OPTIMIZE TABLE sluice_default.${table} FINAL`);
}

// ---- 4. Kafka ----

const KAFKA_TOPIC = "bench-txns";
const KAFKA_PARTITIONS = 4;

/**
 * Events/s from the Kafka source (target >= 50,000) beside a bare kafkajs consumer's rate on the
 * same topic, with a broker from test/support/kafka-harness.ts. The topic holds the events as
 * JSON messages keyed by card, in event-time order per partition. Neither rate counts joining the
 * group: the bare consumer's runs from its first batch to its last message parsed, Sluice's from
 * its first stored batch to its last (stored offline and applied online, as its
 * `sluice_stream_events_total` counter says, polled every 50 ms), over the events after that batch. Rounds alternate the two, each with a consumer group of its own.
 */
export async function kafkaBenchmark(quick: boolean): Promise<Record<string, unknown>> {
  const target = { eventsPerSecondAtLeast: 50_000 };
  if (!existsSync(join(import.meta.dirname, "..", "src", "streams", "kafka-source.ts"))) {
    return { measured: false, reason: "src/streams/kafka-source.ts does not exist yet", target };
  }
  const { kafkaMissing, startKafka } = await import("../test/support/kafka-harness.js");
  const missing = kafkaMissing();
  if (missing) return { measured: false, reason: missing, target };
  const events = quick ? 50_000 : 300_000;
  const cards = 50_000;
  const rounds = quick ? 1 : 3;
  const broker = await startKafka();
  try {
    const kafka = broker.client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: KAFKA_TOPIC, numPartitions: KAFKA_PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const data = generateEvents(events, cards, 30 * MINUTE_MS, Date.now(), 300);
    const producer = kafka.producer();
    await producer.connect();
    for (let from = 0; from < events; from += 10_000) {
      const messages = [];
      for (let i = from; i < Math.min(events, from + 10_000); i++) {
        const card = data.cards[i] as bigint;
        const value = {
          card_id: Number(card),
          event_time: Number((data.times[i] as bigint) / 1000n),
          amount: data.amounts[i],
          merchant_id: Number(data.merchants[i]),
        };
        messages.push({ key: String(card), value: JSON.stringify(value) });
      }
      await producer.send({ topic: KAFKA_TOPIC, messages, acks: -1 });
    }
    await producer.disconnect();
    const bytesPerMessage = Math.round(
      JSON.stringify({ card_id: 12345, event_time: Date.now(), amount: 123.45, merchant_id: 1234 }).length,
    );

    const measured: Array<{ sluice: number; bareConsumer: number; rssSluice: number }> = [];
    for (let round = 0; round < rounds; round++) {
      const bare = () => bareConsumerRate(kafka, `bench-bare-${round}`, events);
      const sluice = () => kafkaSourceRate(broker.brokers, `bench-sluice-${round}`, events);
      let s: { rate: number; rss: number };
      let b: number;
      if (round % 2 === 0) {
        s = await sluice();
        b = await bare();
      } else {
        b = await bare();
        s = await sluice();
      }
      measured.push({ sluice: s.rate, bareConsumer: b, rssSluice: s.rss });
      process.stderr.write(`streaming kafka round ${round + 1}/${rounds}: ${JSON.stringify(measured.at(-1))}\n`);
    }
    const eventsPerSecond = median(measured.map((m) => m.sluice));
    const floor = median(measured.map((m) => m.bareConsumer));
    return {
      measured: true,
      events,
      cards,
      partitions: KAFKA_PARTITIONS,
      messageFormat: `JSON, about ${bytesPerMessage} bytes`,
      rounds,
      eventsPerSecond,
      floor: { bareKafkajsConsumerEventsPerSecond: floor },
      ratioToBareConsumer: ratio(eventsPerSecond, floor),
      serverPeakRssMb: median(measured.map((m) => m.rssSluice)),
      target: { ...target, met: eventsPerSecond >= target.eventsPerSecondAtLeast },
      perRound: measured,
    };
  } finally {
    await broker.stop();
  }
}

/** A bare kafkajs consumer reading the topic from the beginning, parsing each JSON value: messages/s. */
async function bareConsumerRate(kafka: Kafka, groupId: string, events: number): Promise<number> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic: KAFKA_TOPIC, fromBeginning: true });
  let consumed = 0;
  let first = 0;
  let last = 0;
  let checksum = 0;
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          if (first === 0) first = performance.now();
          for (const message of batch.messages)
            checksum += (JSON.parse(message.value?.toString("utf8") ?? "{}") as { amount: number }).amount;
          consumed += batch.messages.length;
          if (consumed >= events) {
            last = performance.now();
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  if (!Number.isFinite(checksum)) throw new Error("bad amounts");
  return Math.round(events / ((last - first) / 1000));
}

/**
 * A fresh server whose Kafka source consumes the topic into the stream (definitions applied first,
 * in a server without the source): events/s from the first event stored to the last, and peak RSS.
 */
async function kafkaSourceRate(brokers: string, groupId: string, events: number): Promise<{ rate: number; rss: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-bench-kafka-"));
  try {
    await withFreshServer(async (client) => applyDefinitions(client), dataDir);
    const source = { topic: KAFKA_TOPIC, project: "default", stream: STREAM, format: "json", eventTimeUnit: "milliseconds" };
    const server = await spawnServer(
      [
        "--data-dir",
        dataDir,
        "--log-level",
        "info",
        "--set",
        `kafka.brokers=${brokers}`,
        "--set",
        `kafka.groupId=${groupId}`,
        "--set",
        `kafka.sources=${JSON.stringify([source])}`,
      ],
      { built: true },
    );
    try {
      const url = String((await server.waitForLog("metrics are served")).url);
      const stored = async () => {
        const text = await (await fetch(url)).text();
        return text
          .split("\n")
          .filter((line) => line.startsWith("sluice_stream_events_total{"))
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
      };
      // Timed from the first stored batch on, counting only the events stored after it.
      let first = 0;
      let storedAtFirst = 0;
      const deadline = Date.now() + 600_000;
      for (;;) {
        const count = await stored();
        if (count > 0 && first === 0) {
          first = performance.now();
          storedAtFirst = count;
        }
        if (count >= events) break;
        if (Date.now() > deadline) throw new Error(`the Kafka source stored ${count} of ${events} events in 10 minutes`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return {
        rate: Math.round((events - storedAtFirst) / ((performance.now() - first) / 1000)),
        rss: peakRssMb(server.child.pid as number),
      };
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- helpers ----

function round2(value: number): number {
  return Number(value.toFixed(2));
}

/** A small seeded PRNG, so every run writes the same events. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

if (process.argv[1] === import.meta.filename && process.argv[2] === "generate") {
  const [path, events, cards, spineRows, endMicros] = process.argv.slice(3);
  const session = new Session(path);
  try {
    await generateHistories(session, Number(events), Number(cards), Number(spineRows), Number(endMicros));
  } finally {
    session.close();
  }
}

// ---- the section of docs/benchmarks.md ----

// biome-ignore lint/suspicious/noExplicitAny: the JSON this suite itself wrote, read back only to print it
type Json = Record<string, any>;

/**
 * The "Streaming" section of docs/benchmarks.md from bench/results/streaming.json, for
 * `npm run bench:report` to put after the others, as it writes theirs.
 */
export function streamingSection(result: Json): string {
  const met = (ok: boolean) => `**${ok ? "met" : "not met"}**`;
  const rate = (n: number) => n.toLocaleString("en");
  const latency = (l: Json) => `${l.p50Us} / ${l.p99Us}`;
  const { writeEvents: w, onlineRead: r, pointInTime: p, kafka: k } = result;
  const writeRow = (label: string, m: Json) =>
    `| events/s, ${label} | ${rate(m.eventsPerSecond)} | ${rate(m.floor.writeFeaturesRowsPerSecond)} | ${m.ratioToWriteFeatures} | ≥ 100,000: ${met(m.target.met)} (${(m.eventsPerSecond / 100_000).toFixed(2)}×) |`;
  const readRows = (label: string, m: Json) => [
    `| ${label}: sequential p50 / p99 µs | ${latency(m.sequential.aggregated)} | ${latency(m.sequential.plain)} | ${m.p50RatioToPlain} | p50 ≤ 1.2×: ${met(m.target.met)} |`,
    `| ${label}: calls/s at 64 in flight | ${rate(m.callsPerSecondAt64.aggregated)} | ${rate(m.callsPerSecondAt64.plain)} | ${m.callsRatioToPlainAt64} | |`,
  ];
  const kafkaTable = k.measured
    ? [
        "| figure | Sluice | bare kafkajs consumer | ratio | target |",
        "|---|---|---|---|---|",
        `| events/s | ${rate(k.eventsPerSecond)} | ${rate(k.floor.bareKafkajsConsumerEventsPerSecond)} | ${k.ratioToBareConsumer} | ≥ 50,000: ${met(k.target.met)} (${(k.eventsPerSecond / 50_000).toFixed(2)}×) |`,
        `| server peak RSS | ${k.serverPeakRssMb} MB | | | |`,
      ].join("\n")
    : `Not measured: ${k.reason}.`;
  return `## Streaming (\`bench/results/streaming.json\`)

\`npm run bench -- streaming\`, run ${String(result.machine.date).slice(0, 10)}. A stream \`txn\` of card events (\`card_id\`; fields \`amount\`
double and \`merchant_id\` int64; 1-minute tiles, allowed lateness 1 h) and its aggregation view of 12 features: count, sum,
mean and max of \`amount\` over 10 minutes, 1 hour and 1 day. The floors are Sluice's own plain paths on the same
machine in the same run: a plain view of 12 double features keyed by \`card_id\`. Servers on LMDB + chDB as above;
rounds alternate the two sides, medians of ${w.rounds}.

**Writes.** \`WriteEvents\` with columnar batches of ${rate(w.batchSize)} events, ${w.batchesInFlight} in flight, ${rate(w.events)} events whose
times span the last ${w.eventTimesSpanMinutes} minutes (in order, a few seconds of jitter, none too late), each round into a fresh
server; the floor is \`WriteFeatures\` of the same cards and event times as columnar rows of the plain view's 12
features. Two populations: many cards with a few events each, and fewer, busier ones, whose tile records hold
about 30 tiles and the positions of the recent writes that touched them.

| figure | Sluice \`WriteEvents\` | floor \`WriteFeatures\` | ratio | target |
|---|---|---|---|---|
${writeRow(`${rate(w.manyCards.cards)} cards (${w.manyCards.eventsPerCard} events each)`, w.manyCards)}
${writeRow(`${rate(w.busyCards.cards)} cards (${w.busyCards.eventsPerCard} events each)`, w.busyCards)}
| server peak RSS, ${rate(w.manyCards.cards)} cards | ${w.manyCards.serverPeakRssMb.writeEvents} MB | ${w.manyCards.serverPeakRssMb.writeFeatures} MB | | |

**Online reads.** \`GetOnlineFeatures\` of one card × ${r.features} features a call, cycling through the cards, through the
raw-bytes client of the online benchmark: ${r.features} aggregated features (count, sum, mean and max over 10 minutes and 1 hour,
count and sum over 1 day) beside ${r.features} of the plain view, measured alternately call by call (${rate(r.iterations)} calls each), then
calls/s at 64 in flight (rounds alternate). Two populations in one server: ${rate(r.recent.cards)} cards with ${r.recent.eventsPerCard} events each in the
last 30 minutes (about ${r.recent.tilesPerCard} tiles a card), and ${rate(r.busy.cards)} busy cards with ${r.busy.eventsPerCard} events each over the last day (about
${r.busy.tilesPerCard} tiles a card).

| figure | aggregated | floor: plain | ratio | target |
|---|---|---|---|---|
${[...readRows(`${rate(r.recent.cards)} cards, ${r.recent.tilesPerCard} tiles`, r.recent), ...readRows(`${rate(r.busy.cards)} busy cards, ${r.busy.tilesPerCard} tiles`, r.busy)].join("\n")}

**Point-in-time retrieval.** \`GetHistoricalFeatures\` of the 12 aggregates for a ${rate(p.spineRows)}-row spine table over
${rate(p.events)} raw events (${rate(p.cards)} cards, ${p.historyDays} days, so about ${Math.round(p.events / p.cards)} events a card and ${Math.round((p.events / p.cards / p.historyDays) * 10) / 10} in a 1-day window),
beside the plain point-in-time join of 12 features over ${rate(p.plainHistoryRows)} history rows of the same cards and days, both
consumed as Arrow (\`emit_spine_index\`). The events and rows are generated straight into the embedded ClickHouse
while the server is stopped; each retrieval runs in a server of its own, so each peak RSS is its own. ${p.fullSize ? "This is the full size of the issue's target (`BENCH_STREAMING_EVENTS` sets the number of events; `BENCH_QUICK=1` uses 1,000,000 and a 20,000-row spine)." : `**Reduced size** (the full size is 10,000,000 events and a 100,000-row spine: \`BENCH_STREAMING_EVENTS=10000000\` without \`BENCH_QUICK\`).`}

| figure | aggregates | floor: plain join | ratio |
|---|---|---|---|
| seconds | ${p.seconds.aggregated} | ${p.seconds.plain} | ${p.ratioToPlain} |
| server peak RSS | ${p.serverPeakRssMb.aggregated} MB | ${p.serverPeakRssMb.plain} MB | |

**Kafka.** ${k.measured ? `The Kafka source consuming ${rate(k.events)} events (${k.messageFormat}) from ${k.partitions} partitions of a local Kafka broker (test/support/kafka-harness.ts) into the same stream and view, beside a bare kafkajs consumer that parses each message, on the same topic with a group of its own. Neither rate counts joining the group; Sluice's counts events stored offline and applied online (its \`sluice_stream_events_total\`, polled every 50 ms).` : ""}

${kafkaTable}

**Where the time goes.** From V8 CPU profiles of the servers (\`SERVER_CPU_PROF_DIR\`, whole runs, start-up included) on
the same tree, as shares of the server thread's busy time:

- *Writes.* An event is applied online as one read-modify-write of its card's tile record (compare-and-set), and
  a 1,000-event batch over ${rate(w.manyCards.cards)} cards touches about 990 of them, so every event pays for one record. Profiles
  of an earlier build put the record work (encoding, LMDB reads and writes, positions) at 50-60% of the server
  thread, garbage collection at 12-17%, the offline append at 4%. Since then, aggregations that differ only in
  window share one state per tile, tiles keep their encoded bytes until they change, the applier keeps the records
  it wrote decoded (no read, no decode on a hit), write ids are short hashes, and batches of one process no longer
  race each other's compare-and-sets; in a profile of this build (${rate(w.busyCards.cards)} cards) the thread was busy 22 s for
  300,000 events, 19% of it assembling records, 12% garbage collection, 7% copying buffers. \`WriteFeatures\` of the
  same rows writes one small record per row. 100,000 events/s on this machine leaves about 10 µs of server thread
  per event; a record rewrite per event costs more, so the target needs fewer rewrites per event (coalescing the
  batches in flight per entity, larger batches: a side run with 10,000-event batches gave about 1.4× on both sides)
  or moving the tile work off the gRPC thread.
- *Reads.* An aggregated read is a plain read plus the card's tile record, decoded (unless the process wrote it
  last and still holds it decoded) and merged for the aggregations asked for. Measured in-process on an earlier
  build, a 100-tile record took about 40 µs to decode and 35 µs to merge for all 12 aggregations, against a plain
  read of about 400 µs in all; with about 5 tiles both take a few µs: the extra cost grows with the tiles a card holds.
- *Point in time.* Both are one query in the engine. The plain join first sorts and thins the history to one row per
  card and event time (the tie rule) in one thread, then joins it as of each spine time; the aggregates are a join
  of the spine's cards to their events and one \`GROUP BY\` per spine row, with no thread limit. About 360 MB of
  either server's RSS is the engine and Node at rest (measured before any write).
- *Kafka.* The same write path as \`WriteEvents\` (tile records 28%, LMDB write transactions 16%, garbage collection
  18%), plus checking rows (6%), decoding JSON into rows (about 5%) and kafkajs's fetch decoding (3%); the thread is
  idle 15% of the time, as the source writes one partition batch at a time and waits for each to be stored before
  it commits the offset. Its batches (up to 1 MiB per partition fetch, roughly 10,000 of these messages) are larger than
  the \`WriteEvents\` ones, which likely accounts for its lead over \`WriteEvents\` here (10,000-event \`WriteEvents\`
  batches gained about as much). The bare consumer only decodes.
- *Memory.* The \`WriteEvents\` server's peak RSS is above \`WriteFeatures\`'s mostly in anonymous memory (584 MB
  anonymous of 898 MB in a side run, 140 MB at start); the tile applier keeps recently written records decoded,
  in a cache bounded by their encoded size (two generations of 16 MB), which is the likely reason (not measured apart).
`;
}
