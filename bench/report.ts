/**
 * `npm run bench:report`: writes docs/benchmarks.md from the JSON results of the latest
 * `npm run bench`, so the document always quotes figures and floors from one run.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// biome-ignore lint/suspicious/noExplicitAny: the JSON this script itself wrote, read back only to print it
type Json = Record<string, any>;
const read = (name: string): Json => JSON.parse(readFileSync(join(import.meta.dirname, "results", `${name}.json`), "utf8"));
const online = read("online-read");
const ingest = read("ingest");
const imported = read("import");
const training = read("training");
const machine = online.machine;
const met = (ok: boolean) => `**${ok ? "met" : "not met"}**`;
const latency = (l: Json) => `${l.p50Us} / ${l.p99Us}`;

const onlineRows = (["lmdb", "redis"] as const).flatMap((backend) => {
  const r = online[backend];
  const one = r.oneEntityTenFeatures;
  const echo = r.floors.grpcEcho;
  return [
    `| ${backend} | 1 entity × 10 features, sequential | ${latency(one.sequential)} | ${latency(echo.sequential)} | raw store read p50 ${r.floors.rawStoreRead.p50Us} µs | ${r.ratioToEchoP50}× echo; target p50 ≤ ${r.target.p50UsAtMost} µs: ${met(r.target.met)} |`,
    `| ${backend} | 1 entity × 10 features, 64 in flight | ${one.callsPerSecondAt64} calls/s | ${echo.callsPerSecondAt64} calls/s | | ${(one.callsPerSecondAt64 / echo.callsPerSecondAt64).toFixed(2)}× echo |`,
    `| ${backend} | 100 entities × 10 features, sequential | ${latency(r.hundredEntitiesTenFeatures.sequential)} | | | |`,
  ];
});

const rate = (n: number) => n.toLocaleString("en");

const text = `# Benchmarks

\`npm run bench\` (or \`npm run bench -- online|ingest|import|training\`; \`BENCH_QUICK=1\` for small sizes) builds
the server and runs the benchmarks of ingestion, online reads and training data, and \`npm run bench:report\` writes this page from their JSON under
\`bench/results/\`. Each figure is measured beside a floor in the same run, on the same machine. Servers run as
child processes from the compiled build with the heap cap they ship with (\`--max-old-space-size=1024\`), the
client in the benchmark process; Redis is a throwaway \`redis-server\` on loopback. These machines are shared and
noisy: read ratios to the floor, not absolute numbers. Latencies of Sluice and its echo floor are measured
alternately, call by call, so load drift hits both alike; the ingest figures are medians of interleaved rounds.
\`SERVER_CPU_PROF_DIR=dir npm run bench -- ingest\` also writes the servers' V8 CPU profiles.

Latest run: ${String(machine.date).slice(0, 10)}, ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}.

## Online reads (\`bench/results/online-read.json\`)

Latencies are p50 / p99 in microseconds. The floor is a raw grpc-js unary echo in its own process, sent the same
request bytes and answering with as many bytes as Sluice does (${online.lmdb.responseBytes} for 1 entity × 10 features). Both are
called through a raw-bytes client, so neither side pays for client-side protobuf decoding: the difference is what
the Sluice server does.

| store | call | Sluice | grpc echo floor | store floor | against the target |
|---|---|---|---|---|---|
${onlineRows.join("\n")}

Targets: p50 at most 1.3× the echo on LMDB; on Redis at most the echo plus 1.5× the raw Redis round trip. The
store floors include decoding the stored record. What the server adds per call is its handler: cached ref
resolution and read plan (both invalidated by definition changes), entity key checks, one store round trip,
statuses, and the response, whose names and resolved features are encoded once per selection. Measured inside the
server, the Redis read takes as long as the raw round trip from the benchmark process (about 55 µs p50), so the
Redis figure is the LMDB path plus one Redis round trip; the Redis target, which allows only half a round trip for
everything but the read, is missed by about 5%. Without auto-pipelining (which adds a \`setImmediate\` hop to
every command) both latency and throughput at 64 in flight are better, so it is off.

## Ingest (\`bench/results/ingest.json\`)

\`WriteFeatures\` with batches of ${ingest.batchSize.toLocaleString("en")} rows × ${ingest.features} double features, 4 batches in flight, into LMDB + chDB,
${ingest.rows.toLocaleString("en")} rows, median of ${ingest.rounds} rounds. Batches go as columns (\`FeatureColumns\`, the fast form) and, for
comparison, as row messages. Floors, in the benchmark process with the same batch size: the rows inserted
through \`@clickhouse/client\` as JSONEachRow objects (what a developer would write), and the same rows as
pre-formatted text handed to chDB's raw insert (the engine's own cost, no client work at all).

| figure | Sluice | floor | ratio | target |
|---|---|---|---|---|
| rows/s, columns | ${rate(ingest.writeFeaturesRowsPerSecond.columns)} | ${rate(ingest.floor.rawChdbInsertRowsPerSecond)} (client insert) | ${ingest.ratioToRawInsert.columns} | ≥ 100,000 rows/s and ≥ 0.6×: ${met(ingest.target.met)} |
| rows/s, columns | | ${rate(ingest.floor.rawChdbPassthroughInsertRowsPerSecond)} (raw text insert) | ${ingest.ratioToPassthroughInsert.columns} | |
| rows/s, rows | ${rate(ingest.writeFeaturesRowsPerSecond.rows)} | ${rate(ingest.floor.rawChdbInsertRowsPerSecond)} (client insert) | ${ingest.ratioToRawInsert.rows} | |
| server peak RSS | ${ingest.serverPeakRssMb.columns} MB (columns), ${ingest.serverPeakRssMb.rows} MB (rows) | | | |

Per-round figures are in the JSON. Sluice does per row what the floors do not: validation of every value against
the view's schema, an online-store compare-and-set (an LMDB read and write, about 2-3 µs), and a receipt, on one
Node thread while the client and the engine share the second core. The write path is columnar from the wire to
both stores: a column sent in its declared type is checked by a loop specialised to the type, and the insert text
is formatted column by column; the largest remaining costs in a CPU profile are the LMDB compare-and-set and
garbage collection. The row form pays in addition for protobuf decoding of a map per row.

## Import (\`bench/results/import.json\`)

A ${imported.rows.toLocaleString("en")}-row Parquet file (row groups of ${imported.rowGroupSize.toLocaleString("en")}; customer id, event time, 10 double features) imported
from a server path into the offline store (\`materialize_online\` off).

| figure | value | target |
|---|---|---|
| rows/s | ${rate(imported.rowsPerSecond)} (${imported.seconds} s) | |
| server peak RSS | ${imported.serverPeakRssMb} MB | < 600 MB: ${met(imported.target.met)} |

The import never holds the file: it decodes one row group's mapped columns at a time (hyparquet) and writes them as
10,000-row columnar batches, passing typed columns through without a per-value conversion. About 300 MB of the
server's RSS is the embedded ClickHouse engine at rest.

## Training data (\`bench/results/training.json\`)

\`GetHistoricalFeatures\` over ${rate(training.historyRows)} history rows (${rate(training.entities)} entities, one year, ${training.views} views of
${training.featuresPerView} double features with a 90-day TTL) and a ${rate(training.spineRows)}-row spine table in the offline store, with full
feature names, consumed by a client (the SDK's \`streamHistoricalArrow\`) as Arrow. The rows are generated straight
into the server's embedded ClickHouse while it is stopped. The floor is the hand-written query on the same tables
in the same run: the plainest three-way \`ASOF LEFT JOIN\` (sort-merge, no TTL, no tie rule), streamed as Arrow
and consumed in the engine's own process, with nothing sent anywhere. Rounds alternate floor and Sluice;
medians of ${training.rounds} rounds.

| figure | Sluice | floor | ratio | target |
|---|---|---|---|---|
| seconds, \`emit_spine_index\` (no sort) | ${training.seconds.unordered} | ${training.seconds.floor} | ${training.ratioToFloor.unordered} | ≤ 1.3×: ${met(training.ratioToFloor.unordered <= 1.3)} |
| seconds, in spine order | ${training.seconds.ordered} | ${training.seconds.floor} | ${training.ratioToFloor.ordered} | |
| server peak RSS | ${training.serverPeakRssMb} MB | ${training.floorProcessPeakRssMb} MB (the floor's process) | | < 1 GB: ${met(training.serverPeakRssMb < 1024)} |

Sluice does what the floor does not: it copies the spine into a spine table with its index, applies the tie
rule (latest ingested among equal event times) and the TTL, and delivers about 140 MB of Arrow to another
process over gRPC while the engine still runs. Measured apart on this machine, the join itself (spine table,
tie rule and TTL, consumed in the server process) takes about 1.15× the floor; the rest is the delivery, which
competes with the engine for the two cores. About 300 MB of the server's RSS is the embedded engine and Node at
rest; the join itself needs 400-600 MB in ClickHouse's own accounting (the floor's as well).
`;

writeFileSync(join(import.meta.dirname, "..", "docs", "benchmarks.md"), text);
process.stdout.write("wrote docs/benchmarks.md\n");
