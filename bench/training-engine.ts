/**
 * The training benchmark's work done straight on the embedded ClickHouse engine, in a process of
 * its own (chDB binds one data directory per process, and the server must be stopped meanwhile):
 *
 *   generate <offlineDir> <rows> <entities> <spineRows>  fills the three views' history tables and
 *                                                          a spine table with generated rows;
 *   floor <offlineDir>                                     runs the hand-written ASOF join over them,
 *                                                          streamed as Arrow and consumed, and prints
 *                                                          its time and peak RSS as JSON.
 */
import { readFileSync } from "node:fs";
import { Session } from "chdb";

/** The views of the benchmark: each a history table of 5 double features, keyed by customer_id. */
export const TRAINING_VIEWS = ["orders", "visits", "payments"] as const;
export const TRAINING_FEATURES = ["f0", "f1", "f2", "f3", "f4"] as const;
/** Share of the history rows each view gets. */
const VIEW_SHARES = [0.4, 0.3, 0.3];
const YEAR_MICROS = 365 * 86_400 * 1_000_000;
const START_MICROS = Date.UTC(2025, 0, 1) * 1000;

async function generate(session: Session, rows: number, entities: number, spineRows: number): Promise<void> {
  for (const [v, view] of TRAINING_VIEWS.entries()) {
    const n = Math.round(rows * (VIEW_SHARES[v] ?? 0));
    const features = TRAINING_FEATURES.map(
      (f, i) => `if(cityHash64(number, ${v}, ${i}) % 20 = 0, NULL, (cityHash64(number, ${v}, ${i}, 1) % 100000) / 100.0) AS ${f}`,
    );
    await session.queryAsync(
      `INSERT INTO sluice_default.${view}__v1 (customer_id, event_time, ingestion_time, write_id, ${TRAINING_FEATURES.join(", ")}) ` +
        `SELECT toInt64(cityHash64(number, ${v}, 7) % ${entities}) AS customer_id, ` +
        `fromUnixTimestamp64Micro(toInt64(${START_MICROS} + cityHash64(number, ${v}, 8) % ${YEAR_MICROS}), 'UTC') AS event_time, ` +
        `event_time + toIntervalMicrosecond(cityHash64(number, ${v}, 9) % 3600000000) AS ingestion_time, 'bench' AS write_id, ${features.join(", ")} ` +
        `FROM numbers(${n})`,
      { format: "CSV" },
    );
  }
  await session.queryAsync(
    "CREATE TABLE IF NOT EXISTS sluice_default.bench_spine (customer_id Int64, event_time DateTime64(6, 'UTC'), label UInt8) ENGINE = MergeTree ORDER BY tuple()",
    { format: "CSV" },
  );
  await session.queryAsync(
    `INSERT INTO sluice_default.bench_spine SELECT toInt64(cityHash64(number, 20) % ${entities}), ` +
      `fromUnixTimestamp64Micro(toInt64(${START_MICROS} + cityHash64(number, 21) % ${YEAR_MICROS}), 'UTC'), cityHash64(number, 22) % 2 FROM numbers(${spineRows})`,
    { format: "CSV" },
  );
  await session.queryAsync("OPTIMIZE TABLE sluice_default.bench_spine FINAL", { format: "CSV" });
  for (const view of TRAINING_VIEWS) await session.queryAsync(`OPTIMIZE TABLE sluice_default.${view}__v1 FINAL`, { format: "CSV" });
}

/** The floor: the plainest ASOF join of the spine against every view, consumed as Arrow. */
async function floor(session: Session): Promise<{ seconds: number; rows: number; peakRssMb: number }> {
  const select = [
    "s.customer_id",
    "s.event_time",
    "s.label",
    ...TRAINING_VIEWS.flatMap((view) => TRAINING_FEATURES.map((f) => `${view}.${f} AS ${view}__${f}`)),
  ];
  const joins = TRAINING_VIEWS.map(
    (view) =>
      `ASOF LEFT JOIN sluice_default.${view}__v1 AS ${view} ON s.customer_id = ${view}.customer_id AND s.event_time >= ${view}.event_time`,
  );
  const query =
    `SELECT ${select.join(", ")} FROM sluice_default.bench_spine AS s ${joins.join(" ")} ` +
    "SETTINGS join_algorithm = 'full_sorting_merge', join_use_nulls = 1, output_format_arrow_compression_method = 'none'";
  const started = performance.now();
  let rows = 0;
  for await (const chunk of session.queryStream(query, { format: "ArrowStream" })) rows += chunk.numRows;
  return { seconds: (performance.now() - started) / 1000, rows, peakRssMb: peakRssMb() };
}

function peakRssMb(): number {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"));
  return Math.round(Number(line?.replace(/\D+/g, "") ?? 0) / 1024);
}

if (process.argv[1] === import.meta.filename) {
  const [mode, path, ...numbers] = process.argv.slice(2);
  const session = new Session(path);
  try {
    if (mode === "generate") {
      const [rows, entities, spineRows] = numbers.map(Number) as [number, number, number];
      await generate(session, rows, entities, spineRows);
    } else {
      process.stdout.write(`${JSON.stringify(await floor(session))}\n`);
    }
  } finally {
    session.close();
  }
}
